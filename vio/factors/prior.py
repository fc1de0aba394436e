"""Prior factors on keyframe error states: a state prior, the linear marginalisation prior
and the gauge prior.

- :class:`PriorFactor`: r = x [-] x0 (15,) with an information matrix (unwhitened, like
  :class:`vio.factors.ImuFactor`); x [-] x0 = [Log(R0^T R), p - p0, v - v0, bg - bg0,
  ba - ba0] are the local coordinates of :func:`vio.state.local`.
- :class:`LinearPrior`: r = J (x [-] x0) + r0 (m,), already whitened, over several
  keyframes: the form the marginalised information takes (Leutenegger et al., OKVIS,
  IJRR 2015, Sec. IV-E; Qin et al., VINS-Mono, T-RO 2018, Sec. VI-D). It is built from the
  marginal (H, b) with J^T J = H and -J^T r0 = b.
- :class:`GaugePrior`: fixes global position and yaw of one keyframe (the four
  unobservable directions of VIO).

All share their math with the solver's kernels (:mod:`vio.backend._kernels`).
"""
from __future__ import annotations

import numpy as np

from accel_model.workload import op_counter

from ..backend import _kernels as _k
from ..state import ERROR_DIM, KeyframeState


def _pack(states: list[KeyframeState]):
    """(R (k,3,3), p, v, bg, ba (k,3)) arrays of a list of states."""
    return (np.stack([s.R for s in states]), np.stack([s.p for s in states]), np.stack([s.v for s in states]),
            np.stack([s.bg for s in states]), np.stack([s.ba for s in states]))


def _linearisation_point(states: list[KeyframeState]) -> tuple[np.ndarray, np.ndarray]:
    """(R0 (k,3,3), x0 (k,12) = [p, v, bg, ba])."""
    R, p, v, bg, ba = _pack(states)
    return R, np.hstack([p, v, bg, ba])


class LinearPrior:
    """r = J (x [-] x0) + r0 on the keyframes ``keyframes`` (identifiers, e.g. window
    keyframe ids) with linearisation states ``x0`` (one per keyframe); J (m, 15k)."""

    def __init__(self, keyframes, x0: list[KeyframeState], J, r0):
        self.keyframes = [int(k) for k in keyframes]
        if len(self.keyframes) != len(x0) or len(set(self.keyframes)) != len(self.keyframes):
            raise ValueError("LinearPrior: need one distinct keyframe per linearisation state")
        self.x0 = [s.copy() for s in x0]
        self.J = np.ascontiguousarray(J, dtype=np.float64)
        self.r0 = np.ascontiguousarray(r0, dtype=np.float64)
        n = ERROR_DIM * len(self.keyframes)
        if self.J.ndim != 2 or self.J.shape[1] != n or self.r0.shape != (self.J.shape[0],):
            raise ValueError(f"LinearPrior: J must be (m, {n}) and r0 (m,), got {self.J.shape} and {self.r0.shape}")
        if not (np.all(np.isfinite(self.J)) and np.all(np.isfinite(self.r0))):
            raise ValueError("LinearPrior: J and r0 must be finite")
        self.R0, self.x0_vec = _linearisation_point(self.x0)

    @classmethod
    def from_information(cls, keyframes, x0: list[KeyframeState], H, b, rel_eps: float = 1e-12) -> "LinearPrior":
        """The prior with J^T J = H and -J^T r0 = b (cost 1/2 dx^T H dx - b^T dx + const).

        H = V diag(lam) V^T; eigenvalues below ``rel_eps`` * max(lam) are dropped (directions
        the prior carries no information about), J = diag(sqrt(lam)) V^T,
        r0 = -diag(1/sqrt(lam)) V^T b.
        """
        H = np.asarray(H, float)
        lam, V = np.linalg.eigh(0.5 * (H + H.T))
        keep = lam > rel_eps * max(lam.max(), 0.0)
        lam, V = lam[keep], V[:, keep]
        sq = np.sqrt(lam)
        return cls(keyframes, x0, sq[:, None] * V.T, -(V.T @ np.asarray(b, float)) / sq)

    @property
    def information(self) -> np.ndarray:
        """H = J^T J (15k x 15k)."""
        return self.J.T @ self.J

    @property
    def vector(self) -> np.ndarray:
        """b = -J^T r0 (15k,): the prior's right-hand side at x0."""
        return -self.J.T @ self.r0

    def _evaluate(self, states: list[KeyframeState], want_jac: bool):
        if len(states) != len(self.keyframes):
            raise ValueError(f"LinearPrior: expected {len(self.keyframes)} states, got {len(states)}")
        res = np.empty(self.J.shape[0])
        Je = np.empty_like(self.J)
        _k.linear_prior_eval(*_pack(states), np.arange(len(states)), self.R0, self.x0_vec, self.J, self.r0,
                             want_jac, res, Je, op_counter())
        return res, Je

    def residual(self, states: list[KeyframeState]) -> np.ndarray:
        """(m,) whitened residual at the states of ``keyframes`` (same order)."""
        return self._evaluate(states, False)[0]

    def jacobians(self, states: list[KeyframeState]) -> list[np.ndarray]:
        """One (m, 15) Jacobian per keyframe."""
        Je = self._evaluate(states, True)[1]
        return [Je[:, ERROR_DIM * i:ERROR_DIM * (i + 1)].copy() for i in range(len(states))]

    def marginalize(self, keyframe: int) -> "LinearPrior | None":
        """The prior with ``keyframe`` eliminated (Schur complement on (H, b)); None if it
        was the only keyframe. Used when a non-keyframe the prior touches is dropped."""
        i = self.keyframes.index(keyframe)
        if len(self.keyframes) == 1:
            return None
        H, b = self.information, self.vector
        drop = np.arange(ERROR_DIM * i, ERROR_DIM * (i + 1))
        keep = np.setdiff1d(np.arange(H.shape[0]), drop)
        Hmm_inv = np.linalg.pinv(H[np.ix_(drop, drop)], hermitian=True)
        Hk = H[np.ix_(keep, keep)] - H[np.ix_(keep, drop)] @ Hmm_inv @ H[np.ix_(drop, keep)]
        bk = b[keep] - H[np.ix_(keep, drop)] @ Hmm_inv @ b[drop]
        others = [k for k in self.keyframes if k != keyframe]
        return LinearPrior.from_information(others, [s for k, s in zip(self.keyframes, self.x0) if k != keyframe],
                                            Hk, bk)

    def renamed(self, mapping: dict[int, int]) -> "LinearPrior":
        """The same prior with keyframe identifiers mapped through ``mapping``."""
        return LinearPrior([mapping[k] for k in self.keyframes], self.x0, self.J, self.r0)


class PriorFactor:
    """Gaussian prior on one keyframe state: r = x [-] mean (15,), information (15x15)."""

    dim = 15

    def __init__(self, keyframe: int, mean: KeyframeState, information):
        self.keyframe = int(keyframe)
        self.mean = mean.copy()
        info = np.asarray(information, dtype=np.float64)
        if info.shape != (ERROR_DIM, ERROR_DIM) or not np.all(np.isfinite(info)):
            raise ValueError(f"PriorFactor: information must be a finite 15x15 matrix, got shape {info.shape}")
        self._info = 0.5 * (info + info.T)
        try:
            self._sqrt = np.linalg.cholesky(self._info).T  # U with U^T U = information
        except np.linalg.LinAlgError:
            raise ValueError("PriorFactor: information must be positive definite") from None
        self._linear = LinearPrior([self.keyframe], [self.mean], np.eye(ERROR_DIM), np.zeros(ERROR_DIM))

    def information(self) -> np.ndarray:
        return self._info.copy()

    def residual(self, state: KeyframeState) -> np.ndarray:
        """x [-] mean (15,), unwhitened."""
        return self._linear.residual([state])

    def jacobians(self, state: KeyframeState) -> np.ndarray:
        """(15,15) = blockdiag(Jr^-1(Log(R_mean^T R)), I_12)."""
        return self._linear.jacobians([state])[0]

    def as_linear_prior(self) -> LinearPrior:
        """The whitened form U (x [-] mean) with U^T U = information, as the solver uses it."""
        return LinearPrior([self.keyframe], [self.mean], self._sqrt, np.zeros(ERROR_DIM))


class GaugePrior:
    """Fixes keyframe ``keyframe``'s position to ``p_ref`` [m] and yaw (about world z) to that
    of ``R_ref``: r = [(p - p_ref) / sigma_pos_m, e_z^T Log(R R_ref^T) / sigma_yaw_rad] (whitened).

    The four directions are unobservable from IMU and camera data, so at the optimum the
    residual is zero and the weights only set the (tiny) posterior variance of the gauge.
    """

    dim = 4

    def __init__(self, keyframe: int, p_ref, R_ref, sigma_pos_m: float = 1e-3, sigma_yaw_rad: float = 1e-3):
        self.keyframe = int(keyframe)
        self.p_ref = np.ascontiguousarray(p_ref, dtype=np.float64)
        self.R_ref = np.ascontiguousarray(R_ref, dtype=np.float64)
        if self.p_ref.shape != (3,) or self.R_ref.shape != (3, 3):
            raise ValueError("GaugePrior: p_ref must be (3,) and R_ref (3,3)")
        if not (sigma_pos_m > 0 and sigma_yaw_rad > 0):
            raise ValueError("GaugePrior: the sigmas must be positive")
        self.sigma_pos_m = float(sigma_pos_m)
        self.sigma_yaw_rad = float(sigma_yaw_rad)

    @classmethod
    def at(cls, keyframe: int, state: KeyframeState, **kwargs) -> "GaugePrior":
        """Gauge fixed at ``state``'s position and yaw."""
        return cls(keyframe, state.p, state.R, **kwargs)

    def _evaluate(self, state: KeyframeState, want_jac: bool):
        res, J = np.empty(4), np.zeros((4, ERROR_DIM))
        _k.gauge_eval(np.ascontiguousarray(state.R), state.p, self.R_ref, self.p_ref, 1.0 / self.sigma_pos_m,
                      1.0 / self.sigma_yaw_rad, want_jac, res, J, op_counter())
        return res, J

    def residual(self, state: KeyframeState) -> np.ndarray:
        return self._evaluate(state, False)[0]

    def jacobians(self, state: KeyframeState) -> np.ndarray:
        """(4,15) w.r.t. the keyframe's error state."""
        return self._evaluate(state, True)[1]
