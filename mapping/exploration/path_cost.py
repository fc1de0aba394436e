"""Path cost through known free space: robot-radius inflation and a 26-connected grid Dijkstra.

The search runs on the full 3-D grid (a flying robot): a cell is *traversable* when every
cell whose centre lies within ``robot_radius_m`` of its centre (its robot ball) is FREE.
Unknown cells count as blocked: obstacles' interiors stay unknown, while the cell holding
an obstacle's top or side is often FREE (rays grazing the surface outnumber those ending
on it), so clearance from OCCUPIED cells alone let paths touch obstacles (measured in the
hall experiment). Moves go to the 26 neighbours with lengths
``resolution_m * (1, sqrt 2, sqrt 3)``, so in free space the cost between two cells with
sorted index differences ``a >= b >= c`` is ``resolution_m * ((a - b) + sqrt 2 (b - c) +
sqrt 3 c)``: at least the Euclidean distance of their centres and at most
:data:`EUCLIDEAN_BOUND` times it. Diagonal moves may pass between two blocked cells (their
centres keep the radius, the segment between them may come closer by under half a cell).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import MappingError
from ..occupancy import FREE, UNKNOWN
from . import _kernels

# max over directions of the 26-connected path length over the Euclidean distance, reached
# at (a, b, c) proportional to (1, sqrt 2 - 1, sqrt 3 - sqrt 2) (the gradient of the cost)
EUCLIDEAN_BOUND = float(np.sqrt(1 + (np.sqrt(2) - 1) ** 2 + (np.sqrt(3) - np.sqrt(2)) ** 2))


def ball_offsets(radius_m: float, resolution_m: float) -> np.ndarray:
    """Integer cell offsets (K, 3) whose centre distance is at most radius_m [m]."""
    r = int(np.floor(radius_m / resolution_m))
    g = np.arange(-r, r + 1)
    off = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    return off[np.linalg.norm(off, axis=1) * resolution_m <= radius_m]


def traversable_mask(classes: np.ndarray, resolution_m: float, robot_radius_m: float,
                     robot_cell=None) -> np.ndarray:
    """(nx, ny, nz) bool: cells whose robot ball (every cell centre within robot_radius_m [m])
    is known free. With ``robot_cell`` (3,), the unknown cells of the robot's own ball
    count as free (the robot is there; a level camera never sees straight up or down)."""
    classes = np.asarray(classes)
    if classes.ndim != 3 or classes.dtype != np.int8:
        raise MappingError(f"classes must be an int8 3-D array, got {classes.dtype} {classes.shape}")
    if not (np.isfinite(robot_radius_m) and robot_radius_m >= 0):
        raise MappingError(f"robot_radius_m must be >= 0, got {robot_radius_m!r}")
    off = ball_offsets(robot_radius_m, resolution_m)
    free = classes == FREE
    if robot_cell is not None:
        body = np.asarray(robot_cell, dtype=np.int64).reshape(1, 3) + off
        body = body[np.all((body >= 0) & (body < classes.shape), axis=1)]
        idx = tuple(body.T)
        free[idx] |= classes[idx] == UNKNOWN
    r = int(np.abs(off).max())
    ball = np.zeros((2 * r + 1,) * 3, dtype=bool)
    ball[tuple((off + r).T)] = True
    return free & ~ndimage.binary_dilation(~free, structure=ball)


@dataclass(frozen=True)
class PathCosts:
    """Shortest-path lengths from one start cell over a grid (see the module docstring).

    dist_m (nx, ny, nz) float64: path length [m] to every cell (inf: unreachable);
    parent (nx * ny * nz,) int64: previous cell (C-order linear index) on a shortest path;
    start (3,) int64: the start cell; settled: cells the search settled.
    """

    dist_m: np.ndarray
    parent: np.ndarray
    start: np.ndarray
    settled: int

    def path(self, goal) -> np.ndarray:
        """Cells (K, 3) int64 from the start to ``goal`` (3,) along a shortest path;
        MappingError when the goal is unreachable."""
        goal = np.asarray(goal, dtype=np.int64)
        if not np.isfinite(self.dist_m[tuple(goal)]):
            raise MappingError(f"cell {goal.tolist()} is not reachable from {self.start.tolist()}")
        shape = self.dist_m.shape
        lin = [int(np.ravel_multi_index(tuple(goal), shape))]
        while self.parent[lin[-1]] >= 0:
            lin.append(int(self.parent[lin[-1]]))
        return np.column_stack(np.unravel_index(np.array(lin[::-1]), shape)).astype(np.int64)


def path_costs(traversable: np.ndarray, start_cell, resolution_m: float) -> PathCosts:
    """Dijkstra from start_cell (3,) over traversable (nx, ny, nz) bool with 26-connected moves."""
    trav = np.ascontiguousarray(traversable)
    if trav.ndim != 3 or trav.dtype != np.bool_:
        raise MappingError(f"traversable must be a bool 3-D array, got {trav.dtype} {trav.shape}")
    start = np.asarray(start_cell, dtype=np.int64).reshape(-1)
    if start.shape != (3,) or np.any(start < 0) or np.any(start >= trav.shape):
        raise MappingError(f"start cell {np.asarray(start_cell).tolist()} is outside the grid {trav.shape}")
    if not (np.isfinite(resolution_m) and resolution_m > 0):
        raise MappingError(f"resolution_m must be positive, got {resolution_m!r}")
    dist = np.empty(trav.size)
    parent = np.empty(trav.size, dtype=np.int64)
    settled = _kernels.dijkstra_26(trav, start, float(resolution_m), dist, parent)
    return PathCosts(dist.reshape(trav.shape), parent, start, int(settled))
