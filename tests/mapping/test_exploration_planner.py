"""The planner picks argmax MI - lambda * cost (checked with the slow MI reference) on a hand-built map."""
import math

import numpy as np
import pytest
from test_exploration_scoring import reference_scores

from mapping.errors import MappingError
from mapping.exploration.candidates import HERE
from mapping.exploration.planner import (ExplorationConfig, choose_best, evaluate_candidates, next_best_view)
from mapping.exploration.scoring import scoring_probability
from mapping.occupancy import FREE, ChunkedOccupancyGrid3D, OccupancyConfig, OccupancyGrid3D

RES = 0.25
CONFIG = dict(beams_h=4, beams_v=3, range_m=2.0, standoffs_m=[1.0], ring_positions=6, yaws_per_position=2,
              turn_yaws=4, cluster_size_m=1.0, min_cluster_cells=3, robot_radius_m=0.25, min_gain_nats=0.05)


def room():
    """A 4 x 3 x 2 m box: walls occupied, the left part (x < 2.5 m) and a pocket seen free, the rest unknown."""
    shape = (16, 12, 8)
    log_odds = np.zeros(shape, np.float32)
    log_odds[1:10, 1:11, 1:7] = -1.0
    log_odds[10:12, 8:11, 2:5] = -1.0
    log_odds[0, :, :] = log_odds[:, 0, :] = log_odds[:, 11, :] = 2.0
    log_odds[:, :, 0] = log_odds[:, :, 7] = 2.0
    log_odds[4:6, 3:5, 1:4] = 2.0  # a box in the seen part
    return OccupancyGrid3D([0.0, 0.0, 0.0], RES, shape, OccupancyConfig(resolution_m=RES), log_odds=log_odds)


def test_choose_best_hand_built():
    mi = np.array([10.0, 4.0, 12.0, 0.5])
    cost = np.array([2.0, 0.0, 6.0, 0.0])
    assert choose_best(mi, cost, 0.0, 1.0) == 2                # pure MI
    assert choose_best(mi, cost, 0.5, 1.0) == 0                # 9 > 4 > 9 - ... 12 - 3 = 9: first on ties
    assert choose_best(mi, cost, 1.0, 1.0) == 0                # 8 vs 4 vs 6
    assert choose_best(mi, cost, 10.0, 1.0) == 1               # travel dominates; index 3 is below min gain
    assert choose_best(mi, cost, 10.0, 20.0) is None


@pytest.mark.parametrize("lam", [0.0, 2.0, 50.0])
def test_next_best_view_is_argmax_of_reference_utility(lam):
    grid = room()
    config = ExplorationConfig.from_dict({**CONFIG, "lambda_per_m": lam})
    position = np.array([1.137, 1.618, 0.913])
    goal = next_best_view(grid, position, config)
    ev = goal.evaluation
    cands = ev.candidates
    assert len(ev.clusters) >= 2 and len(cands) > 20
    prob = scoring_probability(grid, unknown_probability=config.unknown_probability)
    mi_ref, _ = reference_scores(grid, prob, cands.positions_m, cands.yaws_rad, config.bearings(), config.range_m,
                                 config.sigma_m, config.truncation_cells)
    np.testing.assert_allclose(ev.mi_nats, mi_ref, rtol=1e-12)
    utility = mi_ref - lam * cands.cost_m
    ok = mi_ref >= config.min_gain_nats
    assert math.isclose(utility[goal.index], utility[ok].max(), rel_tol=1e-12)
    assert goal.mi_nats == ev.mi_nats[goal.index] and goal.yaw_rad == cands.yaws_rad[goal.index]
    if lam == 0.0:
        assert goal.mi_nats == mi_ref[ok].max()
        assert goal.cluster != HERE  # the best views stand near the frontier
    if lam == 50.0:
        assert goal.cluster == HERE and goal.path_length_m == 0.0
    # the path: from the robot through traversable cells to the goal, steps to 26-neighbours
    path = goal.path_m
    np.testing.assert_array_equal(path[0], position)
    np.testing.assert_array_equal(path[-1], goal.position_m)
    if len(path) > 2:
        assert np.all(np.linalg.norm(np.diff(path[1:], axis=0), axis=1) <= math.sqrt(3) * RES + 1e-12)
    assert math.isclose(goal.path_length_m, np.linalg.norm(np.diff(path, axis=0), axis=1).sum())
    cells = grid.world_to_index(path[1:])
    assert (grid.classify()[tuple(cells.T)] == FREE).all()


def test_candidates_stand_in_reachable_free_cells_and_face_their_cluster():
    grid = room()
    config = ExplorationConfig.from_dict(CONFIG)
    ev = evaluate_candidates(grid, [1.137, 1.618, 0.913], config)
    c = ev.candidates
    moving = c.cluster != HERE
    cells = grid.world_to_index(c.positions_m[moving])
    assert np.isfinite(ev.costs.dist_m[tuple(cells.T)]).all()
    np.testing.assert_allclose(c.cost_m[moving], ev.costs.dist_m[tuple(cells.T)])
    centroids = np.array([ev.clusters[k].centroid_m for k in c.cluster[moving]])
    bearing = np.arctan2(*(centroids - c.positions_m[moving])[:, 1::-1].T)
    diff = np.abs((c.yaws_rad[moving] - bearing + np.pi) % (2 * np.pi) - np.pi)
    np.testing.assert_allclose(diff, math.radians(config.yaw_spread_deg), atol=1e-9)  # two yaws: +-spread
    assert np.count_nonzero(~moving) == config.turn_yaws


def test_random_strategy_and_completion():
    grid = room()
    config = ExplorationConfig.from_dict(CONFIG)
    picks = {next_best_view(grid, [1.137, 1.618, 0.913], config, "random", np.random.default_rng(s)).cluster
             for s in range(12)}
    assert len(picks) >= 2 and HERE not in picks
    a = next_best_view(grid, [1.137, 1.618, 0.913], config, "random", np.random.default_rng(5))
    b = next_best_view(grid, [1.137, 1.618, 0.913], config, "random", np.random.default_rng(5))
    assert a.index == b.index and math.isnan(a.mi_nats)
    assert next_best_view(grid, [1.137, 1.618, 0.913], ExplorationConfig.from_dict({**CONFIG, "min_gain_nats": 1e6})) \
        is None
    grid.log_odds[grid.log_odds == 0] = -1.0  # everything known: no frontier left
    assert next_best_view(grid, [1.137, 1.618, 0.913], config) is None
    with pytest.raises(MappingError):
        next_best_view(grid, [1.137, 1.618, 0.913], config, "random")
    with pytest.raises(MappingError):
        next_best_view(grid, [1.137, 1.618, 0.913], config, "greedy")
    with pytest.raises(MappingError):
        next_best_view(grid, [9.0, 1.6, 0.9], config)


def test_config_validation():
    assert ExplorationConfig.from_dict({"truncation_cells": None}).truncation_cells is None
    for bad in ({"lambda_per_m": -1.0}, {"beams_h": 0}, {"fov_h_deg": 180.0}, {"standoffs_m": []},
                {"unknown_probability": 1.0}, {"truncation_cells": -1}, {"range_m": 0.0}):
        with pytest.raises(MappingError):
            ExplorationConfig(**bad)


def test_chunked_grid_gives_the_same_goal(tmp_path):
    dense = room()
    chunked = ChunkedOccupancyGrid3D.load(dense.save(tmp_path / "room.npz"))
    config = ExplorationConfig.from_dict(CONFIG)
    a = next_best_view(dense, [1.137, 1.618, 0.913], config)
    b = next_best_view(chunked, [1.137, 1.618, 0.913], config)
    assert a.index == b.index
    np.testing.assert_array_equal(a.evaluation.mi_nats, b.evaluation.mi_nats)
    np.testing.assert_array_equal(a.path_m, b.path_m)
