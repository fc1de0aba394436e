"""TUM trajectory files (``timestamp tx ty tz qx qy qz qw``), as ``evo`` reads them.

Each data row holds a stamp in seconds, the body position in the world frame
``p_world_body`` [m] and the Hamilton quaternion ``q_world_body`` in x, y, z, w order
(``R_world_body`` maps body vectors into the world frame).

Stamps are int64 nanoseconds in memory and exact decimal seconds on disk: they are
parsed and formatted as strings, never through a float, so ``read_tum(write_tum(x))``
returns the same nanoseconds. Floats are written with Python's shortest round-trip
``repr``, so positions and quaternions also come back bit-exact.

The reader is slightly more tolerant than evo (whose parser wants single spaces):
whitespace runs, tabs, CRLF, blank lines and whole-line ``#`` comments are accepted. It
rejects positions beyond ``MAX_POSITION_M`` (1e9 m) as corrupt.
Commas are rejected on purpose: evo rejects them too, and 8-column comma files are
usually EuRoC pose csv files (nanoseconds, w-first quaternions), which a TUM reader
would silently misread.
"""
from __future__ import annotations

import math
import os
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from pathlib import Path

import numpy as np

from .errors import DatasetError, WarningCounter

HEADER = "# timestamp tx ty tz qx qy qz qw"
_STAMP_RE = re.compile(r"\+?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INT64_MAX = 2**63 - 1
# Read limits: no robot trajectory leaves 1e9 m (2.6x the Moon's distance); larger values are
# corrupt, and their squares overflow the evaluator's float64 sums (Umeyama alignment).
MAX_POSITION_M = 1e9
MAX_QUATERNION_COMPONENT = 1e100


def format_stamp_ns(t: int) -> str:
    """Exact decimal seconds of a non-negative int64 nanosecond stamp, e.g. ``"1403636580.838560000"``."""
    t = int(t)
    if t < 0:
        raise DatasetError(f"timestamps must be non-negative nanoseconds, got {t}")
    return f"{t // 10**9}.{t % 10**9:09d}"


def parse_stamp_ns(text: str) -> int:
    """Nanoseconds of a decimal-seconds string, without passing through a float.

    Accepts plain (``"1403636580.83856"``) and scientific (``"1.403636580838560e+09"``)
    notation; digits beyond the nanosecond are rounded to nearest (ties to even).
    Raises DatasetError for anything else, negative stamps, or stamps beyond int64.
    """
    if not _STAMP_RE.fullmatch(text):
        raise DatasetError(f"invalid timestamp {text[:40]!r} (expected non-negative decimal seconds)")
    mantissa, _, exponent = text.lstrip("+").lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    whole = whole.lstrip("0")
    if not exponent and len(frac) <= 9 and len(whole) <= 10:
        ns = int(whole or "0") * 10**9 + int(frac.ljust(9, "0"))
    else:
        ns = _decimal_stamp_ns(text)
    if ns is None or ns > _INT64_MAX:
        raise DatasetError(f"timestamp {text[:40]!r} is out of the int64 nanosecond range")
    return ns


def _decimal_stamp_ns(text: str) -> int | None:
    """Exact Decimal route for scientific notation or sub-nanosecond digits; None if far too large."""
    try:
        value = Decimal(text)
    except InvalidOperation:  # exponent beyond Decimal's range
        return None
    if value.is_zero() or value.adjusted() < -10:
        return 0
    if value.adjusted() > 9:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return int(value.scaleb(9).to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class Trajectory:
    """Timed poses of the body in the world frame.

    timestamps_ns: int64 (N,), non-negative and strictly increasing;
    p_world_body: float64 (N, 3) [m]; q_world_body_xyzw: float64 (N, 4), x, y, z, w order,
    stored as given (not normalised) but never of zero norm.
    """

    timestamps_ns: np.ndarray
    p_world_body: np.ndarray
    q_world_body_xyzw: np.ndarray

    def __post_init__(self):
        t = np.asarray(self.timestamps_ns)
        if t.ndim != 1 or (t.size and t.dtype.kind not in "iu"):
            raise DatasetError(f"timestamps_ns must be a 1-D integer array, got {t.dtype} {t.shape}")
        if t.size and t.dtype.kind == "u" and t.max() > _INT64_MAX:
            raise DatasetError("timestamps_ns exceed the int64 range")
        t = t.astype(np.int64)
        p = _rows(self.p_world_body, 3)
        q = _rows(self.q_world_body_xyzw, 4)
        if p.shape != (len(t), 3) or q.shape != (len(t), 4):
            raise DatasetError(f"expected p_world_body ({len(t)}, 3) and q_world_body_xyzw ({len(t)}, 4), "
                               f"got {p.shape} and {q.shape}")
        if len(t) and t.min() < 0:
            raise DatasetError(f"timestamps must be non-negative nanoseconds, got {t.min()}")
        if np.any(np.diff(t) <= 0):
            i = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
            raise DatasetError(f"timestamps must be strictly increasing (pose {i}: {t[i]} after {t[i - 1]})")
        if not (np.isfinite(p).all() and np.isfinite(q).all()):
            raise DatasetError("positions and quaternions must be finite")
        if len(q) and np.linalg.norm(q, axis=1).min() <= 1e-12:
            raise DatasetError("quaternions must not have zero norm")
        for name, arr in (("timestamps_ns", t), ("p_world_body", p), ("q_world_body_xyzw", q)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.timestamps_ns)

    @property
    def q_world_body_wxyz(self) -> np.ndarray:
        """(N, 4) quaternions in w, x, y, z order (as stored, not normalised)."""
        return self.q_world_body_xyzw[:, [3, 0, 1, 2]]

    @property
    def R_world_body(self) -> np.ndarray:
        """(N, 3, 3) rotation matrices body -> world (quaternions normalised first)."""
        from scipy.spatial.transform import Rotation

        if len(self) == 0:
            return np.empty((0, 3, 3))
        return Rotation.from_quat(self.q_world_body_xyzw).as_matrix()

    @property
    def T_world_body(self) -> np.ndarray:
        """(N, 4, 4) homogeneous transforms body -> world."""
        T = np.tile(np.eye(4), (len(self), 1, 1))
        T[:, :3, :3] = self.R_world_body
        T[:, :3, 3] = self.p_world_body
        return T


def _rows(values, n_cols: int) -> np.ndarray:
    """float64 array of the values; an empty input becomes shape (0, n_cols)."""
    arr = np.asarray(values, dtype=np.float64)
    return arr.reshape(0, n_cols) if arr.size == 0 else arr


def _parse_row(fields: list[str], path: Path, line: int) -> tuple[int, list[float]]:
    if len(fields) != 8:
        raise DatasetError(f"expected 8 columns 'timestamp tx ty tz qx qy qz qw', got {len(fields)}", path, line)
    try:
        stamp = parse_stamp_ns(fields[0])
    except DatasetError as exc:
        raise DatasetError(str(exc), path, line) from None
    values = []
    for field in fields[1:]:
        try:
            if not field.isascii() or "_" in field:  # float() also reads other scripts' digits and 1_0
                raise ValueError(field)
            values.append(float(field))
        except ValueError:
            raise DatasetError(f"non-numeric value {field[:40]!r}", path, line) from None
    if not all(map(math.isfinite, values)):
        raise DatasetError("non-finite position or quaternion", path, line)
    if max(map(abs, values[:3])) > MAX_POSITION_M:
        raise DatasetError(f"position beyond {MAX_POSITION_M:g} m (a corrupt value?)", path, line)
    if max(map(abs, values[3:])) > MAX_QUATERNION_COMPONENT:
        raise DatasetError("quaternion component beyond 1e100 (a corrupt value?)", path, line)
    if sum(v * v for v in values[3:]) <= 1e-24:
        raise DatasetError("quaternion has zero norm", path, line)
    return stamp, values


def read_tum(path: str | Path, warnings: WarningCounter | None = None) -> Trajectory:
    """Read a TUM trajectory file.

    Malformed rows raise DatasetError naming the file and 1-based line. A stamp that
    does not increase raises too, unless ``warnings`` is given: then the row is dropped
    and counted as ``tum_nonmonotonic``. A file without data rows gives an empty
    trajectory.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror or exc}", path) from None
    stamps: list[int] = []
    rows: list[list[float]] = []
    for line_no, line in enumerate(raw.decode("utf-8", errors="replace").split("\n"), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if "," in text:
            raise DatasetError("commas are not TUM separators (use spaces; evo rejects commas too)",
                               path, line_no)
        stamp, values = _parse_row(text.split(), path, line_no)
        if stamps and stamp <= stamps[-1]:
            problem = (f"timestamp {format_stamp_ns(stamp)} does not increase "
                       f"(previous {format_stamp_ns(stamps[-1])})")
            if warnings is None:
                raise DatasetError(problem, path, line_no)
            warnings.warn("tum_nonmonotonic", f"{path}:{line_no}: {problem}; row dropped")
            continue
        stamps.append(stamp)
        rows.append(values)
    data = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return Trajectory(np.array(stamps, dtype=np.int64), data[:, :3], data[:, 3:])


def write_tum(path: str | Path, timestamps_ns, p_world_body=None, q_world_body_xyzw=None) -> Path:
    """Write a TUM file atomically (temporary file, then rename); returns the path.

    Call as ``write_tum(path, trajectory)`` or ``write_tum(path, timestamps_ns,
    p_world_body, q_world_body_xyzw)``. Stamps are written as exact decimal seconds,
    floats with ``repr`` so that reading the file back gives identical values.
    """
    path = Path(path)
    if isinstance(timestamps_ns, Trajectory):
        if p_world_body is not None or q_world_body_xyzw is not None:
            raise DatasetError("pass either a Trajectory or three arrays, not both", path)
        traj = timestamps_ns
    else:
        try:
            traj = Trajectory(timestamps_ns, p_world_body, q_world_body_xyzw)
        except DatasetError as exc:
            raise DatasetError(str(exc), path) from None
    values = np.hstack([traj.p_world_body, traj.q_world_body_xyzw]).tolist()
    lines = [HEADER] + [format_stamp_ns(t) + " " + " ".join(map(repr, row))
                        for t, row in zip(traj.timestamps_ns.tolist(), values)]
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"cannot write: {exc.strerror or exc}", path) from None
    return path
