"""Numba kernels of the sliding-window back-end.

Hot loops of one Gauss-Newton / Levenberg-Marquardt iteration, batched over arrays:
reprojection residuals and Jacobians of all observations with H/b accumulation,
IMU and prior factors, landmark elimination (Schur complement), the operation counts of
the envelope Cholesky of the reduced camera system (the factor itself comes from LAPACK),
triangular solves and landmark back-substitution.

Layouts (N keyframes, L landmarks, M observations, P landmark-keyframe pairs):

- states: ``R`` (N,3,3) R_world_body, ``p``, ``v``, ``bg``, ``ba`` (N,3); the 15-dim
  error state is [dtheta (right perturbation), dp, dv, dbg, dba] (``vio.state``).
- H: upper triangle of the keyframe-level block matrix, ``H[blk_id[i, j]]`` (15x15) is
  block (i, j) for i <= j, ``blk_id`` -1 where the block is structurally zero.
  ``rhs`` (N,15) is b = -J^T W r, so that H dx = b is the Gauss-Newton step.
- landmarks: ``Hll`` (L,3,3), ``gl`` (L,3) (= -J_l^T W r) and ``W`` (P,6,3) = H_{pose,l}
  for every keyframe slot of each landmark; only the first ``d`` (1 inverse depth,
  3 world point) rows/columns are used.

Every kernel increments ``ops`` (int64, indexed by ``accel_model.workload.OP_*``) where
the arithmetic happens and ``traffic`` ((len(BUFFERS), 2) int64: words read, written)
where a named buffer is accessed. sin/cos are counted as "sin"; atan2 (in Log) and the
log of the Cauchy loss have no operation kind and are not counted.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from accel_model.workload import (
    OP_ADD,
    OP_CMP,
    OP_DIV,
    OP_KINDS,
    OP_MUL,
    OP_SIN,
    OP_SQRT,
)
from vio._kernels import (
    nb_so3_exp,
    nb_so3_log,
    nb_so3_right_jacobian,
    nb_so3_right_jacobian_inv,
)

# landmark_local: one landmark's H_ll, b_l and W slots next to the arithmetic while its
# observations are accumulated and while it is eliminated; landmark_blocks holds every
# landmark's final blocks between the phases (written once, read once per phase).
BUFFERS = ("states", "observations", "imu_factors", "prior", "H_blocks", "gradient",
           "landmark_blocks", "cholesky", "landmark_local")
BUF_STATES, BUF_OBS, BUF_IMU, BUF_PRIOR, BUF_H, BUF_GRAD, BUF_LM, BUF_CHOL, BUF_LMLOC = range(len(BUFFERS))
READ, WRITE = 0, 1

INVERSE_DEPTH, WORLD_POINT = 0, 1
LOSS_NONE, LOSS_HUBER, LOSS_CAUCHY = 0, 1, 2
STATE_DIM = 15
MIN_DEPTH = 1e-3  # [m] points closer to a camera than this make the observation invalid
MIN_DIAG = 1e-6  # floor of the Marquardt diagonal scaling
# Operations of one SO(3) function of vio._kernels (exp, log, Jr, Jr^-1), counted from its code
# for the general (non-series) branch: about 24 mul, 20 add, 3 div, 1 sqrt, 1 compare, 2 sin/cos.
LIE_OPS = np.zeros(len(OP_KINDS), dtype=np.int64)
LIE_OPS[[OP_MUL, OP_ADD, OP_DIV, OP_SQRT, OP_CMP, OP_SIN]] = [24, 20, 3, 1, 1, 2]


@njit(cache=True, inline="always")
def _count(ops, mul, add, div, sqrt, cmp):
    ops[OP_MUL] += mul
    ops[OP_ADD] += add
    ops[OP_DIV] += div
    ops[OP_SQRT] += sqrt
    ops[OP_CMP] += cmp


@njit(cache=True)
def _count_lie(ops, n):
    for k in range(LIE_OPS.shape[0]):
        ops[k] += n * LIE_OPS[k]


# ------------------------------------------------------------------ reprojection


@njit(cache=True)
def landmark_dim(param):
    return 1 if param == INVERSE_DEPTH else 3


@njit(cache=True, inline="always")
def reprojection_observation(R, p, j, a, lm, bearing, l, param, same, R_bc, t_bc, K, uv, o,
                             want_jac, r, J, G, ops):
    """Residual and Jacobians of observation ``uv[o]`` of landmark l in keyframe j (anchor a),
    unwhitened [px]; arrays are indexed in place (no views in the hot loop).

    r = [pi_0(p_c0) - uv_left, pi_1(p_c1) - uv_right] with the pinhole projection
    pi_c(x) = (fx x/z + cx, fy y/z + cy) and p_c = R_bc^T (q - t_bc) the point in camera c,
    q = R_j^T (p_w - p_j) the point in the observing body frame j (T_body_cam per camera).
    The landmark is p_w = lm (world point) or, anchored inverse depth (Navion/VINS style),
    p_w = R_a m + p_a with m = R_bc0 bearing / rho + t_bc0, bearing = (x_n, y_n, 1) of the
    first observation in cam0 of anchor keyframe a and rho = lm[0] [1/m]. When ``same``
    (j is the anchor), q = m and no pose enters.

    Jacobians (right perturbation R <- R Exp(dtheta), p <- p + dp):
    dq/dtheta_j = [q]x, dq/dp_j = -R_j^T, dq/dtheta_a = -R_j^T R_a [m]x, dq/dp_a = R_j^T,
    dq/drho = -R_j^T R_a R_bc0 bearing / rho^2, dq/dp_w = R_j^T; d pi/d p_c =
    [[fx/z, 0, -fx x/z^2], [0, fy/z, -fy y/z^2]]. ``J`` (4,15) gets the columns
    [dtheta_j, dp_j, dtheta_a, dp_a, landmark (d)]; ``G`` (3,15) is scratch (dq/d the same).
    Returns False when rho <= 0 or the point is closer than MIN_DEPTH to either camera.
    """
    for k in range(15):
        for c in range(3):
            G[c, k] = 0.0
    q0 = 0.0
    q1 = 0.0
    q2 = 0.0
    if param == INVERSE_DEPTH:
        rho = lm[l, 0]
        ops[OP_CMP] += 1
        if rho <= 0.0:
            return False
        inv = 1.0 / rho
        inv2 = inv * inv
        mb0 = R_bc[0, 0, 0] * bearing[l, 0] + R_bc[0, 0, 1] * bearing[l, 1] + R_bc[0, 0, 2] * bearing[l, 2]
        mb1 = R_bc[0, 1, 0] * bearing[l, 0] + R_bc[0, 1, 1] * bearing[l, 1] + R_bc[0, 1, 2] * bearing[l, 2]
        mb2 = R_bc[0, 2, 0] * bearing[l, 0] + R_bc[0, 2, 1] * bearing[l, 1] + R_bc[0, 2, 2] * bearing[l, 2]
        m0 = mb0 * inv + t_bc[0, 0]
        m1 = mb1 * inv + t_bc[0, 1]
        m2 = mb2 * inv + t_bc[0, 2]
        _count(ops, 13, 9, 1, 0, 0)
        if same:
            q0, q1, q2 = m0, m1, m2
            if want_jac:
                G[0, 12] = -mb0 * inv2
                G[1, 12] = -mb1 * inv2
                G[2, 12] = -mb2 * inv2
                _count(ops, 3, 0, 0, 0, 0)
        else:
            d0 = R[a, 0, 0] * m0 + R[a, 0, 1] * m1 + R[a, 0, 2] * m2 + p[a, 0] - p[j, 0]
            d1 = R[a, 1, 0] * m0 + R[a, 1, 1] * m1 + R[a, 1, 2] * m2 + p[a, 1] - p[j, 1]
            d2 = R[a, 2, 0] * m0 + R[a, 2, 1] * m1 + R[a, 2, 2] * m2 + p[a, 2] - p[j, 2]
            q0 = R[j, 0, 0] * d0 + R[j, 1, 0] * d1 + R[j, 2, 0] * d2
            q1 = R[j, 0, 1] * d0 + R[j, 1, 1] * d1 + R[j, 2, 1] * d2
            q2 = R[j, 0, 2] * d0 + R[j, 1, 2] * d1 + R[j, 2, 2] * d2
            _count(ops, 18, 18, 0, 0, 0)
            if want_jac:
                for c in range(3):
                    # A = R_j^T R_a, row c
                    a0 = R[j, 0, c] * R[a, 0, 0] + R[j, 1, c] * R[a, 1, 0] + R[j, 2, c] * R[a, 2, 0]
                    a1 = R[j, 0, c] * R[a, 0, 1] + R[j, 1, c] * R[a, 1, 1] + R[j, 2, c] * R[a, 2, 1]
                    a2 = R[j, 0, c] * R[a, 0, 2] + R[j, 1, c] * R[a, 1, 2] + R[j, 2, c] * R[a, 2, 2]
                    # -A [m]x, [m]x = [[0,-m2,m1],[m2,0,-m0],[-m1,m0,0]]
                    G[c, 6] = -(a1 * m2 - a2 * m1)
                    G[c, 7] = -(a2 * m0 - a0 * m2)
                    G[c, 8] = -(a0 * m1 - a1 * m0)
                    G[c, 9] = R[j, 0, c]
                    G[c, 10] = R[j, 1, c]
                    G[c, 11] = R[j, 2, c]
                    G[c, 12] = -(a0 * mb0 + a1 * mb1 + a2 * mb2) * inv2
                _count(ops, 3 * (9 + 6 + 4), 3 * (6 + 3 + 2), 0, 0, 0)
    else:
        d0 = lm[l, 0] - p[j, 0]
        d1 = lm[l, 1] - p[j, 1]
        d2 = lm[l, 2] - p[j, 2]
        q0 = R[j, 0, 0] * d0 + R[j, 1, 0] * d1 + R[j, 2, 0] * d2
        q1 = R[j, 0, 1] * d0 + R[j, 1, 1] * d1 + R[j, 2, 1] * d2
        q2 = R[j, 0, 2] * d0 + R[j, 1, 2] * d1 + R[j, 2, 2] * d2
        _count(ops, 9, 9, 0, 0, 0)
        if want_jac:
            for c in range(3):
                for k in range(3):
                    G[c, 12 + k] = R[j, k, c]
    pose_j = not (param == INVERSE_DEPTH and same)
    anchored = param == INVERSE_DEPTH and not same
    if want_jac and pose_j:
        G[0, 1] = -q2
        G[0, 2] = q1
        G[1, 0] = q2
        G[1, 2] = -q0
        G[2, 0] = -q1
        G[2, 1] = q0
        for c in range(3):
            for k in range(3):
                G[c, 3 + k] = -R[j, k, c]
    n_lm = landmark_dim(param)
    for cam in range(2):
        e0 = q0 - t_bc[cam, 0]
        e1 = q1 - t_bc[cam, 1]
        e2 = q2 - t_bc[cam, 2]
        x = R_bc[cam, 0, 0] * e0 + R_bc[cam, 1, 0] * e1 + R_bc[cam, 2, 0] * e2
        y = R_bc[cam, 0, 1] * e0 + R_bc[cam, 1, 1] * e1 + R_bc[cam, 2, 1] * e2
        z = R_bc[cam, 0, 2] * e0 + R_bc[cam, 1, 2] * e1 + R_bc[cam, 2, 2] * e2
        _count(ops, 9, 9, 0, 0, 1)
        if z < MIN_DEPTH:
            return False
        iz = 1.0 / z
        xn = x * iz
        yn = y * iz
        fx, fy = K[cam, 0], K[cam, 1]
        r[2 * cam] = fx * xn + K[cam, 2] - uv[o, 2 * cam]
        r[2 * cam + 1] = fy * yn + K[cam, 3] - uv[o, 2 * cam + 1]
        _count(ops, 4, 4, 1, 0, 0)
        if want_jac:
            # rows of d pi/d p_c R_bc^T: fx/z (R_bc[:, 0] - xn R_bc[:, 2]), fy/z (R_bc[:, 1] - yn R_bc[:, 2])
            sx = fx * iz
            sy = fy * iz
            u0 = sx * (R_bc[cam, 0, 0] - xn * R_bc[cam, 0, 2])
            u1 = sx * (R_bc[cam, 1, 0] - xn * R_bc[cam, 1, 2])
            u2 = sx * (R_bc[cam, 2, 0] - xn * R_bc[cam, 2, 2])
            w0 = sy * (R_bc[cam, 0, 1] - yn * R_bc[cam, 0, 2])
            w1 = sy * (R_bc[cam, 1, 1] - yn * R_bc[cam, 1, 2])
            w2 = sy * (R_bc[cam, 2, 1] - yn * R_bc[cam, 2, 2])
            _count(ops, 14, 6, 0, 0, 0)
            n_cols = 0
            for k in range(15):
                if k >= 12 + n_lm or (k < 6 and not pose_j) or (6 <= k < 12 and not anchored):
                    J[2 * cam, k] = 0.0
                    J[2 * cam + 1, k] = 0.0
                    continue
                J[2 * cam, k] = u0 * G[0, k] + u1 * G[1, k] + u2 * G[2, k]
                J[2 * cam + 1, k] = w0 * G[0, k] + w1 * G[1, k] + w2 * G[2, k]
                n_cols += 1
            _count(ops, 6 * n_cols, 4 * n_cols, 0, 0, 0)
    return True


@njit(cache=True, inline="always")
def robust_weight(s, loss, scale, ops):
    """(rho(s), rho'(s)) of the robust loss on the squared whitened norm s.

    Huber: rho = s for s <= k^2, 2 k sqrt(s) - k^2 beyond; Cauchy: k^2 log(1 + s/k^2).
    rho' is the IRLS weight (Triggs et al., "Bundle Adjustment - A Modern Synthesis", 2000).
    """
    if loss == LOSS_HUBER:
        ops[OP_CMP] += 1
        if s <= scale * scale:
            return s, 1.0
        root = math.sqrt(s)
        _count(ops, 3, 1, 1, 1, 0)
        return 2.0 * scale * root - scale * scale, scale / root
    if loss == LOSS_CAUCHY:
        k2 = scale * scale
        t = 1.0 + s / k2
        _count(ops, 2, 1, 2, 0, 0)
        return k2 * math.log(t), 1.0 / t
    return s, 1.0


@njit(cache=True, inline="always")
def _add_AtB(out, idx, row0, col0, A, a0, na, B, b0, nb, w, ops):
    """out[idx, row0:row0+na, col0:col0+nb] += w A[:, a0:a0+na]^T B[:, b0:b0+nb] (A, B: 4 rows)."""
    for i in range(na):
        for k in range(nb):
            s = 0.0
            for m in range(A.shape[0]):
                s += A[m, a0 + i] * B[m, b0 + k]
            out[idx, row0 + i, col0 + k] += w * s
    n = na * nb
    _count(ops, n * (A.shape[0] + 1), n * A.shape[0], 0, 0, 0)


@njit(cache=True, inline="always")
def _add_Atr(out, idx, A, a0, na, r, w, ops):
    """out[idx, :na] -= w A[:, a0:a0+na]^T r."""
    for i in range(na):
        s = 0.0
        for m in range(A.shape[0]):
            s += A[m, a0 + i] * r[m]
        out[idx, i] -= w * s
    _count(ops, na * (A.shape[0] + 1), na * A.shape[0], 0, 0, 0)


@njit(cache=True)
def visual_factors(R, p, lm, bearing, anchor, param, R_bc, t_bc, K, obs_kf, obs_uv, lm_ptr,
                   obs_order, slot_j, slot_a, lk_ptr, blk_id, inv_sigma, loss, loss_scale,
                   want_jac, H, rhs, Hll, gl, W, ops, traffic):
    """Cost of all reprojection factors and, if ``want_jac``, their normal equations.

    Observations are visited per landmark (``obs_order[lm_ptr[l]:lm_ptr[l+1]]``);
    residuals and Jacobians are whitened by ``inv_sigma`` [1/px] and weighted with the
    IRLS weight rho'(|r|^2). Accumulates the pose blocks into ``H``/``rhs`` (6x6 corners
    of the 15x15 blocks) and the landmark blocks into ``Hll``, ``gl`` and ``W`` (slots
    ``slot_j``/``slot_a``, -1 when the pose does not enter). Returns (cost, n_invalid),
    cost = 1/2 sum rho(|r_w|^2); invalid observations (behind a camera) are skipped.
    """
    n_lm = landmark_dim(param)
    r = np.empty(4)
    J = np.zeros((4, 15))
    G = np.zeros((3, 15))
    cost = 0.0
    n_invalid = 0
    for l in range(lm.shape[0]):
        start, stop = lm_ptr[l], lm_ptr[l + 1]
        if want_jac:
            for a in range(3):
                gl[l, a] = 0.0
                for b in range(3):
                    Hll[l, a, b] = 0.0
            for s in range(lk_ptr[l], lk_ptr[l + 1]):
                for a in range(6):
                    for b in range(3):
                        W[s, a, b] = 0.0
        a_kf = anchor[l]
        traffic[BUF_OBS, READ] += 3 + 3
        for t in range(start, stop):
            o = obs_order[t]
            j = obs_kf[o]
            same = param == INVERSE_DEPTH and j == a_kf
            traffic[BUF_OBS, READ] += 5
            traffic[BUF_STATES, READ] += 24
            valid = reprojection_observation(R, p, j, a_kf, lm, bearing, l, param, same, R_bc, t_bc, K,
                                             obs_uv, o, want_jac, r, J, G, ops)
            if not valid:
                n_invalid += 1
                continue
            s = 0.0
            for m in range(4):
                r[m] *= inv_sigma
                s += r[m] * r[m]
            rho, w = robust_weight(s, loss, loss_scale, ops)
            cost += 0.5 * rho
            _count(ops, 9, 5, 0, 0, 0)
            if not want_jac:
                continue
            for m in range(4):
                for k in range(15):
                    J[m, k] *= inv_sigma
            _count(ops, 60, 0, 0, 0, 0)
            sj, sa = slot_j[o], slot_a[o]
            if sj >= 0:
                bj = blk_id[j, j]
                _add_AtB(H, bj, 0, 0, J, 0, 6, J, 0, 6, w, ops)
                _add_Atr(rhs, j, J, 0, 6, r, w, ops)
                _add_AtB(W, sj, 0, 0, J, 0, 6, J, 12, n_lm, w, ops)
                traffic[BUF_H, READ] += 36
                traffic[BUF_H, WRITE] += 36
                traffic[BUF_GRAD, READ] += 6
                traffic[BUF_GRAD, WRITE] += 6
            if sa >= 0:
                ba = blk_id[a_kf, a_kf]
                _add_AtB(H, ba, 0, 0, J, 6, 6, J, 6, 6, w, ops)
                _add_Atr(rhs, a_kf, J, 6, 6, r, w, ops)
                _add_AtB(W, sa, 0, 0, J, 6, 6, J, 12, n_lm, w, ops)
                traffic[BUF_H, READ] += 36
                traffic[BUF_H, WRITE] += 36
                traffic[BUF_GRAD, READ] += 6
                traffic[BUF_GRAD, WRITE] += 6
                if sj >= 0:
                    if a_kf < j:
                        _add_AtB(H, blk_id[a_kf, j], 0, 0, J, 6, 6, J, 0, 6, w, ops)
                    else:
                        _add_AtB(H, blk_id[j, a_kf], 0, 0, J, 0, 6, J, 6, 6, w, ops)
                    traffic[BUF_H, READ] += 36
                    traffic[BUF_H, WRITE] += 36
            _add_AtB(Hll, l, 0, 0, J, 12, n_lm, J, 12, n_lm, w, ops)
            _add_Atr(gl, l, J, 12, n_lm, r, w, ops)
            nw = (sj >= 0) + (sa >= 0)
            traffic[BUF_LMLOC, READ] += n_lm * n_lm + n_lm + nw * 6 * n_lm
            traffic[BUF_LMLOC, WRITE] += n_lm * n_lm + n_lm + nw * 6 * n_lm
        if want_jac:  # the landmark's finished blocks go to the landmark store once
            traffic[BUF_LM, WRITE] += n_lm * n_lm + n_lm + (lk_ptr[l + 1] - lk_ptr[l]) * 6 * n_lm
    return cost, n_invalid


# ------------------------------------------------------------------ IMU


@njit(cache=True)
def imu_factor(Ri, pi, vi, bgi, bai, Rj, pj, vj, bgj, baj, dR, dv, dp, dt, Jb, bg_lin, ba_lin,
               gravity, want_jac, r, Ji, Jj, ops):
    """Residual (15,) [r_dR, r_dv, r_dp, r_bg, r_ba] and Jacobians (15x15 each) of one IMU factor.

    Forster et al., T-RO 2017, eq. 44-45 with the first-order bias update of eq. 44:
    r_dR = Log((dR Exp(J_R^g dbg))^T R_i^T R_j),
    r_dv = R_i^T (v_j - v_i - g dt) - (dv + J_v^g dbg + J_v^a dba),
    r_dp = R_i^T (p_j - p_i - v_i dt - g dt^2/2) - (dp + J_p^g dbg + J_p^a dba),
    r_b = b_j - b_i, dbg = bg_i - bg_lin, dba = ba_i - ba_lin. ``Jb`` (9,6) = d[dR,dv,dp]/d[bg,ba].
    Jacobians w.r.t. [dtheta, dp, dv, dbg, dba] with p <- p + dp (world frame), so
    dr_dp/dp_i = -R_i^T (unlike Forster's body-frame position perturbation).
    """
    dbg = bgi - bg_lin
    dba = bai - ba_lin
    JRg = np.ascontiguousarray(Jb[0:3, 0:3])
    Jv = np.ascontiguousarray(Jb[3:6, :])
    Jp = np.ascontiguousarray(Jb[6:9, :])
    dbias = np.concatenate((dbg, dba))
    corr = JRg @ dbg
    dR_c = dR @ nb_so3_exp(corr)
    RiT = np.ascontiguousarray(Ri.T)
    E = np.ascontiguousarray(dR_c.T) @ (RiT @ Rj)
    rR = nb_so3_log(E)
    a = vj - vi - gravity * dt
    b = pj - pi - vi * dt - 0.5 * gravity * dt * dt
    RiTa = RiT @ a
    RiTb = RiT @ b
    rv = RiTa - (dv + Jv @ dbias)
    rp = RiTb - (dp + Jp @ dbias)
    for k in range(3):
        r[k] = rR[k]
        r[3 + k] = rv[k]
        r[6 + k] = rp[k]
        r[9 + k] = bgj[k] - bgi[k]
        r[12 + k] = baj[k] - bai[k]
    _count(ops, 9 + 27 + 27 + 27 + 6 + 7 + 18 + 36, 6 + 18 + 18 + 18 + 12 + 12 + 18 + 36, 0, 0, 0)
    _count_lie(ops, 2)
    if not want_jac:
        return
    for m in range(15):
        for k in range(15):
            Ji[m, k] = 0.0
            Jj[m, k] = 0.0
    JrInv = nb_so3_right_jacobian_inv(rR)
    RjTRi = np.ascontiguousarray(Rj.T) @ Ri
    Ji[0:3, 0:3] = -JrInv @ RjTRi
    Jj[0:3, 0:3] = JrInv
    Ji[0:3, 9:12] = -JrInv @ np.ascontiguousarray(E.T) @ nb_so3_right_jacobian(corr) @ JRg
    for c, vec in ((3, RiTa), (6, RiTb)):
        Ji[c + 0, 1] = -vec[2]
        Ji[c + 0, 2] = vec[1]
        Ji[c + 1, 0] = vec[2]
        Ji[c + 1, 2] = -vec[0]
        Ji[c + 2, 0] = -vec[1]
        Ji[c + 2, 1] = vec[0]
    Ji[3:6, 6:9] = -RiT
    Jj[3:6, 6:9] = RiT
    Ji[3:6, 9:15] = -Jv
    Ji[6:9, 3:6] = -RiT
    Jj[6:9, 3:6] = RiT
    Ji[6:9, 6:9] = -RiT * dt
    Ji[6:9, 9:15] = -Jp
    for k in range(3):
        Ji[9 + k, 9 + k] = -1.0
        Jj[9 + k, 9 + k] = 1.0
        Ji[12 + k, 12 + k] = -1.0
        Jj[12 + k, 12 + k] = 1.0
    _count(ops, 27 * 5 + 9, 18 * 5, 0, 0, 0)
    _count_lie(ops, 2)


@njit(cache=True)
def imu_factors(R, p, v, bg, ba, pairs, dR, dv, dp, dt, Jb, bg_lin, ba_lin, sqrt_info, gravity,
                blk_id, want_jac, H, rhs, ops, traffic):
    """Cost 1/2 sum |S r|^2 of all IMU factors (``pairs`` (F,2) keyframe indices i < j,
    ``sqrt_info`` S with S^T S the 15x15 information) and, if ``want_jac``, their normal
    equations: H_ii += Ji^T S^T S Ji, H_ij += Ji^T S^T S Jj, H_jj += Jj^T S^T S Jj."""
    r = np.empty(15)
    Ji = np.zeros((15, 15))
    Jj = np.zeros((15, 15))
    cost = 0.0
    for f in range(pairs.shape[0]):
        i, j = pairs[f, 0], pairs[f, 1]
        traffic[BUF_STATES, READ] += 2 * 21
        traffic[BUF_IMU, READ] += 9 + 3 + 3 + 1 + 54 + 6 + 225
        imu_factor(R[i], p[i], v[i], bg[i], ba[i], R[j], p[j], v[j], bg[j], ba[j], dR[f], dv[f],
                   dp[f], dt[f], Jb[f], bg_lin[f], ba_lin[f], gravity, want_jac, r, Ji, Jj, ops)
        S = sqrt_info[f]
        rw = S @ r
        cost += 0.5 * (rw @ rw)
        _count(ops, 225 + 16, 210 + 14, 0, 0, 0)
        if not want_jac:
            continue
        A = S @ Ji
        B = S @ Jj
        H[blk_id[i, i]] += A.T @ A
        H[blk_id[i, j]] += A.T @ B
        H[blk_id[j, j]] += B.T @ B
        rhs[i] -= A.T @ rw
        rhs[j] -= B.T @ rw
        _count(ops, 2 * 3375 + 3 * 3375 + 2 * 225, 2 * 3150 + 3 * (3150 + 225) + 2 * (210 + 15), 0, 0, 0)
        traffic[BUF_H, READ] += 3 * 225
        traffic[BUF_H, WRITE] += 3 * 225
        traffic[BUF_GRAD, READ] += 30
        traffic[BUF_GRAD, WRITE] += 30
    return cost


# ------------------------------------------------------------------ priors


@njit(cache=True)
def linear_prior_eval(R, p, v, bg, ba, kf, R0, x0, Jp, r0, want_jac, res, Je, ops):
    """Residual r = Jp (x [-] x0) + r0 of a linear prior and its Jacobian ``Je`` (m, 15k).

    Leutenegger et al., IJRR 2015, Sec. IV-E; Qin et al., T-RO 2018, Sec. VI-D.
    ``kf`` (k,) keyframe indices, ``R0`` (k,3,3) and ``x0`` (k,12) = [p, v, bg, ba] the
    linearisation point. x [-] x0 = [Log(R0^T R), p - p0, v - v0, bg - bg0, ba - ba0] per
    keyframe; its Jacobian w.r.t. the error state is blockdiag(Jr^-1(Log(R0^T R)), I_12),
    so Je = Jp @ blockdiag(...), exact away from x0 too.
    """
    k = kf.shape[0]
    m = Jp.shape[0]
    delta = np.empty(STATE_DIM * k)
    for i in range(k):
        f = kf[i]
        phi = nb_so3_log(np.ascontiguousarray(R0[i].T) @ R[f])
        for c in range(3):
            delta[15 * i + c] = phi[c]
            delta[15 * i + 3 + c] = p[f, c] - x0[i, c]
            delta[15 * i + 6 + c] = v[f, c] - x0[i, 3 + c]
            delta[15 * i + 9 + c] = bg[f, c] - x0[i, 6 + c]
            delta[15 * i + 12 + c] = ba[f, c] - x0[i, 9 + c]
        _count(ops, 27, 18 + 12, 0, 0, 0)
        _count_lie(ops, 1)
        if want_jac:
            Je[:, 15 * i:15 * i + 15] = Jp[:, 15 * i:15 * i + 15]
            Je[:, 15 * i:15 * i + 3] = np.ascontiguousarray(Jp[:, 15 * i:15 * i + 3]) @ nb_so3_right_jacobian_inv(phi)
            _count(ops, m * 9, m * 6, 0, 0, 0)
            _count_lie(ops, 1)
    res[:] = Jp @ delta + r0
    _count(ops, m * STATE_DIM * k, m * STATE_DIM * k, 0, 0, 0)


@njit(cache=True)
def linear_prior(R, p, v, bg, ba, kf, R0, x0, Jp, r0, blk_id, want_jac, H, rhs, ops, traffic):
    """Cost 1/2 |r|^2 of a linear prior (:func:`linear_prior_eval`; ``kf`` ascending) and,
    if ``want_jac``, its normal equations H_ab += Je_a^T Je_b, b_a -= Je_a^T r."""
    k = kf.shape[0]
    m = Jp.shape[0]
    res = np.empty(m)
    Je = np.empty((m, STATE_DIM * k))
    linear_prior_eval(R, p, v, bg, ba, kf, R0, x0, Jp, r0, want_jac, res, Je, ops)
    traffic[BUF_STATES, READ] += 21 * k
    traffic[BUF_PRIOR, READ] += 21 * k + m * (STATE_DIM * k + 1)
    cost = 0.5 * (res @ res)
    _count(ops, m + 1, m, 0, 0, 0)
    if not want_jac:
        return cost
    for a in range(k):
        fa = kf[a]
        Ja = np.ascontiguousarray(Je[:, 15 * a:15 * a + 15])
        rhs[fa] -= Ja.T @ res
        for b in range(a, k):
            H[blk_id[fa, kf[b]]] += Ja.T @ np.ascontiguousarray(Je[:, 15 * b:15 * b + 15])
            traffic[BUF_H, READ] += 225
            traffic[BUF_H, WRITE] += 225
        traffic[BUF_GRAD, READ] += 15
        traffic[BUF_GRAD, WRITE] += 15
    n_blocks = k * (k + 1) // 2
    _count(ops, n_blocks * 225 * m + STATE_DIM * k * m, n_blocks * 225 * m + STATE_DIM * k * m, 0, 0, 0)
    return cost


@njit(cache=True)
def gauge_eval(R_f, p_f, R_ref, p_ref, w_pos, w_yaw, want_jac, res, J, ops):
    """Gauge prior residual r = [w_pos (p_f - p_ref), w_yaw e_z^T Log(R_f R_ref^T)] (4,) and
    its Jacobian (4,15) w.r.t. keyframe f's error state.

    Fixes the four unobservable directions of VIO (global position and yaw about the
    world z axis; gravity points along -z). With the right perturbation,
    R Exp(dtheta) R_ref^T = Exp(R dtheta) R R_ref^T, so d r_yaw / d dtheta =
    w_yaw e_z^T Jl^-1(phi) R_f with Jl^-1(phi) = Jr^-1(phi)^T, phi = Log(R_f R_ref^T).
    """
    phi = nb_so3_log(R_f @ np.ascontiguousarray(R_ref.T))
    for c in range(3):
        res[c] = w_pos * (p_f[c] - p_ref[c])
    res[3] = w_yaw * phi[2]
    _count(ops, 27 + 4, 18 + 3, 0, 0, 0)
    _count_lie(ops, 1)
    if not want_jac:
        return
    J[:] = 0.0
    row = np.ascontiguousarray(nb_so3_right_jacobian_inv(phi)[:, 2]) @ R_f
    for c in range(3):
        J[c, 3 + c] = w_pos
        J[3, c] = w_yaw * row[c]
    _count(ops, 12, 6, 0, 0, 0)
    _count_lie(ops, 1)


@njit(cache=True)
def gauge_prior(R, p, f, R_ref, p_ref, w_pos, w_yaw, blk_id, want_jac, H, rhs, ops, traffic):
    """Cost 1/2 |r|^2 of the gauge prior on keyframe f (:func:`gauge_eval`) and, if
    ``want_jac``, its normal equations."""
    res = np.empty(4)
    J = np.zeros((4, 15))
    gauge_eval(R[f], p[f], R_ref, p_ref, w_pos, w_yaw, want_jac, res, J, ops)
    traffic[BUF_STATES, READ] += 12
    traffic[BUF_PRIOR, READ] += 14
    cost = 0.5 * (res @ res)
    _count(ops, 5, 3, 0, 0, 0)
    if not want_jac:
        return cost
    H[blk_id[f, f]] += J.T @ J
    rhs[f] -= J.T @ res
    _count(ops, 900 + 60, 675 + 45, 0, 0, 0)
    traffic[BUF_H, READ] += 225
    traffic[BUF_H, WRITE] += 225
    traffic[BUF_GRAD, READ] += 15
    traffic[BUF_GRAD, WRITE] += 15
    return cost


# ------------------------------------------------------------------ Schur complement


@njit(cache=True)
def _invert_landmark(A, d, out, ops):
    """out = A^-1 for the leading d x d block (d = 1 or 3, symmetric); False if not positive."""
    if d == 1:
        ops[OP_CMP] += 1
        if A[0, 0] <= 0.0:
            return False
        out[0, 0] = 1.0 / A[0, 0]
        ops[OP_DIV] += 1
        return True
    c00 = A[1, 1] * A[2, 2] - A[1, 2] * A[2, 1]
    c01 = A[1, 2] * A[2, 0] - A[1, 0] * A[2, 2]
    c02 = A[1, 0] * A[2, 1] - A[1, 1] * A[2, 0]
    det = A[0, 0] * c00 + A[0, 1] * c01 + A[0, 2] * c02
    _count(ops, 9, 5, 0, 0, 2)
    if det <= 0.0 or A[0, 0] <= 0.0:
        return False
    inv = 1.0 / det
    out[0, 0] = c00 * inv
    out[0, 1] = (A[0, 2] * A[2, 1] - A[0, 1] * A[2, 2]) * inv
    out[0, 2] = (A[0, 1] * A[1, 2] - A[0, 2] * A[1, 1]) * inv
    out[1, 0] = c01 * inv
    out[1, 1] = (A[0, 0] * A[2, 2] - A[0, 2] * A[2, 0]) * inv
    out[1, 2] = (A[0, 2] * A[1, 0] - A[0, 0] * A[1, 2]) * inv
    out[2, 0] = c02 * inv
    out[2, 1] = (A[0, 1] * A[2, 0] - A[0, 0] * A[2, 1]) * inv
    out[2, 2] = (A[0, 0] * A[1, 1] - A[0, 1] * A[1, 0]) * inv
    _count(ops, 9 + 12, 6, 1, 0, 0)
    return True


@njit(cache=True)
def schur_complement(H, rhs, Hll, gl, W, lk_ptr, lk_kf, blk_id, diag_blocks, param, lam,
                     S, rhs_s, Hll_inv, ops, traffic):
    """Reduced camera system S = H_xx - H_xl H_ll^-1 H_lx, b_s = b_x - H_xl H_ll^-1 b_l.

    Landmarks are independent given the poses (H_ll block diagonal), so each landmark
    l with keyframe slots s adds -W_s H_ll^-1 W_t^T to block (k_s, k_t) and -W_s H_ll^-1 b_l
    to b_{k_s} (Triggs et al. 2000, Sec. 6.1; structureless as in Navion). With ``lam`` > 0
    Levenberg-Marquardt damping lam * max(diag, MIN_DIAG) is added to the diagonals of H_xx
    and H_ll first (Marquardt scaling). ``Hll_inv`` receives the damped inverses (zero for
    a landmark without valid observations, which then stays fixed).
    """
    d = landmark_dim(param)
    S[:] = H
    rhs_s[:] = rhs
    traffic[BUF_H, READ] += H.size
    traffic[BUF_H, WRITE] += H.size
    traffic[BUF_GRAD, READ] += rhs.size
    traffic[BUF_GRAD, WRITE] += rhs.size
    if lam > 0.0:
        for b in diag_blocks:
            for i in range(STATE_DIM):
                S[b, i, i] += lam * max(H[b, i, i], MIN_DIAG)
        _count(ops, STATE_DIM * diag_blocks.shape[0], STATE_DIM * diag_blocks.shape[0], 0, 0,
               STATE_DIM * diag_blocks.shape[0])
    A = np.empty((3, 3))
    T = np.empty((6, 3))
    for l in range(Hll.shape[0]):
        for a in range(d):
            for b in range(d):
                A[a, b] = Hll[l, a, b]
                Hll_inv[l, a, b] = 0.0
            A[a, a] += lam * max(Hll[l, a, a], MIN_DIAG)
        _count(ops, d, d, 0, 0, d)
        traffic[BUF_LM, READ] += d * d + d
        if not _invert_landmark(A, d, Hll_inv[l], ops):
            continue
        traffic[BUF_LM, WRITE] += d * d
        staged = (lk_ptr[l + 1] - lk_ptr[l]) * 6 * d  # the landmark's W slots, loaded once with b_l
        traffic[BUF_LM, READ] += staged
        traffic[BUF_LMLOC, WRITE] += staged + d
        for s in range(lk_ptr[l], lk_ptr[l + 1]):
            k1 = lk_kf[s]
            for a in range(6):
                for b in range(d):
                    acc = 0.0
                    for c in range(d):
                        acc += W[s, a, c] * Hll_inv[l, c, b]
                    T[a, b] = acc
                acc = 0.0
                for b in range(d):
                    acc += T[a, b] * gl[l, b]
                rhs_s[k1, a] -= acc
            _count(ops, 6 * d * d + 6 * d, 6 * d * d + 6 * d, 0, 0, 0)
            traffic[BUF_LMLOC, READ] += 6 * d + d
            traffic[BUF_GRAD, READ] += 6
            traffic[BUF_GRAD, WRITE] += 6
            for t in range(s, lk_ptr[l + 1]):
                k2 = lk_kf[t]
                if k1 <= k2:
                    blk = S[blk_id[k1, k2]]
                    for a in range(6):
                        for b in range(6):
                            acc = 0.0
                            for c in range(d):
                                acc += T[a, c] * W[t, b, c]
                            blk[a, b] -= acc
                else:
                    blk = S[blk_id[k2, k1]]
                    for a in range(6):
                        for b in range(6):
                            acc = 0.0
                            for c in range(d):
                                acc += T[a, c] * W[t, b, c]
                            blk[b, a] -= acc
                _count(ops, 36 * d, 36 * d, 0, 0, 0)
                traffic[BUF_LMLOC, READ] += 6 * d
                traffic[BUF_H, READ] += 36
                traffic[BUF_H, WRITE] += 36
    return S


@njit(cache=True)
def back_substitute(Hll_inv, gl, W, lk_ptr, lk_kf, param, dx, dl, ops, traffic):
    """Landmark steps dl = H_ll^-1 (b_l - sum_s W_s^T dx_{k_s}) (back-substitution)."""
    d = landmark_dim(param)
    t = np.empty(3)
    for l in range(Hll_inv.shape[0]):
        for a in range(d):
            t[a] = gl[l, a]
        for s in range(lk_ptr[l], lk_ptr[l + 1]):
            k = lk_kf[s]
            for a in range(d):
                acc = 0.0
                for b in range(6):
                    acc += W[s, b, a] * dx[k, b]
                t[a] -= acc
        n_slots = lk_ptr[l + 1] - lk_ptr[l]
        for a in range(d):
            acc = 0.0
            for b in range(d):
                acc += Hll_inv[l, a, b] * t[b]
            dl[l, a] = acc
        _count(ops, 6 * d * n_slots + d * d, 6 * d * n_slots + d * d, 0, 0, 0)
        traffic[BUF_LM, READ] += d + d * d + 6 * d * n_slots
        traffic[BUF_GRAD, READ] += 6 * n_slots


# ------------------------------------------------------------------ dense solve


@njit(cache=True)
def blocks_to_lower(S, pairs, A, traffic):
    """Scatter the upper-triangle blocks S[(i, j)], i <= j, into the lower triangle of A."""
    for b in range(pairs.shape[0]):
        i, j = pairs[b, 0], pairs[b, 1]
        for r in range(STATE_DIM):
            for c in range(STATE_DIM):
                if i == j and c < r:
                    continue
                A[STATE_DIM * j + c, STATE_DIM * i + r] = S[b, r, c]
    traffic[BUF_H, READ] += S.size
    traffic[BUF_CHOL, WRITE] += S.size


@njit(cache=True)
def cholesky_envelope_counts(first, n_rows, ops, traffic):
    """Operations and traffic of the envelope Cholesky A = L L^T over rows 0..n_rows-1.

    Row i of L is nonzero only from column ``first[i]`` (first nonzero of row i of A; fill
    stays inside the envelope, George & Liu 1981, Ch. 4). Row-oriented (bordering) form:
    L_ij = (A_ij - sum_{k=max(f_i, f_j)}^{j-1} L_ik L_jk) / L_jj,
    L_ii = sqrt(A_ii - sum_{k=f_i}^{i-1} L_ik^2), one comparison (pivot > 0) per row. For a
    dense n x n matrix this is exactly (n-1) n (n+1) / 6 multiplications and as many
    additions, n(n-1)/2 divisions, n square roots and n comparisons. This is the
    accelerator's algorithm; the software computes the same factor with LAPACK
    (:func:`vio.backend.normal_equations.factorize_lower`), which is faster on a CPU.
    """
    for i in range(n_rows):
        fi = first[i]
        for j in range(fi, i):
            m = j - max(fi, first[j])
            _count(ops, m, m, 1, 0, 0)
            traffic[BUF_CHOL, READ] += 2 * m + 2
            traffic[BUF_CHOL, WRITE] += 1
        _count(ops, i - fi, i - fi, 0, 1, 1)
        traffic[BUF_CHOL, READ] += i - fi + 1
        traffic[BUF_CHOL, WRITE] += 1


@njit(cache=True)
def cholesky_solve(L, first, b, x, ops, traffic):
    """Solve L L^T x = b with a lower Cholesky factor whose row i starts at column ``first[i]``.

    Forward y_i = (b_i - sum_k L_ik y_k) / L_ii, then backward column sweep x_i /= L_ii,
    x_k -= L_ik x_i (k < i): 2 sum_i (i - f_i) multiplications and additions, 2n divisions.
    """
    n = L.shape[0]
    for i in range(n):
        s = b[i]
        for k in range(first[i], i):
            s -= L[i, k] * x[k]
        x[i] = s / L[i, i]
        _count(ops, i - first[i], i - first[i], 1, 0, 0)
        traffic[BUF_CHOL, READ] += i - first[i] + 1
    for i in range(n - 1, -1, -1):
        x[i] /= L[i, i]
        xi = x[i]
        for k in range(first[i], i):
            x[k] -= L[i, k] * xi
        _count(ops, i - first[i], i - first[i], 1, 0, 0)
        traffic[BUF_CHOL, READ] += i - first[i] + 1
    traffic[BUF_GRAD, READ] += n


# ------------------------------------------------------------------ update


@njit(cache=True)
def retract_states(R, p, v, bg, ba, dx, ops, traffic):
    """In place: R <- R Exp(dtheta), p += dp, v += dv, bg += dbg, ba += dba (``vio.state.retract``)."""
    for k in range(R.shape[0]):
        R[k] = R[k] @ nb_so3_exp(dx[k, 0:3])
        p[k] += dx[k, 3:6]
        v[k] += dx[k, 6:9]
        bg[k] += dx[k, 9:12]
        ba[k] += dx[k, 12:15]
    _count(ops, 27 * R.shape[0], (18 + 12) * R.shape[0], 0, 0, 0)
    _count_lie(ops, R.shape[0])
    traffic[BUF_STATES, READ] += 21 * R.shape[0]
    traffic[BUF_STATES, WRITE] += 21 * R.shape[0]


# ------------------------------------------------------------------ structure


@njit(cache=True)
def landmark_structure(obs_kf, obs_lm, anchor, param, n_lm, lm_ptr, obs_order, slot_j, slot_a,
                       lk_ptr, lk_kf, mask):
    """Per-landmark index structure of the visual factors (static over a solve).

    Fills ``lm_ptr`` (L+1) / ``obs_order`` (M) (observations grouped by landmark),
    ``lk_ptr`` (L+1) / ``lk_kf`` (<= M + L) (distinct keyframes whose pose enters each
    landmark: observers, plus the anchor for inverse depth), ``slot_j``/``slot_a`` (M) the
    slot of the observing and the anchor keyframe (-1 if that pose does not enter) and
    ``mask`` (N,N) the keyframe pairs coupled after landmark elimination. Returns P.
    """
    counts = np.zeros(n_lm + 1, dtype=np.int64)
    for o in range(obs_lm.shape[0]):
        counts[obs_lm[o] + 1] += 1
    for l in range(n_lm):
        lm_ptr[l + 1] = lm_ptr[l] + counts[l + 1]
    fill = lm_ptr[:n_lm].copy()
    for o in range(obs_lm.shape[0]):
        obs_order[fill[obs_lm[o]]] = o
        fill[obs_lm[o]] += 1
    n_kf = mask.shape[0]
    where = np.full(n_kf, -1, dtype=np.int64)
    n_pairs = 0
    for l in range(n_lm):
        lk_ptr[l] = n_pairs
        a = anchor[l]
        for t in range(lm_ptr[l], lm_ptr[l + 1]):
            o = obs_order[t]
            j = obs_kf[o]
            slot_j[o] = -1
            slot_a[o] = -1
            if param == INVERSE_DEPTH and j == a:
                continue
            n_pose = 2 if param == INVERSE_DEPTH else 1
            for e in range(n_pose):
                kf = j if e == 0 else a
                if where[kf] < 0:
                    where[kf] = n_pairs
                    lk_kf[n_pairs] = kf
                    n_pairs += 1
            slot_j[o] = where[j]
            if param == INVERSE_DEPTH:
                slot_a[o] = where[a]
        for s in range(lk_ptr[l], n_pairs):
            for t in range(lk_ptr[l], n_pairs):
                mask[lk_kf[s], lk_kf[t]] = True
        for s in range(lk_ptr[l], n_pairs):
            where[lk_kf[s]] = -1
    lk_ptr[n_lm] = n_pairs
    return n_pairs
