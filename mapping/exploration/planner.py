"""Next-best-view planner: frontier clusters -> candidate views -> FSMI score - lambda * path cost.

One decision (:func:`next_best_view`) on the current map:

1. classify the map; frontier cells and their clusters (:mod:`.frontiers`);
2. traversable cells (the robot's ball of radius robot_radius_m known free) and the
   shortest 26-connected path lengths from the robot's cell (:mod:`.path_cost`);
3. candidate views around each cluster plus turns on the spot (:mod:`.candidates`);
4. each candidate's FSMI score, the sum of beam MI over the camera's beams (:mod:`.scoring`);
5. the goal maximises ``MI - lambda_per_m * path_cost`` among candidates whose MI reaches
   ``min_gain_nats`` (information-gain exploration with a distance penalty, as in
   Bircher et al., ICRA 2016, with FSMI as the gain: Zhang et al., ICRA 2019).

Exploration is complete (None) when no frontier cluster is left or no candidate reaches
``min_gain_nats``. The ``"random"`` strategy is the baseline: a uniformly random frontier
cluster among those with a reachable candidate, then a uniformly random candidate of it
(turning on the spot only while no cluster has a reachable candidate); it skips scoring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload
from datasets.configuration import ConfigMixin

from ..errors import MappingError
from .candidates import HERE, CandidateSet, generate_candidates
from .frontiers import FrontierCluster, cluster_frontiers, frontier_mask
from .path_cost import PathCosts, path_costs, traversable_mask
from .scoring import camera_bearings, score_views, scoring_probability

STRATEGIES = ("mi", "random")


@dataclass(frozen=True)
class ExplorationConfig(ConfigMixin):
    """Options of the next-best-view planner. Lengths in metres, angles in degrees.

    lambda_per_m: weight of the path cost [nats of MI per metre of path].
    beams_h, beams_v, fov_h_deg, fov_v_deg: the camera's beam grid and field of view for
        scoring (default: 16 x 12 beams over about EuRoC cam0's 93 x 60 degrees).
    range_m: beam length for scoring [m] (the depth sensor's useful range).
    sigma_m: FSMI's range-noise standard deviation [m].
    truncation_cells: FSMI's Gaussian truncation [cells]; None evaluates the exact sum. The
        default 3 drops only masses beyond 5 sigma at sigma_m 0.1 m and 0.2 m cells.
    robot_radius_m: the robot's radius [m]: it moves through cells with all cells within
        this radius known free.
    standoffs_m: radii of the candidate circle around each frontier cluster, tried in order [m].
    ring_positions: positions per circle; yaws_per_position: yaws per position, spread over
        +-yaw_spread_deg around the bearing to the cluster.
    turn_yaws: candidates turning on the spot (evenly spaced yaws; 0: none).
    cluster_size_m: edge of the frontier patch one cluster covers [m];
        min_cluster_cells: smaller clusters are ignored.
    min_gain_nats: candidates scoring less are not worth a view; when none is left,
        exploration is complete.
    known_cells_certain: score on the map's classes (FREE 0, OCCUPIED 1, UNKNOWN
        unknown_probability) rather than its probabilities. With OctoMap's weak sensor
        model a beam's FSMI is about 0.1 nats whether its cells are unknown or seen several
        times (measured: 0.097 all unknown, 0.095 clamped free), so on raw probabilities the
        planner keeps re-viewing known space; on classes only beams reaching unknown cells
        score.
    unknown_probability: occupancy probability of unknown cells for scoring (with
        known_cells_certain). Most of an unknown hall is free: with 0.5 a beam's hit is
        expected within two unknown cells, so every view that reaches unknown space scores
        about the same; 0.3 lets the score grow with the unknown depth a beam sees
        (docs/mapping.md, "Exploration (next-best view)", measured).
    """

    lambda_per_m: float = 1.0
    beams_h: int = 16
    beams_v: int = 12
    fov_h_deg: float = 90.0
    fov_v_deg: float = 60.0
    range_m: float = 5.0
    sigma_m: float = 0.1
    truncation_cells: int | None = 3
    robot_radius_m: float = 0.3
    standoffs_m: tuple[float, ...] = (2.0, 1.0)
    ring_positions: int = 8
    yaws_per_position: int = 3
    yaw_spread_deg: float = 30.0
    turn_yaws: int = 8
    cluster_size_m: float = 3.0
    min_cluster_cells: int = 8
    min_gain_nats: float = 1.0
    known_cells_certain: bool = True
    unknown_probability: float = 0.3

    def __post_init__(self) -> None:
        def bad(why: str) -> None:
            raise MappingError(f"exploration config: {why}")

        def number(name: str, value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        for name in ("lambda_per_m", "robot_radius_m", "min_gain_nats", "yaw_spread_deg"):
            value = getattr(self, name)
            if not number(name, value) or value < 0:
                bad(f"'{name}' must be a number >= 0, got {value!r}")
        for name in ("range_m", "sigma_m", "cluster_size_m"):
            value = getattr(self, name)
            if not number(name, value) or value <= 0:
                bad(f"'{name}' must be a positive number, got {value!r}")
        for name in ("fov_h_deg", "fov_v_deg"):
            value = getattr(self, name)
            if not number(name, value) or not 0 < value < 180:
                bad(f"'{name}' must lie in (0, 180) degrees, got {value!r}")
        for name, low in (("beams_h", 1), ("beams_v", 1), ("ring_positions", 1),
                          ("yaws_per_position", 1), ("turn_yaws", 0), ("min_cluster_cells", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                bad(f"'{name}' must be an integer >= {low}, got {value!r}")
        if self.truncation_cells is not None and (isinstance(self.truncation_cells, bool)
                                                  or not isinstance(self.truncation_cells, int)
                                                  or self.truncation_cells < 0):
            bad(f"'truncation_cells' must be None or an integer >= 0, got {self.truncation_cells!r}")
        if not number("unknown_probability", self.unknown_probability) or not 0 < self.unknown_probability < 1:
            bad(f"'unknown_probability' must lie in (0, 1), got {self.unknown_probability!r}")
        if not self.standoffs_m or not all(number("standoffs_m", r) and r > 0 for r in self.standoffs_m):
            bad(f"'standoffs_m' must be a non-empty list of positive radii, got {self.standoffs_m!r}")

    def bearings(self) -> np.ndarray:
        """The scoring camera's unit beams (B, 3) in the camera frame."""
        return camera_bearings(self.beams_h, self.beams_v, self.fov_h_deg, self.fov_v_deg)


@dataclass(frozen=True)
class CandidateEvaluation:
    """Everything one decision looked at: frontier clusters, path costs, candidates and
    their MI [nats] (NaN when not scored) and utility ``MI - lambda * cost`` (NaN likewise)."""

    clusters: list[FrontierCluster]
    n_frontier_cells: int
    costs: PathCosts
    candidates: CandidateSet
    mi_nats: np.ndarray
    utility: np.ndarray


@dataclass(frozen=True)
class ViewGoal:
    """The chosen view.

    position_m (3,) [m, world], yaw_rad: the camera pose (level, looking along
    (cos yaw, sin yaw, 0)); path_m (K, 3): waypoints from the current position to the goal
    through traversable cell centres (straight segments between them; K = 1 when turning on
    the spot); path_length_m [m]; mi_nats: the view's FSMI score (NaN for the random
    strategy); cluster: index into ``evaluation.clusters`` (-1: turning on the spot);
    index: the candidate's index in ``evaluation.candidates``.
    """

    position_m: np.ndarray
    yaw_rad: float
    path_m: np.ndarray
    path_length_m: float
    mi_nats: float
    cluster: int
    index: int
    evaluation: CandidateEvaluation


def _position_of(current_pose) -> np.ndarray:
    pose = np.asarray(current_pose, dtype=np.float64)
    if pose.shape == (4, 4):
        pose = pose[:3, 3]
    if pose.shape != (3,) or not np.isfinite(pose).all():
        raise MappingError(f"current pose must be a 4x4 T_world_body or a position (3,) [m], got shape {pose.shape}")
    return pose


def evaluate_candidates(grid, current_pose, config: ExplorationConfig, score: bool = True,
                        workload: Workload = NULL_WORKLOAD) -> CandidateEvaluation:
    """Steps 1-4 of a decision (module docstring) on ``grid`` (a 3-D occupancy grid) for a robot
    at ``current_pose`` (T_world_body (4, 4) or position (3,) [m, world]). With ``score=False``
    the MI is not computed (NaN)."""
    position = _position_of(current_pose)
    cell = grid.world_to_index(position[None])[0]
    if not grid.in_bounds(cell[None])[0]:
        raise MappingError(f"the robot at {position.tolist()} is outside the map")
    classes = grid.classify()
    res = grid.resolution_m
    frontier = frontier_mask(classes)
    clusters = cluster_frontiers(frontier, grid.origin_m, res, config.cluster_size_m, config.min_cluster_cells)
    trav = traversable_mask(classes, res, config.robot_radius_m, cell)
    costs = path_costs(trav, cell, res)
    cands = generate_candidates(clusters, trav, costs, grid.origin_m, res, position, config.standoffs_m,
                                config.ring_positions, config.yaws_per_position,
                                math.radians(config.yaw_spread_deg), config.turn_yaws if clusters else 0)
    mi = np.full(len(cands), np.nan)
    if score and len(cands):
        probability = None
        if config.known_cells_certain:
            probability = scoring_probability(grid, classes, config.unknown_probability)
        mi = score_views(grid, cands.positions_m, cands.yaws_rad, config.bearings(), config.range_m,
                         config.sigma_m, config.truncation_cells, workload, probability)
    utility = mi - config.lambda_per_m * cands.cost_m
    return CandidateEvaluation(clusters, int(np.count_nonzero(frontier)), costs, cands, mi, utility)


def choose_best(mi_nats: np.ndarray, cost_m: np.ndarray, lambda_per_m: float, min_gain_nats: float) -> int | None:
    """Index maximising ``mi - lambda * cost`` among entries with ``mi >= min_gain_nats`` (the
    first on ties), or None when there is none."""
    mi = np.asarray(mi_nats, dtype=np.float64)
    utility = mi - lambda_per_m * np.asarray(cost_m, dtype=np.float64)
    ok = np.flatnonzero(mi >= min_gain_nats)
    if len(ok) == 0:
        return None
    return int(ok[np.argmax(utility[ok])])


def choose_random(cands: CandidateSet, rng: np.random.Generator) -> int | None:
    """The random-frontier baseline's pick (module docstring), or None without clusters."""
    clusters = np.unique(cands.cluster[cands.cluster != HERE])
    group = HERE
    if len(clusters):
        group = int(rng.choice(clusters))
    members = np.flatnonzero(cands.cluster == group)
    if len(members) == 0:
        return None
    return int(rng.choice(members))


def _path_to(grid, costs: PathCosts, position: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Waypoints (K, 3) [m]: the position, the centres of the path's later cells, the goal."""
    cells = costs.path(grid.world_to_index(goal[None])[0])
    path = np.vstack([position[None], grid.index_to_world(cells[1:])])
    return path if np.array_equal(path[-1], goal) else np.vstack([path, goal[None]])


def next_best_view(grid, current_pose, config: ExplorationConfig = ExplorationConfig(), strategy: str = "mi",
                   rng: np.random.Generator | None = None,
                   workload: Workload = NULL_WORKLOAD) -> ViewGoal | None:
    """The next view to take from ``current_pose`` (T_world_body (4, 4) or position (3,) [m,
    world]) on ``grid`` (an :class:`~mapping.occupancy.OccupancyGrid3D` or any grid with its
    API), or None when exploration is complete (module docstring).

    strategy "mi" (FSMI with path cost; MI scoring counted into ``workload``, stage "mi")
    or "random" (baseline, needs ``rng``). The robot then flies ``goal.path_m`` (straight
    segments between neighbouring free cells) and takes the view at ``goal.position_m``
    looking along ``goal.yaw_rad``.
    """
    if strategy not in STRATEGIES:
        raise MappingError(f"unknown exploration strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})")
    if strategy == "random" and rng is None:
        raise MappingError("the random strategy needs an rng (numpy Generator)")
    position = _position_of(current_pose)
    evaluation = evaluate_candidates(grid, position, config, score=strategy == "mi", workload=workload)
    if not evaluation.clusters:
        return None
    cands = evaluation.candidates
    if strategy == "mi":
        index = choose_best(evaluation.mi_nats, cands.cost_m, config.lambda_per_m, config.min_gain_nats)
    else:
        index = choose_random(cands, rng)
    if index is None:
        return None
    goal = cands.positions_m[index].copy()
    path = position[None].copy() if cands.cluster[index] == HERE else _path_to(grid, evaluation.costs, position, goal)
    length = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
    return ViewGoal(goal, float(cands.yaws_rad[index]), path, length, float(evaluation.mi_nats[index]),
                    int(cands.cluster[index]), index, evaluation)
