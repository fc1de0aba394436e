"""Stereo reprojection factor: residual against a slow projection, Jacobians against
central finite differences on the manifold (both landmark parameterisations), robust
losses and stereo triangulation."""
from __future__ import annotations

import numpy as np
import pytest
from manifold_fd import assert_jacobian, numeric_jacobian, numeric_state_jacobian

from vio.backend.problem import StereoRig
from vio.factors.reprojection import (
    ReprojectionFactor,
    RobustLoss,
    bearings,
    triangulate_cam0,
)
from vio.lie import so3_exp
from vio.state import KeyframeState, retract

RIG = StereoRig.euroc()


def project(cam, state, p_world):
    """Slow pinhole projection written out step by step."""
    fx, fy, cx, cy, T = RIG.camera(cam)
    p_body = state.R.T @ (p_world - state.p)
    p_cam = T[:3, :3].T @ (p_body - T[:3, 3])
    return np.array([fx * p_cam[0] / p_cam[2] + cx, fy * p_cam[1] / p_cam[2] + cy])


def random_setup(rng):
    """(anchor state, observing state, world point, bearing in anchor cam0, rho)."""
    anchor = KeyframeState(so3_exp(rng.normal(size=3)), rng.normal(size=3), rng.normal(size=3),
                           rng.normal(size=3) * 0.01, rng.normal(size=3) * 0.1)
    observer = retract(anchor, np.r_[rng.normal(size=3) * 0.05, rng.normal(size=3) * 0.2, rng.normal(size=9)])
    depth = rng.uniform(2.0, 8.0)
    bearing = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.4, 0.4), 1.0])
    T = RIG.T_body_cam0
    point = anchor.R @ (T[:3, :3] @ (bearing * depth) + T[:3, 3]) + anchor.p
    return anchor, observer, point, bearing, 1.0 / depth


@pytest.mark.parametrize("seed", range(5))
def test_inverse_depth_residual_and_jacobians(seed):
    rng = np.random.default_rng(seed)
    anchor, observer, point, bearing, rho = random_setup(rng)
    uv = rng.uniform(100, 400, 4)
    f = ReprojectionFactor(RIG, 3, uv, anchor=1, bearing=bearing)
    expected = np.r_[project(0, observer, point), project(1, observer, point)] - uv
    np.testing.assert_allclose(f.residual(observer, [rho], anchor), expected, atol=1e-9)
    J_kf, J_anchor, J_lm = f.jacobians(observer, [rho], anchor)
    assert_jacobian(J_kf, numeric_state_jacobian(lambda s: f.residual(s, [rho], anchor), observer))
    assert_jacobian(J_anchor, numeric_state_jacobian(lambda s: f.residual(observer, [rho], s), anchor))
    assert_jacobian(J_lm, numeric_jacobian(lambda x: f.residual(observer, x, anchor), [rho]))


@pytest.mark.parametrize("seed", range(3))
def test_inverse_depth_in_anchor_keyframe(seed):
    rng = np.random.default_rng(seed)
    anchor, _, point, bearing, rho = random_setup(rng)
    uv = np.r_[project(0, anchor, point), project(1, anchor, point)] + rng.normal(size=4)
    f = ReprojectionFactor(RIG, 1, uv, anchor=1, bearing=bearing)
    np.testing.assert_allclose(f.residual(anchor, [rho]), np.r_[project(0, anchor, point),
                                                                 project(1, anchor, point)] - uv, atol=1e-9)
    J_kf, J_anchor, J_lm = f.jacobians(anchor, [rho])
    assert J_anchor is None and not J_kf.any()
    assert_jacobian(J_lm, numeric_jacobian(lambda x: f.residual(anchor, x), [rho]))
    np.testing.assert_allclose(J_lm[:2], 0.0, atol=1e-9)  # the left pixel is the bearing itself


@pytest.mark.parametrize("seed", range(5))
def test_world_point_residual_and_jacobians(seed):
    rng = np.random.default_rng(seed)
    _, observer, point, _, _ = random_setup(rng)
    uv = rng.uniform(100, 400, 4)
    f = ReprojectionFactor(RIG, 0, uv, param="world_point")
    expected = np.r_[project(0, observer, point), project(1, observer, point)] - uv
    np.testing.assert_allclose(f.residual(observer, point), expected, atol=1e-9)
    J_kf, J_anchor, J_lm = f.jacobians(observer, point)
    assert J_anchor is None and J_lm.shape == (4, 3)
    assert_jacobian(J_kf, numeric_state_jacobian(lambda s: f.residual(s, point), observer))
    assert_jacobian(J_lm, numeric_jacobian(lambda x: f.residual(observer, x), point))


def test_behind_camera_is_rejected():
    state = KeyframeState(np.eye(3), np.zeros(3), np.zeros(3))
    f = ReprojectionFactor(RIG, 0, np.zeros(4), param="world_point")
    behind = state.R @ (RIG.T_body_cam0[:3, :3] @ np.array([0, 0, -3.0]) + RIG.T_body_cam0[:3, 3])
    with pytest.raises(ValueError, match="behind"):
        f.residual(state, behind)


@pytest.mark.parametrize("kind,s,rho,w", [("none", 50.0, 50.0, 1.0), ("huber", 4.0, 4.0, 1.0),
                                           ("huber", 16.0, 2 * 3 * 4 - 9, 0.75),
                                           ("cauchy", 9.0, 9 * np.log(2.0), 0.5)])
def test_robust_losses(kind, s, rho, w):
    loss = RobustLoss(kind, 3.0)
    assert loss.rho(s) == pytest.approx(rho) and loss.weight(s) == pytest.approx(w)
    h = 1e-6  # weight is d rho / d s
    assert (loss.rho(s + h) - loss.rho(s - h)) / (2 * h) == pytest.approx(w, rel=1e-6)


def test_robust_loss_validation():
    with pytest.raises(ValueError):
        RobustLoss("tukey")
    with pytest.raises(ValueError):
        RobustLoss("huber", 0.0)


def test_stereo_triangulation_recovers_points():
    rng = np.random.default_rng(1)
    state = KeyframeState(np.eye(3), np.zeros(3), np.zeros(3))
    T = RIG.T_body_cam0
    p_cam0 = np.column_stack([rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20), rng.uniform(2, 10, 20)])
    points = p_cam0 @ T[:3, :3].T + T[:3, 3]
    uv_l = np.array([project(0, state, p) for p in points])
    uv_r = np.array([project(1, state, p) for p in points])
    np.testing.assert_allclose(triangulate_cam0(RIG, uv_l, uv_r), p_cam0, atol=1e-8)
    np.testing.assert_allclose(bearings(RIG, uv_l), p_cam0 / p_cam0[:, 2:], atol=1e-12)
