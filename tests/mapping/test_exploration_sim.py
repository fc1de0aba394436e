"""The exploration experiment on a small hall: depth camera, reachable space, coverage, MI vs random."""
import numpy as np
import pytest
from scipy import ndimage

from datasets.synth.world import HallConfig, build_hall
from mapping.errors import MappingError
from mapping.exploration.planner import ExplorationConfig
from mapping.exploration.simulate import (DepthCamera, ExplorationSimConfig, reachable_cells, run_exploration,
                                          true_clearance)

HALL = HallConfig(size_m=(8.0, 6.0, 3.0), n_boxes=3, n_pillars=1)
SIM = ExplorationSimConfig(resolution_m=0.25, sensor_width_px=32, sensor_height_px=24, sensor_range_m=4.0,
                           start_height_m=1.2)
CONFIG = ExplorationConfig(beams_h=8, beams_v=6, range_m=4.0, lambda_per_m=0.5, robot_radius_m=0.25,
                           min_cluster_cells=4)


@pytest.fixture(scope="module")
def world():
    return build_hall(HALL, seed=1)


def test_depth_camera_points_lie_on_surfaces_within_the_field_of_view(world):
    cam = DepthCamera(world, 20, 15, 90.0, 60.0)
    position, yaw = np.array([0.3, -0.2, 1.1]), 0.7
    pts = cam.points(position, yaw)
    assert len(pts) == 300  # a closed hall: every ray hits
    np.testing.assert_allclose(true_clearance(world, pts), 0.0, atol=1e-6)
    d = pts - position
    along = d @ [np.cos(yaw), np.sin(yaw), 0.0]
    assert np.all(along > 0)
    side = np.abs(d @ [-np.sin(yaw), np.cos(yaw), 0.0]) / along
    up = np.abs(d[:, 2]) / along
    assert side.max() <= np.tan(np.radians(45)) + 1e-9 and side.max() > np.tan(np.radians(40))
    assert up.max() <= np.tan(np.radians(30)) + 1e-9 and up.max() > np.tan(np.radians(26))


def test_reachable_cells_match_brute_force(world):
    res = 0.5
    origin = world.bounds_min - res
    shape = tuple(np.ceil((world.bounds_max - world.bounds_min) / res).astype(int) + 2)
    start = (9, 7, 3)
    got = reachable_cells(world, origin, res, shape, 0.3, start)
    centres = origin + (np.argwhere(np.ones(shape, bool)) + 0.5) * res
    clear = np.ones(len(centres), bool)
    for c_idx, c in enumerate(centres):  # brute force: every wall and box face by hand
        d = min(*(c - world.bounds_min), *(world.bounds_max - c))
        for lo, hi in world.obstacle_boxes:
            d = min(d, float(np.linalg.norm(np.maximum(np.maximum(lo - c, c - hi), 0))))
        clear[c_idx] = d >= 0.3
    labels, _ = ndimage.label(clear.reshape(shape), structure=np.ones((3, 3, 3)))
    np.testing.assert_array_equal(got, labels == labels[start])
    with pytest.raises(MappingError):
        reachable_cells(world, origin, res, shape, 0.3, (0, 0, 0))


def test_short_exploration_covers_monotonically_and_mi_is_not_worse_than_random(world):
    mi = run_exploration(world, CONFIG, "mi", max_views=14, sim=SIM)
    assert mi.n_views >= 8
    assert np.all(np.diff(mi.coverage) >= 0)
    assert mi.coverage[-1] > 0.8
    assert mi.min_clearance_m >= CONFIG.robot_radius_m - 0.5 * np.sqrt(3) * SIM.resolution_m
    assert np.all(np.diff(mi.path_length_m) >= 0) and mi.path_length_m[0] == 0
    assert np.all(mi.mi_nats[1:] >= CONFIG.min_gain_nats)
    target = 0.75
    views_random = []
    for seed in (0, 1):
        rnd = run_exploration(world, CONFIG, "random", max_views=14, seed=seed, sim=SIM)
        assert np.all(np.diff(rnd.coverage) >= 0)
        views_random.append(rnd.views_to(target) or 15)
    assert mi.views_to(target) is not None
    assert mi.views_to(target) <= np.mean(views_random)


def test_run_exploration_rejects_bad_options(world):
    with pytest.raises(MappingError):
        run_exploration(world, CONFIG, "greedy", sim=SIM)
    with pytest.raises(MappingError):
        run_exploration(world, CONFIG, "mi", max_views=0, sim=SIM)
    with pytest.raises(MappingError):
        ExplorationSimConfig(resolution_m=0.0)
