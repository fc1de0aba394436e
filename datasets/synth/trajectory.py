"""Smooth body trajectories with analytic derivatives, for IMU and image synthesis.

Frames follow the project convention: ``R_world_body`` maps body vectors into the
world frame (``p_world = R_world_body @ p_body + p_world_body``); the world is z-up.
``omega_body`` is the angular velocity of the body w.r.t. the world expressed in the
body frame, i.e. ``dR_world_body/dt = R_world_body @ skew(omega_body)`` (the rate an
ideal gyro measures; Forster et al., T-RO 2017, Sec. IV). Time ``t_s`` is float64
seconds since ``start_ns`` (int64 ns); every derivative is evaluated in closed form,
never by finite differences.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError

_T_TOLERANCE_S = 1e-9


@dataclass(frozen=True)
class TrajectorySample:
    """Body state at N query times (world frame z-up, SI units).

    p_world_body (N, 3) [m]; R_world_body (N, 3, 3); v_world (N, 3) [m/s];
    a_world (N, 3) [m/s^2] (kinematic, without gravity); omega_body (N, 3) [rad/s].
    """

    p_world_body: np.ndarray
    R_world_body: np.ndarray
    v_world: np.ndarray
    a_world: np.ndarray
    omega_body: np.ndarray


class BodyTrajectory(ABC):
    """A body trajectory on ``[0, duration_s]`` seconds after the int64 stamp ``start_ns``."""

    def __init__(self, start_ns: int, duration_s: float):
        if not np.isfinite(duration_s) or duration_s <= 0:
            raise ValueError(f"duration_s must be positive and finite, got {duration_s!r}")
        if int(start_ns) < 0:
            raise ValueError(f"start_ns must be a non-negative int64 stamp, got {start_ns!r}")
        self.start_ns = int(start_ns)
        self.duration_s = float(duration_s)

    def evaluate(self, t_s) -> TrajectorySample:
        """State at times ``t_s`` [s since start_ns], a 1-D array within [0, duration_s]."""
        t = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
        if t.ndim != 1:
            raise ValueError(f"t_s must be 1-D, got shape {t.shape}")
        if t.size and (t.min() < -_T_TOLERANCE_S or t.max() > self.duration_s + _T_TOLERANCE_S):
            raise ValueError(f"t_s must lie in [0, {self.duration_s}] s, got [{t.min()}, {t.max()}]")
        return self._evaluate(t)

    @abstractmethod
    def _evaluate(self, t: np.ndarray) -> TrajectorySample:
        """State at validated times t [s]."""

    def sample_times(self, step_s: float) -> np.ndarray:
        """``0, step_s, 2 step_s, ...`` up to and including ``duration_s`` when it falls on the grid [s]."""
        if not step_s > 0:
            raise ValueError(f"step_s must be positive, got {step_s!r}")
        n = int(np.floor(self.duration_s / step_s + 1e-9))
        return np.arange(n + 1) * step_s

    def source_speed(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Speed [m/s] over the whole source this trajectory was cut from, at times [s since
        start_ns] (may be negative): (times, speeds). None when the trajectory is its own
        source. Lets context-dependent models (IMU vibration regimes) see beyond the cut."""
        return None

    def source_positions(self) -> np.ndarray | None:
        """(N, 3) positions p_world_body [m] of the whole source this trajectory was cut
        from (None when it is its own source). The twin's hall is fitted to them, so
        every cut of one sequence flies through the same hall as the whole twin."""
        return None

    def positions(self, step_s: float = 0.05) -> np.ndarray:
        """(N, 3) positions p_world_body [m] every ``step_s`` seconds."""
        return self.evaluate(self.sample_times(step_s)).p_world_body

    def position_bounds(self, step_s: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Per-axis (min (3,), max (3,)) of the positions sampled every ``step_s`` [m]."""
        p = self.positions(step_s)
        return p.min(axis=0), p.max(axis=0)


# --------------------------------------------------------------------------- default


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], axis=-1).reshape(-1, 3, 3)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], axis=-1).reshape(-1, 3, 3)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], axis=-1).reshape(-1, 3, 3)


# EuRoC's body (IMU) frame on the VI-sensor: x up, y right, z forward; the cameras
# look along body +z with image "up" = body +x (cam0 R_body_cam ~ [[0,-1,0],[1,0,0],[0,0,1]]).
# R_LEVEL maps that frame to a level, heading-aligned frame (x forward, y left, z up).
R_LEVEL = np.array([[0.0, 0.0, 1.0],
                    [0.0, -1.0, 0.0],
                    [1.0, 0.0, 0.0]])

# Default motion as sums of sinusoids of the warped time tau [s]:
# value = offset + sum_i amp_i * sin(freq_i * tau + phase_i). Rows: x, y, z [m], yaw [rad].
# The first x/y terms trace a 4.6 m x 2.8 m ellipse (31 s per lap); the rest perturb it.
_OFFSET = np.array([0.0, 0.0, 1.55, 0.3])
_AMP = np.array([[4.6, 0.6], [2.8, 0.4], [0.45, 0.15], [1.1, 0.35]])
_FREQ = np.array([[0.2, 0.47], [0.2, 0.73], [0.27, 0.61], [0.21, 0.55]])
_PHASE = np.array([[np.pi / 2, 0.4], [0.0, 1.1], [0.2, 2.0], [0.5, 1.3]])
_YAW_DRIFT = 0.11  # [rad/s] slow turn so the cameras sweep every wall
_RAMP_S = 3.0  # [s] smoothstep speed-up after the rest segment
_TILT_GRAVITY = 9.81  # [m/s^2] quadrotor-like tilt: pitch = a_forward / g, roll = -a_left / g


def _sinusoid_derivatives(tau: np.ndarray) -> np.ndarray:
    """(4, 4, N): derivative order 0..3 w.r.t. tau of x, y, z, yaw."""
    phase = _FREQ[None, :, :, None] * tau + _PHASE[None, :, :, None]  # (1, 4, M, N)
    order = np.arange(4)[:, None, None, None]
    terms = _AMP[None, :, :, None] * _FREQ[None, :, :, None] ** order * np.sin(phase + order * np.pi / 2)
    out = terms.sum(axis=2)
    out[0] += _OFFSET[:, None]
    out[0, 3] += _YAW_DRIFT * tau
    out[1, 3] += _YAW_DRIFT
    return out


def _time_warp(t: np.ndarray, rest_s: float) -> tuple[np.ndarray, ...]:
    """tau(t) and its first three derivatives: 0 until rest_s, then speed tau' rising as the
    septic smoothstep s(u) = 35u^4 - 84u^5 + 70u^6 - 20u^7 over _RAMP_S seconds, then tau' = 1.

    The first three derivatives of s vanish at u = 0 and u = 1, so position is C4: the
    acceleration is C2 and the angular rate (which follows the jerk through the tilt) is C1.
    """
    u = np.clip((t - rest_s) / _RAMP_S, 0.0, 1.0)
    tau = np.where(t - rest_s < _RAMP_S, _RAMP_S * u**5 * (7 - 14 * u + 10 * u**2 - 2.5 * u**3),
                   0.5 * _RAMP_S + (t - rest_s - _RAMP_S))
    d1 = u**4 * (35 - 84 * u + 70 * u**2 - 20 * u**3)
    d2 = 140 * u**3 * (1 - u) ** 3 / _RAMP_S
    d3 = 420 * u**2 * (1 - u) ** 2 * (1 - 2 * u) / _RAMP_S**2
    return tau, d1, d2, d3


class _HallTrajectory(BodyTrajectory):
    """The default MAV-like flight; see :func:`default_trajectory`."""

    def __init__(self, start_ns: int, duration_s: float, rest_s: float):
        super().__init__(start_ns, duration_s)
        if not 0.0 <= rest_s <= duration_s:
            raise ValueError(f"rest_s must be in [0, duration_s={duration_s}], got {rest_s!r}")
        self.rest_s = float(rest_s)

    def _evaluate(self, t: np.ndarray) -> TrajectorySample:
        tau, dtau, ddtau, dddtau = _time_warp(t, self.rest_s)
        f0, f1, f2, f3 = _sinusoid_derivatives(tau)  # each (4, N) over tau
        # Chain rule for g(tau(t)): g' tau'; g'' tau'^2 + g' tau''; g''' tau'^3 + 3 g'' tau' tau'' + g' tau'''.
        p, yaw = f0[:3].T, f0[3]
        v = (f1[:3] * dtau).T
        a = (f2[:3] * dtau**2 + f1[:3] * ddtau).T
        jerk = (f3[:3] * dtau**3 + 3 * f2[:3] * dtau * ddtau + f1[:3] * dddtau).T
        yaw_rate = f1[3] * dtau
        R, omega_body = tilted_attitude(yaw, yaw_rate, a, jerk)
        return TrajectorySample(p, R, v, a, omega_body)


def tilted_attitude(yaw: np.ndarray, yaw_rate: np.ndarray, a: np.ndarray,
                    jerk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadrotor-like attitude of a flight with heading ``yaw`` [rad] (N,), its rate
    [rad/s], world acceleration ``a`` (N, 3) [m/s^2] and jerk (N, 3) [m/s^3]:
    ``R_world_body = Rz(yaw) Ry(pitch) Rx(roll) R_LEVEL`` with pitch = a_forward / g and
    roll = -a_left / g. Returns R_world_body (N, 3, 3) and omega_body (N, 3) [rad/s]."""
    c, s = np.cos(yaw), np.sin(yaw)
    a_fwd, a_left = c * a[:, 0] + s * a[:, 1], -s * a[:, 0] + c * a[:, 1]
    # d/dt of the heading-frame acceleration includes the frame's own turn rate.
    a_fwd_dot = c * jerk[:, 0] + s * jerk[:, 1] + yaw_rate * a_left
    a_left_dot = -s * jerk[:, 0] + c * jerk[:, 1] - yaw_rate * a_fwd
    pitch, pitch_rate = a_fwd / _TILT_GRAVITY, a_fwd_dot / _TILT_GRAVITY
    roll, roll_rate = -a_left / _TILT_GRAVITY, -a_left_dot / _TILT_GRAVITY
    Rx, Ry = _rot_x(roll), _rot_y(pitch)
    R = _rot_z(yaw) @ Ry @ Rx @ R_LEVEL
    # Body rate of Rz(yaw) Ry(pitch) Rx(roll), then carried through the constant R_LEVEL.
    zeros = np.zeros_like(yaw)
    omega_level = (np.einsum("nji,nj->ni", Ry @ Rx, np.stack([zeros, zeros, yaw_rate], 1))
                   + np.einsum("nji,nj->ni", Rx, np.stack([zeros, pitch_rate, zeros], 1))
                   + np.stack([roll_rate, zeros, zeros], 1))
    return R, omega_level @ R_LEVEL  # R_LEVEL^T omega_level


def default_trajectory(duration_s: float = 60.0, rest_s: float = 2.0,
                       start_ns: int = 1_600_000_000_000_000_000) -> BodyTrajectory:
    """Smooth MAV-like flight in a 20 m x 12 m x 5 m hall centred at the origin (floor z = 0).

    The body rests exactly (v = a = omega = 0) for ``rest_s`` seconds, as at the start of
    EuRoC sequences, then speeds up over 3 s (C4 time warp) into a perturbed elliptic
    loop: x in about [-5.1, 5.1] m, y in [-3.2, 3.2] m, z in [0.95, 2.15] m, speed
    0.3-1.2 m/s, yaw rate up to 0.5 rad/s with a slow drift that sweeps every wall, and a
    quadrotor-like tilt of up to ~2.5 deg (pitch = a_forward / g, roll = -a_left / g).
    The attitude is ``Rz(yaw) Ry(pitch) Rx(roll) R_LEVEL``: EuRoC's cameras look
    near-horizontally (within ~2.5 deg) at the walls, with world-up as image-up.
    """
    return _HallTrajectory(start_ns, duration_s, rest_s)


# --------------------------------------------------------------------------- TUM twin

POSITION_KNOT_SPACING_S = 0.1  # quintic least-squares B-spline; MH_01 fit RMS ~0.2 mm
ROTATION_KEYFRAME_S = 0.05  # RotationSpline keyframes; MH_01 fit RMS ~0.03 deg
_FIT_MARGIN_S = 0.5  # data fitted beyond the used window on each side, against edge effects
_SOURCE_POSITION_STEP_S = 0.05  # spacing of the source positions the hall is fitted to


class _SplineTrajectory(BodyTrajectory):
    """Position B-spline and RotationSpline, both on times [s] since the first data stamp."""

    def __init__(self, start_ns: int, duration_s: float, offset_s: float, position_spline, rotation_spline,
                 source_speed: tuple[np.ndarray, np.ndarray] | None = None,
                 source_positions: np.ndarray | None = None):
        super().__init__(start_ns, duration_s)
        self._offset_s = offset_s
        self._pos = position_spline
        self._rot = rotation_spline
        self._source_speed = source_speed
        self._source_positions = source_positions

    def source_speed(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self._source_speed

    def source_positions(self) -> np.ndarray | None:
        return self._source_positions

    def _evaluate(self, t: np.ndarray) -> TrajectorySample:
        tt = t + self._offset_s
        # RotationSpline models R(t) = R_k exp(r(t)) with r cubic, so its first derivative
        # J_r(r) r' is the body-frame rate (checked against finite differences in the tests).
        return TrajectorySample(self._pos(tt), self._rot(tt).as_matrix(), self._pos(tt, 1),
                                self._pos(tt, 2), self._rot(tt, 1))


def trajectory_from_tum(path: str | Path, duration_s: float | None = None,
                        start_offset_s: float = 0.0) -> BodyTrajectory:
    """Smooth twin of a TUM ground-truth file (for example a real EuRoC sequence).

    Positions: least-squares quintic B-spline (C4) with knots every
    ``POSITION_KNOT_SPACING_S``, so measurement noise is not amplified into the
    acceleration. Orientations: ``scipy`` RotationSpline (C2) through keyframes every
    ``ROTATION_KEYFRAME_S``; it works on relative rotations, so quaternion signs in the
    file do not matter. On EuRoC MH_01 the fit residuals are ~0.2 mm and ~0.03 deg RMS.

    t = 0 is the first stamp plus ``start_offset_s`` (exact int64 ns); the duration is the
    rest of the file, or ``duration_s`` clipped to it.
    """
    from scipy.interpolate import make_lsq_spline
    from scipy.spatial.transform import Rotation, RotationSpline

    from ..tum import read_tum

    gt = read_tum(path)
    if len(gt) < 2:
        raise DatasetError("a trajectory needs at least two poses", path)
    t_data = (gt.timestamps_ns - gt.timestamps_ns[0]) * 1e-9
    if not 0.0 <= start_offset_s < t_data[-1]:
        raise DatasetError(f"start_offset_s must be in [0, {t_data[-1]:.3f}) s for this file, "
                           f"got {start_offset_s!r}", path)
    start_ns = int(gt.timestamps_ns[0]) + int(round(start_offset_s * 1e9))
    offset_s = (start_ns - int(gt.timestamps_ns[0])) * 1e-9
    available = t_data[-1] - offset_s
    if duration_s is not None and not duration_s > 0:
        raise DatasetError(f"duration_s must be positive, got {duration_s!r}", path)
    duration = available if duration_s is None else min(float(duration_s), available)

    lo = max(0.0, offset_s - _FIT_MARGIN_S)
    hi = min(t_data[-1], offset_s + duration + _FIT_MARGIN_S)
    i0 = int(np.searchsorted(t_data, lo, side="right")) - 1
    i1 = int(np.searchsorted(t_data, hi, side="left"))
    t_fit, p_fit = t_data[i0:i1 + 1], gt.p_world_body[i0:i1 + 1]
    k = 5
    inner = np.arange(t_fit[0] + POSITION_KNOT_SPACING_S, t_fit[-1] - 0.5 * POSITION_KNOT_SPACING_S,
                      POSITION_KNOT_SPACING_S)
    knots = np.r_[[t_fit[0]] * (k + 1), inner, [t_fit[-1]] * (k + 1)]
    try:
        pos = make_lsq_spline(t_fit, p_fit, knots, k=k)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise DatasetError(f"cannot fit a position spline (gaps in the data?): {exc}", path) from None

    stride = max(1, int(round(ROTATION_KEYFRAME_S / np.median(np.diff(t_fit)))))
    keys = np.arange(i0, i1 + 1, stride)
    if keys[-1] != i1:
        keys = np.r_[keys, i1]
    rot = RotationSpline(t_data[keys], Rotation.from_quat(gt.q_world_body_xyzw[keys]))
    every = max(1, int(round(_SOURCE_POSITION_STEP_S / np.median(np.diff(t_data)))))
    return _SplineTrajectory(start_ns, duration, offset_s, pos, rot, _file_speed(t_data - offset_s, gt.p_world_body),
                             gt.p_world_body[::every].copy())


def _file_speed(t_s: np.ndarray, p: np.ndarray, window_s: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Speed [m/s] of a whole ground-truth file: central differences of positions averaged
    over ``window_s`` (damps the differentiated measurement noise); (times [s], speeds)."""
    keep = np.r_[True, np.diff(t_s) > 0]
    t_s, p = t_s[keep], p[keep]
    distance = np.cumsum(np.r_[0.0, np.linalg.norm(np.diff(p, axis=0), axis=1)])
    half = 0.5 * window_s
    lo = np.interp(np.clip(t_s - half, t_s[0], t_s[-1]), t_s, distance)
    hi = np.interp(np.clip(t_s + half, t_s[0], t_s[-1]), t_s, distance)
    span = np.clip(t_s + half, t_s[0], t_s[-1]) - np.clip(t_s - half, t_s[0], t_s[-1])
    return t_s, (hi - lo) / np.maximum(span, 1e-9)
