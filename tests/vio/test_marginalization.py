"""Marginalisation of the oldest keyframe and window management.

The key check: marginalising the oldest keyframe of an (N+1)-keyframe window must leave
the kept states with the same information matrix and vector (at one linearisation point)
as eliminating it, with all landmarks, from the full problem (slow dense reference)."""
from __future__ import annotations

import numpy as np
import pytest
from backend_reference import dense_system, reduced_system

from vio.backend.problem import make_window_problem, perturb_states
from vio.backend.solver import SolverConfig, solve
from vio.backend.window import SlidingWindow, WindowConfig
from vio.factors.reprojection import RobustLoss


def reference_after_elimination(window):
    """Keyframe 0 and all landmarks eliminated from the window's dense normal equations."""
    n_state = 15 * len(window)
    H, b, _ = dense_system(window, window.config.loss)
    S, bs = reduced_system(H, b, n_state)
    S_kk, S_km, S_mm = S[15:, 15:], S[15:, :15], S[:15, :15]
    return S_kk - S_km @ np.linalg.solve(S_mm, S_km.T), bs[15:] - S_km @ np.linalg.solve(S_mm, bs[:15])


def window_for(param, loss, seed=3, n=6):
    problem = make_window_problem(n_keyframes=n, n_landmarks=40, obs_per_landmark=3, pixel_sigma=0.5,
                                  imu_noise_scale=1.0, seed=seed)
    states = perturb_states(problem.states_true, seed, pos_m=0.02, rot_deg=0.5, vel_mps=0.05)
    config = WindowConfig(capacity=n, landmark_param=param, pixel_sigma=0.5, loss=loss)
    return SlidingWindow.from_problem(problem, states=states, config=config)


def assert_same_information(H, b, H_ref, b_ref):
    scale_H = np.abs(H_ref).max()
    assert np.abs(H - H_ref).max() < 1e-6 * scale_H
    assert np.abs(b - b_ref).max() < 1e-6 * max(np.abs(b_ref).max(), 1.0)


@pytest.mark.parametrize("param,loss", [("inverse_depth", RobustLoss("huber", 1.0)),
                                        ("world_point", RobustLoss("none"))])
def test_marginalisation_matches_full_elimination(param, loss):
    window = window_for(param, loss)
    H_ref, b_ref = reference_after_elimination(window)
    window.marginalize_oldest()
    assert len(window) == 5 and window.gauge is None and len(window.priors) == 1
    H, b, _ = dense_system(window, loss)
    S, bs = reduced_system(H, b, 15 * len(window))
    assert_same_information(S, bs, H_ref, b_ref)


def test_second_marginalisation_carries_the_first_prior():
    window = window_for("inverse_depth", RobustLoss("huber", 1.0), n=7)
    window.marginalize_oldest()
    H_ref, b_ref = reference_after_elimination(window)
    window.marginalize_oldest()
    assert len(window.priors) == 1 and len(window) == 5
    H, b, _ = dense_system(window, window.config.loss)
    assert_same_information(*reduced_system(H, b, 15 * len(window)), H_ref, b_ref)


def test_sliding_window_keeps_capacity_and_solves():
    problem = make_window_problem(n_keyframes=8, n_landmarks=80, obs_per_landmark=3, seed=5)
    pims = problem.preintegrations()
    window = SlidingWindow(problem.rig, WindowConfig(capacity=5))
    obs = problem.observations
    for k, state in enumerate(problem.states_true):
        sel = obs.keyframe == k
        window.add_keyframe(problem.timestamps_ns[k], state, pims[k - 1] if k else None, obs.landmark[sel],
                            obs.uv_left[sel], obs.uv_right[sel])
        if len(window) > 1:
            solve(window, SolverConfig(max_iterations=3))
    assert len(window) == 5 and window.keyframe_ids == [3, 4, 5, 6, 7]
    assert window.gauge is None and len(window.priors) == 1
    assert set(window.anchor_ids) <= set(window.keyframe_ids)
    for got, true in zip(window.states, problem.states_true[3:]):
        assert np.linalg.norm(got.p - true.p) < 1e-3


def test_drop_non_keyframe_merges_imu():
    problem = make_window_problem(n_keyframes=5, n_landmarks=40, obs_per_landmark=3, seed=6)
    window = SlidingWindow.from_problem(problem)
    merged_dt = window.pims[2].dt_s + window.pims[3].dt_s
    dropped = window.keyframe_ids[3]
    anchored = window.landmark_ids[window.anchor_ids == dropped]
    window.drop_non_keyframe()
    assert len(window) == 4 and len(window.pims) == 3 and dropped not in window.keyframe_ids
    assert window.pims[2].dt_s == pytest.approx(merged_dt)
    assert dropped not in set(window.obs_keyframe_ids) and dropped not in set(window.anchor_ids)
    # re-anchored landmarks keep their world point
    kept = np.isin(window.landmark_ids, anchored)
    np.testing.assert_allclose(window.landmark_points()[kept], problem.landmarks_true[window.landmark_ids[kept]],
                               atol=1e-6)
    diagnostics = solve(window)
    assert diagnostics.final_cost < 1.0
    for got, k in zip(window.states, [0, 1, 2, 4]):
        assert np.linalg.norm(got.p - problem.states_true[k].p) < 1e-3


def test_drop_non_keyframe_inside_prior():
    window = window_for("inverse_depth", RobustLoss("huber", 1.0), n=6)
    window.marginalize_oldest()
    target = window.keyframe_ids[1]
    assert target in window.priors[0].keyframes
    window.drop_non_keyframe(1)
    assert all(target not in p.keyframes for p in window.priors)
    solve(window)
