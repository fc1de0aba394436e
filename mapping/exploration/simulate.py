"""The exploration experiment: next-best-view exploration of a synthetic hall with true poses.

A simulated depth camera (a level pinhole over the planner's field of view, ``sensor_width_px``
x ``sensor_height_px`` rays) measures the true hall with the synthetic world's own ray
tracer (:meth:`datasets.synth.render.StereoRenderer.trace`); each view's hit points are
integrated into a dense :class:`~mapping.occupancy.OccupancyGrid3D` at the true pose
(OctoMap update, rays beyond ``sensor_range_m`` clear space up to it). The map covers the
hall and one more cell on every side, so that hits on the walls, floor and ceiling (which
lie on cell boundaries) always land in it. Between views the
robot flies the planner's path (straight segments between neighbouring free cells) and
measures nothing on the way: a view is a stop.

Reachable free space is computed from the true geometry at the map resolution: the cells
whose centres keep ``robot_radius_m`` from every wall and obstacle, 26-connected to the
start cell. Coverage is the fraction of those cells that the map classifies FREE.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import ndimage

from accel_model.workload import NULL_WORKLOAD, Workload
from datasets.calibration import CameraCalibration
from datasets.configuration import ConfigMixin
from datasets.synth.render import StereoRenderer, pixel_bearings
from datasets.synth.world import HallWorld, box_distance

from ..errors import MappingError
from ..occupancy import FREE, OccupancyConfig, OccupancyGrid3D
from ..occupancy.grid3d import grid_from_bounds
from .planner import STRATEGIES, ExplorationConfig, next_best_view
from .scoring import level_camera_rotation

CLEARANCE_SAMPLES_PER_CELL = 4  # samples per cell length along the flown path for the clearance check


@dataclass(frozen=True)
class ExplorationSimConfig(ConfigMixin):
    """Options of the simulated robot and sensor (the planner's are :class:`ExplorationConfig`).

    resolution_m: map and reachable-space cell [m].
    sensor_width_px, sensor_height_px: depth image size (pinhole over the planner's FOV).
    sensor_range_m: depth range [m] (the map's max_range_m).
    start_height_m: start above the floor at the hall's centre [m]; start_yaw_deg: first view's yaw.
    """

    resolution_m: float = 0.2
    sensor_width_px: int = 80
    sensor_height_px: int = 60
    sensor_range_m: float = 5.0
    start_height_m: float = 1.5
    start_yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        for name in ("resolution_m", "sensor_range_m", "start_height_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise MappingError(f"exploration sim config: '{name}' must be a positive number, got {value!r}")
        for name in ("sensor_width_px", "sensor_height_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MappingError(f"exploration sim config: '{name}' must be a positive integer, got {value!r}")
        if not math.isfinite(self.start_yaw_deg):
            raise MappingError(f"exploration sim config: 'start_yaw_deg' must be finite, got {self.start_yaw_deg!r}")


class DepthCamera:
    """Ideal depth camera in a hall: a level pinhole of width x height rays over fov_h x fov_v
    degrees, traced against the true geometry."""

    def __init__(self, world: HallWorld, width: int, height: int, fov_h_deg: float, fov_v_deg: float):
        fu = (width / 2) / math.tan(math.radians(fov_h_deg) / 2)
        fv = (height / 2) / math.tan(math.radians(fov_v_deg) / 2)
        cam = CameraCalibration("depth", np.eye(4), (fu, fv, (width - 1) / 2, (height - 1) / 2), "none", (),
                                (width, height), 20.0)
        self._renderer = StereoRenderer(world, (cam,))
        self._bearings = pixel_bearings(cam).reshape(-1, 3)

    def points(self, position_m: np.ndarray, yaw_rad: float) -> np.ndarray:
        """World hit points (N, 3) [m] of the view from position_m looking along yaw_rad."""
        T_world_cam = np.eye(4)
        T_world_cam[:3, :3] = level_camera_rotation(yaw_rad)
        T_world_cam[:3, 3] = position_m
        distance, _ = self._renderer.trace(0, T_world_cam)
        r = distance.reshape(-1).astype(np.float64)
        hit = np.isfinite(r)
        return position_m + r[hit, None] * (self._bearings[hit] @ T_world_cam[:3, :3].T)


def true_clearance(world: HallWorld, points_m: np.ndarray) -> np.ndarray:
    """Distance (N,) [m] from world points (N, 3) to the nearest wall or obstacle (0 outside the
    hall or inside an obstacle)."""
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    d = np.minimum(p - world.bounds_min, world.bounds_max - p).min(axis=1)
    for lo, hi in world.obstacle_boxes:
        d = np.minimum(d, box_distance(p, lo, hi))
    return np.maximum(d, 0.0)


def reachable_cells(world: HallWorld, origin_m, resolution_m: float, shape, robot_radius_m: float,
                    start_cell) -> np.ndarray:
    """(nx, ny, nz) bool: cells whose centres keep robot_radius_m from all surfaces, 26-connected
    to start_cell (3,)."""
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    centres = np.asarray(origin_m) + (idx + 0.5) * resolution_m
    inside = np.all((centres > world.bounds_min) & (centres < world.bounds_max), axis=1)
    clear = inside & (true_clearance(world, centres) >= robot_radius_m)
    labels, _ = ndimage.label(clear.reshape(shape), structure=np.ones((3, 3, 3), dtype=bool))
    start_label = labels[tuple(start_cell)]
    if start_label == 0:
        raise MappingError(f"the start cell {list(start_cell)} is not clear of the hall's surfaces")
    return labels == start_label


@dataclass(frozen=True)
class ExplorationResult:
    """One exploration run; per view v (0-based, view 0 at the start):

    coverage (V,): fraction of the reachable cells mapped FREE after view v;
    positions_m (V, 3) [m, world], yaws_rad (V,): the view poses;
    path_length_m (V,): distance flown before view v [m] (cumulative);
    mi_nats (V,): the planner's score of view v (NaN for view 0 and the random strategy);
    decision_time_s (V,): wall time of the decision that chose view v (0 for view 0);
    min_clearance_m: smallest true distance of the flown path to any surface [m];
    finished: the planner declared exploration complete before max_views;
    grid: the final map; reachable: the reachable cells.
    """

    strategy: str
    seed: int
    coverage: np.ndarray
    positions_m: np.ndarray
    yaws_rad: np.ndarray
    path_length_m: np.ndarray
    mi_nats: np.ndarray
    decision_time_s: np.ndarray
    min_clearance_m: float
    finished: bool
    grid: OccupancyGrid3D
    reachable: np.ndarray

    @property
    def n_views(self) -> int:
        return len(self.coverage)

    def views_to(self, fraction: float) -> int | None:
        """Number of views taken when coverage first reached ``fraction`` (None: never)."""
        hit = np.flatnonzero(self.coverage >= fraction)
        return int(hit[0]) + 1 if len(hit) else None

    def path_to(self, fraction: float) -> float | None:
        """Path length [m] flown when coverage first reached ``fraction`` (None: never)."""
        hit = np.flatnonzero(self.coverage >= fraction)
        return float(self.path_length_m[hit[0]]) if len(hit) else None


def _path_clearance(world: HallWorld, path_m: np.ndarray, resolution_m: float) -> float:
    if len(path_m) < 2:
        return float(true_clearance(world, path_m).min())
    samples = [path_m[-1:]]
    for a, b in zip(path_m[:-1], path_m[1:]):
        n = max(1, int(math.ceil(np.linalg.norm(b - a) / resolution_m * CLEARANCE_SAMPLES_PER_CELL)))
        samples.append(a + np.linspace(0, 1, n, endpoint=False)[:, None] * (b - a))
    return float(true_clearance(world, np.vstack(samples)).min())


def run_exploration(world: HallWorld, config: ExplorationConfig = ExplorationConfig(), strategy: str = "mi",
                    max_views: int = 60, seed: int = 0, progress: Callable[[int, int], None] | None = None,
                    sim: ExplorationSimConfig = ExplorationSimConfig(),
                    workload: Workload = NULL_WORKLOAD) -> ExplorationResult:
    """Explores ``world`` from the hall's centre with ``strategy`` ("mi" or "random") for at most
    ``max_views`` views (module docstring). ``seed`` drives the random strategy;
    ``progress(views_done, max_views)`` is called after each view; the MI scoring is counted
    into ``workload``."""
    if strategy not in STRATEGIES:
        raise MappingError(f"unknown exploration strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")
    if isinstance(max_views, bool) or not isinstance(max_views, int) or max_views < 1:
        raise MappingError(f"max_views must be a positive integer, got {max_views!r}")
    res = sim.resolution_m
    origin, shape = grid_from_bounds(world.bounds_min - res, world.bounds_max + res, res)
    grid = OccupancyGrid3D(origin, res, shape,
                           OccupancyConfig(resolution_m=res, max_range_m=sim.sensor_range_m, storage="dense"))
    camera = DepthCamera(world, sim.sensor_width_px, sim.sensor_height_px, config.fov_h_deg, config.fov_v_deg)
    start = np.array([*(world.bounds_min[:2] + world.bounds_max[:2]) / 2, world.bounds_min[2] + sim.start_height_m])
    if start[2] >= world.bounds_max[2]:
        raise MappingError(f"start_height_m {sim.start_height_m} is above the hall's ceiling")
    start_cell = grid.world_to_index(start[None])[0]
    start = grid.index_to_world(start_cell[None])[0]
    reachable = reachable_cells(world, origin, res, shape, config.robot_radius_m, start_cell)
    n_reachable = int(np.count_nonzero(reachable))
    rng = np.random.default_rng(seed)

    position, yaw = start, math.radians(sim.start_yaw_deg)
    positions, yaws, coverage, lengths, mis, times = [], [], [], [], [], []
    flown, clearance, finished, decision_s, mi = 0.0, math.inf, False, 0.0, math.nan
    while True:
        grid.integrate_scan(position, camera.points(position, yaw))
        positions.append(position)
        yaws.append(yaw)
        coverage.append(np.count_nonzero(reachable & (grid.classify() == FREE)) / n_reachable)
        lengths.append(flown)
        mis.append(mi)
        times.append(decision_s)
        if progress is not None:
            progress(len(coverage), max_views)
        if len(coverage) == max_views:
            break
        t0 = time.perf_counter()
        goal = next_best_view(grid, position, config, strategy, rng, workload)
        decision_s = time.perf_counter() - t0
        if goal is None:
            finished = True
            break
        clearance = min(clearance, _path_clearance(world, goal.path_m, res))
        flown += goal.path_length_m
        position, yaw, mi = goal.position_m, goal.yaw_rad, goal.mi_nats
    return ExplorationResult(strategy, seed, np.array(coverage), np.array(positions), np.array(yaws),
                             np.array(lengths), np.array(mis), np.array(times), clearance, finished, grid,
                             reachable)
