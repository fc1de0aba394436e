"""The estimator's output for one camera frame."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class NavState:
    """Body state at ``timestamp_ns``: T_world_body (4, 4), v_world [m/s], gyro_bias
    [rad/s], accel_bias [m/s^2], optionally the 15x15 covariance of the error state
    [dtheta, dp, dv, dbg, dba]; ``status`` is "tracking", "reset" (first state after
    a re-initialisation) or "predicted" (IMU prediction between keyframes when the
    back-end solves keyframes only)."""

    timestamp_ns: int
    T_world_body: np.ndarray
    v_world: np.ndarray
    gyro_bias: np.ndarray
    accel_bias: np.ndarray
    status: str = "tracking"
    covariance: Optional[np.ndarray] = None

    @property
    def p_world_body(self) -> np.ndarray:
        return self.T_world_body[:3, 3]

    @property
    def R_world_body(self) -> np.ndarray:
        return self.T_world_body[:3, :3]
