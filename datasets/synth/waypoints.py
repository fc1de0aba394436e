"""A flight built move by move: rest-to-rest minimum-jerk segments between waypoints.

Used by the closed-loop simulation, where the next goal is only known once the
explorer has seen the last view. Each segment moves position and heading from rest to
rest along the quintic ``s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5`` (minimum jerk, Flash
and Hogan 1985), whose peak speed is ``1.875 D / T`` and peak acceleration
``5.7735 D / T^2``; the duration is the shortest that respects the speed, acceleration
and yaw-rate limits. The attitude tilts like a quadrotor's (``tilted_attitude``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..configuration import ConfigMixin
from .trajectory import BodyTrajectory, TrajectorySample, tilted_attitude

PEAK_SPEED = 1.875  # max of s'(tau)
PEAK_ACCEL = 10.0 / math.sqrt(3.0)  # max of |s''(tau)|, at tau = (3 -+ sqrt 3) / 6


@dataclass(frozen=True)
class MotionLimits(ConfigMixin):
    """Dynamic limits of a move: speed [m/s], acceleration [m/s^2], yaw rate [rad/s],
    and the shortest move [s]."""

    max_speed_mps: float = 0.6
    max_accel_mps2: float = 0.5
    max_yaw_rate_rps: float = 0.5
    min_duration_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_speed_mps", "max_accel_mps2", "max_yaw_rate_rps", "min_duration_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"MotionLimits: '{name}' must be a positive number, got {value!r}")


def move_duration_s(distance_m: float, yaw_change_rad: float, limits: MotionLimits) -> float:
    """Shortest rest-to-rest minimum-jerk duration [s] within ``limits``."""
    return max(limits.min_duration_s,
               PEAK_SPEED * distance_m / limits.max_speed_mps,
               math.sqrt(PEAK_ACCEL * distance_m / limits.max_accel_mps2),
               PEAK_SPEED * abs(yaw_change_rad) / limits.max_yaw_rate_rps)


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


class WaypointTrajectory(BodyTrajectory):
    """Starts at rest at ``p0_world`` [m] with heading ``yaw0`` [rad]; grows with
    :meth:`move_to` and :meth:`hover`. ``duration_s`` is the end of the last segment."""

    def __init__(self, start_ns: int, p0_world, yaw0: float, hover_s: float = 2.0):
        super().__init__(start_ns, hover_s)
        p0 = np.asarray(p0_world, dtype=np.float64).reshape(3)
        self._t0 = [0.0]
        self._length = [float(hover_s)]
        self._p0, self._p1 = [p0], [p0]
        self._yaw0, self._yaw1 = [float(yaw0)], [float(yaw0)]

    @property
    def end_position(self) -> np.ndarray:
        return self._p1[-1].copy()

    @property
    def end_yaw(self) -> float:
        return self._yaw1[-1]

    def _append(self, length_s: float, p1: np.ndarray, yaw1: float) -> None:
        self._t0.append(self.duration_s)
        self._length.append(float(length_s))
        self._p0.append(self._p1[-1])
        self._yaw0.append(self._yaw1[-1])
        self._p1.append(p1)
        self._yaw1.append(yaw1)
        self.duration_s += float(length_s)

    def move_to(self, p_world, yaw: float, limits: MotionLimits = MotionLimits()) -> float:
        """Appends a move from the current end to ``p_world`` [m] and heading ``yaw``
        [rad] (the shorter way round); returns its duration [s]."""
        p1 = np.asarray(p_world, dtype=np.float64).reshape(3)
        if not np.all(np.isfinite(p1)) or not math.isfinite(yaw):
            raise ValueError(f"move_to: goal must be finite, got {p1} yaw {yaw}")
        yaw1 = self._yaw1[-1] + _wrap(yaw - self._yaw1[-1])
        length = move_duration_s(float(np.linalg.norm(p1 - self._p1[-1])), yaw1 - self._yaw1[-1], limits)
        self._append(length, p1, yaw1)
        return length

    def hover(self, duration_s: float) -> None:
        """Appends a rest of ``duration_s`` [s] at the current end."""
        if not duration_s > 0:
            raise ValueError(f"hover: duration must be positive, got {duration_s!r}")
        self._append(duration_s, self._p1[-1], self._yaw1[-1])

    def _evaluate(self, t: np.ndarray) -> TrajectorySample:
        starts = np.asarray(self._t0)
        seg = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        T = np.asarray(self._length)[seg]
        tau = np.clip((t - starts[seg]) / T, 0.0, 1.0)
        s = tau**3 * (10 - 15 * tau + 6 * tau**2)
        ds = 30 * tau**2 * (1 - tau) ** 2 / T
        dds = 60 * tau * (1 - tau) * (1 - 2 * tau) / T**2
        ddds = 60 * (1 - 6 * tau + 6 * tau**2) / T**3
        dp = np.asarray(self._p1)[seg] - np.asarray(self._p0)[seg]
        dyaw = np.asarray(self._yaw1)[seg] - np.asarray(self._yaw0)[seg]
        p = np.asarray(self._p0)[seg] + s[:, None] * dp
        v, a, jerk = ds[:, None] * dp, dds[:, None] * dp, ddds[:, None] * dp
        yaw = np.asarray(self._yaw0)[seg] + s * dyaw
        R, omega = tilted_attitude(yaw, ds * dyaw, a, jerk)
        return TrajectorySample(p, R, v, a, omega)
