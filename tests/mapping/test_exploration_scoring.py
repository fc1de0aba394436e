"""FSMI view scoring against a slow reference: Python DDA cells, then FSMI's beam MI per beam."""
import math

import numpy as np
import pytest
import raycast_reference as ref

from accel_model.workload import NULL_WORKLOAD, Workload
from mapping import _kernels as fsmi_kernels
from mapping import fsmi
from mapping.errors import MappingError
from mapping.exploration.scoring import (camera_bearings, level_camera_rotation, odds_factors, score_views,
                                         scoring_probability)
from mapping.occupancy import OccupancyConfig, OccupancyGrid3D


def random_grid(seed, shape=(14, 12, 8), res=0.25):
    rng = np.random.default_rng(seed)
    log_odds = rng.choice([0.0, -1.2, -0.4, 0.85, 2.0], size=shape, p=[0.35, 0.3, 0.15, 0.1, 0.1])
    return OccupancyGrid3D([-1.0, -0.5, 0.0], res, shape, OccupancyConfig(resolution_m=res),
                           log_odds=log_odds.astype(np.float32))


def reference_scores(grid, prob, positions, yaws, bearings, range_m, sigma_m, truncation):
    """Sum over beams of FSMI's beam MI on the cells the Python DDA finds (no early stop), and
    the map reads the kernel should count (up to truncation + 1 cells past a certain cell)."""
    delta_occ, delta_emp = odds_factors(grid)
    k = truncation
    scores, reads = [], 0
    for p, yaw in zip(positions, yaws):
        R = level_camera_rotation(yaw)
        total = 0.0
        for b in bearings:
            cells = ref.ray_cells(p, R @ b, range_m, grid.origin_m, grid.resolution_m, grid.shape)
            beam = np.array([prob[c] for c in cells], dtype=np.float64)
            if len(beam) == 0:
                continue
            if k is None:
                total += fsmi_kernels.beam_mi_exact(beam, grid.resolution_m, sigma_m, delta_occ, delta_emp)
            else:
                total += fsmi_kernels.beam_mi_truncated(beam, grid.resolution_m, sigma_m, delta_occ, delta_emp, k)
            certain = np.flatnonzero(beam >= 1.0)
            kk = k if k is not None else len(beam)
            reads += min(len(beam), certain[0] + kk + 1) if len(certain) else len(beam)
        scores.append(total)
    return np.array(scores), reads


def views(grid, n, seed):
    rng = np.random.default_rng(seed)
    lo, hi = grid.bounds_min_m + 0.1, grid.bounds_max_m - 0.1
    return rng.uniform(lo, hi, size=(n, 3)), rng.uniform(-math.pi, math.pi, size=n)


@pytest.mark.parametrize("truncation", [None, 2])
def test_scores_match_python_dda_reference_on_map_probabilities(truncation):
    grid = random_grid(0)
    positions, yaws = views(grid, 5, 1)
    bearings = camera_bearings(5, 4, 90.0, 60.0)
    got = score_views(grid, positions, yaws, bearings, 2.0, 0.1, truncation)
    prob = grid.probability().astype(np.float64)
    want, _ = reference_scores(grid, prob, positions, yaws, bearings, 2.0, 0.1, truncation)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(got > 0)
    # the public one-beam API agrees with the kernel the reference used
    beam = prob[2, 3, :]
    delta_occ, delta_emp = odds_factors(grid)
    assert math.isclose(fsmi.beam_mi(beam, 0.25, 0.1, delta_occ, delta_emp),
                        fsmi_kernels.beam_mi_exact(beam, 0.25, 0.1, delta_occ, delta_emp), rel_tol=1e-15)


@pytest.mark.parametrize("truncation", [None, 1])
def test_scores_on_certain_classes_and_workload(truncation):
    grid = random_grid(2)
    positions, yaws = views(grid, 4, 3)
    bearings = camera_bearings(4, 3, 90.0, 60.0)
    prob = scoring_probability(grid, unknown_probability=0.3)
    assert set(np.unique(prob)) == {0.0, 0.3, 1.0}
    wl = Workload("mi")
    got = score_views(grid, positions, yaws, bearings, 2.5, 0.1, truncation, wl, prob)
    want, reads = reference_scores(grid, prob, positions, yaws, bearings, 2.5, 0.1, truncation)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # counting: one map read per cell each beam used; nothing recorded when disabled
    assert wl.buffers["occupancy_map"].reads_words == reads
    assert wl.total_ops("sin") == 2 * len(positions)
    assert wl.total_ops("mul") > 0 and wl.total_ops("compare") > 0
    np.testing.assert_array_equal(score_views(grid, positions, yaws, bearings, 2.5, 0.1, truncation,
                                              NULL_WORKLOAD, prob), got)
    assert NULL_WORKLOAD.ops == {}


def test_fully_known_map_scores_zero_and_unknown_beats_known():
    grid = random_grid(4)
    grid.log_odds[:] = -1.0
    positions, yaws = views(grid, 3, 5)
    bearings = camera_bearings(4, 3, 90.0, 60.0)
    assert np.all(score_views(grid, positions, yaws, bearings, 2.0, 0.1, None,
                              probability=scoring_probability(grid)) == 0)
    grid.log_odds[:, :, :] = 0.0  # all unknown
    assert np.all(score_views(grid, positions, yaws, bearings, 2.0, 0.1, None,
                              probability=scoring_probability(grid)) > 0)


def test_camera_bearings_and_rotation():
    b = camera_bearings(16, 12, 90.0, 60.0)
    assert b.shape == (192, 3)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0)
    x, y = b[:, 0] / b[:, 2], b[:, 1] / b[:, 2]
    # pixel centres: outermost at (n - 1) / n of the half-width on the image plane
    assert math.isclose(x.max(), math.tan(math.radians(45)) * 15 / 16)
    assert math.isclose(y.max(), math.tan(math.radians(30)) * 11 / 12)
    assert b[0, 0] < 0 and b[0, 1] < 0  # row-major from the top-left
    for yaw in (0.0, 1.0, -2.5):
        R = level_camera_rotation(yaw)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-15)
        assert math.isclose(np.linalg.det(R), 1.0)
        np.testing.assert_allclose(R @ [0, 0, 1], [math.cos(yaw), math.sin(yaw), 0], atol=1e-15)
        np.testing.assert_allclose(R @ [0, 1, 0], [0, 0, -1], atol=1e-15)  # image down = world down
    with pytest.raises(MappingError):
        camera_bearings(0, 3, 90, 60)
    with pytest.raises(MappingError):
        camera_bearings(3, 3, 180, 60)


def test_score_views_rejects_bad_input():
    grid = random_grid(0)
    b = camera_bearings(2, 2, 90, 60)
    with pytest.raises(MappingError):
        score_views(grid, np.zeros((2, 3)), np.zeros(3), b, 2.0, 0.1)
    with pytest.raises(MappingError):
        score_views(grid, np.zeros((1, 3)), np.zeros(1), b * 2, 2.0, 0.1)
    with pytest.raises(MappingError):
        score_views(grid, np.zeros((1, 3)), np.zeros(1), b, -1.0, 0.1)
    with pytest.raises(MappingError):
        score_views(grid, np.zeros((1, 3)), np.zeros(1), b, 2.0, 0.1, probability=np.zeros((2, 2, 2)))
    with pytest.raises(MappingError):
        score_views(grid, np.zeros((1, 3)), np.zeros(1), b, 2.0, 0.1, probability=np.full(grid.shape, 1.5))
