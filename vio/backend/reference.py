"""The solver's algorithm in vectorised NumPy/SciPy, without the numba kernels.

Same cost, linearisation, Marquardt damping, landmark elimination, factorisation and
step control as :func:`vio.backend.solver.solve_arrays`, but the reprojection factors are
evaluated for all observations at once with array expressions, H is assembled dense with
``np.add.at``, the Schur complement is a dense matrix product and the reduced system is
solved by ``scipy.linalg.cho_factor``. The few IMU and prior factors go through their
factor classes. Used as the speed reference of ``benchmarks/backend_window.py`` and as
an independent check of the kernels in the tests.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.spatial.transform import Rotation

from ..factors.imu import ImuFactor
from ..factors.prior import GaugePrior, LinearPrior
from ..state import KeyframeState
from . import _kernels as _k
from .solver import SolverConfig
from .window import SlidingWindow, WindowArrays


def _skew(v):
    out = np.zeros(v.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


def visual_terms(a: WindowArrays, want_jac: bool):
    """Whitened residuals (M,4), Jacobians (M,4,15) [pose j, pose anchor, landmark], validity (M,)."""
    inv_depth = a.param == _k.INVERSE_DEPTH
    R_j, p_j = a.R[a.obs_kf], a.p[a.obs_kf]
    m_obs = len(a.obs_kf)
    G = np.zeros((m_obs, 3, 15))
    valid = np.ones(m_obs, dtype=bool)
    if inv_depth:
        anchor = a.anchor[a.obs_lm]
        same = anchor == a.obs_kf
        rho = a.lm[a.obs_lm, 0]
        valid &= rho > 0
        inv = 1.0 / np.where(rho > 0, rho, 1.0)
        mb = a.bearing[a.obs_lm] @ a.R_bc[0].T
        m = mb * inv[:, None] + a.t_bc[0]
        R_a, p_a = a.R[anchor], a.p[anchor]
        p_w = np.einsum("mij,mj->mi", R_a, m) + p_a
        q = np.where(same[:, None], m, np.einsum("mji,mj->mi", R_j, p_w - p_j))
        A = np.einsum("mji,mjk->mik", R_j, R_a)
        G[:, :, 6:9] = -A @ _skew(m)
        G[:, :, 9:12] = np.transpose(R_j, (0, 2, 1))
        G[:, :, 12] = -np.einsum("mij,mj->mi", A, mb) * (inv * inv)[:, None]
        G[same, :, 6:12] = 0.0
        G[same, :, 12] = -mb[same] * (inv[same] ** 2)[:, None]
        pose_j = ~same
    else:
        q = np.einsum("mji,mj->mi", R_j, a.lm[a.obs_lm] - p_j)
        G[:, :, 12:15] = np.transpose(R_j, (0, 2, 1))
        pose_j = np.ones(m_obs, dtype=bool)
    G[:, :, 0:3] = _skew(q)
    G[:, :, 3:6] = -np.transpose(R_j, (0, 2, 1))
    G[~pose_j, :, 0:6] = 0.0
    r = np.empty((m_obs, 4))
    J = np.zeros((m_obs, 4, 15))
    for cam in range(2):
        pc = (q - a.t_bc[cam]) @ a.R_bc[cam]
        z = pc[:, 2]
        valid &= z >= _k.MIN_DEPTH
        z = np.where(valid, z, 1.0)
        xn, yn = pc[:, 0] / z, pc[:, 1] / z
        fx, fy, cx, cy = a.K[cam]
        r[:, 2 * cam] = fx * xn + cx - a.obs_uv[:, 2 * cam]
        r[:, 2 * cam + 1] = fy * yn + cy - a.obs_uv[:, 2 * cam + 1]
        if want_jac:
            P = np.zeros((m_obs, 2, 3))
            P[:, 0, 0], P[:, 0, 2] = fx / z, -fx * xn / z
            P[:, 1, 1], P[:, 1, 2] = fy / z, -fy * yn / z
            J[:, 2 * cam:2 * cam + 2] = P @ a.R_bc[cam].T @ G
    return r * a.inv_sigma, J * a.inv_sigma, valid


def _robust(s, loss):
    if loss.kind == "huber":
        k = loss.scale
        root = np.sqrt(s)
        inlier = s <= k * k
        return np.where(inlier, s, 2 * k * root - k * k), np.where(inlier, 1.0, k / np.maximum(root, 1e-300))
    if loss.kind == "cauchy":
        k2 = loss.scale ** 2
        return k2 * np.log1p(s / k2), 1.0 / (1.0 + s / k2)
    return s, np.ones_like(s)


def _states(a: WindowArrays) -> list[KeyframeState]:
    return [KeyframeState(a.R[k], a.p[k], a.v[k], a.bg[k], a.ba[k]) for k in range(a.n_keyframes)]


def _smooth_factors(a: WindowArrays, pims, priors: list[LinearPrior], gauge: GaugePrior | None):
    """(whitened residual, [(keyframe position, Jacobian)]) of the IMU, prior and gauge factors."""
    states = _states(a)
    out = []
    for k, pim in enumerate(pims):
        r, Ji, Jj = ImuFactor(pim, k, k + 1).whitened(states[k], states[k + 1])
        out.append((r, [(k, Ji), (k + 1, Jj)]))
    for prior, (kf, *_) in zip(priors, a.priors):
        sub = [states[k] for k in kf]
        out.append((prior.residual(sub), list(zip(kf, prior.jacobians(sub)))))
    if gauge is not None:
        state = states[a.gauge[0]]
        out.append((gauge.residual(state), [(a.gauge[0], gauge.jacobians(state))]))
    return out


class NumpySolver:
    """:func:`vio.backend.solver.solve` in vectorised NumPy (see module docstring)."""

    def __init__(self, window: SlidingWindow, config: SolverConfig = SolverConfig()):
        self.window, self.config = window, config
        self.pims = window.pims
        a = window.pack()
        # priors in window order (as packed), rebuilt as factor objects
        self.priors = [LinearPrior(list(range(len(kf))), [KeyframeState(R0[i], x0[i, :3], x0[i, 3:6], x0[i, 6:9],
                                                                        x0[i, 9:]) for i in range(len(kf))], J, r0)
                       for kf, R0, x0, J, r0 in a.priors]
        self.gauge = None if a.gauge is None else GaugePrior(a.gauge[0], a.gauge[2], a.gauge[1],
                                                             1.0 / a.gauge[3], 1.0 / a.gauge[4])
        self.a = a

    def _cost(self, a: WindowArrays):
        r, _, valid = visual_terms(a, False)
        rho, _ = _robust((r[valid] ** 2).sum(1), a.loss)
        cost = 0.5 * rho.sum()
        for res, _ in _smooth_factors(a, self.pims, self.priors, self.gauge):
            cost += 0.5 * res @ res
        return cost, int((~valid).sum())

    def _linearize(self, a: WindowArrays):
        n, d = 15 * a.n_keyframes, a.landmark_dim
        L = len(a.lm)
        H, b = np.zeros((n, n)), np.zeros(n)
        r, J, valid = visual_terms(a, True)
        s = (r ** 2).sum(1)
        rho, w = _robust(s, a.loss)
        w = np.where(valid, w, 0.0)
        cost = 0.5 * rho[valid].sum()
        anchor = a.anchor[a.obs_lm] if a.param == _k.INVERSE_DEPTH else a.obs_kf
        cols = np.concatenate([15 * a.obs_kf[:, None] + np.arange(6), 15 * anchor[:, None] + np.arange(6)], axis=1)
        Jp, Jl = J[:, :, :12], J[:, :, 12:12 + d]
        wJp = Jp * w[:, None, None]
        np.add.at(H, (cols[:, :, None], cols[:, None, :]), np.einsum("mki,mkj->mij", wJp, Jp))
        np.add.at(b, cols, -np.einsum("mki,mk->mi", wJp, r))
        lm_cols = d * a.obs_lm[:, None] + np.arange(d)
        Hxl = np.zeros((n, L * d))
        np.add.at(Hxl, (cols[:, :, None], lm_cols[:, None, :]), np.einsum("mki,mkj->mij", wJp, Jl))
        Hll = np.zeros((L, d, d))
        np.add.at(Hll, a.obs_lm, np.einsum("mki,mkj->mij", Jl * w[:, None, None], Jl))
        bl = np.zeros((L, d))
        np.add.at(bl, a.obs_lm, -np.einsum("mki,mk->mi", Jl * w[:, None, None], r))
        for res, blocks in _smooth_factors(a, self.pims, self.priors, self.gauge):
            cost += 0.5 * res @ res
            for i, Ji in blocks:
                b[15 * i:15 * i + 15] -= Ji.T @ res
                for j, Jj in blocks:
                    H[15 * i:15 * i + 15, 15 * j:15 * j + 15] += Ji.T @ Jj
        return H, b, Hxl, Hll, bl, cost, int((~valid).sum())

    def _step(self, lin, lam):
        H, b, Hxl, Hll, bl, *_ = lin
        Hd = H + lam * np.diag(np.maximum(np.diag(H), _k.MIN_DIAG))
        Hll_d = Hll + lam * np.maximum(np.diagonal(Hll, axis1=1, axis2=2), _k.MIN_DIAG)[:, :, None] * np.eye(Hll.shape[1])
        ok = np.linalg.det(Hll_d) > 0
        Hll_inv = np.zeros_like(Hll_d)
        Hll_inv[ok] = np.linalg.inv(Hll_d[ok])
        L, d = Hll.shape[:2]
        Y = np.einsum("nlk,lkj->nlj", Hxl.reshape(-1, L, d), Hll_inv).reshape(-1, L * d)
        S, bs = Hd - Y @ Hxl.T, b - Y @ bl.reshape(-1)
        try:
            dx = cho_solve(cho_factor(S, lower=True), bs)
        except LinAlgError:
            return None
        dl = np.einsum("lij,lj->li", Hll_inv, bl - (Hxl.T @ dx).reshape(L, d))
        return dx.reshape(-1, 15), dl

    @staticmethod
    def _apply(a: WindowArrays, dx, dl) -> WindowArrays:
        trial = a.copy_estimate()
        trial.R = a.R @ Rotation.from_rotvec(dx[:, 0:3]).as_matrix()
        trial.p += dx[:, 3:6]
        trial.v += dx[:, 6:9]
        trial.bg += dx[:, 9:12]
        trial.ba += dx[:, 12:15]
        trial.lm[:, :dl.shape[1]] += dl
        return trial

    def solve(self) -> tuple[WindowArrays, int, float]:
        """(solved arrays, iterations, final cost) with the same step control as the solver."""
        config, a = self.config, self.a
        lin = self._linearize(a)
        cost_now, invalid_now = lin[5], lin[6]
        lam, iterations = config.initial_lambda, 1
        while True:
            accepted = False
            for _ in range(config.max_retries + 1):
                step = self._step(lin, lam)
                if step is not None:
                    trial = self._apply(a, *step)
                    cost, n_invalid = self._cost(trial)
                    if cost <= cost_now and n_invalid <= invalid_now:
                        accepted = True
                        break
                lam = max(lam, config.min_lambda) * config.lambda_up
            if not accepted:
                break
            decrease = (cost_now - cost) / max(cost_now, 1e-300)
            a, cost_now, invalid_now = trial, cost, n_invalid
            lam = max(lam / config.lambda_down, config.min_lambda)
            if (decrease < config.function_tolerance or np.linalg.norm(step[0]) < config.step_tolerance
                    or iterations >= config.max_iterations):
                break
            lin = self._linearize(a)
            iterations += 1
        return a, iterations, cost_now
