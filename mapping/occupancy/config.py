"""Options of the occupancy maps: resolution, sensor model, range, bounds and storage."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from datasets.configuration import ConfigMixin

from ..errors import MappingError

STORAGES = ("dense", "chunked")


def log_odds(p: float) -> float:
    """log(p / (1 - p))."""
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class OccupancyConfig(ConfigMixin):
    """Occupancy grid options (OctoMap defaults: Hornung et al., Autonomous Robots 2013, Sec. 3).

    resolution_m: cell edge [m].
    p_hit, p_miss: inverse sensor model, the occupancy probability a hit (miss) asserts;
        updates add log-odds log(p / (1 - p)) (Hornung et al., eq. 2-3).
    p_min, p_max: clamping bounds of every cell's probability (eq. 4).
    max_range_m: end points farther than this from the sensor clear space up to it and
        mark nothing occupied [m]. The default suits EuRoC stereo at 0.1 m: depth noise
        sigma_z = z^2 sigma_d / (f b) with f b = 48 px m and sigma_d ~ 0.15 px (SGBM on the
        synthetic hall) stays below half a cell up to z = 4 m.
    bounds_min_m, bounds_max_m: world box the grid covers [m]; None fits it to the
        trajectory (plus max_range_m) when a map is built along one.
    storage: "dense" (one array over the bounds) or "chunked" (hashed chunks of
        chunk_cells^3 cells, allocated on first touch).
    """

    resolution_m: float = 0.1
    p_hit: float = 0.7
    p_miss: float = 0.4
    p_min: float = 0.12
    p_max: float = 0.97
    max_range_m: float = 4.0
    bounds_min_m: tuple[float, float, float] | None = None
    bounds_max_m: tuple[float, float, float] | None = None
    storage: str = "chunked"
    chunk_cells: int = 16

    def __post_init__(self) -> None:
        def bad(why: str) -> None:
            raise MappingError(f"occupancy config: {why}")

        for name in ("resolution_m", "max_range_m"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                bad(f"'{name}' must be a positive number of metres, got {value!r}")
        for name in ("p_hit", "p_miss", "p_min", "p_max"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 < value < 1.0):
                bad(f"'{name}' must be a probability in (0, 1), got {value!r}")
        if not self.p_hit > 0.5:
            bad(f"'p_hit' must be > 0.5 (a hit raises occupancy), got {self.p_hit!r}")
        if not self.p_miss < 0.5:
            bad(f"'p_miss' must be < 0.5 (a miss lowers occupancy), got {self.p_miss!r}")
        if not self.p_min < 0.5 < self.p_max:
            bad(f"need p_min < 0.5 < p_max, got p_min={self.p_min!r}, p_max={self.p_max!r}")
        if (self.bounds_min_m is None) != (self.bounds_max_m is None):
            bad("give both 'bounds_min_m' and 'bounds_max_m' or neither")
        if self.bounds_min_m is not None:
            lo, hi = np.asarray(self.bounds_min_m, float), np.asarray(self.bounds_max_m, float)
            if lo.shape != (3,) or hi.shape != (3,) or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
                bad(f"bounds must be three finite numbers each, got {self.bounds_min_m!r}, {self.bounds_max_m!r}")
            if np.any(hi <= lo):
                bad(f"'bounds_max_m' must exceed 'bounds_min_m' on every axis, got {self.bounds_min_m!r}, "
                    f"{self.bounds_max_m!r}")
        if self.storage not in STORAGES:
            bad(f"'storage' must be one of {', '.join(STORAGES)}, got {self.storage!r}")
        if isinstance(self.chunk_cells, bool) or not isinstance(self.chunk_cells, int) or not 1 <= self.chunk_cells <= 256:
            bad(f"'chunk_cells' must be an integer in 1..256, got {self.chunk_cells!r}")

    @property
    def l_hit(self) -> np.float32:
        return np.float32(log_odds(self.p_hit))

    @property
    def l_miss(self) -> np.float32:
        return np.float32(log_odds(self.p_miss))

    @property
    def l_min(self) -> np.float32:
        return np.float32(log_odds(self.p_min))

    @property
    def l_max(self) -> np.float32:
        return np.float32(log_odds(self.p_max))
