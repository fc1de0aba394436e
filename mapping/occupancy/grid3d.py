"""Dense 3-D occupancy grid: one float32 log-odds array over a bounded box of the world.

Map files (.npz, shared with :class:`mapping.occupancy.chunked.ChunkedOccupancyGrid3D`):

- ``log_odds`` float32 (nx, ny, nz), indexed [ix, iy, iz]: a block of the grid;
- ``origin_m`` (3,) [m]: world corner of ``log_odds[0, 0, 0]``, so the block alone is a
  valid grid (cell centre = origin_m + (i + 0.5) * resolution_m);
- ``resolution_m`` (scalar) [m]; ``config``: the OccupancyConfig as JSON text;
- ``grid_origin_m`` (3,), ``grid_shape`` (3,): the whole grid the block was cut from.

A dense grid writes all of itself; a chunked grid writes the box of its allocated chunks.
Either class loads either file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MappingError
from ._grid import DenseStorage, GridBase, config_from_npz, config_json, open_npz, probability_of
from .config import OccupancyConfig


def grid_from_bounds(bounds_min_m, bounds_max_m, resolution_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Origin (3,) [m] and shape (3,) of a grid covering the box, with the origin on a multiple
    of resolution_m (so grids over different boxes share their cell boundaries)."""
    lo = np.asarray(bounds_min_m, dtype=np.float64)
    hi = np.asarray(bounds_max_m, dtype=np.float64)
    first = np.floor(lo / resolution_m).astype(np.int64)
    last = np.ceil(hi / resolution_m).astype(np.int64)
    return first * resolution_m, np.maximum(last - first, 1)


class Grid3D(GridBase):
    """3-D specifics shared by the dense and the chunked grid: slices, files, construction."""

    def __init__(self, origin_m, resolution_m: float, shape, config: OccupancyConfig | None = None):
        super().__init__(origin_m, resolution_m, shape, config, n_dim=3)

    @classmethod
    def from_config(cls, config: OccupancyConfig):
        """A grid over ``config.bounds_min_m``..``bounds_max_m`` at ``config.resolution_m``."""
        if config.bounds_min_m is None:
            raise MappingError("the occupancy config gives no bounds (bounds_min_m, bounds_max_m)")
        origin, shape = grid_from_bounds(config.bounds_min_m, config.bounds_max_m, config.resolution_m)
        return cls(origin, config.resolution_m, shape, config)

    def z_index(self, z_m: float) -> int:
        """Layer index of height z_m [m]; MappingError outside the grid."""
        if not np.isfinite(z_m):
            raise MappingError(f"slice height must be finite, got {z_m!r}")
        iz = int(np.floor((z_m - self.origin_m[2]) / self.resolution_m))
        if not 0 <= iz < self.shape[2]:
            raise MappingError(f"slice height {z_m} m is outside the map's z range "
                               f"[{self.bounds_min_m[2]:.3f}, {self.bounds_max_m[2]:.3f}) m")
        return iz

    def layer_log_odds(self, z_m: float) -> np.ndarray:
        """Log-odds (nx, ny) float32 of the layer holding height z_m [m]."""
        return self.log_odds[:, :, self.z_index(z_m)].copy()

    def slice_2d(self, z_m: float) -> np.ndarray:
        """Occupancy probability (nx, ny) float32, indexed [ix, iy], of the layer holding z_m [m]
        (the cells with origin_m[2] + iz res <= z_m < origin_m[2] + (iz + 1) res)."""
        return probability_of(self.layer_log_odds(z_m))

    def _block(self) -> tuple[np.ndarray, np.ndarray]:
        """(first cell (3,), log-odds block) that the map file stores."""
        return np.zeros(3, np.int64), self.log_odds

    def save(self, path: str | Path) -> Path:
        """Writes the map file (format in the module docstring); returns its path."""
        path = Path(path)
        first, block = self._block()
        try:
            with open(path, "wb") as f:
                np.savez_compressed(f, log_odds=block, origin_m=self.origin_m + first * self.resolution_m,
                                    resolution_m=np.float64(self.resolution_m), config=config_json(self.config),
                                    grid_origin_m=self.origin_m, grid_shape=np.asarray(self.shape, np.int64))
        except OSError as exc:
            raise MappingError(f"{path}: cannot write map: {exc.strerror or exc}") from None
        return path

    @classmethod
    def load(cls, path: str | Path):
        """The grid stored in a map file (either storage; a plain block without ``grid_*``
        keys loads as a grid of the block's own extent)."""
        with open_npz(path) as data:
            missing = {"log_odds", "origin_m", "resolution_m"} - set(data.files)
            if missing:
                raise MappingError(f"{path}: not a 3-D map file (missing {', '.join(sorted(missing))})")
            block = data["log_odds"]
            origin = data["origin_m"].astype(np.float64)
            res = float(data["resolution_m"])
            if block.ndim != 3 or block.dtype != np.float32:
                raise MappingError(f"{path}: log_odds must be a float32 3-D array, got {block.dtype} {block.shape}")
            grid_origin = data["grid_origin_m"].astype(np.float64) if "grid_origin_m" in data.files else origin
            grid_shape = data["grid_shape"] if "grid_shape" in data.files else np.asarray(block.shape)
            config = config_from_npz(data, path) or OccupancyConfig(resolution_m=res)
        first = np.rint((origin - grid_origin) / res).astype(np.int64)
        if np.any(first < 0) or np.any(first + block.shape > grid_shape):
            raise MappingError(f"{path}: the stored block lies outside the stored grid")
        grid = cls(grid_origin, res, grid_shape, config)
        grid._set_block(first, block)
        return grid


class OccupancyGrid3D(DenseStorage, Grid3D):
    """Dense 3-D occupancy grid: ``log_odds`` float32 (nx, ny, nz) indexed [ix, iy, iz].

    origin_m (3,) [m, world]: corner of cell (0, 0, 0); resolution_m [m]; shape (3,);
    config: sensor model and max range (its resolution_m must equal resolution_m).
    """

    def __init__(self, origin_m, resolution_m: float, shape, config: OccupancyConfig | None = None,
                 log_odds: np.ndarray | None = None):
        super().__init__(origin_m, resolution_m, shape, config)
        self._init_storage(log_odds)

    def _set_block(self, first: np.ndarray, block: np.ndarray) -> None:
        sl = tuple(slice(int(a), int(a) + n) for a, n in zip(first, block.shape))
        self.log_odds[sl] = block
