"""Next-best-view exploration on 3-D occupancy maps: frontiers, candidate views, FSMI scoring,
path costs through known free space, the planner and the synthetic-hall experiment
(docs/mapping.md, "Exploration (next-best view)")."""
from .frontiers import FrontierCluster, cluster_frontiers, frontier_mask
from .path_cost import PathCosts, path_costs, traversable_mask
from .planner import ExplorationConfig, ViewGoal, evaluate_candidates, next_best_view
from .scoring import camera_bearings, level_camera_rotation, score_views
from .simulate import ExplorationResult, ExplorationSimConfig, run_exploration

__all__ = ["FrontierCluster", "cluster_frontiers", "frontier_mask", "PathCosts", "path_costs", "traversable_mask",
           "ExplorationConfig", "ViewGoal", "evaluate_candidates", "next_best_view", "camera_bearings",
           "level_camera_rotation", "score_views", "ExplorationResult", "ExplorationSimConfig", "run_exploration"]
