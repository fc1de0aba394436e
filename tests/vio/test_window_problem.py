"""Synthetic sliding-window problems: exact observations, coverage, noise statistics,
IMU consistency with the true states, determinism, and state perturbation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vio.backend.problem import StereoRig, make_window_problem, perturb_states, pose_matrices
from vio.lie import so3_log
from vio.state import BA, BG, POS, ROT, VEL, local


@pytest.fixture(scope="module")
def problem():
    return make_window_problem()


def reference_pixel(fx, fy, cx, cy, T_body_cam, R_world_body, p_world_body, p_world):
    """Slow pinhole projection of one point, written out step by step."""
    p_body = R_world_body.T @ (p_world - p_world_body)
    p_cam = T_body_cam[:3, :3].T @ (p_body - T_body_cam[:3, 3])
    assert p_cam[2] > 0.5  # well in front
    return np.array([fx * p_cam[0] / p_cam[2] + cx, fy * p_cam[1] / p_cam[2] + cy])


def test_perfect_observations_reproject_exactly(problem):
    rig, obs = problem.rig, problem.observations
    for i in range(len(obs)):
        state = problem.states_true[obs.keyframe[i]]
        point = problem.landmarks_true[obs.landmark[i]]
        for cam, uv in ((0, obs.uv_left[i]), (1, obs.uv_right[i])):
            np.testing.assert_allclose(reference_pixel(*rig.camera(cam), state.R, state.p, point), uv, atol=1e-9)
    assert rig.in_image(obs.uv_left).all() and rig.in_image(obs.uv_right).all()


def test_observation_layout_and_coverage(problem):
    obs = problem.observations
    n_keyframes, n_landmarks = len(problem.states_true), len(problem.landmarks_true)
    assert n_keyframes == 10 and n_landmarks == 150
    assert obs.keyframe.dtype == np.int64 and obs.landmark.dtype == np.int64
    assert obs.uv_left.shape == obs.uv_right.shape == (len(obs), 2)
    order = np.lexsort((obs.keyframe, obs.landmark))
    np.testing.assert_array_equal(order, np.arange(len(obs)))
    assert np.bincount(obs.keyframe, minlength=n_keyframes).min() >= 30
    per_landmark = np.bincount(obs.landmark, minlength=n_landmarks)
    assert per_landmark.min() >= 2 and abs(per_landmark.mean() - 5) <= 1
    for j in range(n_landmarks):  # each track is a run of consecutive keyframes
        assert np.all(np.diff(obs.keyframe[obs.landmark == j]) == 1)


def test_pixel_noise_has_requested_std(problem):
    noisy = make_window_problem(pixel_sigma=1.5)
    np.testing.assert_array_equal(noisy.landmarks_true, problem.landmarks_true)
    np.testing.assert_array_equal(noisy.observations.keyframe, problem.observations.keyframe)
    error = np.concatenate([noisy.observations.uv_left - problem.observations.uv_left,
                            noisy.observations.uv_right - problem.observations.uv_right]).ravel()
    assert noisy.pixel_sigma == 1.5
    assert abs(error.mean()) < 0.1 and error.std() == pytest.approx(1.5, rel=0.06)


def test_keyframes_and_imu_segments(problem):
    stamps = problem.timestamps_ns
    assert stamps.dtype == np.int64 and np.all(np.diff(stamps) == 250_000_000)
    assert len(problem.imu_segments) == len(stamps) - 1
    for dt_s, gyro, accel in problem.imu_segments:
        assert len(dt_s) == 50 and gyro.shape == accel.shape == (50, 3)
        np.testing.assert_allclose(dt_s, 0.005, rtol=1e-12)
    speeds = [np.linalg.norm(s.v) for s in problem.states_true]
    assert min(speeds) > 0.2  # the MAV is moving at start_s = 10 s


def test_preintegration_predicts_next_keyframe(problem):
    """With noise-free IMU the only error left is the held-sample discretisation."""
    states = problem.states_true
    pims = problem.preintegrations()
    assert len(pims) == len(states) - 1
    for k, pim in enumerate(pims):
        a, b = states[k], states[k + 1]
        assert pim.dt_s == pytest.approx(0.25) and pim.num_samples == 50
        np.testing.assert_array_equal(pim.bias.gyro, a.bg)
        R, p, v = pim.predict(a.R, a.p, a.v)
        assert np.linalg.norm(p - b.p) < 1e-3
        assert np.linalg.norm(v - b.v) < 1e-3
        assert np.linalg.norm(so3_log(R.T @ b.R)) < 1e-4


def test_noisy_imu_has_drifting_true_biases():
    problem = make_window_problem(n_keyframes=4, n_landmarks=20, imu_noise_scale=1.0, seed=2)
    biases = np.array([s.bg for s in problem.states_true])
    assert np.all(np.linalg.norm(np.diff(biases, axis=0), axis=1) > 0)


def test_deterministic_in_seed(problem):
    again, other = make_window_problem(), make_window_problem(seed=1)
    np.testing.assert_array_equal(again.landmarks_true, problem.landmarks_true)
    np.testing.assert_array_equal(again.observations.uv_right, problem.observations.uv_right)
    assert not np.array_equal(other.landmarks_true, problem.landmarks_true)


def test_perturb_states_magnitudes(problem):
    truth = problem.states_true
    before = pose_matrices(truth)
    perturbed = perturb_states(truth, np.random.default_rng(5), pos_m=0.3, rot_deg=5.0, vel_mps=0.2,
                               gyro_bias=0.01, accel_bias=0.1)
    np.testing.assert_array_equal(pose_matrices(truth), before)  # inputs untouched
    deltas = np.array([local(t, p) for t, p in zip(truth, perturbed)])
    for part, magnitude in ((ROT, math.radians(5.0)), (POS, 0.3), (VEL, 0.2), (BG, 0.01), (BA, 0.1)):
        np.testing.assert_allclose(np.linalg.norm(deltas[:, part], axis=1), magnitude, rtol=1e-9)
    assert np.abs(deltas[:, POS] - deltas[0, POS]).max() > 0.05  # independent directions
    same = perturb_states(truth, 5)
    np.testing.assert_array_equal(pose_matrices(same), pose_matrices(perturbed))


def test_rig_projection_and_validation():
    rig = StereoRig.euroc()
    assert (rig.width, rig.height) == (752, 480) and rig.fx0 == 458.654
    T_world_body = np.eye(4)
    uv, in_front = rig.project(0, np.array([[0.0, 0.0, -5.0], [0.0, 0.0, 5.0]]), T_world_body)
    assert in_front.tolist() == [False, True]  # EuRoC's cameras look along body +z
    assert np.isnan(uv[0]).all() and rig.in_image(uv).tolist() == [False, True]
    with pytest.raises(ValueError):
        rig.camera(2)
    with pytest.raises(ValueError, match="fx0"):
        StereoRig(0.0, 1, 1, 1, 1, 1, 1, 1, np.eye(4), np.eye(4), 10, 10)
    with pytest.raises(ValueError, match="rigid"):
        StereoRig(1, 1, 1, 1, 1, 1, 1, 1, 2 * np.eye(4), np.eye(4), 10, 10)


@pytest.mark.parametrize("kwargs", [dict(keyframe_interval_s=0.2512), dict(start_s=-1.0), dict(n_keyframes=1),
                                    dict(obs_per_landmark=1), dict(pixel_sigma=-1.0), dict(n_landmarks=2.5),
                                    dict(n_keyframes=40, obs_per_landmark=40, keyframe_interval_s=1.0)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        make_window_problem(**kwargs)
