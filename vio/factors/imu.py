"""IMU factor between keyframes i and j: preintegration residual plus bias random walk.

Residual (15), unwhitened, with db = b_i - b_bar (b_bar: the preintegration's
linearisation bias) and T = pim.dt_s (Forster et al., T-RO 2017, Sec. V-D, eq. 45 with
the first-order bias correction of eq. 44; world frame, gravity g):

    r_R  = Log( (dR Exp(J_R_g db_g))^T R_i^T R_j )                             [rad]
    r_v  = R_i^T (v_j - v_i - g T) - (dv + J_v_g db_g + J_v_a db_a)            [m/s]
    r_p  = R_i^T (p_j - p_i - v_i T - g T^2 / 2) - (dp + J_p_g db_g + J_p_a db_a) [m]
    r_bg = b_g,j - b_g,i [rad/s],   r_ba = b_a,j - b_a,i [m/s^2]

Covariance: block-diag(pim.covariance, sigma_gw^2 T I, sigma_aw^2 T I) (random walks of
:class:`vio.preintegration.ImuParams`, Forster Sec. V-D). Jacobians are analytic
(Forster App. C), w.r.t. the error state [dtheta, dp, dv, dbg, dba] of :mod:`vio.state`;
unlike Forster, position is perturbed additively (p <- p + dp), so d r_p / d dp_i = -R_i^T.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from .._kernels import nb_skew, nb_so3_exp, nb_so3_log, nb_so3_right_jacobian, nb_so3_right_jacobian_inv
from ..preintegration import ImuPreintegration
from ..state import BA, BG, POS, ROT, VEL, KeyframeState

_R, _V, _P = slice(0, 3), slice(3, 6), slice(6, 9)  # residual rows of the preintegration part


class ImuFactor:
    """Preintegrated IMU factor between keyframe indices ``i`` and ``j`` (see module docstring)."""

    dim = 15

    def __init__(self, pim: ImuPreintegration, i: int, j: int):
        if not isinstance(pim, ImuPreintegration):
            raise TypeError(f"ImuFactor: pim must be ImuPreintegration, got {type(pim).__name__}")
        if pim.num_samples == 0:
            raise ValueError("ImuFactor: the preintegration holds no samples")
        if i == j:
            raise ValueError(f"ImuFactor: keyframes i and j must differ, got {i} and {j}")
        self.pim = pim
        self.i = int(i)
        self.j = int(j)

    def _terms(self, si: KeyframeState, sj: KeyframeState):
        pim = self.pim
        J = pim.jacobian_bias
        db = np.concatenate([si.bg - pim.bias.gyro, si.ba - pim.bias.accel])
        T = pim.dt_s
        g = np.asarray(pim.params.gravity)
        Rt = si.R.T
        dv_world = Rt @ (sj.v - si.v - g * T)
        dp_world = Rt @ (sj.p - si.p - si.v * T - 0.5 * g * T * T)
        bias_rot = J[_R, 0:3] @ db[0:3]
        dR = pim.delta_R @ nb_so3_exp(bias_rot)
        r = np.empty(15)
        r[_R] = nb_so3_log(np.ascontiguousarray(dR.T @ Rt @ sj.R))
        r[_V] = dv_world - (pim.delta_v + J[_V] @ db)
        r[_P] = dp_world - (pim.delta_p + J[_P] @ db)
        r[9:12] = sj.bg - si.bg
        r[12:15] = sj.ba - si.ba
        return r, Rt, dv_world, dp_world, bias_rot

    def residual(self, state_i: KeyframeState, state_j: KeyframeState) -> np.ndarray:
        """15-dim residual [r_R, r_v, r_p, r_bg, r_ba], unwhitened."""
        return self._terms(state_i, state_j)[0]

    def linearize(self, state_i: KeyframeState, state_j: KeyframeState):
        """(residual (15,), J_i (15, 15), J_j (15, 15)) w.r.t. the error states of i and j."""
        r, Rt, dv_world, dp_world, bias_rot = self._terms(state_i, state_j)
        J = self.pim.jacobian_bias
        T = self.pim.dt_s
        Jr_inv = nb_so3_right_jacobian_inv(np.ascontiguousarray(r[_R]))
        Ji = np.zeros((15, 15))
        Jj = np.zeros((15, 15))
        Ji[_R, ROT] = -Jr_inv @ state_j.R.T @ state_i.R
        Ji[_R, BG] = -Jr_inv @ nb_so3_exp(np.ascontiguousarray(r[_R])).T @ nb_so3_right_jacobian(bias_rot) @ J[_R, 0:3]
        Ji[_V, ROT] = nb_skew(dv_world)
        Ji[_V, VEL] = -Rt
        Ji[_V, BG] = -J[_V, 0:3]
        Ji[_V, BA] = -J[_V, 3:6]
        Ji[_P, ROT] = nb_skew(dp_world)
        Ji[_P, POS] = -Rt
        Ji[_P, VEL] = -Rt * T
        Ji[_P, BG] = -J[_P, 0:3]
        Ji[_P, BA] = -J[_P, 3:6]
        Jj[_R, ROT] = Jr_inv
        Jj[_V, VEL] = Rt
        Jj[_P, POS] = Rt
        eye = np.eye(3)
        Ji[9:12, BG] = -eye
        Ji[12:15, BA] = -eye
        Jj[9:12, BG] = eye
        Jj[12:15, BA] = eye
        return r, Ji, Jj

    def jacobians(self, state_i: KeyframeState, state_j: KeyframeState) -> tuple[np.ndarray, np.ndarray]:
        """(J_i, J_j), each 15x15: d residual / d error state of keyframe i, j."""
        _, Ji, Jj = self.linearize(state_i, state_j)
        return Ji, Jj

    def covariance(self) -> np.ndarray:
        """15x15 residual covariance: block-diag(pim.covariance, bias random-walk).

        The held-sample model keeps each accelerometer noise sample constant over its
        interval, so one sample moves velocity and position with correlation 1 (a singular
        covariance). White noise within the interval adds sigma^2 dt^3 / 12 to the position
        variance (continuous dt^3/3 against held dt^3/4); it is added here per sample.
        """
        p = self.pim.params
        T = self.pim.dt_s
        cov = np.zeros((15, 15))
        cov[:9, :9] = self.pim.covariance
        dt = self.pim.raw_samples()[0]
        cov[6:9, 6:9] += np.eye(3) * p.accel_noise_density ** 2 * float(np.sum(dt ** 3)) / 12.0
        cov[9:12, 9:12] = np.eye(3) * p.gyro_random_walk ** 2 * T
        cov[12:15, 12:15] = np.eye(3) * p.accel_random_walk ** 2 * T
        return cov

    def information(self) -> np.ndarray:
        """15x15 inverse covariance."""
        info = np.linalg.inv(self.covariance())
        return 0.5 * (info + info.T)

    def whitened(self, state_i: KeyframeState, state_j: KeyframeState):
        """(L^-1 r, L^-1 J_i, L^-1 J_j) with covariance = L L^T (Cholesky), so that
        |L^-1 r|^2 = r^T information r."""
        r, Ji, Jj = self.linearize(state_i, state_j)
        L = np.linalg.cholesky(self.covariance())
        stacked = solve_triangular(L, np.column_stack([r, Ji, Jj]), lower=True)
        return stacked[:, 0], stacked[:, 1:16], stacked[:, 16:31]
