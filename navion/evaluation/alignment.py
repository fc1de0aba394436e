"""Least-squares similarity alignment of two point sets (Umeyama 1991).

S. Umeyama, "Least-squares estimation of transformation parameters between two point
patterns", IEEE TPAMI 13(4):376-380, 1991. Equation numbers below refer to it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import EvaluationError
from .poses import PoseSeries


@dataclass(frozen=True)
class Sim3:
    """``p_ref = scale * R_ref_est @ p_est + t_ref_est`` [m]: maps the estimate's world
    frame into the reference (ground-truth) world frame. SE(3) when ``scale`` is 1."""

    R_ref_est: np.ndarray
    t_ref_est: np.ndarray
    scale: float = 1.0

    @classmethod
    def identity(cls) -> Sim3:
        return cls(np.eye(3), np.zeros(3), 1.0)

    def apply_points(self, p_est: np.ndarray) -> np.ndarray:
        """(N, 3) points of the estimate's world in the reference world [m]."""
        return self.scale * np.asarray(p_est) @ self.R_ref_est.T + self.t_ref_est

    def apply_poses(self, poses: PoseSeries) -> PoseSeries:
        """``T_ref_body`` of poses ``T_est_body``: positions scaled, rotated and shifted,
        orientations rotated (as evo's ``align`` with or without scale)."""
        return PoseSeries(poses.timestamps_ns, self.apply_points(poses.p_world_body),
                          self.R_ref_est @ poses.R_world_body)


def umeyama(p_est: np.ndarray, p_ref: np.ndarray, with_scale: bool = False) -> Sim3:
    """The Sim(3) (or SE(3) without scale) minimising sum ||p_ref - (s R p_est + t)||^2.

    p_est, p_ref: (N, 3) corresponding points [m], N >= 3. Raises EvaluationError when
    the estimate's points all coincide (no rotation or scale can be found).
    """
    x = np.asarray(p_est, dtype=np.float64)
    y = np.asarray(p_ref, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        raise EvaluationError(f"alignment needs two (N, 3) point sets, got {x.shape} and {y.shape}")
    if len(x) < 3:
        raise EvaluationError(f"alignment needs at least 3 matched poses, got {len(x)}")
    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)                       # eqs. (34), (35)
    xc, yc = x - mu_x, y - mu_y
    var_x = float(np.mean(np.sum(xc * xc, axis=1)))                   # eq. (36)
    if var_x <= 1e-24:
        raise EvaluationError("cannot align: all matched estimate positions coincide")
    cov_yx = yc.T @ xc / len(x)                                        # eq. (38)
    U, d, Vt = np.linalg.svd(cov_yx)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:                       # eq. (43)
        S[2, 2] = -1.0
    R = U @ S @ Vt                                                     # eq. (40)
    scale = float(np.trace(np.diag(d) @ S) / var_x) if with_scale else 1.0   # eq. (42)
    t = mu_y - scale * R @ mu_x                                        # eq. (41)
    return Sim3(R, t, scale)
