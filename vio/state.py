"""Keyframe navigation state and its 15-dim error state.

A keyframe holds ``R`` = R_world_body (3x3), ``p`` = p_world_body [m], ``v`` = velocity
of the body in the world frame [m/s], ``bg`` gyro bias [rad/s] and ``ba`` accelerometer
bias [m/s^2] (body frame). The error state used by the whole solver is ordered

    delta = [dtheta (0:3), dp (3:6), dv (6:9), dbg (9:12), dba (12:15)]

with ``R <- R Exp(dtheta)`` (right perturbation, Forster et al., T-RO 2017, eq. 19) and
plain addition for the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._kernels import nb_so3_exp, nb_so3_log

ERROR_DIM = 15
ROT, POS, VEL, BG, BA = slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12), slice(12, 15)


def _vector(value, name: str) -> np.ndarray:
    array = np.array(value, dtype=np.float64)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"KeyframeState: '{name}' must be 3 finite numbers, got {value!r}")
    return array


@dataclass
class KeyframeState:
    """Navigation state of one keyframe (see module docstring for frames and units)."""

    R: np.ndarray
    p: np.ndarray
    v: np.ndarray
    bg: np.ndarray = field(default_factory=lambda: np.zeros(3))
    ba: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self) -> None:
        R = np.array(self.R, dtype=np.float64)
        if R.shape != (3, 3) or not np.all(np.isfinite(R)):
            raise ValueError(f"KeyframeState: 'R' must be a finite 3x3 matrix, got shape {R.shape}")
        self.R = R
        self.p = _vector(self.p, "p")
        self.v = _vector(self.v, "v")
        self.bg = _vector(self.bg, "bg")
        self.ba = _vector(self.ba, "ba")

    def copy(self) -> "KeyframeState":
        """Deep copy (the arrays are copied)."""
        return KeyframeState(self.R, self.p, self.v, self.bg, self.ba)


def retract(state: KeyframeState, delta) -> KeyframeState:
    """Apply a 15-dim error state: R Exp(dtheta), p + dp, v + dv, bg + dbg, ba + dba."""
    d = np.ascontiguousarray(delta, dtype=np.float64)
    if d.shape != (ERROR_DIM,):
        raise ValueError(f"retract: delta must have shape (15,), got {d.shape}")
    return KeyframeState(state.R @ nb_so3_exp(d[ROT]), state.p + d[POS], state.v + d[VEL],
                         state.bg + d[BG], state.ba + d[BA])


def local(a: KeyframeState, b: KeyframeState) -> np.ndarray:
    """The 15-dim delta with ``retract(a, local(a, b)) == b`` (rotation part Log(Ra^T Rb))."""
    out = np.empty(ERROR_DIM)
    out[ROT] = nb_so3_log(np.ascontiguousarray(a.R.T @ b.R))
    out[POS] = b.p - a.p
    out[VEL] = b.v - a.v
    out[BG] = b.bg - a.bg
    out[BA] = b.ba - a.ba
    return out
