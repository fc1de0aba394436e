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


@dataclass(frozen=True)
class CsvRows:
    """The data rows of one csv file, with header, comment and blank lines removed."""

    source: str
    lines: list[str]
    line_numbers: np.ndarray  # int64 (N,), 1-based
    n_columns: int


def _is_int(field: str) -> bool:
    try:
        return _INT64.min <= int(field) <= _INT64.max
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
        return True
    except ValueError:
        return False


def _bad_field_error(rows: CsvRows, exc: Exception, n_numeric: int) -> DatasetError:
    """Locate the first unparsable field among the first ``n_numeric`` columns after a
    vectorised parse failed with ``exc``."""
    for line, number in zip(rows.lines, rows.line_numbers):
        for column, field in enumerate(line.split(",")[:n_numeric], start=1):
            if not (_is_int(field) if column == 1 else _is_float(field)):
                kind = "an int64 timestamp [ns]" if column == 1 else "a number"
                return DatasetError(f"column {column}: expected {kind}, got {field.strip()!r}",
                                    rows.source, int(number))
    return DatasetError(f"cannot parse numbers: {exc}", rows.source)


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
    NaN/inf ('nan_row') and out-of-order rows dropped.
    """
    rows = split_rows(text, source, columns, warnings)
    dtype = [("t", np.int64)] + [(f"v{i}", np.float64) for i in range(1, rows.n_columns)]
    try:
        table = np.loadtxt(rows.lines, delimiter=",", dtype=dtype, comments=None, ndmin=1)
    except (ValueError, OverflowError) as exc:
        raise _bad_field_error(rows, exc, rows.n_columns) from None
    stamps = table["t"]
    values = np.column_stack([table[f"v{i}"] for i in range(1, rows.n_columns)])
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        warnings.warn("nan_row", f"{source}:{rows.line_numbers[first]}: NaN or inf value; row dropped",
                      int((~finite).sum()))
        stamps, values, numbers = stamps[finite], values[finite], rows.line_numbers[finite]
    else:
        numbers = rows.line_numbers
    keep = increasing_mask(stamps, numbers, source, warnings)
    return stamps[keep], values[keep]


def read_image_index(text: str, source: str, warnings: WarningCounter) -> tuple[np.ndarray, list[str]]:
    """Parse a camera index ``#timestamp [ns],filename``.

    Returns (stamps_ns int64 (N,), filenames), with out-of-order rows dropped.
    """
    rows = split_rows(text, source, (2,), warnings)
    fields = [line.split(",") for line in rows.lines]
    try:
        stamps = np.array([f[0] for f in fields]).astype(np.int64)
    except (ValueError, OverflowError) as exc:
        raise _bad_field_error(rows, exc, 1) from None
    names = [f[1].strip() for f in fields]
    if "" in names:
        raise DatasetError("empty filename", source, int(rows.line_numbers[names.index("")]))
    keep = increasing_mask(stamps, rows.line_numbers, source, warnings)
    return stamps[keep], [n for n, k in zip(names, keep) if k]
