"""Numba kernels of the VIO back-end: SO(3)/SE(3) maps and IMU preintegration.

Lie functions (``nb_*``) take and return small float64 arrays so that other kernels can
call them; :mod:`vio.lie` wraps them with input validation. Formulas and conventions are
documented there (Forster et al., T-RO 2017, Sec. III; Barfoot, "State Estimation for
Robotics", 2017, Sec. 7.1). Angles below ``SMALL_ANGLE`` [rad] use Taylor expansions.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

SMALL_ANGLE = 1e-4  # [rad]; below it the series are exact to double precision
NEAR_PI_COS = -0.95  # so3_log reads the axis from the symmetric part when cos(theta) < this
_INV6, _INV20, _INV24, _INV30, _INV42, _INV120 = 1 / 6, 1 / 20, 1 / 24, 1 / 30, 1 / 42, 1 / 120


@njit(cache=True)
def nb_skew(w):
    """3-vector -> 3x3 skew-symmetric matrix with skew(a) @ b == cross(a, b)."""
    out = np.zeros((3, 3))
    out[0, 1] = -w[2]
    out[0, 2] = w[1]
    out[1, 0] = w[2]
    out[1, 2] = -w[0]
    out[2, 0] = -w[1]
    out[2, 1] = w[0]
    return out


@njit(cache=True)
def _so3_coefficients(theta2):
    """(sin t / t, (1 - cos t) / t^2, (t - sin t) / t^3) at t = sqrt(theta2)."""
    if theta2 < SMALL_ANGLE * SMALL_ANGLE:
        a = 1.0 - theta2 * _INV6 * (1.0 - theta2 * _INV20)
        b = 0.5 - theta2 * _INV24 * (1.0 - theta2 * _INV30)
        c = _INV6 - theta2 * _INV120 * (1.0 - theta2 * _INV42)
        return a, b, c
    theta = math.sqrt(theta2)
    s = math.sin(theta)
    half = math.sin(0.5 * theta)
    return s / theta, 2.0 * half * half / theta2, (theta - s) / (theta2 * theta)


@njit(cache=True)
def _polynomial(phi, c1, c2):
    """I + c1 skew(phi) + c2 skew(phi)^2 (skew^2 = phi phi^T - |phi|^2 I)."""
    out = np.empty((3, 3))
    theta2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2]
    for r in range(3):
        for c in range(3):
            out[r, c] = c2 * phi[r] * phi[c]
        out[r, r] += 1.0 - c2 * theta2
    out[0, 1] -= c1 * phi[2]
    out[0, 2] += c1 * phi[1]
    out[1, 0] += c1 * phi[2]
    out[1, 2] -= c1 * phi[0]
    out[2, 0] -= c1 * phi[1]
    out[2, 1] += c1 * phi[0]
    return out


@njit(cache=True)
def nb_so3_exp(phi):
    """Rotation vector [rad] -> rotation matrix (Rodrigues)."""
    a, b, _ = _so3_coefficients(phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2])
    return _polynomial(phi, a, b)


@njit(cache=True)
def nb_so3_right_jacobian(phi):
    """Right Jacobian Jr(phi) = I - (1 - cos t)/t^2 K + (t - sin t)/t^3 K^2."""
    _, b, c = _so3_coefficients(phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2])
    return _polynomial(phi, -b, c)


@njit(cache=True)
def _jacobian_inv_coefficient(theta2):
    """1/t^2 - (1 + cos t) / (2 t sin t) = 1/t^2 - cot(t/2) / (2 t), K^2 coefficient of Jr^-1, Jl^-1."""
    if theta2 < SMALL_ANGLE * SMALL_ANGLE:
        return 1.0 / 12.0 + theta2 / 720.0 * (1.0 + theta2 / 42.0)
    theta = math.sqrt(theta2)
    return 1.0 / theta2 - math.cos(0.5 * theta) / (2.0 * theta * math.sin(0.5 * theta))


@njit(cache=True)
def nb_so3_right_jacobian_inv(phi):
    """Jr(phi)^-1 = I + K/2 + (1/t^2 - (1 + cos t)/(2 t sin t)) K^2 (|phi| < 2 pi)."""
    theta2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2]
    return _polynomial(phi, 0.5, _jacobian_inv_coefficient(theta2))


@njit(cache=True)
def nb_so3_log(R):
    """Rotation matrix -> rotation vector [rad] with |phi| <= pi.

    theta = atan2(|v|, (tr R - 1) / 2) with v = vee(R - R^T) / 2 = sin(theta) axis; near
    pi the axis comes from the symmetric part (R + R^T)/2 - cos(theta) I =
    (1 - cos(theta)) axis axis^T, its sign from v.
    """
    v0 = 0.5 * (R[2, 1] - R[1, 2])
    v1 = 0.5 * (R[0, 2] - R[2, 0])
    v2 = 0.5 * (R[1, 0] - R[0, 1])
    s = math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
    c = min(max(0.5 * (R[0, 0] + R[1, 1] + R[2, 2] - 1.0), -1.0), 1.0)
    theta = math.atan2(s, c)
    out = np.empty(3)
    if c >= NEAR_PI_COS:
        if theta < SMALL_ANGLE:
            scale = 1.0 + theta * theta / 6.0 * (1.0 + 7.0 * theta * theta / 60.0)
        else:
            scale = theta / s
        out[0] = scale * v0
        out[1] = scale * v1
        out[2] = scale * v2
        return out
    k = 0
    for i in range(1, 3):
        if R[i, i] > R[k, k]:
            k = i
    for i in range(3):
        out[i] = 0.5 * (R[i, k] + R[k, i])
    out[k] -= c
    norm = math.sqrt(out[0] * out[0] + out[1] * out[1] + out[2] * out[2])
    sign = 1.0 if out[0] * v0 + out[1] * v1 + out[2] * v2 >= 0.0 else -1.0
    for i in range(3):
        out[i] *= sign * theta / norm
    return out


@njit(cache=True)
def _matvec(M, x):
    """3x3 matrix times 3-vector."""
    out = np.empty(3)
    for r in range(3):
        out[r] = M[r, 0] * x[0] + M[r, 1] * x[1] + M[r, 2] * x[2]
    return out


@njit(cache=True)
def nb_se3_exp(xi):
    """Twist xi = [rho (translation), phi (rotation)] -> 4x4 transform [Exp(phi), Jl(phi) rho]."""
    phi = xi[3:6]
    a, b, c = _so3_coefficients(phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2])
    R = _polynomial(phi, a, b)
    t = _matvec(_polynomial(phi, b, c), xi[0:3])
    out = np.zeros((4, 4))
    for r in range(3):
        for col in range(3):
            out[r, col] = R[r, col]
        out[r, 3] = t[r]
    out[3, 3] = 1.0
    return out


@njit(cache=True)
def nb_se3_log(T):
    """4x4 transform -> twist [rho (translation), phi (rotation)], rho = Jl(phi)^-1 t."""
    phi = nb_so3_log(T[:3, :3])
    theta2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2]
    rho = _matvec(_polynomial(phi, -0.5, _jacobian_inv_coefficient(theta2)), T[:3, 3])
    return np.array([rho[0], rho[1], rho[2], phi[0], phi[1], phi[2]])


@njit(cache=True)
def nb_quat_wxyz_to_rot(q):
    """Hamilton quaternion [w, x, y, z] (normalised here) -> rotation matrix."""
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    w, x, y, z = q[0] / n, q[1] / n, q[2] / n, q[3] / n
    out = np.empty((3, 3))
    out[0, 0] = 1.0 - 2.0 * (y * y + z * z)
    out[0, 1] = 2.0 * (x * y - w * z)
    out[0, 2] = 2.0 * (x * z + w * y)
    out[1, 0] = 2.0 * (x * y + w * z)
    out[1, 1] = 1.0 - 2.0 * (x * x + z * z)
    out[1, 2] = 2.0 * (y * z - w * x)
    out[2, 0] = 2.0 * (x * z - w * y)
    out[2, 1] = 2.0 * (y * z + w * x)
    out[2, 2] = 1.0 - 2.0 * (x * x + y * y)
    return out


@njit(cache=True)
def nb_rot_to_quat_wxyz(R):
    """Rotation matrix -> unit Hamilton quaternion [w, x, y, z] with w >= 0 (Shepperd's method)."""
    tr = R[0, 0] + R[1, 1] + R[2, 2]
    q = np.empty(4)
    if tr >= R[0, 0] and tr >= R[1, 1] and tr >= R[2, 2]:
        s = 2.0 * math.sqrt(1.0 + tr)
        q[0] = 0.25 * s
        q[1] = (R[2, 1] - R[1, 2]) / s
        q[2] = (R[0, 2] - R[2, 0]) / s
        q[3] = (R[1, 0] - R[0, 1]) / s
    elif R[0, 0] >= R[1, 1] and R[0, 0] >= R[2, 2]:
        s = 2.0 * math.sqrt(1.0 + 2.0 * R[0, 0] - tr)
        q[0] = (R[2, 1] - R[1, 2]) / s
        q[1] = 0.25 * s
        q[2] = (R[0, 1] + R[1, 0]) / s
        q[3] = (R[0, 2] + R[2, 0]) / s
    elif R[1, 1] >= R[2, 2]:
        s = 2.0 * math.sqrt(1.0 + 2.0 * R[1, 1] - tr)
        q[0] = (R[0, 2] - R[2, 0]) / s
        q[1] = (R[0, 1] + R[1, 0]) / s
        q[2] = 0.25 * s
        q[3] = (R[1, 2] + R[2, 1]) / s
    else:
        s = 2.0 * math.sqrt(1.0 + 2.0 * R[2, 2] - tr)
        q[0] = (R[1, 0] - R[0, 1]) / s
        q[1] = (R[0, 2] + R[2, 0]) / s
        q[2] = (R[1, 2] + R[2, 1]) / s
        q[3] = 0.25 * s
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if q[0] < 0.0:
        n = -n
    for i in range(4):
        q[i] /= n
    return q


@njit(cache=True)
def nb_quat_wxyz_to_xyzw(q):
    """[w, x, y, z] -> [x, y, z, w] (same quaternion)."""
    return np.array([q[1], q[2], q[3], q[0]])


@njit(cache=True)
def nb_quat_xyzw_to_wxyz(q):
    """[x, y, z, w] -> [w, x, y, z] (same quaternion)."""
    return np.array([q[3], q[0], q[1], q[2]])


@njit(cache=True)
def nb_quat_xyzw_to_rot(q):
    """Hamilton quaternion [x, y, z, w] (normalised here) -> rotation matrix."""
    return nb_quat_wxyz_to_rot(nb_quat_xyzw_to_wxyz(q))


@njit(cache=True)
def nb_rot_to_quat_xyzw(R):
    """Rotation matrix -> unit Hamilton quaternion [x, y, z, w] with w >= 0."""
    return nb_quat_wxyz_to_xyzw(nb_rot_to_quat_wxyz(R))


# ------------------------------------------------------------------ IMU preintegration
#
# Float operations per sample of :func:`preintegrate_imu`, read off the code below as
# (mul, add) per stage; subtractions count as adds, negations are sign flips and not
# counted, copies are free. The Exp/Jr coefficients (:func:`_so3_coefficients`: one
# branch compare, then closed forms or series) add COEFF_OPS_GENERAL, or COEFF_OPS_SERIES
# on samples with rotation angle < SMALL_ANGLE. Kinds are accel_model.workload.OP_KINDS.
PREINTEGRATION_STAGE_OPS = {
    "inputs: dt/2, phi, a, |phi|^2": (7, 8),
    "Exp(phi) and Jr(phi) from phi phi^T": (26, 20),
    "dR a, F = -dt dR [a]x, G = dt/2 F": (45, 15),
    "covariance A S A^T (18 columns of _apply_transition)": (540, 486),
    "covariance + B Q B^T (gyro, accel)": (40, 39),
    "bias Jacobians A J + B_b (6 columns + dt^2/2 + B_b)": (208, 189),
    "deltas dp, dv, dR E": (36, 27),
}
COEFF_OPS_GENERAL = {"mul": 4, "add": 1, "div": 3, "sqrt": 1, "sin": 2, "compare": 1}
COEFF_OPS_SERIES = {"mul": 9, "add": 6, "div": 0, "sqrt": 0, "sin": 0, "compare": 1}


@njit(cache=True)
def _fill_polynomial(phi, pp, theta2, c1, c2, out):
    """out = I + c1 K + c2 K^2 with K = skew(phi), K^2 = pp - theta2 I, pp = phi phi^T.

    10 mul, 10 add.
    """
    d = 1.0 - c2 * theta2
    s01 = c2 * pp[0, 1]
    s02 = c2 * pp[0, 2]
    s12 = c2 * pp[1, 2]
    w0 = c1 * phi[0]
    w1 = c1 * phi[1]
    w2 = c1 * phi[2]
    out[0, 0] = c2 * pp[0, 0] + d
    out[1, 1] = c2 * pp[1, 1] + d
    out[2, 2] = c2 * pp[2, 2] + d
    out[0, 1] = s01 - w2
    out[1, 0] = s01 + w2
    out[0, 2] = s02 + w1
    out[2, 0] = s02 - w1
    out[1, 2] = s12 - w0
    out[2, 1] = s12 + w0


@njit(cache=True)
def _apply_transition(E, F, G, dt, X, out):
    """out = A X for a 9 x m matrix X, rows [rot, vel, pos], with the one-step transition

        A = [[E^T, 0, 0], [F, I, 0], [G, dt I, I]]

    (Forster et al., T-RO 2017, App. A). 30 mul, 27 add per column.
    """
    for col in range(X.shape[1]):
        x0 = X[0, col]
        x1 = X[1, col]
        x2 = X[2, col]
        for i in range(3):
            out[i, col] = E[0, i] * x0 + E[1, i] * x1 + E[2, i] * x2
            out[3 + i, col] = F[i, 0] * x0 + F[i, 1] * x1 + F[i, 2] * x2 + X[3 + i, col]
            out[6 + i, col] = G[i, 0] * x0 + G[i, 1] * x1 + G[i, 2] * x2 + dt * X[3 + i, col] + X[6 + i, col]


@njit(cache=True)
def preintegrate_imu(dt_s, gyro, accel, bias_g, bias_a, gyro_psd, accel_psd,
                     delta_R, delta_v, delta_p, cov, jac):
    """Integrate N held IMU samples into the preintegrated state, in place.

    Sample k (gyro [rad/s], accel [m/s^2], body frame) holds over its interval dt_s[k] [s].
    With w = gyro_k - bias_g, a = accel_k - bias_a, E = Exp(w dt), Jr = Jr(w dt)
    (Forster et al., T-RO 2017, Sec. V-A and App. A-B; GTSAM's ManifoldPreintegration):

        dp <- dp + dv dt + dR a dt^2 / 2,   dv <- dv + dR a dt,   dR <- dR E
        cov <- A cov A^T + (gyro_psd dt) Jr Jr^T [rot] + accel_psd dt [[I, dt/2 I], [dt/2 I, dt^2/4 I]] [vel, pos]
        jac <- A jac + [[-Jr dt, 0], [0, -dR dt], [0, -dR dt^2 / 2]]

    with A from :func:`_apply_transition`, F = -dR [a]x dt, G = F dt / 2. The noise
    terms are B diag(psd / dt) B^T: the discrete white noise of a held sample has variance
    psd / dt (psd = continuous density^2). ``cov`` is 9x9 [rot, vel, pos]; ``jac`` 9x6 is
    d(delta)/d(b_g, b_a) with the rotation row block in the right-perturbation tangent.
    Returns how many samples took the small-angle series branch (for operation counts).
    """
    E = np.empty((3, 3))
    Jr = np.empty((3, 3))
    pp = np.empty((3, 3))
    F = np.empty((3, 3))
    G = np.empty((3, 3))
    phi = np.empty(3)
    a = np.empty(3)
    Ra = np.empty(3)
    cov_tmp = np.empty((9, 9))
    jac_tmp = np.empty((9, 6))
    n_series = 0
    dR = delta_R
    for k in range(dt_s.shape[0]):
        dt = dt_s[k]
        hdt = 0.5 * dt
        for i in range(3):
            phi[i] = (gyro[k, i] - bias_g[i]) * dt
            a[i] = accel[k, i] - bias_a[i]
        theta2 = phi[0] * phi[0] + phi[1] * phi[1] + phi[2] * phi[2]
        ca, cb, cc = _so3_coefficients(theta2)
        if theta2 < SMALL_ANGLE * SMALL_ANGLE:
            n_series += 1
        for r in range(3):
            for c in range(r, 3):
                pp[r, c] = phi[r] * phi[c]
                pp[c, r] = pp[r, c]
        _fill_polynomial(phi, pp, theta2, ca, cb, E)
        _fill_polynomial(phi, pp, theta2, -cb, cc, Jr)
        for r in range(3):
            Ra[r] = dR[r, 0] * a[0] + dR[r, 1] * a[1] + dR[r, 2] * a[2]
            F[r, 0] = dt * (dR[r, 2] * a[1] - dR[r, 1] * a[2])
            F[r, 1] = dt * (dR[r, 0] * a[2] - dR[r, 2] * a[0])
            F[r, 2] = dt * (dR[r, 1] * a[0] - dR[r, 0] * a[1])
            for c in range(3):
                G[r, c] = hdt * F[r, c]
        _apply_transition(E, F, G, dt, cov, cov_tmp)
        _apply_transition(E, F, G, dt, cov_tmp.T, cov)
        qg = gyro_psd * dt
        for r in range(3):
            for c in range(3):
                cov[r, c] += qg * (Jr[r, 0] * Jr[c, 0] + Jr[r, 1] * Jr[c, 1] + Jr[r, 2] * Jr[c, 2])
        qa = accel_psd * dt
        qa1 = qa * hdt
        qa2 = qa1 * hdt
        for i in range(3):
            cov[3 + i, 3 + i] += qa
            cov[3 + i, 6 + i] += qa1
            cov[6 + i, 3 + i] += qa1
            cov[6 + i, 6 + i] += qa2
        _apply_transition(E, F, G, dt, jac, jac_tmp)
        hdt2 = hdt * dt
        for r in range(3):
            for c in range(3):
                jac[r, c] = jac_tmp[r, c] - Jr[r, c] * dt
                jac[3 + r, c] = jac_tmp[3 + r, c]
                jac[6 + r, c] = jac_tmp[6 + r, c]
                jac[r, 3 + c] = jac_tmp[r, 3 + c]
                jac[3 + r, 3 + c] = jac_tmp[3 + r, 3 + c] - dR[r, c] * dt
                jac[6 + r, 3 + c] = jac_tmp[6 + r, 3 + c] - dR[r, c] * hdt2
        for i in range(3):
            delta_p[i] += delta_v[i] * dt + Ra[i] * hdt2
            delta_v[i] += Ra[i] * dt
        for r in range(3):  # dR <- dR E, row by row
            x0 = dR[r, 0]
            x1 = dR[r, 1]
            x2 = dR[r, 2]
            for c in range(3):
                dR[r, c] = x0 * E[0, c] + x1 * E[1, c] + x2 * E[2, c]
    return n_series
