"""SO(3) and SE(3) maps, right Jacobians and Hamilton quaternion conversions (float64).

Conventions (Forster et al., "On-Manifold Preintegration for Real-Time Visual-Inertial
Odometry", T-RO 2017, Sec. III; Barfoot, "State Estimation for Robotics", 2017, Sec. 7.1):

- ``skew(w) @ b == cross(w, b)``; rotation vectors ``phi`` [rad] with theta = |phi|.
- ``so3_exp(phi) = I + sin(t)/t K + (1 - cos t)/t^2 K^2`` with K = skew(phi)
  (Forster eq. 3); ``so3_log`` returns |phi| <= pi (eq. 5), robust near 0 and pi.
- Right Jacobian (Forster eq. 8): ``Exp(phi + dphi) ~= Exp(phi) Exp(Jr(phi) dphi)``,
  ``Jr = I - (1 - cos t)/t^2 K + (t - sin t)/t^3 K^2``, and its inverse
  ``Jr^-1 = I + K/2 + (1/t^2 - (1 + cos t)/(2 t sin t)) K^2`` (eq. 9), valid for t < 2 pi.
- SE(3) twists are ordered ``xi = [rho (translation, m), phi (rotation, rad)]``;
  ``se3_exp(xi) = [[Exp(phi), Jl(phi) rho], [0, 1]]`` with Jl(phi) = Jr(-phi)
  (Barfoot eq. 7.85).
- Quaternions are Hamilton; every function names its order: ``wxyz`` (EuRoC) or
  ``xyzw`` (TUM, SciPy). Outputs are unit with w >= 0; inputs are normalised.

Below 1e-4 rad the closed forms are replaced by Taylor series. The numba versions of
each function are ``vio._kernels.nb_<name>``.
"""
from __future__ import annotations

import numpy as np

from . import _kernels as _k


def _as(x, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.ascontiguousarray(x, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")
    return array


def skew(w) -> np.ndarray:
    """3-vector -> 3x3 skew-symmetric matrix, ``skew(w) @ b == cross(w, b)``."""
    return _k.nb_skew(_as(w, (3,), "skew"))


def so3_exp(phi) -> np.ndarray:
    """Rotation vector [rad] -> rotation matrix (Forster eq. 3)."""
    return _k.nb_so3_exp(_as(phi, (3,), "so3_exp"))


def so3_log(R) -> np.ndarray:
    """Rotation matrix -> rotation vector [rad], |phi| <= pi (Forster eq. 5)."""
    return _k.nb_so3_log(_as(R, (3, 3), "so3_log"))


def so3_right_jacobian(phi) -> np.ndarray:
    """Right Jacobian Jr(phi) of SO(3) (Forster eq. 8)."""
    return _k.nb_so3_right_jacobian(_as(phi, (3,), "so3_right_jacobian"))


def so3_right_jacobian_inv(phi) -> np.ndarray:
    """Inverse right Jacobian Jr(phi)^-1 (Forster eq. 9), |phi| < 2 pi."""
    return _k.nb_so3_right_jacobian_inv(_as(phi, (3,), "so3_right_jacobian_inv"))


def se3_exp(xi) -> np.ndarray:
    """Twist [rho (translation, m), phi (rotation, rad)] -> 4x4 transform."""
    return _k.nb_se3_exp(_as(xi, (6,), "se3_exp"))


def se3_log(T) -> np.ndarray:
    """4x4 transform -> twist [rho (translation, m), phi (rotation, rad)]."""
    return _k.nb_se3_log(_as(T, (4, 4), "se3_log"))


def quat_wxyz_to_rot(q_wxyz) -> np.ndarray:
    """Hamilton quaternion [w, x, y, z] -> rotation matrix."""
    return _k.nb_quat_wxyz_to_rot(_as(q_wxyz, (4,), "quat_wxyz_to_rot"))


def rot_to_quat_wxyz(R) -> np.ndarray:
    """Rotation matrix -> unit Hamilton quaternion [w, x, y, z], w >= 0."""
    return _k.nb_rot_to_quat_wxyz(_as(R, (3, 3), "rot_to_quat_wxyz"))


def quat_xyzw_to_rot(q_xyzw) -> np.ndarray:
    """Hamilton quaternion [x, y, z, w] -> rotation matrix."""
    return _k.nb_quat_xyzw_to_rot(_as(q_xyzw, (4,), "quat_xyzw_to_rot"))


def rot_to_quat_xyzw(R) -> np.ndarray:
    """Rotation matrix -> unit Hamilton quaternion [x, y, z, w], w >= 0."""
    return _k.nb_rot_to_quat_xyzw(_as(R, (3, 3), "rot_to_quat_xyzw"))


def quat_wxyz_to_xyzw(q_wxyz) -> np.ndarray:
    """Reorder [w, x, y, z] -> [x, y, z, w]."""
    return _k.nb_quat_wxyz_to_xyzw(_as(q_wxyz, (4,), "quat_wxyz_to_xyzw"))


def quat_xyzw_to_wxyz(q_xyzw) -> np.ndarray:
    """Reorder [x, y, z, w] -> [w, x, y, z]."""
    return _k.nb_quat_xyzw_to_wxyz(_as(q_xyzw, (4,), "quat_xyzw_to_wxyz"))
