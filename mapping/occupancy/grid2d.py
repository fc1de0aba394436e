"""2-D occupancy grid (the planar setting of FSMI: Zhang et al., ICRA 2019), same update rules
as the 3-D grids: ``log_odds`` float32 (nx, ny) indexed [ix, iy], cell centre
``origin_m + (i + 0.5) * resolution_m`` (world x, y, metres).

Files are the FSMI code's 2-D maps (:func:`mapping.mi_map.save_grid2d`): ``probability``
(ny, nx) indexed [iy, ix] (the transpose of ``probability()``), ``origin_m``, ``resolution_m``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..mi_map import load_grid2d, save_grid2d
from ._grid import DenseStorage, GridBase
from .config import OccupancyConfig

PROBABILITY_EPS = 1e-7  # keeps the log-odds of certain cells finite (|l| < 16.2)


class OccupancyGrid2D(DenseStorage, GridBase):
    """Dense 2-D occupancy grid: origin_m (2,) [m], resolution_m [m], shape (2,).

    ``integrate_scan(origin_world (2,), points_world (N, 2))`` applies OctoMap's scan rule
    with ``config.max_range_m``; ``probability()`` gives (nx, ny) float32.
    """

    def __init__(self, origin_m, resolution_m: float, shape, config: OccupancyConfig | None = None,
                 log_odds: np.ndarray | None = None):
        super().__init__(origin_m, resolution_m, shape, config, n_dim=2)
        self._init_storage(log_odds)

    def save(self, path: str | Path) -> Path:
        """Writes the probabilities as a 2-D map file (``.npz`` appended when missing)."""
        return save_grid2d(path, self.probability().T, self.origin_m, self.resolution_m)

    @classmethod
    def load(cls, path: str | Path, config: OccupancyConfig | None = None) -> "OccupancyGrid2D":
        """A grid from a 2-D map file; log-odds from the stored probabilities, clipped to
        [PROBABILITY_EPS, 1 - PROBABILITY_EPS] (0.5 stays exactly unknown). ``config`` (sensor
        model) defaults to OccupancyConfig at the file's resolution."""
        probability, origin, res = load_grid2d(path)
        p = np.clip(probability, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
        log_odds = (np.log(p) - np.log1p(-p)).T.astype(np.float32)
        return cls(origin, res, log_odds.shape, config, log_odds=np.ascontiguousarray(log_odds))
