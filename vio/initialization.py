"""VIO initialisation: static (IMU at rest) and dynamic (visual-inertial alignment).

World frame: z up, gravity ``(0, 0, -|g|)``; yaw is unobservable and set so that the
first body x axis has no world y component (static) or kept from the visual frame
(dynamic). Body = IMU frame.

Static: at rest the accelerometer reads ``f = R_world_body^T (0, 0, |g|) + b_a``, so
the mean reading gives roll and pitch and the mean gyro reading the gyro bias.
Dynamic: the stereo-visual keyframe poses are metric, so the linear alignment of
Qin et al. (VINS-Mono, T-RO 2018, Sec. V-B) reduces to solving for the gyro bias,
then the keyframe velocities and gravity, with |g| fixed by a tangent-space refinement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lie import so3_exp, so3_log
from .preintegration import ImuBias, ImuPreintegration


class InitializationError(Exception):
    """The data cannot initialise the estimator (not at rest, too little motion, ...)."""


@dataclass(frozen=True)
class StaticInitConfig:
    """Thresholds of the rest detector: std of the gyro [rad/s] and accel [m/s^2]
    norms over the window, and the minimum window length [s]. The defaults admit the
    rotor vibration of a MAV idling on the ground (EuRoC V1_01: 0.03 rad/s, 0.3 m/s^2)."""

    max_gyro_std: float = 0.1
    max_accel_std: float = 0.5
    min_duration_s: float = 0.5
    gravity_magnitude: float = 9.81

    def __post_init__(self) -> None:
        for name in ("max_gyro_std", "max_accel_std", "min_duration_s", "gravity_magnitude"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"StaticInitConfig.{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class InitialState:
    """R_world_body (3, 3), p_world_body [m], v_world [m/s] and the IMU bias at one stamp."""

    timestamp_ns: int
    R_world_body: np.ndarray
    p_world_body: np.ndarray
    v_world: np.ndarray
    bias: ImuBias


def gravity_aligned_rotation(f_body: np.ndarray) -> np.ndarray:
    """R_world_body that maps the measured up direction ``f_body`` onto world +z, with zero yaw
    (the body x axis projected on the ground points along world +x)."""
    up = f_body / np.linalg.norm(f_body)
    x = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = x - up * (x @ up)
    x /= np.linalg.norm(x)
    R_body_world = np.column_stack([x, np.cross(up, x), up])  # world axes in body coordinates
    R = R_body_world.T
    # remove the yaw of the body x axis around world z
    bx = R[:, 0]
    yaw = np.arctan2(bx[1], bx[0]) if np.hypot(bx[0], bx[1]) > 1e-6 else 0.0
    return so3_exp(np.array([0.0, 0.0, -yaw])) @ R


def is_static(gyro: np.ndarray, accel: np.ndarray, config: StaticInitConfig = StaticInitConfig()) -> bool:
    """True when the gyro and accel norms vary less than the configured std over the window."""
    return (np.linalg.norm(gyro, axis=1).std() <= config.max_gyro_std
            and np.linalg.norm(accel, axis=1).std() <= config.max_accel_std)


def static_initialize(timestamps_ns: np.ndarray, gyro: np.ndarray, accel: np.ndarray,
                      config: StaticInitConfig = StaticInitConfig()) -> InitialState:
    """Initial state at the last stamp of an IMU window at rest.

    Gyro bias = mean gyro [rad/s]. The accel bias is observable only along gravity:
    b_a = f_mean - |g| f_mean / |f_mean| (the magnitude error of the mean specific force).
    Raises InitializationError when the window is too short or the IMU moves.
    """
    timestamps_ns = np.asarray(timestamps_ns, dtype=np.int64)
    if len(timestamps_ns) < 2 or (timestamps_ns[-1] - timestamps_ns[0]) * 1e-9 < config.min_duration_s:
        raise InitializationError(f"static initialisation needs {config.min_duration_s} s of IMU data")
    if not is_static(gyro, accel, config):
        raise InitializationError("the IMU is not at rest over the initialisation window")
    f_mean = accel.mean(axis=0)
    up = f_mean / np.linalg.norm(f_mean)
    bias = ImuBias(gyro=gyro.mean(axis=0), accel=f_mean - config.gravity_magnitude * up)
    return InitialState(int(timestamps_ns[-1]), gravity_aligned_rotation(f_mean), np.zeros(3), np.zeros(3), bias)


def estimate_gyro_bias(R_ref_body: list[np.ndarray], pims: list[ImuPreintegration]) -> np.ndarray:
    """Gyro bias correction [rad/s] that best explains the visual relative rotations.

    Minimises sum_k |Log(dR_k(b)^T R_k^T R_k+1)|^2 with dR_k(b) = dR_k Exp(J_k db) (Forster
    eq. 44), linearised once (VINS-Mono Sec. V-B1). Returned as a change to the pims' bias.
    """
    A, b = np.zeros((3, 3)), np.zeros(3)
    for k, pim in enumerate(pims):
        J = pim.jacobian_bias[0:3, 0:3]
        r = so3_log(pim.delta_R.T @ R_ref_body[k].T @ R_ref_body[k + 1])
        A += J.T @ J
        b += J.T @ r
    return np.linalg.solve(A, b)


def _tangent_basis(g: np.ndarray) -> np.ndarray:
    """Two unit vectors (3, 2) orthogonal to g."""
    n = g / np.linalg.norm(g)
    a = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    b1 = a - n * (a @ n)
    b1 /= np.linalg.norm(b1)
    return np.column_stack([b1, np.cross(n, b1)])


def _alignment_rows(R: list[np.ndarray], p: list[np.ndarray], pims: list[ImuPreintegration],
                    bias: ImuBias) -> tuple[np.ndarray, np.ndarray]:
    """Rows of A x = y in x = [v_0 .. v_n (3 each), g (3)] from p, v kinematics per interval."""
    n = len(R)
    A = np.zeros((6 * (n - 1), 3 * n + 3))
    y = np.zeros(6 * (n - 1))
    for k, pim in enumerate(pims):
        _, dv, dp = pim.corrected_deltas(bias)
        dt = pim.dt_s
        rows = slice(6 * k, 6 * k + 3)
        A[rows, 3 * k:3 * k + 3] = dt * np.eye(3)                 # p_k+1 = p_k + v_k dt + g dt^2/2 + R_k dp
        A[rows, 3 * n:] = 0.5 * dt * dt * np.eye(3)
        y[rows] = p[k + 1] - p[k] - R[k] @ dp
        rows = slice(6 * k + 3, 6 * k + 6)
        A[rows, 3 * k:3 * k + 3] = -np.eye(3)                     # v_k+1 = v_k + g dt + R_k dv
        A[rows, 3 * (k + 1):3 * (k + 2)] = np.eye(3)
        A[rows, 3 * n:] = -dt * np.eye(3)
        y[rows] = R[k] @ dv
    return A, y


def visual_inertial_alignment(timestamps_ns: np.ndarray, R_ref_body: list[np.ndarray],
                              p_ref_body: list[np.ndarray], pims: list[ImuPreintegration],
                              gravity_magnitude: float = 9.81, refinements: int = 4) -> list[InitialState]:
    """Gravity-aligned states of every keyframe from metric visual poses and preintegrations.

    R_ref_body, p_ref_body: body poses in an arbitrary visual reference frame (stereo
    gives metric scale); pims[k] integrates from keyframe k to k+1. Solves the gyro bias,
    then velocities and gravity (VINS-Mono Sec. V-B2/B3 with the scale fixed to 1),
    then rotates the reference frame so gravity points along world -z.
    """
    n = len(R_ref_body)
    if n < 3 or len(pims) != n - 1:
        raise InitializationError("alignment needs at least 3 keyframes and one preintegration per interval")
    base = pims[0].bias
    bias = ImuBias(gyro=base.gyro + estimate_gyro_bias(R_ref_body, pims), accel=base.accel)
    A, y = _alignment_rows(R_ref_body, p_ref_body, pims, bias)
    x, *_ = np.linalg.lstsq(A, y, rcond=None)
    g = x[3 * n:]
    if not np.isfinite(g).all() or np.linalg.norm(g) < 0.5 * gravity_magnitude:
        raise InitializationError(f"gravity estimate {np.linalg.norm(g):.2f} m/s^2 is implausible "
                                  "(too little excitation?)")
    for _ in range(refinements):  # |g| fixed: g = |g| n + B w, solve for v and w
        g = gravity_magnitude * g / np.linalg.norm(g)
        B = _tangent_basis(g)
        A_r = np.hstack([A[:, :3 * n], A[:, 3 * n:] @ B])
        sol, *_ = np.linalg.lstsq(A_r, y - A[:, 3 * n:] @ g, rcond=None)
        g = g + B @ sol[3 * n:]
        x[:3 * n] = sol[:3 * n]
    g = gravity_magnitude * g / np.linalg.norm(g)
    R_world_ref = _rotation_taking(-g / gravity_magnitude, np.array([0.0, 0.0, 1.0]))
    states = []
    for k in range(n):
        states.append(InitialState(int(timestamps_ns[k]), R_world_ref @ R_ref_body[k],
                                   R_world_ref @ (p_ref_body[k] - p_ref_body[0]),
                                   R_world_ref @ x[3 * k:3 * k + 3], bias))
    return states


def _rotation_taking(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation R with R a = b for unit vectors a, b."""
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        return np.eye(3) if c > 0 else so3_exp(np.pi * _tangent_basis(a)[:, 0])
    return so3_exp(axis / s * np.arctan2(s, c))
