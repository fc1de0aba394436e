"""A textured indoor hall: floor, walls, ceiling, boxes and pillars with procedural texture.

World frame: z up, floor at ``bounds_min[2]``, metres. The hall is made of axis-aligned
boxes: the shell (seen from inside) and obstacles standing on the floor (seen from
outside). Every visible face is one *surface* with its own texture seeds, scale, grey
range and 2-D texture frame; the mesh has two triangles per surface
(``triangle_surface``). The texture is evaluated analytically at surface points
(:func:`datasets.synth._kernels.texture_uv`), so it is exact at any distance and
deterministic in the seed.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

from ..configuration import ConfigMixin
from ..errors import DatasetError
from . import _kernels
from .texture import TextureBank, empty_bank

LIGHT_DIRECTION = np.array([0.3, 0.5, 0.81]) / np.linalg.norm([0.3, 0.5, 0.81])
AMBIENT = 0.55  # shading = AMBIENT + (1 - AMBIENT) * |n . LIGHT_DIRECTION|


def _positive(name: str, value, n: int | None = None) -> None:
    values = value if n is not None else (value,)
    if n is not None and len(values) != n:
        raise DatasetError(f"HallConfig.{name} needs {n} values, got {value!r}")
    if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values):
        raise DatasetError(f"HallConfig.{name} must be positive, got {value!r}")


def _range(name: str, value) -> None:
    _positive(name, value, 2)
    if value[0] > value[1]:
        raise DatasetError(f"HallConfig.{name} must be (min, max), got {value!r}")


@dataclass(frozen=True)
class HallConfig(ConfigMixin):
    """Hall geometry and texture. Lengths in metres.

    size_m: interior (x, y, z) of the default hall, used when no trajectory is given.
    margin_xy_m, floor_margin_m, ceiling_margin_m: with a trajectory, the walls lie at
        least margin_xy_m beyond its horizontal bounding box, the floor floor_margin_m
        below its lowest and the ceiling ceiling_margin_m above its highest point.
    min_size_m: the smallest interior a trajectory-fitted hall gets.
    n_boxes, n_pillars: obstacles placed (as many as fit, by rejection sampling);
        boxes stand on the floor, pillars reach the ceiling.
    clearance_m: minimum distance of every obstacle from every trajectory sample.
    wall_gap_m: minimum gap between obstacles and between obstacles and walls.
    cell_sizes_m: texture layers, coarse to fine; coverage: probability that a cell
        of each finer layer holds a rectangle (one value per layer after the first).
    surface_scale_range: per-surface random factor on all cell sizes.
    grey_span_range: per-surface range of the texture's grey span (contrast), within (0, 0.96].
    """

    size_m: tuple[float, float, float] = (20.0, 12.0, 5.0)
    margin_xy_m: float = 2.5
    floor_margin_m: float = 0.3
    ceiling_margin_m: float = 1.5
    min_size_m: tuple[float, float, float] = (8.0, 6.0, 3.0)
    n_boxes: int = 12
    n_pillars: int = 4
    box_size_range_m: tuple[float, float] = (0.4, 1.6)
    box_height_range_m: tuple[float, float] = (0.3, 2.0)
    pillar_width_range_m: tuple[float, float] = (0.3, 0.6)
    clearance_m: float = 1.0
    wall_gap_m: float = 0.15
    cell_sizes_m: tuple[float, ...] = (1.6, 0.7, 0.3, 0.12)
    coverage: tuple[float, ...] = (0.55, 0.45, 0.35)
    surface_scale_range: tuple[float, float] = (0.75, 1.3)
    grey_span_range: tuple[float, float] = (0.6, 0.92)

    def __post_init__(self):
        for name in ("size_m", "min_size_m"):
            _positive(name, getattr(self, name), 3)
        for name in ("margin_xy_m", "floor_margin_m", "ceiling_margin_m", "clearance_m", "wall_gap_m"):
            _positive(name, getattr(self, name))
        for name in ("box_size_range_m", "box_height_range_m", "pillar_width_range_m",
                     "surface_scale_range", "grey_span_range"):
            _range(name, getattr(self, name))
        if self.grey_span_range[1] > 0.96:
            raise DatasetError(f"HallConfig.grey_span_range must lie in (0, 0.96], got {self.grey_span_range!r}")
        for name in ("n_boxes", "n_pillars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DatasetError(f"HallConfig.{name} must be a non-negative integer, got {value!r}")
        _positive("cell_sizes_m", self.cell_sizes_m, len(self.cell_sizes_m))
        if not self.cell_sizes_m or list(self.cell_sizes_m) != sorted(self.cell_sizes_m, reverse=True):
            raise DatasetError(f"HallConfig.cell_sizes_m must be non-empty and coarse to fine, "
                               f"got {self.cell_sizes_m!r}")
        if len(self.coverage) != len(self.cell_sizes_m) - 1 or not all(0 <= c <= 1 for c in self.coverage):
            raise DatasetError(f"HallConfig.coverage needs {len(self.cell_sizes_m) - 1} "
                               f"probabilities in [0, 1], got {self.coverage!r}")



@dataclass(frozen=True)
class HallWorld:
    """Geometry and texture tables of a hall (layout in :mod:`datasets.synth._kernels`).

    bounds_min, bounds_max: (3,) interior corners of the shell [m], world frame.
    obstacle_boxes: (K, 2, 3) min and max corners [m] of boxes and pillars.
    shell_faces (6,), box_faces (K, 6): surface id of face 2 * axis + side.
    surface_corners (S, 3), surface_edges (S, 2, 3): face = corner + s e0 + t e1, s, t in [0, 1] [m].
    shading: (S,) Lambertian factor of each surface under the fixed light.
    """

    bounds_min: np.ndarray
    bounds_max: np.ndarray
    obstacle_boxes: np.ndarray
    shell_faces: np.ndarray
    box_faces: np.ndarray
    surface_corners: np.ndarray
    surface_edges: np.ndarray
    shading: np.ndarray
    frames: np.ndarray
    grey: np.ndarray
    layer_inv_cell: np.ndarray
    layer_offset: np.ndarray
    layer_seed: np.ndarray
    coverage: np.ndarray
    markers: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    surface_tile: np.ndarray | None = None
    bank: TextureBank = field(default_factory=empty_bank)

    @property
    def n_surfaces(self) -> int:
        return self.frames.shape[0]

    @property
    def vertices(self) -> np.ndarray:
        """(4 S, 3) quad corners [m], four per surface."""
        c, e = self.surface_corners, self.surface_edges
        return np.stack([c, c + e[:, 0], c + e[:, 0] + e[:, 1], c + e[:, 1]], axis=1).reshape(-1, 3)

    @property
    def triangles(self) -> np.ndarray:
        """(2 S, 3) int32 vertex indices; triangles 2s and 2s + 1 make surface s."""
        base = 4 * np.arange(self.n_surfaces, dtype=np.int32)[:, None]
        return np.concatenate([base + [0, 1, 2], base + [0, 2, 3]], axis=1).reshape(-1, 3).astype(np.int32)

    @property
    def triangle_surface(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_surfaces, dtype=np.int32), 2)

    @property
    def mesh(self) -> o3d.t.geometry.TriangleMesh:
        """All surfaces as a tensor mesh; triangle attribute ``surface`` holds the surface ids."""
        mesh = o3d.t.geometry.TriangleMesh()
        mesh.vertex.positions = o3d.core.Tensor(self.vertices.astype(np.float32))
        mesh.triangle.indices = o3d.core.Tensor(self.triangles)
        mesh.triangle.surface = o3d.core.Tensor(self.triangle_surface)
        return mesh

    def legacy_mesh(self) -> o3d.geometry.TriangleMesh:
        return o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(self.vertices),
                                         o3d.utility.Vector3iVector(self.triangles))

    def texture_tables(self) -> tuple:
        """The texture tables as the kernels take them (:func:`datasets.synth._kernels.surface_value`)."""
        tiles = (self.surface_tile if self.surface_tile is not None
                 else np.full(self.n_surfaces, -1, dtype=np.int64))
        return (self.frames, self.grey, self.layer_inv_cell, self.layer_offset, self.layer_seed,
                self.coverage, self.markers, tiles, self.bank.data, self.bank.offset, np.int64(self.bank.size),
                1.0 / self.bank.texel_m)

    def surface_intensity(self, points_world: np.ndarray, primitive_ids: np.ndarray) -> np.ndarray:
        """Texture grey (N,) float32 in [0, 1] at world points (N, 3) [m] on mesh triangles primitive_ids.

        primitive_ids index :attr:`triangles` (as RaycastingScene.cast_rays on :attr:`mesh` returns them).
        """
        points = np.ascontiguousarray(points_world, dtype=np.float64)
        ids = np.asarray(primitive_ids).astype(np.int64)
        if points.ndim != 2 or points.shape[1] != 3 or ids.shape != (points.shape[0],):
            raise ValueError(f"need points (N, 3) and primitive_ids (N,), got {points.shape}, {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= 2 * self.n_surfaces):
            raise ValueError("primitive_ids out of range")
        out = np.empty(points.shape[0], dtype=np.float32)
        _kernels.texture_points(points, ids // 2, self.texture_tables(), out)
        return out

    def surface_at(self, points_world: np.ndarray, tol_m: float = 1e-6) -> np.ndarray:
        """Surface id (N,) of each world point (N, 3) [m] lying on a face (within tol_m), else -1."""
        p = np.atleast_2d(np.asarray(points_world, dtype=np.float64))
        w = p[:, None, :] - self.surface_corners[None]  # (N, S, 3)
        e0, e1 = self.surface_edges[:, 0], self.surface_edges[:, 1]
        s = np.einsum("nsk,sk->ns", w, e0) / np.einsum("sk,sk->s", e0, e0)
        t = np.einsum("nsk,sk->ns", w, e1) / np.einsum("sk,sk->s", e1, e1)
        dist = np.linalg.norm(w - s[..., None] * e0 - t[..., None] * e1, axis=2)
        inside = (s >= 0) & (s <= 1) & (t >= 0) & (t <= 1) & (dist <= tol_m)
        dist = np.where(inside, dist, np.inf)
        best = np.argmin(dist, axis=1)
        return np.where(np.isfinite(dist[np.arange(len(p)), best]), best, -1)

    def with_markers(self, points_world: np.ndarray, half_size_m: float | np.ndarray = 0.1,
                     blur_m: float | np.ndarray = 0.015) -> "HallWorld":
        """A copy whose texture shows a smooth saddle (X-corner) marker centred at each point.

        Points (M, 3) [m] must lie on a surface; half_size_m and blur_m are scalars or
        (M,). The marker's axes are the surface's texture axes. Used to check
        rendering against the camera model.
        """
        p = np.atleast_2d(np.asarray(points_world, dtype=np.float64))
        surf = self.surface_at(p)
        if np.any(surf < 0):
            raise ValueError(f"marker points not on any surface: {p[surf < 0].tolist()}")
        d = p - self.frames[surf, 0]
        u = np.einsum("nk,nk->n", d, self.frames[surf, 1])
        v = np.einsum("nk,nk->n", d, self.frames[surf, 2])
        rows = np.column_stack([surf, u, v, np.broadcast_to(half_size_m, len(p)), np.broadcast_to(blur_m, len(p))])
        return dataclasses.replace(self, markers=np.concatenate([self.markers, rows]))


def box_distance(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Euclidean distance (N,) [m] of points (N, 3) to the axis-aligned box [lo, hi] (0 inside)."""
    return np.linalg.norm(np.maximum(np.maximum(lo - points, points - hi), 0.0), axis=1)


def _hall_bounds(config: HallConfig, positions: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if positions is None:
        size = np.array(config.size_m)
        return np.array([-size[0] / 2, -size[1] / 2, 0.0]), np.array([size[0] / 2, size[1] / 2, size[2]])
    lo = positions.min(axis=0) - [config.margin_xy_m, config.margin_xy_m, config.floor_margin_m]
    hi = positions.max(axis=0) + [config.margin_xy_m, config.margin_xy_m, config.ceiling_margin_m]
    centre = (lo + hi) / 2
    half = np.maximum((hi - lo) / 2, np.array(config.min_size_m) / 2)
    lo[:2], hi[:2] = centre[:2] - half[:2], centre[:2] + half[:2]
    hi[2] = max(hi[2], lo[2] + config.min_size_m[2])
    return lo, hi


def _place_obstacles(config: HallConfig, lo: np.ndarray, hi: np.ndarray, keep_free: np.ndarray,
                     rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pillars then boxes, by rejection sampling, clear of keep_free points and of each other."""
    boxes: list[tuple[np.ndarray, np.ndarray]] = []
    gap = config.wall_gap_m
    for kind, count in (("pillar", config.n_pillars), ("box", config.n_boxes)):
        placed = 0
        for _ in range(200 * count):
            if placed == count:
                break
            if kind == "pillar":
                half_xy = np.full(2, rng.uniform(*config.pillar_width_range_m) / 2)
                z_top = hi[2]
            else:
                half_xy = rng.uniform(*config.box_size_range_m, size=2) / 2
                z_top = min(lo[2] + rng.uniform(*config.box_height_range_m), hi[2] - gap)
            span = hi[:2] - lo[:2] - 2 * (half_xy + gap)
            if np.any(span <= 0):
                continue
            centre = lo[:2] + gap + half_xy + rng.uniform(0, 1, size=2) * span
            b_lo = np.array([*(centre - half_xy), lo[2]])
            b_hi = np.array([*(centre + half_xy), z_top])
            if box_distance(keep_free, b_lo, b_hi).min() < config.clearance_m:
                continue
            if any(np.all(b_lo[:2] < o_hi[:2] + gap) and np.all(o_lo[:2] < b_hi[:2] + gap) for o_lo, o_hi in boxes):
                continue
            boxes.append((b_lo, b_hi))
            placed += 1
    return boxes


def _face(lo: np.ndarray, hi: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner (3,) and edges (2, 3) [m] of face f = 2 * axis + side of the box [lo, hi]."""
    axis, side = divmod(f, 2)
    d = hi - lo
    corner = lo.copy()
    corner[axis] += side * d[axis]
    edges = np.zeros((2, 3))
    for row, other in enumerate(a for a in range(3) if a != axis):
        edges[row, other] = d[other]
    return corner, edges


def build_hall(config: HallConfig = HallConfig(), trajectory_positions: np.ndarray | None = None,
               seed: int = 0, fit_to_trajectory: bool = True, bank: TextureBank | None = None) -> HallWorld:
    """Build the hall, fitted around ``trajectory_positions`` (N, 3) [m, world] if given.

    With a texture ``bank`` holding tiles, every surface shows one of them (drawn at
    random, full grey range); otherwise the procedural blocks texture.

    With ``fit_to_trajectory=False`` the hall keeps the configured size (centred at
    x = y = 0, floor at z = 0) and the trajectory only keeps the obstacles away.
    Obstacles keep ``config.clearance_m`` from every trajectory sample (from the hall
    centre at 1.5 m height when no trajectory is given). Deterministic in ``seed``.
    """
    positions = None
    if trajectory_positions is not None:
        positions = np.asarray(trajectory_positions, dtype=np.float64)
        if positions.ndim != 2 or positions.shape[1] != 3 or len(positions) == 0 or not np.all(np.isfinite(positions)):
            raise DatasetError(f"trajectory_positions must be finite (N, 3), got shape {positions.shape}")
    lo, hi = _hall_bounds(config, positions if fit_to_trajectory else None)
    if positions is not None and (np.any(positions <= lo) or np.any(positions >= hi)):
        raise DatasetError("the trajectory leaves the hall; enlarge HallConfig.size_m or fit the hall to it")
    if positions is None:
        positions = np.array([[(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] + min(1.5, (hi[2] - lo[2]) / 2)]])
    rng = np.random.default_rng(seed)
    obstacles = _place_obstacles(config, lo, hi, positions, rng)

    faces = [_face(lo, hi, f) for f in range(6)]
    box_faces = np.zeros((len(obstacles), 6), dtype=np.int32)
    for k, (b_lo, b_hi) in enumerate(obstacles):
        for f in range(6):
            if f == 4 or (f == 5 and b_hi[2] >= hi[2]):  # bottom on the floor, pillar top at the ceiling
                box_faces[k, f] = f
                continue
            box_faces[k, f] = len(faces)
            faces.append(_face(b_lo, b_hi, f))

    n, n_layers = len(faces), len(config.cell_sizes_m)
    corners = np.array([c for c, _ in faces])
    edges = np.array([e for _, e in faces])
    e0 = edges[:, 0] / np.linalg.norm(edges[:, 0], axis=1, keepdims=True)
    e1 = edges[:, 1] / np.linalg.norm(edges[:, 1], axis=1, keepdims=True)
    angle = rng.uniform(0, np.pi / 2, size=(n, 1))
    span = rng.uniform(*config.grey_span_range, size=n)
    scale = rng.uniform(*config.surface_scale_range, size=(n, 1))
    grey = np.column_stack([0.02 + rng.uniform(0, 1, size=n) * (0.96 - span), span])
    surface_tile = None
    if bank is not None and bank.n_tiles:
        surface_tile = np.random.default_rng([seed, 1]).integers(0, bank.n_tiles, size=n).astype(np.int64)
        grey = np.column_stack([np.zeros(n), np.ones(n)])
    return HallWorld(
        bounds_min=lo, bounds_max=hi,
        obstacle_boxes=np.array([[b_lo, b_hi] for b_lo, b_hi in obstacles]).reshape(-1, 2, 3),
        shell_faces=np.arange(6, dtype=np.int32), box_faces=box_faces,
        surface_corners=corners, surface_edges=edges,
        shading=AMBIENT + (1 - AMBIENT) * np.abs(np.cross(e0, e1) @ LIGHT_DIRECTION),
        frames=np.ascontiguousarray(np.stack([corners, np.cos(angle) * e0 + np.sin(angle) * e1,
                                              -np.sin(angle) * e0 + np.cos(angle) * e1], axis=1)),
        grey=grey,
        layer_inv_cell=1.0 / (scale * np.array(config.cell_sizes_m)),
        layer_offset=rng.uniform(0, 1, size=(n, n_layers, 2)),
        layer_seed=rng.integers(0, 2**63, size=(n, n_layers), dtype=np.int64).astype(np.uint64),
        coverage=np.array((1.0, *config.coverage), dtype=np.float64),
        surface_tile=surface_tile, bank=bank if bank is not None else empty_bank(),
    )
