"""Stereo reprojection factor with an anchored inverse-depth or world-point landmark.

Residual (4,) [px], unwhitened: r = [pi_0(p_c0) - uv_left, pi_1(p_c1) - uv_right] for
undistorted pinhole observations, with the point in camera c of keyframe j
p_c = R_body_cam_c^T (R_j^T (p_w - p_j) - p_body_cam_c) (cameras mounted at
``T_body_cam0``/``T_body_cam1`` of the rig; OpenCV camera axes).

Landmark parameterisations (``param``):

- ``"inverse_depth"`` (default; Navion / VINS-Mono, Qin et al. T-RO 2018, Sec. VI-B):
  one parameter rho [1/m]; p_w = R_a (R_body_cam0 bearing / rho + p_body_cam0) + p_a with
  anchor keyframe a (the first observation) and bearing = (x_n, y_n, 1) of that
  observation in cam0. In the anchor itself the left residual is constant and only the
  right camera constrains rho.
- ``"world_point"``: three parameters p_w [m].

The math is :func:`vio.backend._kernels.reprojection_observation`, the same function the
solver runs for every observation. Robust losses are applied to the whitened squared norm
s = |r|^2 / sigma^2 (see :class:`RobustLoss`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_model.workload import op_counter
from datasets.configuration import ConfigMixin

from ..backend import _kernels as _k
from ..state import KeyframeState

LANDMARK_PARAMS = {"inverse_depth": _k.INVERSE_DEPTH, "world_point": _k.WORLD_POINT}
LOSSES = {"none": _k.LOSS_NONE, "huber": _k.LOSS_HUBER, "cauchy": _k.LOSS_CAUCHY}


@dataclass(frozen=True)
class RobustLoss(ConfigMixin):
    """Robust loss rho(s) on the whitened squared residual norm s (4-dim stereo residual).

    kind: "none" (rho = s), "huber" (s <= k^2: s; else 2 k sqrt(s) - k^2) or "cauchy"
    (k^2 log(1 + s/k^2)); scale k in units of the pixel sigma (default 3: about the 95%
    point of |r| for a 4-dim Gaussian residual). The solver uses rho'(s) as IRLS weight.
    """

    kind: str = "huber"
    scale: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in LOSSES:
            raise ValueError(f"RobustLoss: kind must be one of {sorted(LOSSES)}, got {self.kind!r}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"RobustLoss: scale must be positive and finite, got {self.scale!r}")

    @property
    def code(self) -> int:
        return LOSSES[self.kind]

    def rho(self, s: float) -> float:
        """Robust cost of a squared whitened norm s >= 0."""
        return _k.robust_weight(float(s), self.code, float(self.scale), op_counter())[0]

    def weight(self, s: float) -> float:
        """IRLS weight rho'(s)."""
        return _k.robust_weight(float(s), self.code, float(self.scale), op_counter())[1]


def rig_arrays(rig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R_body_cam (2,3,3), p_body_cam (2,3), K (2,4) = [fx, fy, cx, cy]) of a stereo rig."""
    T = np.stack([np.asarray(rig.T_body_cam0, float), np.asarray(rig.T_body_cam1, float)])
    K = np.array([[rig.fx0, rig.fy0, rig.cx0, rig.cy0], [rig.fx1, rig.fy1, rig.cx1, rig.cy1]], float)
    return np.ascontiguousarray(T[:, :3, :3]), np.ascontiguousarray(T[:, :3, 3]), K


def bearings(rig, uv_left) -> np.ndarray:
    """(M,3) normalised cam0 coordinates (x_n, y_n, 1) of left pixels (M,2)."""
    uv = np.asarray(uv_left, float).reshape(-1, 2)
    return np.column_stack([(uv[:, 0] - rig.cx0) / rig.fx0, (uv[:, 1] - rig.cy0) / rig.fy0, np.ones(len(uv))])


def triangulate_cam0(rig, uv_left, uv_right) -> np.ndarray:
    """(M,3) points in cam0 [m] from stereo pixel pairs (M,2): least-squares intersection
    of the two rays (midpoint method), vectorised."""
    R_bc, t_bc, _ = rig_arrays(rig)
    R_01 = R_bc[0].T @ R_bc[1]  # cam1 -> cam0 rotation
    t_01 = R_bc[0].T @ (t_bc[1] - t_bc[0])  # cam1 centre in cam0
    b0 = bearings(rig, uv_left)
    uv_r = np.asarray(uv_right, float).reshape(-1, 2)
    b1 = np.column_stack([(uv_r[:, 0] - rig.cx1) / rig.fx1, (uv_r[:, 1] - rig.cy1) / rig.fy1,
                          np.ones(len(uv_r))]) @ R_01.T
    # minimise |s b0 - (t_01 + u b1)|^2 over (s, u)
    a, b, c = (b0 * b0).sum(1), (b0 * b1).sum(1), (b1 * b1).sum(1)
    d, e = b0 @ t_01, b1 @ t_01
    det = a * c - b * b
    s = (c * d - b * e) / det
    u = (b * d - a * e) / det
    return 0.5 * (s[:, None] * b0 + t_01 + u[:, None] * b1)


class ReprojectionFactor:
    """Stereo observation ``uv`` = [u_left, v_left, u_right, v_right] [px] of one landmark
    in keyframe ``keyframe`` (see module docstring). For ``"inverse_depth"`` give the
    ``anchor`` keyframe and the anchor ``bearing`` (3,)."""

    dim = 4

    def __init__(self, rig, keyframe: int, uv, param: str = "inverse_depth", anchor: int | None = None,
                 bearing=None, pixel_sigma: float = 1.0, loss: RobustLoss | None = None):
        if param not in LANDMARK_PARAMS:
            raise ValueError(f"ReprojectionFactor: param must be one of {sorted(LANDMARK_PARAMS)}, got {param!r}")
        self.uv = np.ascontiguousarray(uv, dtype=np.float64)
        if self.uv.shape != (4,) or not np.all(np.isfinite(self.uv)):
            raise ValueError(f"ReprojectionFactor: uv must be 4 finite pixels, got {uv!r}")
        if not pixel_sigma > 0:
            raise ValueError(f"ReprojectionFactor: pixel_sigma must be positive, got {pixel_sigma!r}")
        self.param = param
        self.keyframe = int(keyframe)
        if param == "inverse_depth":
            if anchor is None or bearing is None:
                raise ValueError("ReprojectionFactor: inverse depth needs the anchor keyframe and bearing")
            self.anchor = int(anchor)
            self.bearing = np.ascontiguousarray(bearing, dtype=np.float64)
            if self.bearing.shape != (3,):
                raise ValueError(f"ReprojectionFactor: bearing must have shape (3,), got {self.bearing.shape}")
        else:
            self.anchor, self.bearing = None, np.zeros(3)
        self.landmark_dim = 1 if param == "inverse_depth" else 3
        self.pixel_sigma = float(pixel_sigma)
        self.loss = RobustLoss() if loss is None else loss
        self._R_bc, self._t_bc, self._K = rig_arrays(rig)

    def _evaluate(self, state: KeyframeState, landmark, anchor_state: KeyframeState | None, want_jac: bool):
        lm = np.zeros(3)
        lm[:self.landmark_dim] = np.asarray(landmark, float).reshape(-1)
        same = self.param == "inverse_depth" and self.anchor == self.keyframe
        if self.param == "inverse_depth" and anchor_state is None:
            if not same:
                raise ValueError("ReprojectionFactor: the anchor keyframe's state is needed")
            anchor_state = state
        a = state if anchor_state is None else anchor_state
        r, J, G = np.empty(4), np.zeros((4, 15)), np.zeros((3, 15))
        ok = _k.reprojection_observation(np.stack([state.R, a.R]), np.stack([state.p, a.p]), 0, 1, lm[None],
                                         self.bearing[None], 0, LANDMARK_PARAMS[self.param], same, self._R_bc,
                                         self._t_bc, self._K, self.uv[None], 0, want_jac, r, J, G, op_counter())
        if not ok:
            raise ValueError("ReprojectionFactor: the landmark is behind a camera (or rho <= 0)")
        return r, J

    def residual(self, state: KeyframeState, landmark, anchor_state: KeyframeState | None = None) -> np.ndarray:
        """(4,) residual [px] at keyframe ``state``, landmark parameters (1 or 3) and anchor state."""
        return self._evaluate(state, landmark, anchor_state, False)[0]

    def jacobians(self, state: KeyframeState, landmark, anchor_state: KeyframeState | None = None):
        """(J_keyframe (4,15), J_anchor (4,15) or None, J_landmark (4,d)) w.r.t. the 15-dim
        error states and the landmark parameters. J_anchor is None for world points; when
        the observing keyframe is the anchor, J_keyframe is zero and J_anchor is None."""
        _, J = self._evaluate(state, landmark, anchor_state, True)
        J_kf = np.zeros((4, 15))
        J_kf[:, :6] = J[:, :6]
        J_anchor = None
        if self.param == "inverse_depth" and self.anchor != self.keyframe:
            J_anchor = np.zeros((4, 15))
            J_anchor[:, :6] = J[:, 6:12]
        return J_kf, J_anchor, J[:, 12:12 + self.landmark_dim].copy()

    def cost(self, state: KeyframeState, landmark, anchor_state: KeyframeState | None = None) -> float:
        """Robust cost 1/2 rho(|r|^2 / sigma^2)."""
        r = self.residual(state, landmark, anchor_state) / self.pixel_sigma
        return 0.5 * self.loss.rho(float(r @ r))
