"""Back-end kernels against slow references: envelope Cholesky and triangular solves vs
NumPy/SciPy (with exact operation counts), landmark structure, block-sparse H, landmark
elimination and back-substitution vs dense assembly from the factor classes, and the
batched IMU kernel vs :class:`vio.factors.ImuFactor`."""
from __future__ import annotations

import numpy as np
import pytest
from backend_reference import dense_system, reduced_system

from accel_model.workload import OP_ADD, OP_CMP, OP_DIV, OP_MUL, OP_SIN, OP_SQRT, op_counter
from vio.backend import _kernels as _k
from vio.backend.normal_equations import BlockPattern, KernelCounters, NormalEquations, cholesky, cholesky_solve
from vio.backend.problem import make_window_problem, perturb_states
from vio.backend.schur import LandmarkBlocks, LandmarkStructure, back_substitute, eliminate_landmarks
from vio.backend.solver import Structure, evaluate
from vio.backend.window import SlidingWindow, WindowConfig
from vio.factors.imu import ImuFactor
from vio.factors.reprojection import RobustLoss


def spd(n, rng, band=None):
    A = rng.normal(size=(n, n))
    if band is not None:
        A = np.triu(np.tril(A, band), -band)
    return A @ A.T + n * np.eye(n)


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_dense_cholesky_matches_numpy_with_exact_op_counts(n):
    A = spd(n, np.random.default_rng(n))
    ops = op_counter()
    L = cholesky(A, np.zeros(n, dtype=np.int64), ops)
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-10, atol=1e-12)
    # loop of cholesky_envelope: row i, column j < i does j multiply-adds and a division,
    # the diagonal i multiply-adds and a square root: sum_i i(i+1)/2 = (n-1) n (n+1) / 6
    assert ops[OP_MUL] == ops[OP_ADD] == (n - 1) * n * (n + 1) // 6
    assert ops[OP_DIV] == n * (n - 1) // 2 and ops[OP_SQRT] == n and ops[OP_CMP] == n
    b = np.arange(n, dtype=float)
    ops = op_counter()
    x = cholesky_solve(L, b, np.zeros(n, dtype=np.int64), ops)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-9, atol=1e-12)
    assert ops[OP_MUL] == ops[OP_ADD] == n * (n - 1) and ops[OP_DIV] == 2 * n


def test_envelope_cholesky_of_a_band_matrix():
    n = 30
    A = spd(n, np.random.default_rng(1), band=1)  # pentadiagonal
    first = np.maximum(np.arange(n) - 2, 0)
    ops = op_counter()
    L = cholesky(A, first, ops)
    np.testing.assert_allclose(L, np.linalg.cholesky(A), rtol=1e-10, atol=1e-12)
    # row 1: column 0 (0 products), diagonal 1; row i >= 2: columns i-2 (0 products) and
    # i-1 (1 product), diagonal 2 products
    assert ops[OP_MUL] == 1 + 3 * (n - 2) and ops[OP_DIV] == 1 + 2 * (n - 2)
    b = np.ones(n)
    np.testing.assert_allclose(cholesky_solve(L, b, first), np.linalg.solve(A, b), rtol=1e-9)


def test_cholesky_rejects_indefinite_matrices():
    with pytest.raises(np.linalg.LinAlgError):
        cholesky(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError):
        cholesky(np.ones((2, 3)))


def test_block_pattern_and_dense_round_trip():
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 2] = mask[1, 3] = True
    pattern = BlockPattern.from_mask(mask)
    assert pattern.n_blocks == 6 and pattern.dense_blocks == 16
    assert pattern.blk_id[2, 0] == -1 and pattern.blk_id[0, 2] >= 0
    np.testing.assert_array_equal(pattern.first[::15], [0, 15, 0, 15])
    rng = np.random.default_rng(2)
    neq = NormalEquations.zeros(pattern)
    neq.blocks[:] = rng.normal(size=neq.blocks.shape)
    for k in pattern.diag:
        neq.blocks[k] = neq.blocks[k] @ neq.blocks[k].T + 60 * np.eye(15)
    H = neq.to_dense()
    np.testing.assert_array_equal(H, H.T)
    neq.rhs[:] = rng.normal(size=neq.rhs.shape)
    if np.all(np.linalg.eigvalsh(H) > 0):
        np.testing.assert_allclose(neq.solve().reshape(-1), np.linalg.solve(H, neq.rhs.reshape(-1)), rtol=1e-8)


def test_landmark_structure():
    # landmark 0: anchor 0, seen in 0, 2; landmark 1: anchor 1, seen in 1, 2, 3
    obs_kf, obs_lm, anchor = np.array([2, 0, 1, 2, 3]), np.array([0, 0, 1, 1, 1]), np.array([0, 1])
    st = LandmarkStructure.build(obs_kf, obs_lm, anchor, _k.INVERSE_DEPTH, 4)
    np.testing.assert_array_equal(st.lm_ptr, [0, 2, 5])
    assert sorted(st.lk_kf[st.lk_ptr[0]:st.lk_ptr[1]]) == [0, 2]
    assert sorted(st.lk_kf[st.lk_ptr[1]:st.lk_ptr[2]]) == [1, 2, 3]
    assert st.slot_j[1] == -1 and st.slot_a[1] == -1  # observation in the anchor keyframe
    assert st.mask[1, 3] and st.mask[0, 2] and not st.mask[0, 1]
    world = LandmarkStructure.build(obs_kf, obs_lm, anchor, _k.WORLD_POINT, 4)
    assert np.all(world.slot_j >= 0) and np.all(world.slot_a == -1)


def window(param, seed=0, loss=RobustLoss("huber", 1.0)):
    problem = make_window_problem(n_keyframes=5, n_landmarks=30, obs_per_landmark=3, pixel_sigma=1.0,
                                  imu_noise_scale=1.0, seed=seed)
    states = perturb_states(problem.states_true, seed, pos_m=0.05, rot_deg=1.0, vel_mps=0.1)
    return SlidingWindow.from_problem(problem, states=states,
                                      config=WindowConfig(capacity=5, landmark_param=param, loss=loss))


@pytest.mark.parametrize("param", ["inverse_depth", "world_point"])
def test_block_sparse_normal_equations_and_schur_match_dense_reference(param):
    w = window(param)
    H_ref, b_ref, cost_ref = dense_system(w, w.config.loss)
    n = 15 * len(w)
    a = w.pack()
    st = Structure.of(a)
    counters = KernelCounters()
    lin = evaluate(a, st, counters)
    d = a.landmark_dim  # each landmark's finished H_ll, b_l and W slots are stored once
    assert counters.traffic[_k.BUF_LM, _k.WRITE] == len(a.lm) * (d * d + d) + st.landmarks.lk_ptr[-1] * 6 * d
    scale = np.abs(H_ref).max()
    assert lin.cost == pytest.approx(cost_ref, rel=1e-12)
    assert np.abs(lin.neq.to_dense() - H_ref[:n, :n]).max() < 1e-12 * scale
    np.testing.assert_allclose(lin.neq.rhs.reshape(-1), b_ref[:n], rtol=1e-9, atol=1e-9 * np.abs(b_ref).max())
    S_ref, bs_ref = reduced_system(H_ref, b_ref, n)
    reduced, Hll_inv = eliminate_landmarks(lin.neq, lin.landmarks, st.landmarks, a.param, 0.0, counters)
    assert np.abs(reduced.to_dense() - S_ref).max() < 1e-9 * scale
    np.testing.assert_allclose(reduced.rhs.reshape(-1), bs_ref, rtol=1e-7, atol=1e-7 * np.abs(bs_ref).max())
    dx = reduced.solve(counters)
    dx_ref = np.linalg.solve(S_ref, bs_ref)
    np.testing.assert_allclose(dx.reshape(-1), dx_ref, rtol=1e-5, atol=1e-8 * np.abs(dx_ref).max())
    dl = back_substitute(Hll_inv, lin.landmarks, st.landmarks, a.param, dx, counters)
    full = np.linalg.solve(H_ref, b_ref)
    d = a.landmark_dim
    np.testing.assert_allclose(dl[:, :d].reshape(-1), full[n:], rtol=1e-5, atol=1e-8 * np.abs(full[n:]).max())
    assert np.all(counters.ops[[OP_MUL, OP_ADD, OP_DIV, OP_SQRT, OP_CMP, OP_SIN]] > 0)
    assert np.all(counters.traffic[:, 0] > 0)


def test_schur_op_counts_by_hand():
    # one inverse-depth landmark whose pose enters through 2 keyframe slots
    pattern = BlockPattern.from_mask(np.ones((2, 2), dtype=bool))
    neq = NormalEquations.zeros(pattern)
    lm = LandmarkBlocks.zeros(1, 2)
    lm.Hll[0, 0, 0], lm.W[:, :, 0] = 2.0, 1.0
    st = LandmarkStructure(np.array([0, 0]), np.zeros(0, np.int64), np.array([0, 2]), np.array([0, 1]),
                           np.zeros(0, np.int64), np.zeros(0, np.int64), np.ones((2, 2), bool))
    counters = KernelCounters()
    reduced, _ = eliminate_landmarks(neq, lm, st, _k.INVERSE_DEPTH, 0.0, counters)
    # damping 1 mul; per slot T = W Hinv and T b_l: 12 mul; 3 slot pairs x 36 products
    assert counters.ops[OP_MUL] == 1 + 2 * 12 + 3 * 36
    assert counters.ops[OP_DIV] == 1 and counters.ops[OP_CMP] == 2
    np.testing.assert_allclose(reduced.to_dense()[:6, 15:21], -0.5 * np.ones((6, 6)))
    # the store is read once (H_ll, b_l, both W slots) and receives H_ll^-1; the products
    # read the staged copy: per slot W_s and b_l (7 words), per slot pair W_t (6 words)
    t = counters.traffic
    assert (t[_k.BUF_LM, _k.READ], t[_k.BUF_LM, _k.WRITE]) == (1 + 1 + 2 * 6, 1)
    assert (t[_k.BUF_LMLOC, _k.WRITE], t[_k.BUF_LMLOC, _k.READ]) == (2 * 6 + 1, 2 * 7 + 3 * 6)


def test_imu_kernel_matches_imu_factor():
    w = window("inverse_depth", seed=3)
    pairs, dR, dv, dp, dt, Jb, bg_lin, ba_lin, sqrt_info, gravity = w.pack().imu
    for k, pim in enumerate(w.pims):
        si, sj = w.states[k], w.states[k + 1]
        r, Ji, Jj = np.empty(15), np.zeros((15, 15)), np.zeros((15, 15))
        _k.imu_factor(si.R, si.p, si.v, si.bg, si.ba, sj.R, sj.p, sj.v, sj.bg, sj.ba, dR[k], dv[k], dp[k], dt[k],
                      Jb[k], bg_lin[k], ba_lin[k], gravity, True, r, Ji, Jj, op_counter())
        r_ref, Ji_ref, Jj_ref = ImuFactor(pim, k, k + 1).linearize(si, sj)
        np.testing.assert_allclose(r, r_ref, atol=1e-12)
        np.testing.assert_allclose(Ji, Ji_ref, atol=1e-10)
        np.testing.assert_allclose(Jj, Jj_ref, atol=1e-10)
        rw = ImuFactor(pim, k, k + 1).whitened(si, sj)[0]
        np.testing.assert_allclose(sqrt_info[k] @ r, rw, rtol=1e-9, atol=1e-9)
