"""Tolerant, vectorised parsing of EuRoC ``data.csv`` files.

Every row starts with an int64 timestamp in nanoseconds, parsed exactly (never via
float). Tolerated problems are dropped and counted in a WarningCounter; malformed
input raises DatasetError naming the file and the 1-based line.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DatasetError, WarningCounter

_INT64 = np.iinfo(np.int64)
# No EuRoC quantity (m, m/s, rad/s, m/s^2, quaternions) comes near this: larger values are
# corrupt and would overflow the float64 arithmetic downstream (squares, sums).
MAX_ABS_VALUE = 1e9


@dataclass(frozen=True)
class CsvRows:
    """The data rows of one csv file, with header, comment and blank lines removed."""

    source: str
    lines: list[str]
    line_numbers: np.ndarray  # int64 (N,), 1-based
    n_columns: int


def _plain(field: str) -> bool:
    """ASCII without digit-group underscores: what numpy's parser reads (Python's int() and
    float() also take other scripts' digits and ``1_0``)."""
    return field.isascii() and "_" not in field


def _is_int(field: str) -> bool:
    try:
        return _plain(field) and _INT64.min <= int(field) <= _INT64.max
    except ValueError:
        return False


def split_rows(text: str, source: str, columns: tuple[int, ...], warnings: WarningCounter) -> CsvRows:
    """Split ``text`` into data rows that all have one of the allowed column counts.

    The first line is a header if it starts with '#' or its first field is not an
    integer; that is normal in EuRoC, so it is counted ('header_line') silently.
    """
    n_cr = text.count("\r")
    if n_cr:
        warnings.warn("crlf", f"{source}: CR/CRLF line endings", n_cr)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines, numbers = [], []
    n_space, first = 0, True
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        is_header = first and (line.startswith("#") or not _is_int(line.split(",", 1)[0]))
        first = False
        if is_header:
            warnings.counts["header_line"] += 1
            continue
        if line.startswith("#"):
            warnings.warn("comment_line", f"{source}:{number}: comment line skipped")
            continue
        if line != raw or " " in line or "\t" in line:
            n_space += 1
        lines.append(line)
        numbers.append(number)
    warnings.warn("whitespace", f"{source}: whitespace around values ignored", n_space)
    line_numbers = np.array(numbers, dtype=np.int64)
    if not lines:
        raise DatasetError("no data rows", source, max(1, text.count("\n")))
    counts = np.fromiter((ln.count(",") + 1 for ln in lines), dtype=np.int64, count=len(lines))
    n_columns = int(counts[0])
    expected = n_columns if n_columns in columns else columns[0]
    bad = np.flatnonzero(counts != expected)
    if bad.size:
        i = int(bad[0])
        want = " or ".join(str(c) for c in columns)
        raise DatasetError(f"expected {want} comma-separated columns, found {counts[i]} "
                           f"(truncated or malformed row)", source, int(line_numbers[i]))
    return CsvRows(source, lines, line_numbers, expected)


def _is_float(field: str) -> bool:
    try:
        float(field)
        return _plain(field)
    except ValueError:
        return False


def _bad_field_error(rows: CsvRows, exc: Exception, n_numeric: int, parse) -> DatasetError:
    """Locate the first unparsable field among the first ``n_numeric`` columns after a
    vectorised parse failed with ``exc``; ``parse([line])`` is that parse for single lines,
    used to find the line when no single field looks wrong."""
    for line, number in zip(rows.lines, rows.line_numbers):
        for column, field in enumerate(line.split(",")[:n_numeric], start=1):
            if not (_is_int(field) if column == 1 else _is_float(field)):
                kind = "an int64 timestamp [ns]" if column == 1 else "a number"
                return DatasetError(f"column {column}: expected {kind}, got {field.strip()[:40]!r}",
                                    rows.source, int(number))
    for line, number in zip(rows.lines, rows.line_numbers):
        try:
            parse([line])
        except (ValueError, OverflowError) as line_exc:
            return DatasetError(f"cannot parse numbers: {line_exc}", rows.source, int(number))
    return DatasetError(f"cannot parse numbers: {exc}", rows.source, int(rows.line_numbers[0]))


def _negative_stamp_error(stamps_ns: np.ndarray, rows: CsvRows) -> DatasetError | None:
    """Timestamps are nanoseconds since an epoch: a negative one is a corrupt row."""
    negative = np.flatnonzero(stamps_ns < 0)
    if negative.size == 0:
        return None
    i = int(negative[0])
    return DatasetError(f"negative timestamp {int(stamps_ns[i])} ns", rows.source, int(rows.line_numbers[i]))


def increasing_mask(stamps_ns: np.ndarray, line_numbers: np.ndarray, source: str,
                    warnings: WarningCounter) -> np.ndarray:
    """Rows to keep so that stamps strictly increase.

    Later duplicates ('duplicate_stamp') and rows that go back in time
    ('non_monotonic_stamp') are dropped and counted.
    """
    if stamps_ns.size == 0:
        return np.ones(0, dtype=bool)
    prev_max = np.concatenate(([_INT64.min], np.maximum.accumulate(stamps_ns)[:-1]))
    for kind, mask, what in (("duplicate_stamp", stamps_ns == prev_max, "duplicate timestamp"),
                             ("non_monotonic_stamp", stamps_ns < prev_max, "timestamp goes back in time")):
        if mask.any():
            first = int(np.argmax(mask))
            warnings.warn(kind, f"{source}:{line_numbers[first]}: {what} ({stamps_ns[first]} ns); "
                          "row dropped", int(mask.sum()))
    return stamps_ns > prev_max


def read_numeric_csv(text: str, source: str, columns: tuple[int, ...],
                     warnings: WarningCounter) -> tuple[np.ndarray, np.ndarray]:
    """Parse a numeric EuRoC csv (IMU, ground truth).

    Returns (stamps_ns int64 (N,), values float64 (N, C-1)), with rows holding
    NaN/inf ('nan_row') or values beyond ``MAX_ABS_VALUE`` ('huge_value'), pose rows
    (``columns`` (8, 17)) with a zero quaternion ('zero_quaternion') and out-of-order rows
    dropped. Negative timestamps raise DatasetError.
    """
    rows = split_rows(text, source, columns, warnings)
    dtype = [("t", np.int64)] + [(f"v{i}", np.float64) for i in range(1, rows.n_columns)]

    def parse(lines: list[str]) -> np.ndarray:
        return np.loadtxt(lines, delimiter=",", dtype=dtype, comments=None, ndmin=1)

    try:
        table = parse(rows.lines)
    except (ValueError, OverflowError) as exc:
        raise _bad_field_error(rows, exc, rows.n_columns, parse) from None
    stamps = table["t"]
    error = _negative_stamp_error(stamps, rows)
    if error is not None:
        raise error
    values = np.column_stack([table[f"v{i}"] for i in range(1, rows.n_columns)])
    numbers = rows.line_numbers
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(values).all(axis=1)
        checks = [("nan_row", ~finite, "NaN or inf value"),
                  ("huge_value", finite & (np.abs(values) > MAX_ABS_VALUE).any(axis=1),
                   f"value beyond {MAX_ABS_VALUE:g} (corrupt)")]
        if columns == (8, 17):  # EuRoC poses: quaternion w, x, y, z in columns 5-8
            checks.append(("zero_quaternion", np.linalg.norm(values[:, 3:7], axis=1) <= 1e-12,
                           "quaternion of zero norm"))
    drop = np.zeros(len(stamps), dtype=bool)
    for kind, mask, what in checks:
        mask &= ~drop
        if mask.any():
            first = int(np.argmax(mask))
            warnings.warn(kind, f"{source}:{numbers[first]}: {what}; row dropped", int(mask.sum()))
            drop |= mask
    stamps, values, numbers = stamps[~drop], values[~drop], numbers[~drop]
    keep = increasing_mask(stamps, numbers, source, warnings)
    return stamps[keep], values[keep]


def read_image_index(text: str, source: str, warnings: WarningCounter) -> tuple[np.ndarray, list[str]]:
    """Parse a camera index ``#timestamp [ns],filename``.

    Returns (stamps_ns int64 (N,), filenames), with out-of-order rows dropped.
    """
    rows = split_rows(text, source, (2,), warnings)
    fields = [line.split(",") for line in rows.lines]

    def parse(lines: list[str]) -> np.ndarray:
        return np.array([line.split(",")[0] for line in lines]).astype(np.int64)

    try:
        stamps = parse(rows.lines)
    except (ValueError, OverflowError) as exc:
        raise _bad_field_error(rows, exc, 1, parse) from None
    error = _negative_stamp_error(stamps, rows)
    if error is not None:
        raise error
    names = [f[1].strip() for f in fields]
    if "" in names:
        raise DatasetError("empty filename", source, int(rows.line_numbers[names.index("")]))
    keep = increasing_mask(stamps, rows.line_numbers, source, warnings)
    return stamps[keep], [n for n, k in zip(names, keep) if k]
