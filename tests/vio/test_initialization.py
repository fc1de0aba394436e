"""Static initialisation and visual-inertial alignment against known truth."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.euroc import open_euroc
from vio.backend.problem import make_window_problem
from vio.initialization import (InitializationError, StaticInitConfig, gravity_aligned_rotation,
                                static_initialize, visual_inertial_alignment)
from vio.lie import so3_exp, so3_log
from vio.preintegration import ImuBias, ImuPreintegration

G = 9.81


def _angle_deg(a, b):
    return np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_gravity_aligned_rotation_maps_up_to_z():
    rng = np.random.default_rng(0)
    for _ in range(50):
        f = rng.normal(size=3)
        R = gravity_aligned_rotation(f)
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-12) and np.linalg.det(R) > 0
        assert np.allclose(R @ (f / np.linalg.norm(f)), [0, 0, 1], atol=1e-12)
        assert abs(R[1, 0]) < 1e-12 and R[0, 0] >= -1e-12  # zero yaw of body x


def test_static_initialize_recovers_attitude_and_biases():
    rng = np.random.default_rng(1)
    R_true = so3_exp(np.array([0.3, -0.2, 1.1]))
    bg, ba_along = np.array([0.01, -0.02, 0.005]), 0.07
    up_body = R_true.T @ np.array([0, 0, 1.0])
    n = 400
    gyro = bg + 1e-3 * rng.normal(size=(n, 3))
    accel = G * up_body + ba_along * up_body + 1e-2 * rng.normal(size=(n, 3))
    t = 1_000_000_000 + 5_000_000 * np.arange(n, dtype=np.int64)
    init = static_initialize(t, gyro, accel)
    assert np.allclose(init.bias.gyro, bg, atol=3e-4)
    assert init.bias.accel @ up_body == pytest.approx(ba_along, abs=3e-3)
    assert _angle_deg(init.R_world_body @ up_body, np.array([0, 0, 1.0])) < 0.05
    assert init.timestamp_ns == t[-1]


def test_static_initialize_rejects_motion_and_short_windows():
    t = 5_000_000 * np.arange(400, dtype=np.int64)
    accel = np.tile([0, 0, G], (400, 1))
    moving = np.column_stack([np.sin(np.arange(400) / 20.0), np.zeros(400), np.zeros(400)])
    with pytest.raises(InitializationError, match="not at rest"):
        static_initialize(t, moving, accel)
    with pytest.raises(InitializationError, match="needs"):
        static_initialize(t[:20], np.zeros((20, 3)), accel[:20])
    with pytest.raises(ValueError, match="max_gyro_std"):
        StaticInitConfig(max_gyro_std=-1)


def test_static_initialize_on_real_euroc(euroc_micro):
    """V1_01 starts at rest: the gyro bias and up direction agree with the (recomputed) ground truth."""
    seq = open_euroc(euroc_micro, quiet=True)
    t = seq.imu_timestamps_ns
    window = t <= t[0] + 1_500_000_000
    init = static_initialize(t[window], seq.imu_gyro[window], seq.imu_accel[window])
    gt = seq.groundtruth
    k = np.searchsorted(gt.timestamps_ns, init.timestamp_ns)
    w, x, y, z = gt.q_world_body_wxyz[k]
    from scipy.spatial.transform import Rotation

    R_gt = Rotation.from_quat([x, y, z, w]).as_matrix()
    assert np.abs(init.bias.gyro - gt.gyro_bias[k]).max() < 0.01
    # up direction (roll and pitch): the vicon2gt orientation is known to be off by a few degrees
    up_est = init.R_world_body.T @ np.array([0, 0, 1.0])
    assert _angle_deg(up_est, R_gt.T @ np.array([0, 0, 1.0])) < 3.0


def _biased_pims(problem, gyro_bias):
    pims = []
    for seg in problem.imu_segments:
        pim = ImuPreintegration(problem.imu_params, ImuBias.zero())
        pim.integrate_batch(seg.dt_s, seg.gyro + gyro_bias, seg.accel)
        pims.append(pim)
    return pims


def test_visual_inertial_alignment_recovers_gravity_velocity_and_gyro_bias():
    problem = make_window_problem(n_keyframes=10, n_landmarks=40, seed=4)
    truth = problem.states_true
    bg = np.array([0.02, -0.015, 0.01])
    pims = _biased_pims(problem, bg)
    # an arbitrary visual reference frame: tilted, turned and shifted
    R_ref_world = so3_exp(np.array([0.4, -0.3, 2.0]))
    t_ref = np.array([3.0, -1.0, 0.5])
    R_ref = [R_ref_world @ s.R for s in truth]
    p_ref = [R_ref_world @ s.p + t_ref for s in truth]
    states = visual_inertial_alignment(problem.timestamps_ns, R_ref, p_ref, pims, gravity_magnitude=G)
    assert np.allclose(states[0].bias.gyro, bg, atol=2e-3)
    M = states[0].R_world_body @ truth[0].R.T  # must be a yaw about world z, the same for every keyframe
    assert _angle_deg(M @ np.array([0, 0, 1.0]), np.array([0, 0, 1.0])) < 0.2
    for est, true in zip(states, truth):
        assert np.degrees(np.linalg.norm(so3_log(est.R_world_body @ true.R.T @ M.T))) < 1e-6
        assert np.linalg.norm(est.v_world - M @ true.v) < 0.02
        assert np.allclose(est.p_world_body, M @ (true.p - truth[0].p), atol=1e-9)


def test_alignment_rejects_too_few_keyframes():
    problem = make_window_problem(n_keyframes=3, n_landmarks=20, seed=1)
    pims = _biased_pims(problem, np.zeros(3))
    with pytest.raises(InitializationError):
        visual_inertial_alignment(problem.timestamps_ns[:2], [s.R for s in problem.states_true[:2]],
                                  [s.p for s in problem.states_true[:2]], pims[:1])
