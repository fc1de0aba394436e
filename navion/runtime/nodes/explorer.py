"""``explorer``: next-best-view exploration on the mapper's map, at the VIO's pose.

Each time the controller reports the drone at rest (ready, or a goal reached), the explorer
rebuilds the latest map (a :class:`MapUpdate`) as an occupancy grid and asks
:func:`mapping.exploration.next_best_view` for the next view from the latest VIO pose:
frontier clusters, candidate views, their FSMI scores minus a path-cost penalty. It
publishes the view as a :class:`Goal` (estimator's world frame) with the planner's path
through traversable cells, shortened by line of sight (:func:`shortcut_path`), and the
scoring's Workload record (``workloads``, source ``"mi"``, stage ``mi``, stamped with the VIO
state's frame). When no frontier or no candidate worth a view is left, it stops the run.

Coverage (with a simulator): the reachable free space of the true hall (cells at the map's
resolution whose centres keep ``planner.robot_radius_m`` from every surface, connected to
the start; :func:`mapping.exploration.simulate.reachable_cells`), computed once. Its cell
centres are carried into the estimator's frame by the alignment of the frames at the first
VIO state, ``T_sim_vio = T_sim_body_true @ inv(T_vio_body_est)``; the coverage of a map is the
fraction of them that the map classifies FREE (later VIO drift shows as map error). It is
evaluated on every map update; the run stops when it reaches ``coverage_target``, or when
``time_budget_s`` of simulated time have passed since the sensor setup. At the end the
explorer writes ``coverage.png`` (coverage over time) and its figures go into summary.json.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from accel_model.workload import Workload
from datasets.configuration import ConfigMixin
from mapping.errors import MappingError
from mapping.exploration import ExplorationConfig, next_best_view
from mapping.exploration.planner import STRATEGIES
from mapping.exploration.simulate import reachable_cells
from mapping.occupancy import FREE, OccupancyConfig, OccupancyGrid3D
from mapping.occupancy.grid3d import grid_from_bounds

from ..messages import (
    GOAL_TOPIC,
    MAP_TOPIC,
    NAVSTATE_TOPIC,
    SETUP_TOPIC,
    WORKLOAD_TOPIC,
    Goal,
    MapUpdate,
    NavStateMessage,
    SensorSetup,
    WorkloadMessage,
)
from ..node import Node, Port, register
from .controller import REACHED_TOPIC, GoalReached, drift_transform
from .simulator import WORLD_TOPIC, SimWorld

MI_STAGE = "mi"  # the energy report's "mi" group (accel_model.report.stage_group)
LINE_OF_SIGHT_SAMPLES_PER_CELL = 4
CURVE_PERIOD_S = 5.0  # coverage samples kept in summary.json


def _segment_clear(a: np.ndarray, b: np.ndarray, usable: np.ndarray, origin: np.ndarray, res: float) -> bool:
    """Every sample of the segment a-b [m] (LINE_OF_SIGHT_SAMPLES_PER_CELL per cell length)
    lies in a ``usable`` cell of the grid (origin [m], res [m])."""
    n = max(2, int(math.ceil(np.linalg.norm(b - a) / res * LINE_OF_SIGHT_SAMPLES_PER_CELL)) + 1)
    points = a + np.linspace(0.0, 1.0, n)[:, None] * (b - a)
    cells = np.floor((points - origin) / res).astype(np.int64)
    if np.any(cells < 0) or np.any(cells >= usable.shape):
        return False
    return bool(usable[tuple(cells.T)].all())


def shortcut_path(path_m: np.ndarray, usable: np.ndarray, origin_m, resolution_m: float) -> np.ndarray:
    """The waypoints (K', 3) of ``path_m`` (K, 3) [m] kept by a greedy line-of-sight pass: from
    each kept waypoint, the farthest later one whose straight segment stays in ``usable`` cells
    (bool grid, e.g. the planner's traversable cells reachable from the robot), the next one
    when none is (the planner's own step between neighbouring cells). Keeps the first and last.

    A usable cell has its robot ball free at its centre; a point elsewhere in it is up to half a
    cell diagonal closer to obstacles, the tolerance of the planner's own paths."""
    path = np.asarray(path_m, dtype=np.float64).reshape(-1, 3)
    origin = np.asarray(origin_m, dtype=np.float64)
    keep, i = [0], 0
    while i < len(path) - 1:
        j = len(path) - 1
        while j > i + 1 and not _segment_clear(path[i], path[j], usable, origin, resolution_m):
            j -= 1
        keep.append(j)
        i = j
    return path[keep]


@dataclass(frozen=True)
class ExplorerParams(ConfigMixin):
    """planner: the next-best-view options (mapping.exploration.ExplorationConfig);
    strategy: mi (FSMI) or random (baseline); seed: the random strategy's generator;
    coverage_target: stop when this fraction of the reachable free space is mapped free;
    time_budget_s: stop after this much simulated time [s]; p_hit, p_miss: the mapper's
    inverse sensor model (FSMI's odds factors; keep them equal to the mapper's occupancy)."""

    planner: ExplorationConfig = field(default_factory=ExplorationConfig)
    strategy: str = "mi"
    seed: int = 0
    coverage_target: float = 0.8
    time_budget_s: float = 300.0
    p_hit: float = OccupancyConfig.p_hit
    p_miss: float = OccupancyConfig.p_miss

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"'strategy' must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not 0 < self.coverage_target <= 1:
            raise ValueError(f"'coverage_target' must lie in (0, 1], got {self.coverage_target}")
        if not self.time_budget_s > 0:
            raise ValueError(f"'time_budget_s' must be > 0, got {self.time_budget_s}")
        OccupancyConfig(p_hit=self.p_hit, p_miss=self.p_miss)  # the sensor model's own checks


@register
class Explorer(Node):
    """See the module docstring."""

    type_name = "explorer"
    Params = ExplorerParams
    inputs = {"setup": Port(SensorSetup, SETUP_TOPIC, 10), "world": Port(SimWorld, WORLD_TOPIC, 10),
              "navstate": Port(NavStateMessage, NAVSTATE_TOPIC, 100), "map": Port(MapUpdate, MAP_TOPIC, 10),
              "reached": Port(GoalReached, REACHED_TOPIC, 10)}
    outputs = {"goal": Port(Goal, GOAL_TOPIC), "workloads": Port(WorkloadMessage, WORKLOAD_TOPIC)}

    def __init__(self, name, params: ExplorerParams, context):
        super().__init__(name, params, context)
        self.rng = np.random.default_rng(params.seed)
        self.truth = None
        self.world: SimWorld | None = None
        self.start_ns: int | None = None
        self.state: NavStateMessage | None = None
        self.map: MapUpdate | None = None
        self.T_vio_sim: np.ndarray | None = None
        self.reachable_vio: np.ndarray | None = None  # reachable cell centres in the estimator's frame
        self.plan_pending = False
        self.curve: list[tuple[float, float]] = []  # (time since start [s], coverage)
        self.goal_times_s: list[float] = []
        self.goal_mi: list[float] = []
        self.decision_s: list[float] = []
        self.path_m = 0.0
        self.stop_reason: str | None = None
        self.target_time_s: float | None = None

    # ------------------------------------------------------------------ inputs

    def on_setup(self, message: SensorSetup) -> None:
        self.truth, self.start_ns = message.groundtruth, message.stamp_ns
        self.schedule(message.stamp_ns + round(self.params.time_budget_s * 1e9), self._budget_spent)

    def on_world(self, message: SimWorld) -> None:
        self.world = message

    def on_navstate(self, message: NavStateMessage) -> None:
        self.state = message
        if self.T_vio_sim is None and callable(getattr(self.truth, "pose_at", None)):
            self.T_vio_sim = np.linalg.inv(drift_transform(self.truth.pose_at(message.stamp_ns),
                                                           message.state.T_world_body))

    def on_map(self, message: MapUpdate) -> None:
        self.map = message
        coverage = self._coverage(message)
        if coverage is not None:
            self.curve.append((self._elapsed_s(message.stamp_ns), coverage))
            if coverage >= self.params.coverage_target and self.stop_reason is None:
                self.target_time_s = self.curve[-1][0]
                self._stop(f"coverage {coverage:.3f} reached the target {self.params.coverage_target}")
                return
        if self.plan_pending:
            self._plan()

    def on_reached(self, message: GoalReached) -> None:
        if self.map is None or self.state is None:
            self.plan_pending = True  # plan on the first map
            return
        self._plan()

    # ------------------------------------------------------------------ work

    def _elapsed_s(self, stamp_ns: int) -> float:
        return (stamp_ns - self.start_ns) * 1e-9

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.request_stop(reason)

    def _budget_spent(self) -> None:
        if self.stop_reason is None:
            self._stop(f"time budget of {self.params.time_budget_s:g} s spent")

    def _coverage(self, message: MapUpdate) -> float | None:
        """Fraction of the true reachable free space the map classifies FREE (None without a
        simulator's world and truth, or before the first VIO state)."""
        if self.world is None or self.T_vio_sim is None:
            return None
        res = message.resolution_m
        if self.reachable_vio is None:
            world = self.world.world
            origin, shape = grid_from_bounds(world.bounds_min - res, world.bounds_max + res, res)
            start = np.floor((self.world.T_sim_body_start[:3, 3] - origin) / res).astype(np.int64)
            reachable = reachable_cells(world, origin, res, shape, self.params.planner.robot_radius_m, start)
            centres = origin + (np.argwhere(reachable) + 0.5) * res
            self.reachable_vio = centres @ self.T_vio_sim[:3, :3].T + self.T_vio_sim[:3, 3]
        grid = self._grid(message)
        cells = grid.world_to_index(self.reachable_vio)
        if not grid.in_bounds(cells).all():
            lo, hi = self.reachable_vio.min(axis=0), self.reachable_vio.max(axis=0)
            raise MappingError(f"the map ({message.origin_world_m.tolist()} + {list(message.log_odds.shape)} cells of "
                               f"{res} m) does not cover the hall's reachable space, which spans "
                               f"{lo.round(2).tolist()}..{hi.round(2).tolist()} m in the estimator's frame: enlarge "
                               f"the mapper's occupancy bounds")
        return float(np.mean(grid.classify()[tuple(cells.T)] == FREE))

    def _grid(self, m: MapUpdate) -> OccupancyGrid3D:
        """The map update as a dense grid with the mapper's sensor model."""
        config = OccupancyConfig(resolution_m=m.resolution_m, p_hit=self.params.p_hit, p_miss=self.params.p_miss,
                                 storage="dense")
        return OccupancyGrid3D(m.origin_world_m, m.resolution_m, m.log_odds.shape, config, m.log_odds)

    def _plan(self) -> None:
        self.plan_pending = False
        s = self.state
        grid = self._grid(self.map)
        workload = Workload(MI_STAGE)
        t0 = time.perf_counter()
        view = next_best_view(grid, s.state.T_world_body, self.params.planner, self.params.strategy, self.rng,
                              workload)
        self.decision_s.append(time.perf_counter() - t0)
        self.publish("workloads", WorkloadMessage(s.stamp_ns, "mi", (workload,)))
        if view is None:
            self._stop("exploration complete: no frontier cluster or no candidate view worth "
                       f"{self.params.planner.min_gain_nats:g} nats left")
            return
        usable = np.isfinite(view.evaluation.costs.dist_m)
        path = shortcut_path(view.path_m, usable, grid.origin_m, grid.resolution_m)
        self.path_m += float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
        self.goal_times_s.append(self._elapsed_s(s.stamp_ns))
        self.goal_mi.append(view.mi_nats)
        self.publish("goal", Goal(s.stamp_ns, view.position_m, view.yaw_rad, view.mi_nats, path))

    # ------------------------------------------------------------------ outputs

    def close(self) -> None:
        if self.curve:
            plot_coverage(self.context.run_dir / "coverage.png", np.array(self.curve), self.params.coverage_target,
                          np.array(self.goal_times_s))

    def summary(self) -> dict:
        curve, samples, next_t = self.curve, [], 0.0
        for t, c in curve:
            if t >= next_t:
                samples.append([round(t, 3), round(c, 4)])
                next_t = t + CURVE_PERIOD_S
        return {"strategy": self.params.strategy, "goals": len(self.goal_times_s),
                "decisions": len(self.decision_s),
                "decision_ms_mean": 1e3 * float(np.mean(self.decision_s)) if self.decision_s else None,
                "planned_path_m": self.path_m,
                "goal_mi_nats": [None if math.isnan(v) else v for v in self.goal_mi],
                "reachable_cells": None if self.reachable_vio is None else int(len(self.reachable_vio)),
                "coverage": curve[-1][1] if curve else None, "coverage_target": self.params.coverage_target,
                "target_reached": self.target_time_s is not None, "time_to_target_s": self.target_time_s,
                "time_budget_s": self.params.time_budget_s, "stop_reason": self.stop_reason,
                "coverage_curve": samples}


def plot_coverage(path, curve: np.ndarray, target: float, goal_times_s: np.ndarray) -> None:
    """coverage.png: coverage [%] (curve (N, 2): time [s], fraction) over simulated time, the
    target, and the times the explorer chose a goal."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(curve[:, 0], 100 * curve[:, 1], "-", color="tab:blue", lw=1.5, label="coverage")
    ax.axhline(100 * target, color="tab:red", ls="--", lw=1, label=f"target {100 * target:g} %")
    for i, t in enumerate(goal_times_s):
        ax.axvline(t, color="0.6", lw=0.6, ls=":", label="goal chosen" if i == 0 else None)
    ax.set(xlabel="simulated time [s]", ylabel="reachable free space mapped free [%]", ylim=(0, 100),
           title=f"exploration coverage: {100 * curve[-1, 1]:.1f} % after {curve[-1, 0]:.1f} s")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=110)
