"""IMU factor: analytic Jacobians against central differences through retract, zero
residual at the predicted state, bias correction, noise model and whitening; and the
keyframe state's retract/local pair."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from datasets.calibration import euroc_imu
from vio.factors import ImuFactor
from vio.preintegration import ImuBias, ImuParams, ImuPreintegration
from vio.state import KeyframeState, local, retract

PARAMS = ImuParams.from_calibration(euroc_imu())
LIN_BIAS = ImuBias(gyro=[0.01, -0.02, 0.015], accel=[0.1, 0.05, -0.08])


def make_pim(seed, n=60, bias=LIN_BIAS):
    rng = np.random.default_rng(seed)
    pim = ImuPreintegration(PARAMS, bias)
    pim.integrate_batch(np.full(n, 0.005), rng.normal(0.0, 1.0, (n, 3)),
                        rng.normal(0.0, 2.0, (n, 3)) + [0.0, 0.0, 9.81])
    return pim


def random_state(rng):
    return KeyframeState(R=Rotation.from_rotvec(rng.normal(size=3)).as_matrix(), p=rng.normal(0, 3, 3),
                         v=rng.normal(0, 1, 3), bg=LIN_BIAS.gyro + rng.normal(0, 0.01, 3),
                         ba=LIN_BIAS.accel + rng.normal(0, 0.1, 3))


def numeric_jacobians(factor, si, sj, step=1e-6):
    out = []
    for which in (0, 1):
        J = np.zeros((15, 15))
        for c in range(15):
            e = np.zeros(15)
            e[c] = step
            if which == 0:
                plus, minus = factor.residual(retract(si, e), sj), factor.residual(retract(si, -e), sj)
            else:
                plus, minus = factor.residual(si, retract(sj, e)), factor.residual(si, retract(sj, -e))
            J[:, c] = (plus - minus) / (2 * step)
        out.append(J)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_jacobians_match_central_differences(seed):
    """At random states whose biases differ from the linearisation bias (so the bias
    correction and its rotation Jacobian are active): relative error < 1e-6."""
    rng = np.random.default_rng(100 + seed)
    factor = ImuFactor(make_pim(seed), 3, 4)
    si, sj = random_state(rng), random_state(rng)
    Ji, Jj = factor.jacobians(si, sj)
    Ni, Nj = numeric_jacobians(factor, si, sj)
    for analytic, numeric in ((Ji, Ni), (Jj, Nj)):
        assert np.abs(analytic - numeric).max() / np.abs(analytic).max() < 1e-6
    r, Ji2, Jj2 = factor.linearize(si, sj)
    np.testing.assert_array_equal(r, factor.residual(si, sj))
    np.testing.assert_array_equal(Ji2, Ji)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_jacobians_near_the_solution(seed):
    """Near a consistent pair (small residual) where Jr^-1(r_R) is close to I."""
    rng = np.random.default_rng(seed)
    pim = make_pim(seed % 7)
    si = random_state(rng)
    R_j, p_j, v_j = pim.predict(si.R, si.p, si.v)
    sj = retract(KeyframeState(R_j, p_j, v_j, si.bg, si.ba), rng.normal(0, 1e-3, 15))
    factor = ImuFactor(pim, 0, 1)
    Ji, Jj = factor.jacobians(si, sj)
    Ni, Nj = numeric_jacobians(factor, si, sj)
    assert np.abs(Ji - Ni).max() / np.abs(Ji).max() < 1e-6
    assert np.abs(Jj - Nj).max() / np.abs(Jj).max() < 1e-6


def test_residual_vanishes_at_the_prediction():
    pim = make_pim(1)
    rng = np.random.default_rng(7)
    si = random_state(rng)
    new_bias = ImuBias(si.bg, si.ba)
    R_j, p_j, v_j = pim.predict(si.R, si.p, si.v, bias=new_bias)
    factor = ImuFactor(pim, 0, 1)
    r = factor.residual(si, KeyframeState(R_j, p_j, v_j, si.bg, si.ba))
    np.testing.assert_allclose(r, 0.0, atol=1e-12)
    sj = KeyframeState(R_j, p_j, v_j, si.bg + 0.01, si.ba - 0.1)
    np.testing.assert_allclose(factor.residual(si, sj)[9:], [0.01] * 3 + [-0.1] * 3, atol=1e-15)


def test_bias_correction_tracks_reintegration():
    """The residual at state bias b uses the first-order correction; against a
    preintegration re-integrated at b the difference is second order (tiny)."""
    pim = make_pim(2)
    rng = np.random.default_rng(8)
    si, sj = random_state(rng), random_state(rng)
    exact = pim.copy()
    exact.reintegrate(ImuBias(si.bg, si.ba))
    r_corrected = ImuFactor(pim, 0, 1).residual(si, sj)
    r_exact = ImuFactor(exact, 0, 1).residual(si, sj)
    r_stale = ImuFactor(make_pim(2, bias=ImuBias(si.bg, si.ba)), 0, 1).residual(si, sj)
    np.testing.assert_allclose(r_exact, r_stale, atol=1e-12)  # reintegrate == fresh integration
    shift = np.linalg.norm(r_exact[:9] - ImuFactor(pim, 0, 1).residual(
        KeyframeState(si.R, si.p, si.v, LIN_BIAS.gyro, LIN_BIAS.accel), sj)[:9])
    assert np.linalg.norm(r_corrected[:9] - r_exact[:9]) < 0.01 * shift  # measured 0.0013


def test_noise_model_and_whitening():
    pim = make_pim(3)
    factor = ImuFactor(pim, 5, 6)
    T = pim.dt_s
    cov = factor.covariance()
    within = np.zeros((9, 9))
    within[6:, 6:] = np.eye(3) * PARAMS.accel_noise_density**2 * np.sum(pim.raw_samples()[0] ** 3) / 12
    np.testing.assert_array_equal(cov[:9, :9], pim.covariance + within)
    np.testing.assert_allclose(np.diag(cov)[9:12], PARAMS.gyro_random_walk**2 * T, rtol=1e-15)
    np.testing.assert_allclose(np.diag(cov)[12:], PARAMS.accel_random_walk**2 * T, rtol=1e-15)
    assert np.all(cov[:9, 9:] == 0)
    info = factor.information()
    np.testing.assert_allclose(info @ cov, np.eye(15), atol=1e-8)
    rng = np.random.default_rng(9)
    si, sj = random_state(rng), random_state(rng)
    r, Ji, Jj = factor.linearize(si, sj)
    rw, Jiw, Jjw = factor.whitened(si, sj)
    assert rw @ rw == pytest.approx(r @ info @ r, rel=1e-9)
    np.testing.assert_allclose(Jiw.T @ Jjw, Ji.T @ info @ Jj, rtol=1e-8, atol=1e-8 * np.abs(Ji.T @ info @ Jj).max())
    assert (factor.i, factor.j, factor.dim) == (5, 6, 15)


def test_single_sample_covariance_is_positive_definite():
    """One held sample correlates velocity and position fully; the factor's covariance stays PD."""
    pim = ImuPreintegration(PARAMS)
    pim.integrate(0.05, np.array([0.1, 0.0, 0.0]), np.array([0.0, 0.0, 9.81]))
    assert np.linalg.eigvalsh(pim.covariance).min() < 1e-20
    np.linalg.cholesky(ImuFactor(pim, 0, 1).covariance())


def test_factor_rejects_bad_input():
    with pytest.raises(ValueError, match="no samples"):
        ImuFactor(ImuPreintegration(PARAMS), 0, 1)
    with pytest.raises(ValueError, match="must differ"):
        ImuFactor(make_pim(0), 2, 2)
    with pytest.raises(TypeError):
        ImuFactor("pim", 0, 1)


def test_retract_local_roundtrip_and_validation():
    rng = np.random.default_rng(11)
    for _ in range(20):
        a = random_state(rng)
        delta = rng.normal(0, 0.5, 15)
        b = retract(a, delta)
        np.testing.assert_allclose(local(a, b), delta, atol=1e-14)
        np.testing.assert_allclose(b.R, a.R @ Rotation.from_rotvec(delta[:3]).as_matrix(), atol=1e-15)
        np.testing.assert_array_equal(b.p, a.p + delta[3:6])  # error state [dtheta, dp, dv, dbg, dba]
        np.testing.assert_array_equal(b.v, a.v + delta[6:9])
    c = a.copy()
    c.p[0] += 1.0
    assert c.p[0] != a.p[0]
    with pytest.raises(ValueError, match="'v'"):
        KeyframeState(np.eye(3), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        retract(a, np.zeros(9))


def test_packed_square_root_information_is_cached_until_the_preintegration_changes():
    from vio.backend.window import pack_imu

    a, b = make_pim(40), make_pim(41)
    cache = {}
    S = pack_imu([a, b], cache)[8]
    for pim, s in zip((a, b), S):  # S^T S is the information
        np.testing.assert_allclose(s.T @ s, ImuFactor(pim, 0, 1).information(), rtol=1e-6, atol=1e-6)
    held = cache[id(a)][2]
    pack_imu([a, b], cache)
    assert cache[id(a)][2] is held  # not recomputed
    a.reintegrate(ImuBias(gyro=[0.0, 0.0, 0.0], accel=[0.0, 0.0, 0.0]))
    b.integrate_batch(np.full(5, 0.005), np.zeros((5, 3)), np.tile([0.0, 0.0, 9.81], (5, 1)))
    S = pack_imu([b, a], cache)[8]
    assert cache[id(a)][2] is not held and set(cache) == {id(a), id(b)}
    for pim, s in zip((b, a), S):
        np.testing.assert_allclose(s.T @ s, ImuFactor(pim, 0, 1).information(), rtol=1e-6, atol=1e-6)
    pack_imu([b], cache)
    assert set(cache) == {id(b)}  # entries of dropped preintegrations go
