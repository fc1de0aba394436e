"""Sliding-window Levenberg-Marquardt: convergence to the truth on noise-free data from
perturbed states, agreement with the vectorised NumPy path, diagnostics, and estimator
consistency (average NEES within the 95% chi-square band) on noisy data."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from vio.backend.problem import make_window_problem, perturb_states
from vio.backend.reference import NumpySolver
from vio.backend.solver import SolverConfig, information_matrix, solve, solve_arrays
from vio.backend.window import SlidingWindow, WindowConfig
from vio.factors.prior import LinearPrior
from vio.factors.reprojection import RobustLoss
from vio.state import local


@pytest.fixture(scope="module")
def noise_free():
    return make_window_problem(n_keyframes=10, n_landmarks=150, obs_per_landmark=5, seed=1)


@pytest.mark.parametrize("param", ["inverse_depth", "world_point"])
def test_converges_to_truth_from_perturbed_states(noise_free, param):
    start = perturb_states(noise_free.states_true, 2, pos_m=0.3, rot_deg=5.0, vel_mps=0.2, gyro_bias=0.01,
                           accel_bias=0.1)
    window = SlidingWindow.from_problem(noise_free, states=start, gauge_state=noise_free.states_true[0],
                                        config=WindowConfig(landmark_param=param))
    d = solve(window)
    assert d.converged and d.iterations <= 10
    assert d.final_cost < 1e-6 * d.initial_cost
    errors = np.array([local(true, est) for true, est in zip(noise_free.states_true, window.states)])
    assert np.linalg.norm(errors[:, 3:6], axis=1).max() < 1e-3  # [m]
    assert math.degrees(np.linalg.norm(errors[:, 0:3], axis=1).max()) < 0.01  # [deg]
    points = window.landmark_points()
    assert np.abs(points - noise_free.landmarks_true[window.landmark_ids]).max() < 0.02  # [m]


def test_numba_solver_matches_numpy_path(noise_free):
    problem = make_window_problem(n_keyframes=6, n_landmarks=50, obs_per_landmark=4, pixel_sigma=0.5,
                                  imu_noise_scale=1.0, seed=4)
    start = perturb_states(problem.states_true, 4, pos_m=0.1, rot_deg=2.0)
    for param in ("inverse_depth", "world_point"):
        window = SlidingWindow.from_problem(problem, states=start,
                                            config=WindowConfig(landmark_param=param, pixel_sigma=0.5))
        config = SolverConfig(max_iterations=4)
        fast, d = solve_arrays(window.pack(), config)
        slow, iterations, cost = NumpySolver(window, config).solve()
        assert d.iterations == iterations and d.final_cost == pytest.approx(cost, rel=1e-9)
        np.testing.assert_allclose(fast.p, slow.p, atol=1e-9)
        np.testing.assert_allclose(fast.R, slow.R, atol=1e-9)
        np.testing.assert_allclose(fast.lm, slow.lm, atol=1e-7)


def test_diagnostics(noise_free):
    window = SlidingWindow.from_problem(noise_free, states=perturb_states(noise_free.states_true, 3))
    d = solve(window, SolverConfig(max_iterations=4))
    assert d.iterations == 4 and len(d.step_norms) == 4 and d.final_cost < d.initial_cost
    assert d.n_factors == {"reprojection": len(noise_free.observations), "imu": 9, "prior": 0, "gauge": 1}
    assert 10 <= d.h_blocks_stored < 55 and d.h_blocks_dense == 100
    wl = d.workload
    assert all(wl.total_ops(k) > 0 for k in ("mul", "add", "div", "sqrt", "compare"))
    assert {"H_blocks", "gradient", "landmark_blocks", "cholesky", "prior"} <= set(wl.buffers)
    assert wl.buffers["H_blocks"].peak_bytes == d.h_blocks_stored * 15 * 15 * 8


def test_solver_config_validation():
    with pytest.raises(ValueError):
        SolverConfig(max_iterations=0)
    with pytest.raises(ValueError):
        SolverConfig(lambda_up=1.0)
    with pytest.raises(ValueError):
        WindowConfig(landmark_param="xyz")


def test_average_nees_within_chi_square_band():
    """50 noisy 5-keyframe windows, world-point landmarks, Gaussian loss. The gauge prior
    fixes 4 directions at the truth, so each NEES has 15 N - 4 degrees of freedom; a
    prior on velocity and biases of the first keyframe, drawn around the truth, makes the
    short window well posed. P = H^-1 of the final reduced (gauge-fixed) system."""
    n_kf, trials = 5, 50
    sigma = np.r_[0.05, 0.05, 0.05, 2e-3, 2e-3, 2e-3, 0.05, 0.05, 0.05]  # v [m/s], bg [rad/s], ba [m/s^2]
    J = np.zeros((9, 15))
    J[:, 6:] = np.diag(1.0 / sigma)
    nees = []
    for trial in range(trials):
        problem = make_window_problem(n_keyframes=n_kf, n_landmarks=40, obs_per_landmark=3, pixel_sigma=1.0,
                                      imu_noise_scale=1.0, seed=100 + trial)
        config = WindowConfig(capacity=n_kf, landmark_param="world_point", pixel_sigma=1.0, loss=RobustLoss("none"))
        window = SlidingWindow.from_problem(problem, gauge_state=problem.states_true[0], config=config)
        noise = np.random.default_rng(trial).standard_normal(9)
        window.priors.append(LinearPrior([window.keyframe_ids[0]], [problem.states_true[0]], J, noise))
        solve(window)
        H = information_matrix(window).to_dense()
        e = np.concatenate([local(true, est) for true, est in zip(problem.states_true, window.states)])
        nees.append(e @ H @ e)
    dof = 15 * n_kf - 4
    low, high = chi2.ppf([0.025, 0.975], trials * dof) / trials
    assert low < np.mean(nees) < high, (np.mean(nees), low, high)
