"""State, linear (marginalisation) and gauge priors: residuals and Jacobians against
central finite differences at random states, and the (H, b) <-> (J, r0) conversion."""
from __future__ import annotations

import numpy as np
import pytest
from manifold_fd import assert_jacobian, numeric_state_jacobian, random_state

from vio.factors.prior import GaugePrior, LinearPrior, PriorFactor
from vio.lie import so3_exp, so3_log
from vio.state import KeyframeState, local, retract


@pytest.mark.parametrize("seed", range(4))
def test_state_prior(seed):
    rng = np.random.default_rng(seed)
    mean = random_state(rng)
    state = retract(mean, rng.normal(size=15) * 0.3)
    A = rng.normal(size=(15, 15))
    prior = PriorFactor(2, mean, A @ A.T + np.eye(15))
    np.testing.assert_allclose(prior.residual(state), local(mean, state), atol=1e-12)
    assert_jacobian(prior.jacobians(state), numeric_state_jacobian(prior.residual, state))
    whitened = prior.as_linear_prior()
    r = whitened.residual([state])
    assert r @ r == pytest.approx(local(mean, state) @ prior.information() @ local(mean, state))


@pytest.mark.parametrize("seed", range(4))
def test_linear_prior(seed):
    rng = np.random.default_rng(seed)
    x0 = [random_state(rng) for _ in range(3)]
    states = [retract(s, rng.normal(size=15) * 0.2) for s in x0]
    prior = LinearPrior([4, 7, 9], x0, rng.normal(size=(20, 45)), rng.normal(size=20))
    delta = np.concatenate([local(a, b) for a, b in zip(x0, states)])
    np.testing.assert_allclose(prior.residual(states), prior.J @ delta + prior.r0, atol=1e-12)
    jacobians = prior.jacobians(states)
    for i in range(3):
        def fun(s, i=i):
            return prior.residual(states[:i] + [s] + states[i + 1:])
        assert_jacobian(jacobians[i], numeric_state_jacobian(fun, states[i]))


def test_linear_prior_from_information_round_trip():
    rng = np.random.default_rng(3)
    x0 = [random_state(rng) for _ in range(2)]
    A = rng.normal(size=(30, 30))
    H, b = A @ A.T, rng.normal(size=30)
    prior = LinearPrior.from_information([0, 1], x0, H, b)
    np.testing.assert_allclose(prior.information, H, atol=1e-9 * np.abs(H).max())
    np.testing.assert_allclose(prior.vector, b, atol=1e-9)
    np.testing.assert_allclose(prior.residual(x0), prior.r0, atol=1e-12)


def test_linear_prior_marginalize_matches_schur():
    rng = np.random.default_rng(4)
    x0 = [random_state(rng) for _ in range(3)]
    A = rng.normal(size=(45, 45))
    H, b = A @ A.T, rng.normal(size=45)
    prior = LinearPrior.from_information([0, 1, 2], x0, H, b).marginalize(1)
    keep = np.r_[0:15, 30:45]
    S = H[np.ix_(keep, keep)] - H[np.ix_(keep, range(15, 30))] @ np.linalg.solve(H[15:30, 15:30], H[15:30][:, keep])
    np.testing.assert_allclose(prior.information, S, rtol=1e-8, atol=1e-8 * np.abs(S).max())
    assert prior.keyframes == [0, 2]


@pytest.mark.parametrize("seed", range(4))
def test_gauge_prior(seed):
    rng = np.random.default_rng(seed)
    ref = random_state(rng)
    state = retract(ref, rng.normal(size=15) * 0.3)
    gauge = GaugePrior.at(0, ref, sigma_pos_m=0.1, sigma_yaw_rad=0.01)
    r = gauge.residual(state)
    np.testing.assert_allclose(r[:3], (state.p - ref.p) / 0.1)
    assert r[3] == pytest.approx(so3_log(state.R @ ref.R.T)[2] / 0.01)
    assert_jacobian(gauge.jacobians(state), numeric_state_jacobian(gauge.residual, state))
    # a rotation about world z shifts the residual, a pure pitch/roll in the world keeps it zero at ref
    yawed = KeyframeState(so3_exp([0, 0, 0.2]) @ ref.R, ref.p, ref.v)
    assert gauge.residual(yawed)[3] == pytest.approx(20.0)
