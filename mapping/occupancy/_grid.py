"""What every occupancy grid shares: geometry, the scan update, classification, I/O helpers.

Cell ``i`` of a grid with ``origin_m`` and ``resolution_m`` is the half-open box
``origin_m + [i, i + 1) * resolution_m`` (world frame, metres); its centre is
``origin_m + (i + 0.5) * resolution_m``. Arrays are indexed ``[ix, iy(, iz)]``.
Each cell stores float32 log-odds ``l = log(p / (1 - p))``; ``l == 0`` exactly means never
updated (unknown), ``l < 0`` free, ``l > 0`` occupied (Hornung et al., Autonomous Robots
2013). A cell whose log-odds return exactly to 0 reads as unknown again; with the default
sensor model that needs an exact float32 cancellation and does not happen in practice.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload

from ..errors import MappingError
from .config import OccupancyConfig
from .raycast import ScanCells, check_resolution, check_shape, check_vector, scan_cells
from .workload import record_scan

UNKNOWN = np.int8(-1)
FREE = np.int8(0)
OCCUPIED = np.int8(1)


def classify_log_odds(log_odds: np.ndarray) -> np.ndarray:
    """int8 classes of log-odds values: UNKNOWN (exactly 0), FREE (< 0), OCCUPIED (> 0)."""
    out = np.full(np.shape(log_odds), UNKNOWN, dtype=np.int8)
    out[log_odds < 0] = FREE
    out[log_odds > 0] = OCCUPIED
    return out


def probability_of(log_odds: np.ndarray) -> np.ndarray:
    """Occupancy probability 1 / (1 + exp(-l)) (0.5 for unknown cells), float32."""
    return (1.0 / (1.0 + np.exp(-log_odds.astype(np.float64)))).astype(np.float32)


def config_json(config: OccupancyConfig) -> np.ndarray:
    return np.array(json.dumps(config.to_dict()))


def config_from_npz(data, path) -> OccupancyConfig | None:
    if "config" not in data:
        return None
    try:
        return OccupancyConfig.from_dict(json.loads(str(data["config"])))
    except (ValueError, TypeError) as exc:
        raise MappingError(f"{path}: bad map config: {exc}") from None


def open_npz(path):
    """np.load of an .npz map file; MappingError naming the file when it is missing or unreadable."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MappingError(f"{path}: cannot read map: {exc}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise MappingError(f"{path}: not an .npz map file")
    return data


class GridBase:
    """Geometry and scan update of a D-dimensional occupancy grid (D = len(origin_m)).

    Subclasses store the log-odds and implement ``_apply(cells, occupied)`` (one update per
    listed cell), ``values_at(cells)`` and ``log_odds`` (the full array).
    """

    def __init__(self, origin_m, resolution_m: float, shape, config: OccupancyConfig | None, n_dim: int):
        origin = check_vector(origin_m, n_dim, "origin_m")
        resolution_m = check_resolution(resolution_m)
        dims = check_shape(shape, n_dim)
        if config is None:
            config = OccupancyConfig(resolution_m=float(resolution_m))
        if not isinstance(config, OccupancyConfig):
            raise MappingError(f"config must be an OccupancyConfig, got {type(config).__name__}")
        if config.resolution_m != float(resolution_m):
            raise MappingError(f"resolution_m {resolution_m} differs from config.resolution_m {config.resolution_m}")
        self.origin_m = origin
        self.origin_m.setflags(write=False)
        self.resolution_m = float(resolution_m)
        self.shape = tuple(int(v) for v in dims)
        self.config = config
        self.n_dim = n_dim
        self._l = (config.l_hit, config.l_miss, config.l_min, config.l_max)

    # ------------------------------------------------------------------ geometry

    @property
    def bounds_min_m(self) -> np.ndarray:
        return self.origin_m.copy()

    @property
    def bounds_max_m(self) -> np.ndarray:
        return self.origin_m + np.asarray(self.shape) * self.resolution_m

    def world_to_index(self, points) -> np.ndarray:
        """Cell indices (N, D) int64 of world points (N, D) [m]: floor((p - origin_m) / resolution_m).
        Indices may lie outside the grid; see :meth:`in_bounds`."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != self.n_dim:
            raise MappingError(f"points must be an (N, {self.n_dim}) array, got shape {p.shape}")
        if not np.isfinite(p).all():
            raise MappingError("points must be finite")
        return np.floor((p - self.origin_m) / self.resolution_m).astype(np.int64)

    def index_to_world(self, cells) -> np.ndarray:
        """Centres (N, D) [m] of cells (N, D)."""
        return self.origin_m + (np.asarray(cells, dtype=np.float64) + 0.5) * self.resolution_m

    def in_bounds(self, cells) -> np.ndarray:
        """(N,) bool: the cells (N, D) lie in the grid."""
        c = np.asarray(cells)
        return np.all((c >= 0) & (c < np.asarray(self.shape)), axis=1)

    def _checked_cells(self, cells) -> np.ndarray:
        c = np.asarray(cells)
        if c.ndim != 2 or c.shape[1] != self.n_dim or (c.size and c.dtype.kind not in "iu"):
            raise MappingError(f"cells must be an integer (N, {self.n_dim}) array, got {c.dtype} {c.shape}")
        c = c.astype(np.int64)
        if not self.in_bounds(c).all():
            raise MappingError("cells outside the grid")
        return c

    # ------------------------------------------------------------------ updates

    def integrate_scan(self, origin_world, points_world, workload: Workload = NULL_WORKLOAD,
                       banks: int = 8) -> ScanCells:
        """Integrates one scan: free space along each ray from ``origin_world`` (D,) to each
        point of ``points_world`` (N, D) [m, world], occupied at the end point, with
        ``config.max_range_m`` (see :func:`mapping.occupancy.raycast.scan_cells`). Each touched
        cell takes one update, ``l <- clamp(l + l_hit or l_miss, l_min, l_max)`` (Hornung et
        al. 2013, eq. 2-4). Counts the work into ``workload`` (cells interleaved over ``banks``
        memory banks, see :mod:`mapping.occupancy.workload`). Returns the scan's cells.
        """
        scan = scan_cells(self.origin_m, self.resolution_m, np.asarray(self.shape, np.int64), origin_world,
                          points_world, self.config.max_range_m)
        chunks = self._apply(scan.cells, scan.occupied)
        if workload.enabled:
            record_scan(workload, scan, self, banks, chunks)
        return scan

    def _updated(self, values: np.ndarray, occupied: np.ndarray) -> np.ndarray:
        """float32 log-odds after one hit (occupied) or miss, clamped."""
        l_hit, l_miss, l_min, l_max = self._l
        return np.clip(values + np.where(occupied, l_hit, l_miss), l_min, l_max).astype(np.float32)

    # ------------------------------------------------------------------ reading

    def probability(self) -> np.ndarray:
        """Occupancy probability of every cell, float32 array of ``shape`` (0.5 = unknown)."""
        return probability_of(self.log_odds)

    def classify(self) -> np.ndarray:
        """int8 array of ``shape``: UNKNOWN (-1, never updated), FREE (0), OCCUPIED (1)."""
        return classify_log_odds(self.log_odds)

    def counts(self) -> dict:
        """Number of unknown, free and occupied cells."""
        cls = self.classify()
        return {"unknown": int(np.count_nonzero(cls == UNKNOWN)), "free": int(np.count_nonzero(cls == FREE)),
                "occupied": int(np.count_nonzero(cls == OCCUPIED))}

    def occupied_cells(self) -> np.ndarray:
        """Indices (K, D) int64 of the occupied cells, in C order."""
        return np.argwhere(self.log_odds > 0).astype(np.int64)

    def occupied_centers(self) -> np.ndarray:
        """Centres (K, D) [m, world] of the occupied cells."""
        return self.index_to_world(self.occupied_cells())


class DenseStorage:
    """Log-odds in one float32 array ``log_odds`` of the grid's shape (mixin for GridBase)."""

    log_odds: np.ndarray

    def _init_storage(self, log_odds) -> None:
        if log_odds is None:
            self.log_odds = np.zeros(self.shape, dtype=np.float32)
            return
        values = np.asarray(log_odds)
        if values.shape != self.shape or values.dtype != np.float32:
            raise MappingError(f"log_odds must be float32 of shape {self.shape}, got {values.dtype} {values.shape}")
        self.log_odds = np.ascontiguousarray(values).copy()

    def _apply(self, cells: np.ndarray, occupied: np.ndarray) -> int:
        flat = self.log_odds.reshape(-1)
        lin = np.ravel_multi_index(tuple(cells.T), self.shape)
        flat[lin] = self._updated(flat[lin], occupied)
        return 0

    def values_at(self, cells) -> np.ndarray:
        """Log-odds (N,) float32 of in-grid cells (N, D)."""
        return self.log_odds[tuple(self._checked_cells(cells).T)]

    @property
    def memory_bytes(self) -> int:
        """Bytes of log-odds storage."""
        return int(self.log_odds.nbytes)
