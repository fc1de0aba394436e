"""FSMI: Shannon mutual information between a range sensor and an occupancy map.

:func:`beam_mi` scores one beam, :func:`sensor_mi` the beams of sensor poses on a 2-D
grid. The model and its sources are in :mod:`mapping._kernels` and ``docs/mapping.md``
(Zhang, Henderson, Karaman, Sze, ICRA 2019). Information is in nats.

Counting: pass a :class:`~accel_model.workload.Workload` to record the operations and
memory traffic (formulas in ``docs/mapping.md``), and a :class:`BankStats` to record the
map reads per memory bank and the bank conflicts of beams read in parallel (the banked
map memory of Li, Zhang, Karaman, Sze, RSS 2019). Both are off by default and cost
nothing then.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral
from typing import NoReturn

import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload

from . import _kernels as K
from .errors import MappingError

DEFAULT_DELTA_OCC = 1.5
DEFAULT_DELTA_EMP = 1 / 1.5
DEFAULT_SIGMA_M = 0.05  # range noise of a lidar-class sensor [m]
SUPPORT_SIGMAS = 40  # a Gaussian table this many sigma long holds every mass >= G_FLOOR

# counting model (docs/mapping.md, "Workload")
MAP_BITS = 8      # occupancy cells as a map memory stores them (a quantised probability)
ARITH_BITS = 32   # MI arithmetic and tables (float32 on a chip; this code computes in float64)
LUT_ENTRIES = 256  # info-gain tables indexed by the 8-bit cell value
BEAM_CELL_OPS = {"mul": 3, "add": 4}    # C_k = S_k + F_k, S += E, P = o prod, prod *= 1 - o, MI += P acc
PAIR_OPS = {"mul": 1, "add": 1}         # acc += g[|k - j|] C_k
BEAM_OPS = {"add": 1}                   # sensor total += beam MI
BEAM_SETUP_OPS = {"sin": 2, "add": 5, "div": 4}           # direction, tDelta, tMax
WALK_STEP_OPS = {"mul": 2, "add": 6, "compare": 7}        # tMax compare/update, bounds, centre projection


def _fail(message: str) -> NoReturn:
    raise MappingError(message)


def check_positive(name: str, value) -> float:
    """``value`` as a finite float > 0, else MappingError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        _fail(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        _fail(f"{name} must be a positive finite number, got {value!r}")
    return value


def check_count(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools and floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        _fail(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_deltas(delta_occ, delta_emp) -> tuple[float, float]:
    """Odds factors of the inverse sensor model: a hit must raise the odds (> 1), a pass lower them (< 1)."""
    delta_occ = check_positive("delta_occ", delta_occ)
    delta_emp = check_positive("delta_emp", delta_emp)
    if not delta_occ > 1:
        _fail(f"delta_occ must be > 1 (a hit raises the odds), got {delta_occ!r}")
    if not delta_emp < 1:
        _fail(f"delta_emp must be < 1 (a pass lowers the odds), got {delta_emp!r}")
    return delta_occ, delta_emp


def check_truncation(truncation) -> int | None:
    """None (exact) or the Gaussian half-width in cells, an int >= 0."""
    if truncation is None:
        return None
    return check_count("truncation", truncation, minimum=0)


def check_probabilities(values, name: str, ndim: int) -> np.ndarray:
    """``values`` as a float64 array of ``ndim`` dimensions with every entry in (0, 1)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(f"{name} must be an array of occupancy probabilities, got {type(values).__name__}")
    if arr.ndim != ndim:
        _fail(f"{name} must be {ndim}-D, got shape {arr.shape}")
    bad = ~((arr > 0.0) & (arr < 1.0))  # also catches NaN
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        _fail(f"{name} must hold probabilities strictly between 0 and 1 (finite); "
              f"entry {where[0] if ndim == 1 else where} is {arr[where]!r}")
    return np.ascontiguousarray(arr)


def gaussian_table(cell_size_m: float, sigma_m: float, truncation: int | None, max_cells: int) -> tuple[np.ndarray, int]:
    """Gaussian cell masses and the effective truncation for beams of up to ``max_cells`` cells.

    The table is long enough for every mass >= ``G_FLOOR``; the returned truncation is
    ``truncation`` (None: unbounded) clipped to that support, so beams shorter than the
    table give the same sums as :func:`beam_mi` on their own.
    """
    reach = min(max_cells, int(SUPPORT_SIGMAS * sigma_m / cell_size_m) + 2)
    if truncation is not None:
        reach = min(reach, truncation + 1)
    g = K.gaussian_cell_masses(cell_size_m, sigma_m, max(reach, 1))
    return g, int(K.gaussian_support(g, g.shape[0] - 1))


def beam_mi(p_occupied, cell_size_m, sigma_m, delta_occ=DEFAULT_DELTA_OCC, delta_emp=DEFAULT_DELTA_EMP,
            truncation=None) -> float:
    """Mutual information [nats] between one range beam and the cells it crosses.

    p_occupied: occupancy probabilities of the beam's cells, sensor outwards, each in
    (0, 1); cell_size_m: cell width along the beam [m]; sigma_m: range noise [m];
    delta_occ, delta_emp: odds factors of a hit and of a pass (inverse sensor model);
    truncation: None for the exact sum, or k [cells] to keep only hits measured within
    +-k cells of the hit cell (FSMI's truncated Gaussian, ICRA 2019).
    """
    p = check_probabilities(p_occupied, "p_occupied", 1)
    s = check_positive("cell_size_m", cell_size_m)
    sigma = check_positive("sigma_m", sigma_m)
    delta_occ, delta_emp = check_deltas(delta_occ, delta_emp)
    truncation = check_truncation(truncation)
    if truncation is None:
        return float(K.beam_mi_exact(p, s, sigma, delta_occ, delta_emp))
    return float(K.beam_mi_truncated(p, s, sigma, delta_occ, delta_emp, truncation))


# --------------------------------------------------------------------------- banks

@dataclass
class BankStats:
    """Map reads per memory bank and the conflicts of parallel readers (accumulates over calls).

    Cell ``(ix, iy)`` lives in bank ``(ix + row_stride * iy) mod n_banks``. Readers advance
    in lockstep in groups of ``parallel_units``: the beams of one sensor (per-sensor FSMI)
    or neighbouring lines of one direction (FCMI), each requesting one cell per step.
    Requests for the same cell in one step merge into one access (broadcast; ``merged``
    counts them), so ``reads.sum() + merged`` equals the cells the beams visited. A bank
    serves one access per cycle: a step costs ``max_b c_b`` cycles (``c_b`` accesses to bank
    ``b``); ``conflicts`` counts accesses that found their bank taken, ``sum_b max(0, c_b - 1)``;
    ``steps`` counts lockstep steps and ``cycles`` their cost.
    """

    n_banks: int = 16
    row_stride: int = 1
    parallel_units: int = 16
    reads: np.ndarray = field(init=False, repr=False)
    steps: int = field(init=False, default=0)
    conflicts: int = field(init=False, default=0)
    cycles: int = field(init=False, default=0)
    merged: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.n_banks = check_count("n_banks", self.n_banks)
        self.row_stride = check_count("row_stride", self.row_stride, minimum=0)
        self.parallel_units = check_count("parallel_units", self.parallel_units)
        self.reads = np.zeros(self.n_banks, np.int64)

    def buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """Zeroed per-bank access and ``B_*`` statistics arrays for a bank kernel."""
        return np.zeros(self.n_banks, np.int64), np.zeros(K.N_BANK_STATS, np.int64)

    def add(self, reads: np.ndarray, stats: np.ndarray) -> None:
        """Add a bank kernel's per-bank accesses and statistics."""
        self.reads += reads
        self.steps += int(stats[K.B_STEPS])
        self.conflicts += int(stats[K.B_CONFLICTS])
        self.cycles += int(stats[K.B_CYCLES])
        self.merged += int(stats[K.B_MERGED])

    @property
    def conflicts_per_step(self) -> float:
        return self.conflicts / self.steps if self.steps else 0.0

    def to_dict(self) -> dict:
        return {"n_banks": self.n_banks, "row_stride": self.row_stride, "parallel_units": self.parallel_units,
                "reads": self.reads.tolist(), "steps": self.steps, "conflicts": self.conflicts,
                "cycles": self.cycles, "merged": self.merged, "conflicts_per_step": self.conflicts_per_step}


def record_map_reads(workload: Workload, reads: int, bank_stats: BankStats | None, bank_reads: np.ndarray | None,
                     n_cells_by_bank: np.ndarray | None, map_cells: int) -> None:
    """Map reads into ``workload``: ``reads`` from one ``occupancy_map`` buffer, or, when banks
    were counted, one ``occupancy_bank<i>`` buffer per bank with its accesses (merged
    requests read once) and the peak bytes of its cells."""
    if bank_stats is None:
        workload.read("occupancy_map", reads, MAP_BITS)
        workload.peak("occupancy_map", map_cells * MAP_BITS // 8)
        return
    for b in range(bank_stats.n_banks):
        workload.read(f"occupancy_bank{b}", int(bank_reads[b]), MAP_BITS)
        workload.peak(f"occupancy_bank{b}", int(n_cells_by_bank[b]) * MAP_BITS // 8)


def cells_per_bank(ny: int, nx: int, bank_stats: BankStats) -> np.ndarray:
    """Number of map cells stored in each bank."""
    iy, ix = np.mgrid[0:ny, 0:nx]
    return np.bincount(((ix + bank_stats.row_stride * iy) % bank_stats.n_banks).ravel(), minlength=bank_stats.n_banks)


def add_ops(workload: Workload, per_item: dict[str, int], count: int, bits: int = ARITH_BITS) -> None:
    for kind, n in per_item.items():
        workload.add_ops(kind, n * int(count), bits)


def record_beam_evaluations(workload: Workload, tally: np.ndarray, g_len: int, beam_cells_max: int) -> None:
    """Arithmetic and table/beam-buffer traffic of :func:`_kernels.beam_mi_core` calls."""
    beams, cells, pairs = (int(tally[s]) for s in (K.T_BEAMS, K.T_CELLS, K.T_PAIRS))
    add_ops(workload, BEAM_CELL_OPS, cells)
    add_ops(workload, PAIR_OPS, pairs)
    add_ops(workload, BEAM_OPS, beams)
    workload.read("mi_lut", 2 * cells + pairs, ARITH_BITS)
    workload.peak("mi_lut", (2 * LUT_ENTRIES + g_len) * ARITH_BITS // 8)
    workload.write("beam_buffer", cells, ARITH_BITS)
    workload.read("beam_buffer", pairs, ARITH_BITS)
    workload.peak("beam_buffer", beam_cells_max * ARITH_BITS // 8)


# --------------------------------------------------------------------------- sensors

def beam_offsets(n_beams: int, fov_rad: float) -> np.ndarray:
    """Beam angles relative to the yaw [rad]: beam i at ``fov ((i + 1/2) / n - 1/2)``
    (the centres of ``n`` equal sectors of the field of view)."""
    return fov_rad * ((np.arange(n_beams) + 0.5) / n_beams - 0.5)


def check_grid(grid_p) -> np.ndarray:
    grid = check_probabilities(grid_p, "grid_p", 2)
    if grid.size == 0:
        _fail("grid_p is empty")
    return grid


def sensor_mi(grid_p, origin_xy_m, resolution_m, poses, n_beams=60, fov_rad=2 * math.pi, range_m=10.0,
              sigma_m=DEFAULT_SIGMA_M, truncation=None, delta_occ=DEFAULT_DELTA_OCC, delta_emp=DEFAULT_DELTA_EMP,
              workload: Workload = NULL_WORKLOAD, bank_stats: BankStats | None = None) -> np.ndarray:
    """MI [nats] of a range sensor at each pose: the sum of its beams' :func:`beam_mi`.

    grid_p (ny, nx): occupancy probabilities, ``grid_p[iy, ix]``; cell ``(ix, iy)`` has its
    centre at ``origin_xy_m + (i + 1/2) resolution_m`` (world frame, metres).
    poses (N, 3) or (3,): sensor ``x, y`` [m, world] inside the map and yaw [rad].
    Beam i points at ``yaw + fov_rad ((i + 1/2) / n_beams - 1/2)``; its cells are the
    Amanatides-Woo walk from the sensor up to the map edge or ``range_m`` (the walk stops
    before the first cell whose centre projects ``>= range_m`` onto the beam), each taken
    with width ``s = resolution_m`` (FSMI's model on 2-D grids, ICRA 2019).
    Returns (N,) float64. ``prange`` over poses.

    workload (e.g. ``Workload("fsmi")``) receives the operations and traffic; bank_stats
    the map reads per bank with each pose's beams in lockstep groups (:class:`BankStats`).
    """
    grid = check_grid(grid_p)
    origin = np.asarray(origin_xy_m, dtype=np.float64)
    if origin.shape != (2,) or not np.isfinite(origin).all():
        _fail(f"origin_xy_m must be two finite numbers [m], got {origin_xy_m!r}")
    res = check_positive("resolution_m", resolution_m)
    n_beams = check_count("n_beams", n_beams)
    fov = check_positive("fov_rad", fov_rad)
    if fov > 2 * math.pi:
        _fail(f"fov_rad must be at most 2 pi, got {fov_rad!r}")
    range_cells = check_positive("range_m", range_m) / res
    sigma = check_positive("sigma_m", sigma_m)
    truncation = check_truncation(truncation)
    delta_occ, delta_emp = check_deltas(delta_occ, delta_emp)
    pose_arr = np.asarray(poses, dtype=np.float64)
    if pose_arr.ndim == 1:
        pose_arr = pose_arr[None, :]
    if pose_arr.ndim != 2 or pose_arr.shape[1] != 3 or not np.isfinite(pose_arr).all():
        _fail(f"poses must be finite (x, y, yaw) rows, got shape {np.shape(poses)}")
    ny, nx = grid.shape
    x0 = (pose_arr[:, 0] - origin[0]) / res
    y0 = (pose_arr[:, 1] - origin[1]) / res
    outside = ~((x0 >= 0) & (x0 < nx) & (y0 >= 0) & (y0 < ny))
    if outside.any():
        i = int(np.argmax(outside))
        _fail(f"pose {i} at ({pose_arr[i, 0]:g}, {pose_arr[i, 1]:g}) m lies outside the map "
              f"[{origin[0]:g}, {origin[0] + nx * res:g}) x [{origin[1]:g}, {origin[1] + ny * res:g}) m")
    cap = int(K.walk_capacity(range_cells))
    g, k = gaussian_table(res, sigma, truncation, cap)
    offsets = beam_offsets(n_beams, fov)
    yaw = np.ascontiguousarray(pose_arr[:, 2])
    counting = workload.enabled
    tally = np.zeros((len(x0) if counting else 0, K.N_TALLY), np.int64)
    out = np.empty(len(x0))
    K.sensor_mi_kernel(grid, x0, y0, yaw, offsets, range_cells, g, k, delta_occ, delta_emp, counting, tally, out)
    bank_reads = None
    if bank_stats is not None:
        bank_reads, stats = bank_stats.buffers()
        K.sensor_bank_kernel(nx, ny, x0, y0, yaw, offsets, range_cells, bank_stats.parallel_units,
                             bank_stats.n_banks, bank_stats.row_stride, bank_reads, stats)
        bank_stats.add(bank_reads, stats)
    if counting:
        total = tally.sum(axis=0)
        record_beam_evaluations(workload, total, len(g), cap)
        add_ops(workload, BEAM_SETUP_OPS, int(total[K.T_BEAMS]))
        add_ops(workload, WALK_STEP_OPS, int(total[K.T_WALK_STEPS]))
        record_map_reads(workload, int(total[K.T_CELLS]), bank_stats, bank_reads,
                         None if bank_stats is None else cells_per_bank(ny, nx, bank_stats), ny * nx)
        workload.write("mi_out", len(x0), ARITH_BITS)
        workload.peak("mi_out", len(x0) * ARITH_BITS // 8)
    return out
