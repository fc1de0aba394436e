"""Ray casting on occupancy grids: one ray's cells and the cells of a whole scan.

The traversal rule (half-open cells, corner crossings step every tied axis at once) is
stated in :mod:`mapping.occupancy._kernels`. :func:`traverse_ray` and
:func:`traverse_ray_2d` are numba functions other njit code can call directly (for
example to collect the cells along a sensor beam); :func:`ray_cells` is the validated
Python entry point.

A scan is updated with OctoMap's rule (Hornung et al., Autonomous Robots 2013, Sec. 5.2,
``computeUpdate``): the cells traversed by the rays of one scan form a set of free cells,
the end-point cells a set of occupied cells; a cell in both counts as occupied; then each
cell of the union takes exactly one update. The result does not depend on the order of
the rays, and a cell crossed by many rays of one scan is cleared only once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MappingError
from . import _kernels
from ._kernels import traverse_ray, traverse_ray_2d

__all__ = ["traverse_ray", "traverse_ray_2d", "ray_cells", "max_ray_cells", "ScanCells", "scan_cells"]

WINDOW_MARGIN = 2  # [cells] around the scan's bounding box; covers boundary ties and rounding
MAX_WINDOW_CELLS = 1 << 28  # one byte per window cell for the scan's marks


def check_vector(value, n_dim: int, name: str) -> np.ndarray:
    """(n_dim,) finite float64; MappingError naming ``name`` otherwise."""
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (n_dim,) or not np.isfinite(v).all():
        raise MappingError(f"{name} must be {n_dim} finite numbers, got {np.asarray(value).tolist()!r}")
    return np.ascontiguousarray(v)


def check_shape(value, n_dim: int) -> np.ndarray:
    """(n_dim,) int64 of positive integers; MappingError otherwise."""
    s = np.asarray(value)
    if s.shape != (n_dim,) or s.dtype.kind not in "iu" or np.any(s < 1):
        raise MappingError(f"shape must be {n_dim} positive integers, got {np.asarray(value).tolist()!r}")
    return s.astype(np.int64)


def check_resolution(value) -> float:
    """A positive finite cell size [m] as float; MappingError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not np.isfinite(value) \
            or value <= 0:
        raise MappingError(f"resolution_m must be a positive number of metres, got {value!r}")
    return float(value)


def max_ray_cells(direction, max_t: float, resolution_m: float) -> int:
    """An upper bound on the cells one ray visits: ``3 + sum_a ceil(|direction_a| max_t / resolution_m)``
    (one start cell plus at most ``ceil(|span|) + 1`` boundary crossings per axis)."""
    d = np.abs(np.asarray(direction, dtype=np.float64)) * max(float(max_t), 0.0) / resolution_m
    return int(1 + d.size + np.ceil(d).sum())


def ray_cells(origin, direction, max_t: float, origin_m, resolution_m: float, shape) -> np.ndarray:
    """Cells (K, D) int64 of the grid (origin_m [m], resolution_m, shape) along the ray
    ``origin + t * direction``, ``0 <= t <= max_t`` (world frame, metres), in ray order.
    D is 2 or 3 (the length of ``origin``)."""
    n_dim = np.asarray(origin).size
    if n_dim not in (2, 3):
        raise MappingError(f"rays must be 2-D or 3-D, got origin {np.asarray(origin).tolist()!r}")
    o = check_vector(origin, n_dim, "origin")
    d = check_vector(direction, n_dim, "direction")
    o_m = check_vector(origin_m, n_dim, "origin_m")
    res = check_resolution(resolution_m)
    s = check_shape(shape, n_dim)
    if not np.isfinite(max_t):
        raise MappingError(f"max_t must be finite, got {max_t!r}")
    out = np.empty((max_ray_cells(d, max_t, res), n_dim), dtype=np.int64)
    kernel = traverse_ray if n_dim == 3 else traverse_ray_2d
    count = kernel(o, d, float(max_t), o_m, res, s, out)
    return out[:count].copy()


@dataclass(frozen=True)
class ScanCells:
    """The cells one scan updates, each once: ``cells`` (K, D) int64 grid indices and
    ``occupied`` (K,) bool (True: a hit, False: a miss).

    rays: rays cast; hit_rays: rays whose end point is within range and in the grid;
    dda_steps: DDA steps over all rays; cells_visited: in-grid cells over all rays (with
    repeats); window_cells: size of the scan's bounding window (the marks buffer).
    """

    cells: np.ndarray
    occupied: np.ndarray
    rays: int
    hit_rays: int
    dda_steps: int
    cells_visited: int
    window_cells: int

    @property
    def free_updates(self) -> int:
        return int(len(self.occupied) - np.count_nonzero(self.occupied))

    @property
    def occupied_updates(self) -> int:
        return int(np.count_nonzero(self.occupied))


def _empty_scan(n_dim: int, rays: int) -> ScanCells:
    return ScanCells(np.zeros((0, n_dim), np.int64), np.zeros(0, bool), rays, 0, 0, 0, 0)


def scan_cells(origin_m: np.ndarray, resolution_m: float, shape: np.ndarray, sensor_origin, points,
               max_range_m: float) -> ScanCells:
    """OctoMap's per-scan cell sets for a grid (origin_m (D,) [m], resolution_m, shape (D,)).

    sensor_origin (D,) and points (N, D) in the world frame [m]. A ray runs from the sensor
    to its point; a point farther than ``max_range_m`` clears only up to max range and
    marks nothing occupied. The end-point cell is the ray's last cell; it is marked only
    when it lies in the grid. Non-finite points raise MappingError.
    """
    n_dim = len(shape)
    o = check_vector(sensor_origin, n_dim, "sensor origin")
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != n_dim:
        raise MappingError(f"points must be an (N, {n_dim}) array, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise MappingError("points must be finite")
    if len(p) == 0:
        return _empty_scan(n_dim, 0)
    rng = np.linalg.norm(p - o, axis=1)
    hit = rng <= max_range_m
    max_t = np.where(hit, 1.0, max_range_m / np.where(hit, 1.0, rng))
    u0 = (o - origin_m) / resolution_m
    ends = np.ascontiguousarray((p - origin_m) / resolution_m)
    reach = u0 + max_t[:, None] * (ends - u0)
    lo = np.floor(np.minimum(reach.min(axis=0), u0)).astype(np.int64) - WINDOW_MARGIN
    hi = np.floor(np.maximum(reach.max(axis=0), u0)).astype(np.int64) + WINDOW_MARGIN + 1
    lo, hi = np.maximum(lo, 0), np.minimum(hi, shape)
    if np.any(hi <= lo):
        return _empty_scan(n_dim, len(p))
    win = hi - lo
    window_cells = int(np.prod(win))
    if window_cells > MAX_WINDOW_CELLS:
        raise MappingError(f"a scan spans {window_cells} cells (more than {MAX_WINDOW_CELLS}); "
                           "lower max_range_m or coarsen resolution_m")
    per_ray = 1 + n_dim + np.ceil(np.abs(reach - u0)).sum(axis=1)
    scratch = np.empty((int(per_ray.max()), n_dim), dtype=np.int64)
    marks = np.zeros(window_cells, dtype=np.uint8)
    touched = np.empty(min(window_cells, int(per_ray.sum())), dtype=np.int64)
    stats = np.zeros(_kernels.N_STATS, dtype=np.int64)
    n = _kernels.mark_scan(u0, ends, max_t, hit, lo, win, marks, touched, scratch, stats)
    lin = touched[:n]
    cells = np.column_stack(np.unravel_index(lin, tuple(win))).astype(np.int64) + lo
    occupied = (marks[lin] & _kernels.HIT_MARK) != 0
    return ScanCells(cells.reshape(-1, n_dim), occupied, int(stats[_kernels.STAT_RAYS]),
                     int(stats[_kernels.STAT_HIT_RAYS]), int(stats[_kernels.STAT_STEPS]),
                     int(stats[_kernels.STAT_CELLS]), window_cells)
