"""Slow, obviously correct references for the back-end kernels: the full dense normal
equations [keyframes; landmarks] assembled factor by factor from the factor classes."""
from __future__ import annotations

import numpy as np

from vio.factors.imu import ImuFactor
from vio.factors.reprojection import ReprojectionFactor

PARAM_NAMES = {0: "inverse_depth", 1: "world_point"}


def dense_system(window, loss):
    """(H, b, cost) over [15N keyframe states, d L landmark parameters], b = -J^T W r."""
    n, L = len(window), window.n_landmarks
    d = 1 if window.config.landmark_param == "inverse_depth" else 3
    size = 15 * n + d * L
    H, b, cost = np.zeros((size, size)), np.zeros(size), 0.0
    index = {k: i for i, k in enumerate(window.keyframe_ids)}
    sigma = window.config.pixel_sigma

    def add(blocks, r, weight=1.0):
        for cols_a, Ja in blocks:
            b[cols_a] -= weight * Ja.T @ r
            for cols_b, Jb in blocks:
                H[np.ix_(cols_a, cols_b)] += weight * Ja.T @ Jb

    kf_cols = [np.arange(15 * i, 15 * i + 15) for i in range(n)]
    for o in range(len(window.obs_uv)):
        l = window.obs_landmark[o]
        j = index[window.obs_keyframe_ids[o]]
        a = index[window.anchor_ids[l]]
        f = ReprojectionFactor(window.rig, j, window.obs_uv[o], window.config.landmark_param, a, window.bearing[l],
                               sigma, loss)
        value = window.landmark_values[l, :d]
        anchor_state = window.states[a] if d == 1 else None
        r = f.residual(window.states[j], value, anchor_state) / sigma
        J_kf, J_anchor, J_lm = f.jacobians(window.states[j], value, anchor_state)
        s = r @ r
        cost += 0.5 * loss.rho(s)
        blocks = [(kf_cols[j], J_kf / sigma), (np.arange(15 * n + d * l, 15 * n + d * l + d), J_lm / sigma)]
        if J_anchor is not None:
            blocks.append((kf_cols[a], J_anchor / sigma))
        add(blocks, r, loss.weight(s))
    for k, pim in enumerate(window.pims):
        r, Ji, Jj = ImuFactor(pim, k, k + 1).whitened(window.states[k], window.states[k + 1])
        cost += 0.5 * r @ r
        add([(kf_cols[k], Ji), (kf_cols[k + 1], Jj)], r)
    for prior in window.priors:
        states = [window.states[index[k]] for k in prior.keyframes]
        r = prior.residual(states)
        cost += 0.5 * r @ r
        add([(kf_cols[index[k]], J) for k, J in zip(prior.keyframes, prior.jacobians(states))], r)
    if window.gauge is not None:
        g = window.gauge
        state = window.states[index[g.keyframe]]
        r = g.residual(state)
        cost += 0.5 * r @ r
        add([(kf_cols[index[g.keyframe]], g.jacobians(state))], r)
    return H, b, cost


def reduced_system(H, b, n_state):
    """Landmarks eliminated densely: (S, b_s) over the first ``n_state`` unknowns."""
    Hxx, Hxl, Hll = H[:n_state, :n_state], H[:n_state, n_state:], H[n_state:, n_state:]
    Hll_inv = np.linalg.inv(Hll)
    return Hxx - Hxl @ Hll_inv @ Hxl.T, b[:n_state] - Hxl @ Hll_inv @ b[n_state:]
