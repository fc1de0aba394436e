"""MI map: the mutual information of a 360-degree range sensor at every free cell of a 2-D map.

This is the benchmark of the MI hardware papers (Li, Zhang, Karaman, Sze, RSS 2019: a
20 m x 20 m map at 0.1 m). Two methods give the same numbers (to rounding):

- ``"per_cell"``: every free cell's beams evaluated on their own (FSMI per sensor);
- ``"fcmi"``: all cells of a beam line in one reverse pass that reuses the next cell's
  result (in the spirit of Henderson et al.'s FCMI), O(truncation) per cell and beam
  instead of O(beam cells x truncation).

Beams. For each direction ``2 pi i / n_beams`` the grid is cut into parallel bands, the
cell sets of equally spaced straight lines (:func:`beam_lines`); each cell lies in
exactly one band per direction, and its beam is the rest of its band, from the cell on,
up to the map edge or ``range_m`` (cells whose centre projects less than ``range_m``
beyond the sensor cell's centre). So the beam of a cell is the Amanatides-Woo walk of a
ray parallel to the direction that passes within ``(|cos| + |sin|) / 2`` cells of the
cell's centre, and the beams of the cells along a band are suffixes of one cell sequence:
that is what makes the reuse exact. Cells along a beam count with width ``resolution_m``.

File format of a 2-D map (:func:`save_grid2d`, :func:`load_grid2d`): an ``.npz`` with
``probability`` (ny, nx) float, ``grid[iy, ix]``; ``origin_m`` (2,) the world x, y of the
map's corner, so cell ``(ix, iy)`` has its centre at ``origin_m + (i + 1/2) resolution_m``;
``resolution_m`` scalar. A 3-D map (:func:`load_grid3d_slice`) has ``log_odds`` (nx, ny, nz)
indexed ``[ix, iy, iz]``, ``origin_m`` (3,) and ``resolution_m``.
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numba
import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload

from . import _kernels as K
from .errors import MappingError
from .fsmi import (
    ARITH_BITS,
    DEFAULT_DELTA_EMP,
    DEFAULT_DELTA_OCC,
    DEFAULT_SIGMA_M,
    LUT_ENTRIES,
    BankStats,
    add_ops,
    cells_per_bank,
    check_count,
    check_deltas,
    check_grid,
    check_positive,
    check_truncation,
    gaussian_table,
    record_beam_evaluations,
    record_map_reads,
)

METHODS = ("fcmi", "per_cell")

# counting model of the line sweep (docs/mapping.md, "Workload")
LINE_BUILD_CELL_OPS = {"mul": 4, "add": 7, "div": 1, "compare": 3}  # band index and projection per cell and direction
WINDOW_CHECK_OPS = {"add": 1, "compare": 1}                         # u[e] - u[a] against the range
FCMI_STEP_OPS = {"mul": 6, "add": 9}      # 1 - o, two prefix sums, MI and W updates, output accumulation
FCMI_FRONT_TERM_OPS = {"mul": 1, "add": 4}
FCMI_H_TERM_OPS = {"mul": 3, "add": 1}
FCMI_REMOVAL_OPS = {"mul": 3, "add": 7}   # plus one exp (a table read)
FCMI_BACK_T1_OPS = {"mul": 3, "add": 1}   # k = removed cell, per j
FCMI_BACK_T2_OPS = {"mul": 1, "add": 4}   # j = removed cell, per k


def map_directions(n_beams: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit beam directions ``(cos, sin)`` of ``2 pi i / n_beams``; components below 1e-12
    are set to 0 so the axis directions are exact."""
    angles = 2 * math.pi * np.arange(n_beams) / n_beams
    dx, dy = np.cos(angles), np.sin(angles)
    dx[np.abs(dx) < 1e-12] = 0.0
    dy[np.abs(dy) < 1e-12] = 0.0
    return dx, dy


def beam_lines(shape: tuple[int, int], dx: float, dy: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The beam lines of direction ``(dx, dy)`` on a grid of ``shape`` (ny, nx) as CSR
    arrays ``(starts, cells, u)``; see :func:`mapping._kernels.beam_lines`."""
    ny, nx = (check_count("shape", v) for v in shape)
    return K.beam_lines(nx, ny, float(dx), float(dy))


def mi_map(grid_p, resolution_m, n_beams=60, range_m=10.0, sigma_m=DEFAULT_SIGMA_M, truncation=None,
           method="fcmi", free_threshold=0.5, delta_occ=DEFAULT_DELTA_OCC, delta_emp=DEFAULT_DELTA_EMP,
           workload: Workload = NULL_WORKLOAD, bank_stats: BankStats | None = None) -> np.ndarray:
    """MI [nats] of a 360-degree range sensor at every free cell of a 2-D map.

    grid_p (ny, nx): occupancy probabilities in (0, 1), ``grid_p[iy, ix]``; free cells
    have ``p < free_threshold`` (unknown cells, p = 0.5, are not free at the default).
    Beams and ranges as in the module docstring; sigma_m, truncation, delta_* as in
    :func:`mapping.fsmi.beam_mi`. Returns (ny, nx) float64 with NaN at non-free cells.
    workload (e.g. ``Workload("mapping.mi_map")``) receives the operations and traffic;
    bank_stats the map reads per bank with parallel beams of a sensor (``per_cell``) or
    parallel lines (``fcmi``), see :class:`mapping.fsmi.BankStats`.
    """
    grid = check_grid(grid_p)
    res = check_positive("resolution_m", resolution_m)
    n_beams = check_count("n_beams", n_beams)
    range_cells = check_positive("range_m", range_m) / res
    sigma = check_positive("sigma_m", sigma_m)
    truncation = check_truncation(truncation)
    delta_occ, delta_emp = check_deltas(delta_occ, delta_emp)
    if method not in METHODS:
        raise MappingError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    free_threshold = check_positive("free_threshold", free_threshold)
    if free_threshold > 1:
        raise MappingError(f"free_threshold must be a probability in (0, 1], got {free_threshold!r}")
    ny, nx = grid.shape
    free = grid < free_threshold
    gain_emp, gain_occ, log_q = np.empty_like(grid), np.empty_like(grid), np.empty_like(grid)
    K.map_gains(grid, delta_occ, delta_emp, gain_emp, gain_occ, log_q)
    dirs_x, dirs_y = map_directions(n_beams)
    longest = nx + ny  # no band holds more cells than its walk across the map
    g, k = gaussian_table(res, sigma, truncation, longest)
    counting = workload.enabled
    tally = np.zeros((n_beams, K.N_TALLY), np.int64)
    out = np.zeros(ny * nx)
    K.mi_map_kernel(grid, gain_emp, gain_occ, log_q, free, dirs_x, dirs_y, range_cells, g, k,
                    method == "fcmi", numba.get_num_threads(), counting, tally, out)
    bank_reads = None
    if bank_stats is not None:
        bank_reads, stats = bank_stats.buffers()
        if method == "fcmi":
            K.fcmi_bank_kernel(nx, ny, dirs_x, dirs_y, bank_stats.parallel_units, bank_stats.n_banks,
                               bank_stats.row_stride, bank_reads, stats)
        else:
            K.per_cell_bank_kernel(nx, ny, free.ravel(), dirs_x, dirs_y, range_cells, bank_stats.parallel_units,
                                   bank_stats.n_banks, bank_stats.row_stride, bank_reads, stats)
        bank_stats.add(bank_reads, stats)
    if counting:
        _record(workload, tally.sum(axis=0), method, ny, nx, n_beams, len(g), min(nx + ny, K.walk_capacity(range_cells)),
                bank_stats, bank_reads)
    mi = out.reshape(ny, nx)
    mi[~free] = np.nan
    return mi


def _record(workload: Workload, tally: np.ndarray, method: str, ny: int, nx: int, n_dirs: int, g_len: int,
            beam_cells_max: int, bank_stats: BankStats | None, bank_reads: np.ndarray | None) -> None:
    """Operations and traffic of one MI map (formulas in docs/mapping.md)."""
    n_cells = ny * nx
    by_bank = None if bank_stats is None else cells_per_bank(ny, nx, bank_stats)
    add_ops(workload, LINE_BUILD_CELL_OPS, n_cells * n_dirs)
    add_ops(workload, WINDOW_CHECK_OPS, int(tally[K.T_WINDOW_CHECKS]))
    workload.write("line_index", 2 * n_cells * n_dirs, ARITH_BITS)
    workload.peak("line_index", 2 * n_cells * ARITH_BITS // 8)
    workload.peak("mi_out", n_cells * ARITH_BITS // 8)
    if method == "per_cell":
        beams, cells = int(tally[K.T_BEAMS]), int(tally[K.T_CELLS])
        record_beam_evaluations(workload, tally, g_len, beam_cells_max)
        record_map_reads(workload, cells, bank_stats, bank_reads, by_bank, n_cells)
        workload.read("line_index", cells + 2 * int(tally[K.T_WINDOW_CHECKS]), ARITH_BITS)
        workload.read("mi_out", beams, ARITH_BITS)
        workload.write("mi_out", beams, ARITH_BITS)
        return
    steps, front, h_terms, removals, back = (int(tally[s]) for s in (
        K.T_LINE_CELLS, K.T_FRONT_TERMS, K.T_H_TERMS, K.T_REMOVALS, K.T_BACK_TERMS))
    t2 = back - removals
    add_ops(workload, FCMI_STEP_OPS, steps)
    add_ops(workload, FCMI_FRONT_TERM_OPS, front)
    add_ops(workload, FCMI_H_TERM_OPS, h_terms)
    add_ops(workload, FCMI_REMOVAL_OPS, removals)
    add_ops(workload, FCMI_BACK_T1_OPS, back)
    add_ops(workload, FCMI_BACK_T2_OPS, t2)
    record_map_reads(workload, steps, bank_stats, bank_reads, by_bank, n_cells)
    # tables: f_emp, f_occ, log(1 - o) per line cell; one Gaussian mass per term; one exp per removal
    workload.read("mi_lut", 3 * steps + front + h_terms + back + t2 + removals, ARITH_BITS)
    workload.peak("mi_lut", (3 * LUT_ENTRIES + g_len + LUT_ENTRIES) * ARITH_BITS // 8)
    # line buffer: o, 1 - o, f_emp, f_occ and the two prefix sums of every line cell
    workload.write("line_buffer", 6 * steps, ARITH_BITS)
    workload.read("line_buffer", 5 * steps + 2 * (front + h_terms + back + t2) + 4 * removals
                  + 2 * int(tally[K.T_WINDOW_CHECKS]), ARITH_BITS)
    workload.peak("line_buffer", 6 * (nx + ny) * ARITH_BITS // 8)
    workload.read("line_index", 2 * steps, ARITH_BITS)
    workload.read("mi_out", steps, ARITH_BITS)
    workload.write("mi_out", steps, ARITH_BITS)


# --------------------------------------------------------------------------- map files

def _check_map(path: Path, probability, origin, resolution, dims: int, key: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Validated (array, origin, resolution) of a map file, MappingError naming ``path``."""
    arr = np.asarray(probability)
    if arr.ndim != dims or arr.size == 0 or not np.issubdtype(arr.dtype, np.floating):
        raise MappingError(f"{path}: '{key}' must be a non-empty {dims}-D float array, got {arr.dtype} {arr.shape}")
    origin = np.asarray(origin)
    if origin.shape != (dims,) or not np.issubdtype(origin.dtype, np.number) or not np.isfinite(origin).all():
        raise MappingError(f"{path}: 'origin_m' must be {dims} finite numbers, got {origin!r}")
    resolution = np.asarray(resolution)
    if resolution.shape != () or not np.issubdtype(resolution.dtype, np.number) \
            or not (np.isfinite(resolution) and resolution > 0):
        raise MappingError(f"{path}: 'resolution_m' must be one positive number, got {resolution!r}")
    return arr.astype(np.float64), origin.astype(np.float64), float(resolution)


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict:
    if not path.is_file():
        raise MappingError(f"{path}: map file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise MappingError(f"{path}: not a map file of this kind: missing {', '.join(missing)} "
                                   f"(has {', '.join(data.files) or 'nothing'})")
            return {k: data[k] for k in keys}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, MappingError):
            raise
        raise MappingError(f"{path}: cannot read the map (.npz expected): {exc}") from None


def save_grid2d(path, probability, origin_m, resolution_m) -> Path:
    """Write a 2-D map (format in the module docstring); ``.npz`` is appended when missing."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arr, origin, res = _check_map(path, probability, origin_m, resolution_m, 2, "probability")
    check_grid(arr)
    try:
        with open(path, "wb") as f:
            np.savez_compressed(f, probability=np.asarray(probability), origin_m=origin, resolution_m=np.float64(res))
    except OSError as exc:
        raise MappingError(f"{path}: cannot write the map: {exc.strerror or exc}") from None
    return path


def load_grid2d(path) -> tuple[np.ndarray, np.ndarray, float]:
    """``(probability (ny, nx) float64, origin_m (2,), resolution_m)`` of a 2-D map file."""
    path = Path(path)
    data = _read_npz(path, ("probability", "origin_m", "resolution_m"))
    arr, origin, res = _check_map(path, data["probability"], data["origin_m"], data["resolution_m"], 2, "probability")
    try:
        check_grid(arr)
    except MappingError as exc:
        raise MappingError(f"{path}: {exc}") from None
    return arr, origin, res


def map_kind(path) -> int:
    """2 or 3: the dimension of the map in an ``.npz`` file (by its keys)."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: map file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MappingError(f"{path}: cannot read the map (.npz expected): {exc}") from None
    if "probability" in files:
        return 2
    if "log_odds" in files:
        return 3
    raise MappingError(f"{path}: not a map file: expected 'probability' (2-D map) or 'log_odds' (3-D map), "
                       f"has {', '.join(sorted(files)) or 'nothing'}")


def load_grid3d_slice(path, z_m: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The horizontal slice of a 3-D map at height ``z_m`` [m, world] as a 2-D map:
    ``(probability (ny, nx), origin_m (2,), resolution_m)`` with ``p = 1 - 1/(1 + exp(l))``."""
    path = Path(path)
    data = _read_npz(path, ("log_odds", "origin_m", "resolution_m"))
    log_odds, origin, res = _check_map(path, data["log_odds"], data["origin_m"], data["resolution_m"], 3, "log_odds")
    if not np.isfinite(log_odds).all():
        raise MappingError(f"{path}: 'log_odds' holds non-finite values")
    z_m = float(z_m)
    iz = math.floor((z_m - origin[2]) / res)
    nz = log_odds.shape[2]
    if not 0 <= iz < nz:
        raise MappingError(f"{path}: z = {z_m:g} m is outside the map's heights "
                           f"[{origin[2]:g}, {origin[2] + nz * res:g}) m")
    with np.errstate(over="ignore"):
        probability = 1.0 - 1.0 / (1.0 + np.exp(log_odds[:, :, iz].T))
    try:
        check_grid(probability)
    except MappingError as exc:
        raise MappingError(f"{path}: slice z = {z_m:g} m: {exc} (log-odds too large for float64)") from None
    return np.ascontiguousarray(probability), origin[:2].copy(), res
