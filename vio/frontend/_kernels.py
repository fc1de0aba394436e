"""Numba kernels of the front-end: corner selection on a grid and gyro-aided 2-point RANSAC.

Each takes only arrays and scalars and writes into preallocated outputs; the public
wrappers are :mod:`vio.frontend.detect` and :mod:`vio.frontend.ransac`. Slow references
live in ``tests/vio/frontend/``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def paint_discs(mask, uv, radius):
    """Clear ``mask`` (H, W) uint8 within ``radius`` [px] of each point uv (N, 2) (rounded)."""
    h, w = mask.shape
    r = int(math.floor(radius))
    r2 = radius * radius
    for k in range(uv.shape[0]):
        cx, cy = int(round(uv[k, 0])), int(round(uv[k, 1]))
        for y in range(max(cy - r, 0), min(cy + r + 1, h)):
            dy = y - cy
            for x in range(max(cx - r, 0), min(cx + r + 1, w)):
                dx = x - cx
                if dx * dx + dy * dy <= r2:
                    mask[y, x] = 0


@njit(cache=True)
def select_corners(score, mask, cell_quota, cell_w, cell_h, border, quality_level, min_score,
                   min_distance, max_new, out_uv, stats):
    """Greedy grid-bucketed corner selection (Shi & Tomasi 1994; goodFeaturesToTrack's rule).

    score (H, W) float32: corner score, valid in the cells with cell_quota > 0 and one
    pixel around them. mask (H, W) uint8: 0 where no feature may go (updated: discs of
    ``min_distance`` are painted around accepted corners). cell_quota (rows, cols) int64:
    free slots per cell (decremented). A candidate is an unmasked pixel at least
    ``border`` from the edge, a 3x3 local maximum, with score >= max(min_score,
    quality_level * best unmasked score of its cell). Candidates are taken best first.
    Writes up to ``max_new`` corners into out_uv (M, 2) and returns their number.
    stats (3,) int64 receives [pixels evaluated, candidates, accepted].
    """
    h, w = score.shape
    rows, cols = cell_quota.shape
    n_eval = 0
    best = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            if cell_quota[r, c] <= 0:
                continue
            for y in range(max(r * cell_h, border), min((r + 1) * cell_h, h - border)):
                for x in range(max(c * cell_w, border), min((c + 1) * cell_w, w - border)):
                    if mask[y, x]:
                        n_eval += 1
                        best[r, c] = max(best[r, c], score[y, x])
    cand_score = np.empty(n_eval, dtype=np.float32)
    cand_xy = np.empty((n_eval, 2), dtype=np.int64)
    n_cand = 0
    for r in range(rows):
        for c in range(cols):
            if cell_quota[r, c] <= 0:
                continue
            threshold = max(min_score, quality_level * best[r, c])
            for y in range(max(r * cell_h, border), min((r + 1) * cell_h, h - border)):
                for x in range(max(c * cell_w, border), min((c + 1) * cell_w, w - border)):
                    s = score[y, x]
                    if mask[y, x] == 0 or s < threshold or s <= 0.0:
                        continue
                    is_max = True
                    for dy in range(-1, 2):
                        for dx in range(-1, 2):
                            if (dy != 0 or dx != 0) and score[y + dy, x + dx] > s:
                                is_max = False
                    if is_max:
                        cand_score[n_cand] = s
                        cand_xy[n_cand, 0] = x
                        cand_xy[n_cand, 1] = y
                        n_cand += 1
    order = np.argsort(-cand_score[:n_cand], kind="mergesort")
    n_new = 0
    one = np.empty((1, 2), dtype=np.float64)
    for k in order:
        if n_new >= max_new:
            break
        x, y = cand_xy[k, 0], cand_xy[k, 1]
        r, c = min(y // cell_h, rows - 1), min(x // cell_w, cols - 1)
        if mask[y, x] == 0 or cell_quota[r, c] <= 0:
            continue
        out_uv[n_new, 0] = x
        out_uv[n_new, 1] = y
        n_new += 1
        cell_quota[r, c] -= 1
        one[0, 0] = x
        one[0, 1] = y
        paint_discs(mask, one, min_distance)
    stats[0] = n_eval
    stats[1] = n_cand
    stats[2] = n_new
    return n_new


@njit(cache=True)
def two_point_ransac(f_prev, f_cur_rot, samples, threshold, confidence, inliers):
    """Gyro-aided 2-point RANSAC for the translation direction (Troiani et al., ICRA 2014).

    With the rotation known, ``f_cur_rot = R_prev_cur f_cur`` and the epipolar constraint
    f_prev . (t x f_cur_rot) = 0 reads t . n = 0 with n = f_cur_rot x f_prev, so two
    correspondences give t = n_a x n_b. Residual of point i: the sine of the angle
    between f_prev and the epipolar plane spanned by t and f_cur_rot,
    |t . n_i| / |t x f_cur_rot_i| (multiply by the focal length for pixels).
    f_prev, f_cur_rot (N, 3): bearings in the previous camera frame. samples (S, 2) int64:
    index pairs, drawn in advance; iteration stops after S hypotheses or when the
    adaptive count log(1 - confidence) / log(1 - w^2) is reached (w = best inlier ratio).
    Writes the best hypothesis' inlier mask into ``inliers`` (N,) bool and returns
    (samples drawn, hypotheses scored); degenerate samples (n_a parallel to n_b) are drawn
    but not scored.
    """
    n = f_prev.shape[0]
    normals = np.empty((n, 3))
    for i in range(n):
        a, b = f_cur_rot[i], f_prev[i]
        normals[i, 0] = a[1] * b[2] - a[2] * b[1]
        normals[i, 1] = a[2] * b[0] - a[0] * b[2]
        normals[i, 2] = a[0] * b[1] - a[1] * b[0]
    best = -1
    needed = samples.shape[0]
    it = 0
    scored = 0
    current = np.zeros(n, dtype=np.bool_)
    while it < min(needed, samples.shape[0]):
        ia, ib = samples[it, 0], samples[it, 1]
        it += 1
        na, nb = normals[ia], normals[ib]
        t0 = na[1] * nb[2] - na[2] * nb[1]
        t1 = na[2] * nb[0] - na[0] * nb[2]
        t2 = na[0] * nb[1] - na[1] * nb[0]
        norm = math.sqrt(t0 * t0 + t1 * t1 + t2 * t2)
        if norm < 1e-12:
            continue
        t0, t1, t2 = t0 / norm, t1 / norm, t2 / norm
        scored += 1
        count = 0
        for i in range(n):
            g = f_cur_rot[i]
            c0 = t1 * g[2] - t2 * g[1]
            c1 = t2 * g[0] - t0 * g[2]
            c2 = t0 * g[1] - t1 * g[0]
            dot = abs(t0 * normals[i, 0] + t1 * normals[i, 1] + t2 * normals[i, 2])
            ok = dot <= threshold * math.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
            current[i] = ok
            count += ok
        if count > best:
            best = count
            inliers[:] = current
            ratio = count / n
            if ratio >= 1.0:
                needed = it
            elif ratio > 0.0:
                needed = int(math.ceil(math.log(1.0 - confidence) / math.log(1.0 - ratio * ratio)))
    if best < 0:
        inliers[:] = False
    return it, scored
