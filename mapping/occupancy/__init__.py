"""Occupancy maps: 3-D dense and chunked grids and a 2-D grid in log-odds, DDA ray casting,
stereo depth, map building along a trajectory, and exports (docs/mapping.md,
"Occupancy maps and ray casting")."""
from ._grid import FREE, OCCUPIED, UNKNOWN
from .chunked import ChunkedOccupancyGrid3D
from .config import OccupancyConfig
from .grid2d import OccupancyGrid2D
from .grid3d import OccupancyGrid3D
from .raycast import ray_cells, scan_cells, traverse_ray, traverse_ray_2d

__all__ = ["UNKNOWN", "FREE", "OCCUPIED", "OccupancyConfig", "OccupancyGrid3D", "ChunkedOccupancyGrid3D",
           "OccupancyGrid2D", "ray_cells", "scan_cells", "traverse_ray", "traverse_ray_2d"]
