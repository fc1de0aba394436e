"""Numba kernels of the front-end: pyramidal Lucas-Kanade tracking, corner selection on a
grid and gyro-aided 2-point RANSAC.

Each takes only arrays and scalars and writes into preallocated outputs; the public
wrappers are :mod:`vio.frontend.track`, :mod:`vio.frontend.detect` and
:mod:`vio.frontend.ransac`. Slow references live in ``tests/vio/frontend/``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# KLT: no nnan/ninf (inputs are checked for NaN inside); reassociation lets LLVM vectorise
# the window sums.
KLT_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}
SCHARR_GAIN = 32.0          # a 3x3 Scharr derivative is 32 x the per-pixel intensity gradient
LK_FIXED_SCALE = 2.0 ** -20  # OpenCV's LK scales Scharr^2 sums by 2^-20 (FLT_SCALE)
LK_MIN_DET = 1.1920929e-07   # float32 machine epsilon: OpenCV's singularity limit of G


@njit(cache=True, inline="always")
def _reflect(i, n):
    """Index i mapped into [0, n) by reflection about the edge pixels (BORDER_REFLECT_101)."""
    if n == 1:
        return 0
    while i < 0 or i >= n:
        i = -i if i < 0 else 2 * n - 2 - i
    return i


@njit(cache=True)
def gather_window(image, start, stride, cols, rows, x0, y0, out, out_rows, out_cols, zero_outside):
    """out[r * out_cols + c] = pixel (x0 + c, y0 + r) of the level at ``start`` (row ``stride``,
    ``cols`` x ``rows``); outside the level reflected (BORDER_REFLECT_101) or zero."""
    for r in range(out_rows):
        y = y0 + r
        yy = _reflect(y, rows)
        for c in range(out_cols):
            x = x0 + c
            if zero_outside and (y != yy or x < 0 or x >= cols):
                out[r * out_cols + c] = 0
            else:
                out[r * out_cols + c] = image[start + yy * stride + _reflect(x, cols)]


@njit(cache=True, fastmath=KLT_FASTMATH)
def klt_point(pixels, grad_x, grad_y, target, layout, u0, v0, u1, v1, window, max_iterations, eps2,
              min_eigenvalue, patch, patch_gx, patch_gy, diff, mask, near_u8, near_gx, near_gy, iterations):
    """Pyramidal Lucas-Kanade of one point (Bouguet, "Pyramidal implementation of the Lucas
    Kanade feature tracker", Intel 2000), with the conventions of cv2.calcOpticalFlowPyrLK.

    Template image: ``pixels`` (uint8) with its Scharr derivatives ``grad_x``/``grad_y``
    (int16); ``target`` (uint8) the image tracked into. All are flat buffers of the levels
    laid out by ``layout`` (L, 4) = [offset, row stride, width, height]; beyond a level's
    edge the images are reflected (BORDER_REFLECT_101) and the derivatives are zero, as in
    OpenCV's padded pyramids. (u0, v0): the point in the template [px, level 0]; (u1, v1):
    the initial guess in the target.

    Per level, coarsest first (coordinates halve per level): the window of side ``window``
    centred on the point is interpolated bilinearly from the template (I, Ix, Iy) and gives
    G = sum [Ix^2, IxIy; IxIy, Iy^2]; the level is skipped when the window's corner lies
    beyond the image by more than a window, and fails when the minimum eigenvalue of
    G / window^2 (OpenCV's units: Scharr^2 x 2^-20) is below ``min_eigenvalue`` or G is
    singular. Then up to ``max_iterations`` Gauss-Newton steps d = -G^-1 sum (J - I) grad I
    on the bilinearly interpolated target J; a level stops when |d|^2 <= ``eps2`` [px^2] or
    when two steps cancel (d + d_prev below 0.01 px in both axes: the point moves back by
    d/2). Failures on the finest level (and a final window beyond the image) lose the point.

    Scratch: ``patch``, ``patch_gx``, ``patch_gy``, ``diff`` (window, R) float32, separate
    C-contiguous arrays (views of one 3-D array defeat vectorisation): the template, its
    x and y derivatives and the residual, with R >= window a multiple of 8 so that every
    row is summed in whole SIMD vectors;
    ``mask`` (R,) 1 for columns < window, else 0 (the extra columns carry zero
    derivatives); ``near_u8``/``near_gx``/``near_gy`` ((window + 1) (R + 1),) hold the source
    pixels of windows that reach beyond a level's edge. Writes ``iterations`` (L,) int32:
    steps run per level, -1 where the level was skipped (no set-up). Returns (u, v, ok).
    """
    levels = layout.shape[0]
    half = (window - 1) * 0.5
    row = patch.shape[1]
    n_rows, n_cols = window + 1, row + 1  # source pixels of one bilinear window
    flat_gx, flat_gy, flat_d = patch_gx.reshape(-1), patch_gy.reshape(-1), diff.reshape(-1)
    for lev in range(levels):
        iterations[lev] = -1
    if not (math.isfinite(u0) and math.isfinite(v0) and math.isfinite(u1) and math.isfinite(v1)):
        return u1, v1, False
    ok = True
    nx = 0.0
    ny = 0.0
    for lev in range(levels - 1, -1, -1):
        off, stride, cols, rows = layout[lev, 0], layout[lev, 1], layout[lev, 2], layout[lev, 3]
        scale = 1.0 / (1 << lev)
        if lev == levels - 1:
            nx, ny = u1 * scale, v1 * scale
        else:
            nx, ny = 2.0 * nx, 2.0 * ny
        px, py = u0 * scale - half, v0 * scale - half
        ix, iy = math.floor(px), math.floor(py)
        if ix < -window or ix >= cols or iy < -window or iy >= rows:
            if lev == 0:
                ok = False
            continue
        a, b = px - ix, py - iy
        w00, w01 = np.float32((1.0 - a) * (1.0 - b)), np.float32(a * (1.0 - b))
        w10, w11 = np.float32((1.0 - a) * b), np.float32(a * b)
        if ix >= 0 and iy >= 0 and ix + n_cols <= cols and iy + n_rows <= rows:
            src, src_x, src_y, base, step = pixels, grad_x, grad_y, off + iy * stride + ix, stride
        else:
            gather_window(pixels, off, stride, cols, rows, ix, iy, near_u8, n_rows, n_cols, False)
            gather_window(grad_x, off, stride, cols, rows, ix, iy, near_gx, n_rows, n_cols, True)
            gather_window(grad_y, off, stride, cols, rows, ix, iy, near_gy, n_rows, n_cols, True)
            src, src_x, src_y, base, step = near_u8, near_gx, near_gy, 0, n_cols
        for y in range(window):
            r0 = base + y * step
            r1 = r0 + step
            i0, i1 = src[r0:r0 + n_cols], src[r1:r1 + n_cols]
            x0, x1 = src_x[r0:r0 + n_cols], src_x[r1:r1 + n_cols]
            y0, y1 = src_y[r0:r0 + n_cols], src_y[r1:r1 + n_cols]
            p, gx, gy = patch[y], patch_gx[y], patch_gy[y]
            for x in range(row):
                m = mask[x]
                p[x] = (w00 * np.float32(i0[x]) + w01 * np.float32(i0[x + 1])
                        + w10 * np.float32(i1[x]) + w11 * np.float32(i1[x + 1]))
                gx[x] = m * (w00 * np.float32(x0[x]) + w01 * np.float32(x0[x + 1])
                             + w10 * np.float32(x1[x]) + w11 * np.float32(x1[x + 1]))
                gy[x] = m * (w00 * np.float32(y0[x]) + w01 * np.float32(y0[x + 1])
                             + w10 * np.float32(y1[x]) + w11 * np.float32(y1[x + 1]))
        g11 = np.float32(0.0)
        g12 = np.float32(0.0)
        g22 = np.float32(0.0)
        for q in range(flat_gx.shape[0]):  # one reduction over the whole window
            g11 += flat_gx[q] * flat_gx[q]
            g12 += flat_gx[q] * flat_gy[q]
            g22 += flat_gy[q] * flat_gy[q]
        a11, a12, a22 = g11 * LK_FIXED_SCALE, g12 * LK_FIXED_SCALE, g22 * LK_FIXED_SCALE
        det = a11 * a22 - a12 * a12
        min_eig = (a22 + a11 - math.sqrt((a11 - a22) ** 2 + 4.0 * a12 * a12)) / (2.0 * window * window)
        if min_eig < min_eigenvalue or det < LK_MIN_DET:
            if lev == 0:
                ok = False
            iterations[lev] = 0
            continue
        inv_det = 1.0 / det
        cx, cy = nx - half, ny - half
        prev_dx = 0.0
        prev_dy = 0.0
        it = 0
        while it < max_iterations:
            jx, jy = math.floor(cx), math.floor(cy)
            if jx < -window or jx >= cols or jy < -window or jy >= rows:
                if lev == 0:
                    ok = False
                break
            it += 1
            a, b = cx - jx, cy - jy
            w00, w01 = np.float32((1.0 - a) * (1.0 - b)), np.float32(a * (1.0 - b))
            w10, w11 = np.float32((1.0 - a) * b), np.float32(a * b)
            if jx >= 0 and jy >= 0 and jx + n_cols <= cols and jy + n_rows <= rows:
                src, base, step = target, off + jy * stride + jx, stride
            else:
                gather_window(target, off, stride, cols, rows, jx, jy, near_u8, n_rows, n_cols, False)
                src, base, step = near_u8, 0, n_cols
            for y in range(window):
                r0 = base + y * step
                r1 = r0 + step
                j0, j1 = src[r0:r0 + n_cols], src[r1:r1 + n_cols]
                p, dr = patch[y], diff[y]
                for x in range(row):
                    dr[x] = (w00 * np.float32(j0[x]) + w01 * np.float32(j0[x + 1])
                             + w10 * np.float32(j1[x]) + w11 * np.float32(j1[x + 1])) - p[x]
            b1 = np.float32(0.0)
            b2 = np.float32(0.0)
            for q in range(flat_d.shape[0]):  # columns >= window have zero derivatives
                b1 += flat_d[q] * flat_gx[q]
                b2 += flat_d[q] * flat_gy[q]
            # the image difference in Scharr units, as the derivatives
            s1, s2 = b1 * (SCHARR_GAIN * LK_FIXED_SCALE), b2 * (SCHARR_GAIN * LK_FIXED_SCALE)
            step_x = (a12 * s2 - a22 * s1) * inv_det
            step_y = (a12 * s1 - a11 * s2) * inv_det
            cx += step_x
            cy += step_y
            nx, ny = cx + half, cy + half
            if step_x * step_x + step_y * step_y <= eps2:
                break
            if it > 1 and abs(step_x + prev_dx) < 0.01 and abs(step_y + prev_dy) < 0.01:
                nx -= 0.5 * step_x
                ny -= 0.5 * step_y
                break
            prev_dx, prev_dy = step_x, step_y
        iterations[lev] = it
    if ok:
        jx, jy = math.floor(nx - half), math.floor(ny - half)
        if jx < -window or jx >= layout[0, 2] or jy < -window or jy >= layout[0, 3]:
            ok = False
    return nx, ny, ok


@njit(cache=True)
def klt_points(pixels, grad_x, grad_y, target, layout, uv0, uv1, window, max_iterations, eps2,
               min_eigenvalue, ok, iterations):
    """:func:`klt_point` for every row of uv0 (N, 2) from the guesses uv1 (N, 2), which are
    overwritten with the tracked positions; fills ``ok`` (N,) and ``iterations`` (N, L)."""
    row = ((window + 7) // 8) * 8
    patch = np.zeros((window, row), dtype=np.float32)
    patch_gx = np.zeros((window, row), dtype=np.float32)
    patch_gy = np.zeros((window, row), dtype=np.float32)
    diff = np.zeros((window, row), dtype=np.float32)
    mask = np.zeros(row, dtype=np.float32)
    mask[:window] = 1.0
    near = (window + 1) * (row + 1)
    near_u8 = np.empty(near, dtype=np.uint8)
    near_gx = np.empty(near, dtype=np.int16)
    near_gy = np.empty(near, dtype=np.int16)
    for k in range(uv0.shape[0]):
        u, v, good = klt_point(pixels, grad_x, grad_y, target, layout, uv0[k, 0], uv0[k, 1], uv1[k, 0], uv1[k, 1],
                               window, max_iterations, eps2, min_eigenvalue, patch, patch_gx, patch_gy, diff, mask,
                               near_u8, near_gx, near_gy, iterations[k])
        uv1[k, 0] = u
        uv1[k, 1] = v
        ok[k] = good


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
