"""Map quality against a known world mesh (synthetic sequences): precision and recall of the
occupied voxels.

Definitions (all on the map's own grid):

- surface voxels S: every voxel that a world surface passes through (each face sampled at
  a quarter of a voxel; on an exact voxel boundary both sides count);
- observed surface voxels T: the voxels of the true ray hits of the map's own sensor rays,
  cast with open3d's RaycastingScene on the world mesh from the same camera poses through
  the same rectified pixels (every pixel_step-th, inside the border), hits within
  max_range_m. These are the surfaces the trajectory could see;
- precision: fraction of the map's occupied voxels within one voxel (26-neighbourhood,
  Chebyshev distance <= 1) of S. The tolerance absorbs stereo depth noise: a hit lands one
  voxel off whenever the depth error crosses a voxel boundary (the error grows as
  z^2 / (f b) per pixel of disparity error), and noise spreads hits over about two voxels
  along each ray, so the exact figure (``precision_exact``) stays near 2/3 even for a good map;
- recall: fraction of T that is occupied in the map, exactly (``recall_within_one_voxel``
  relaxes it like the precision).
"""
from __future__ import annotations

import itertools

import numpy as np

from .grid3d import Grid3D

NEIGHBOURHOOD = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.int64)


def _linear(grid: Grid3D, cells: np.ndarray) -> np.ndarray:
    cells = cells[grid.in_bounds(cells)]
    return np.unique(np.ravel_multi_index(tuple(cells.T), grid.shape))


def _dilated(grid: Grid3D, cells: np.ndarray) -> np.ndarray:
    """Linear indices of the in-grid cells within Chebyshev distance 1 of cells (N, 3)."""
    if len(cells) == 0:
        return np.zeros(0, np.int64)
    return _linear(grid, (cells[:, None, :] + NEIGHBOURHOOD[None]).reshape(-1, 3))


def surface_voxels(grid: Grid3D, world) -> np.ndarray:
    """Cells (K, 3) of S for a :class:`datasets.synth.world.HallWorld` (faces as corner + s e0 + t e1)."""
    step = grid.resolution_m / 4
    parts = []
    for corner, edges in zip(world.surface_corners, world.surface_edges):
        n0 = max(2, int(np.ceil(np.linalg.norm(edges[0]) / step)) + 1)
        n1 = max(2, int(np.ceil(np.linalg.norm(edges[1]) / step)) + 1)
        s, t = np.meshgrid(np.linspace(0, 1, n0), np.linspace(0, 1, n1), indexing="ij")
        points = corner + s.reshape(-1, 1) * edges[0] + t.reshape(-1, 1) * edges[1]
        u = (points - grid.origin_m) / grid.resolution_m
        cells = np.floor(u).astype(np.int64)
        on_boundary = np.floor(u) == u
        parts.append(cells)
        for axis in range(3):  # a surface on a voxel boundary touches the voxels on both sides
            below = cells[on_boundary[:, axis]].copy()
            below[:, axis] -= 1
            parts.append(below)
    cells = np.concatenate(parts)
    return np.array(np.unravel_index(_linear(grid, cells), grid.shape)).T.reshape(-1, 3)


def observed_surface_voxels(grid: Grid3D, world, T_world_rect: np.ndarray, stereo) -> np.ndarray:
    """Cells (K, 3) of T: true hits of the map's sensor rays (see the module docstring)."""
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(world.mesh)
    c = stereo.config
    width, height = stereo.size
    v, u = np.mgrid[c.border_px:height - c.border_px:c.pixel_step, c.border_px:width - c.border_px:c.pixel_step]
    Q = stereo.Q  # rectified pinhole: x = (u + Q[0, 3]) / f, y = (v + Q[1, 3]) / f
    f = Q[2, 3]
    bearings = np.stack([(u.ravel() + Q[0, 3]) / f, (v.ravel() + Q[1, 3]) / f, np.ones(u.size)], axis=1)
    bearings /= np.linalg.norm(bearings, axis=1, keepdims=True)
    cells = []
    for T in T_world_rect:
        rays = np.concatenate([np.broadcast_to(T[:3, 3], bearings.shape), bearings @ T[:3, :3].T], axis=1)
        t_hit = scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))["t_hit"].numpy().astype(np.float64)
        ok = t_hit <= grid.config.max_range_m
        hits = T[:3, 3] + t_hit[ok, None] * (bearings[ok] @ T[:3, :3].T)
        cells.append(grid.world_to_index(hits))
    cells = np.concatenate(cells) if cells else np.zeros((0, 3), np.int64)
    return np.array(np.unravel_index(_linear(grid, cells), grid.shape)).T.reshape(-1, 3)


def map_quality(grid: Grid3D, world, T_world_rect: np.ndarray, stereo) -> dict:
    """Precision (one-voxel tolerance) and recall (exact) of the grid's occupied voxels, the
    other variant of each, and the counts of occupied, surface (S) and observed surface (T) voxels."""
    predicted = grid.occupied_cells()
    surface = surface_voxels(grid, world)
    observed = observed_surface_voxels(grid, world, T_world_rect, stereo)
    p_lin, s_lin, t_lin = (_linear(grid, c) for c in (predicted, surface, observed))

    def fraction(a: np.ndarray, b: np.ndarray) -> float | None:
        return float(np.isin(a, b).mean()) if len(a) else None

    return {
        "precision": fraction(p_lin, _dilated(grid, surface)),
        "recall": fraction(t_lin, p_lin),
        "precision_exact": fraction(p_lin, s_lin),
        "recall_within_one_voxel": fraction(t_lin, _dilated(grid, predicted)),
        "occupied_voxels": int(len(p_lin)),
        "surface_voxels": int(len(s_lin)),
        "observed_surface_voxels": int(len(t_lin)),
    }
