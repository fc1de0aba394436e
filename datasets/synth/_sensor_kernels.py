"""Numba kernels of the camera sensor model (datasets/synth/sensor_model.py).

- :func:`motion_blur`: time average of the radiance over the exposure by a gather-based
  line integral along each pixel's image path, reprojected on a coarse grid and interpolated
  (exact per-pixel reprojection at depth edges); tests/datasets/test_sensor_model.py keeps
  the per-pixel reprojection of every pixel as its slow reference.
- :func:`expose_and_digitise`: vignetting x gain x exposure, Poisson-Gaussian noise from a
  counter-based generator, 8-bit rounding with clipping.

Distortion codes: 0 none, 1 radial-tangential (k1, k2, p1, p2), 2 equidistant (k1..k4),
as in ``datasets.calibration.CameraCalibration``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._kernels import NORMAL_TABLE as _NORMAL_TABLE_F64
from ._kernels import mix64

DISTORTION_CODES = {"none": 0, "radial-tangential": 1, "equidistant": 2}
MAX_PATH_SAMPLES = 256  # cap on radiance samples per pixel (a 128 px blur at 0.5 px steps)
BLUR_GRID_PX = 8  # motion_blur: image paths reprojected exactly every 8th pixel, interpolated between
BLUR_GRID_PATH_TOL_PX = 0.005  # ... unless depth edges in the grid cell could move the path by more than this
BLUR_MIN_PATH_PX = 0.05  # ... pixels whose whole path is shorter keep their radiance

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
NORMAL_TABLE = _NORMAL_TABLE_F64.astype(np.float32)  # the renderer's equiprobable N(0, 1) quantiles


@njit(cache=True, inline="always")
def counter_normal(key, index, normal_table):
    """N(0, 1) draw of counter ``index`` under ``key``: the top 16 bits of a SplitMix64 hash pick
    one of the 2^16 equiprobable quantiles in ``normal_table`` (tails cut at 4.3 sigma)."""
    h = mix64(key + _GOLDEN * (np.uint64(index) + np.uint64(1)))
    return normal_table[np.int64(h >> np.uint64(48))]


@njit(cache=True, inline="always")
def project(x, y, z, fu, fv, cu, cv, model, d):
    """Pixel (u, v) of camera-frame point (x, y, z), z > 0, through the distortion model."""
    xn, yn = x / z, y / z
    if model == 1:
        r2 = xn * xn + yn * yn
        radial = 1.0 + r2 * (d[0] + r2 * d[1])
        xd = xn * radial + 2.0 * d[2] * xn * yn + d[3] * (r2 + 2.0 * xn * xn)
        yd = yn * radial + d[2] * (r2 + 2.0 * yn * yn) + 2.0 * d[3] * xn * yn
    elif model == 2:
        r = math.sqrt(xn * xn + yn * yn)
        if r < 1e-12:
            xd, yd = xn, yn
        else:
            th = math.atan(r)
            t2 = th * th
            thd = th * (1.0 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3]))))
            xd, yd = xn * thd / r, yn * thd / r
    else:
        xd, yd = xn, yn
    return fu * xd + cu, fv * yd + cv


@njit(cache=True, inline="always")
def bilinear(image, u, v):
    """Bilinear sample of image (H, W) at pixel (u, v), clamped to the border."""
    h, w = image.shape
    u = min(max(u, 0.0), w - 1.0)
    v = min(max(v, 0.0), h - 1.0)
    i0 = min(int(v), h - 2) if h > 1 else 0
    j0 = min(int(u), w - 2) if w > 1 else 0
    fy, fx = v - i0, u - j0
    i1, j1 = min(i0 + 1, h - 1), min(j0 + 1, w - 1)
    top = image[i0, j0] * (1.0 - fx) + image[i0, j1] * fx
    bottom = image[i1, j0] * (1.0 - fx) + image[i1, j1] * fx
    return top * (1.0 - fy) + bottom * fy


@njit(cache=True, inline="always")
def _bilinear_inside(image, u, v):
    """Bilinear sample of float32 image (H, W) at float32 pixel (u, v), 0 <= u < W - 1, 0 <= v < H - 1 (unchecked)."""
    i0 = np.uint64(v)  # unsigned indices: no negative-index wraparound branches
    j0 = np.uint64(u)
    fy, fx = v - np.float32(i0), u - np.float32(j0)
    a = image[i0, j0]
    b = image[i0, j0 + np.uint64(1)]
    c = image[i0 + np.uint64(1), j0]
    e = image[i0 + np.uint64(1), j0 + np.uint64(1)]
    top = a + (b - a) * fx
    return top + ((c + (e - c) * fx) - top) * fy


@njit(cache=True, inline="always")
def _path_average(radiance, us, vs, k_count, inv_step, min_path, still):
    """Mean of the radiance along the polyline (us, vs) (K points), midpoint sub-steps <= 1 / inv_step px;
    ``still`` (the pixel's own radiance) if the path's L1 length is below ``min_path`` px.

    Same sums as the slow per-pixel reference (in the tests), with fewer divisions, square
    roots and branches: sub-step counts come from squared lengths, the whole-path length is
    only measured when its L1 bound exceeds the sample budget, and inside the image segments
    of one or two sub-steps (the common case) are sampled without a loop, longer ones by an
    unclamped float32 loop."""
    h, w = radiance.shape
    span = 0.0
    lo_u, hi_u, lo_v, hi_v = us[0], us[0], vs[0], vs[0]
    for k in range(1, k_count):
        span += abs(us[k] - us[k - 1]) + abs(vs[k] - vs[k - 1])
        lo_u, hi_u = min(lo_u, us[k]), max(hi_u, us[k])
        lo_v, hi_v = min(lo_v, vs[k]), max(hi_v, vs[k])
    if span < min_path:
        return still
    scale = inv_step
    if span * inv_step > MAX_PATH_SAMPLES:  # L1 >= Euclidean length: only then can the budget bind
        total_len = 0.0
        for k in range(k_count - 1):
            du, dv = us[k + 1] - us[k], vs[k + 1] - vs[k]
            total_len += math.sqrt(du * du + dv * dv)  # not math.hypot: libm hypot is slow
        scale = min(MAX_PATH_SAMPLES / max(total_len * inv_step, 1.0), 1.0) * inv_step
    inside = lo_u >= 0.0 and hi_u < w - 1.0 and lo_v >= 0.0 and hi_v < h - 1.0
    acc = 0.0
    for k in range(k_count - 1):
        du, dv = us[k + 1] - us[k], vs[k + 1] - vs[k]
        x2 = (du * du + dv * dv) * (scale * scale)  # (sub-steps needed)^2
        if inside and x2 <= 1.0:  # one sub-step: the midpoint
            acc += _bilinear_inside(radiance, np.float32(us[k] + 0.5 * du), np.float32(vs[k] + 0.5 * dv))
        elif inside and x2 <= 4.0:  # two: at 1/4 and 3/4
            acc += 0.5 * (_bilinear_inside(radiance, np.float32(us[k] + 0.25 * du), np.float32(vs[k] + 0.25 * dv))
                          + _bilinear_inside(radiance, np.float32(us[k] + 0.75 * du), np.float32(vs[k] + 0.75 * dv)))
        else:
            n = 1 if x2 <= 1.0 else 2 if x2 <= 4.0 else int(math.ceil(math.sqrt(x2)))
            inv_n = 1.0 / n
            seg = 0.0
            if inside:
                su, sv = np.float32(du * inv_n), np.float32(dv * inv_n)
                u, v = np.float32(us[k] + 0.5 * du * inv_n), np.float32(vs[k] + 0.5 * dv * inv_n)
                seg32 = np.float32(0.0)
                for m in range(n):
                    seg32 += _bilinear_inside(radiance, u, v)
                    u += su
                    v += sv
                seg = np.float64(seg32)
            else:
                for m in range(n):
                    f = (m + 0.5) * inv_n
                    seg += bilinear(radiance, us[k] + f * du, vs[k] + f * dv)
            acc += seg * inv_n
    return acc / (k_count - 1)


@njit(cache=True, inline="always")
def _reproject(i, j, range_m, bearings, R_s_mid, t_s_mid, fu, fv, cu, cv, model, distortion, us, vs):
    """Image path (us, vs) of pixel (i, j) at the K instants; False if a point leaves the front."""
    k_count = R_s_mid.shape[0]
    rng = range_m[i, j]
    finite = math.isfinite(rng)
    bx, by, bz = bearings[i, j, 0], bearings[i, j, 1], bearings[i, j, 2]
    px, py, pz = (bx * rng, by * rng, bz * rng) if finite else (bx, by, bz)
    for k in range(k_count):
        x = R_s_mid[k, 0, 0] * px + R_s_mid[k, 0, 1] * py + R_s_mid[k, 0, 2] * pz
        y = R_s_mid[k, 1, 0] * px + R_s_mid[k, 1, 1] * py + R_s_mid[k, 1, 2] * pz
        z = R_s_mid[k, 2, 0] * px + R_s_mid[k, 2, 1] * py + R_s_mid[k, 2, 2] * pz
        if finite:
            x += t_s_mid[k, 0]
            y += t_s_mid[k, 1]
            z += t_s_mid[k, 2]
        if z <= 1e-6:
            return False
        us[k], vs[k] = project(x, y, z, fu, fv, cu, cv, model, distortion)
    return True


@njit(cache=True, inline="always")
def _cell_mode(range_m, i0, i1, j0, j1, nodes_ok, nodes_span, px_per_inv_range, min_path):
    """How the pixels of the grid cell rows i0..i1, columns j0..j1 get their image paths.

    0: exact reprojection, when a node is behind the camera, a range is <= 0 or the
    interpolation error bound px_per_inv_range x max |s - bilinear(s)| exceeds
    BLUR_GRID_PATH_TOL_PX, s = 1 / range [1/m] (0 for a miss: a point at infinity);
    1: interpolated from the nodes; 2: none, the nodes' paths are all shorter than
    ``min_path`` px, so are the interpolated ones (convex combinations), and every pixel
    keeps its radiance."""
    if not nodes_ok:
        return 0
    r00, r01, r10, r11 = range_m[i0, j0], range_m[i0, j1], range_m[i1, j0], range_m[i1, j1]
    s00 = 1.0 / r00 if math.isfinite(r00) else 0.0
    s01 = 1.0 / r01 if math.isfinite(r01) else 0.0
    s10 = 1.0 / r10 if math.isfinite(r10) else 0.0
    s11 = 1.0 / r11 if math.isfinite(r11) else 0.0
    max_dev = BLUR_GRID_PATH_TOL_PX / px_per_inv_range if px_per_inv_range > 0.0 else np.inf
    inv_di, inv_dj = 1.0 / (i1 - i0), 1.0 / (j1 - j0)
    for a in range(i0, i1 + 1):
        fy = (a - i0) * inv_di
        left, right = s00 + fy * (s10 - s00), s01 + fy * (s11 - s01)
        for b in range(j0, j1 + 1):
            r = range_m[a, b]
            if r <= 0.0:
                return 0
            s = 1.0 / r if math.isfinite(r) else 0.0
            if abs(s - (left + (b - j0) * inv_dj * (right - left))) > max_dev:
                return 0
    return 2 if nodes_span < min_path else 1


@njit(cache=True, parallel=True)
def motion_blur(radiance, range_m, bearings, R_s_mid, t_s_mid, intrinsics, model, distortion,
                step_px, out):
    """Exposure-time average of the mid-exposure radiance along each pixel's image path (fast).

    Same inputs, output and model as the slow per-pixel reference (tests/datasets/test_sensor_model.py), but
    the image path is reprojected exactly only at a coarse grid (every :data:`BLUR_GRID_PX`-th
    pixel in each direction, plus the last row and column) and interpolated bilinearly inside
    each grid cell. A pixel's path is pi(R_k b + t_k / range) (b its bearing): smooth in the
    pixel except through the inverse range, so a cell falls back to exact per-pixel
    reprojection where 1 / range (0 for a miss) departs from its bilinear interpolation
    between the cell corners by more than :data:`BLUR_GRID_PATH_TOL_PX` / (bound on
    |d path / d(1 / range)| from the largest translation; none without translation), or a
    grid node is behind the camera. Pixels whose whole path is shorter than
    :data:`BLUR_MIN_PATH_PX` keep their radiance (the path is centred on the pixel, so the
    average differs from it only at second order); so do whole cells whose node paths are.
    One parallel loop over bands of grid cells (each band reprojects its own two node rows),
    so a call synchronises the threads once. Writes out (H, W) float32.
    """
    h, w = radiance.shape
    k_count = R_s_mid.shape[0]
    if k_count < 2:
        for i in prange(h):
            for j in range(w):
                out[i, j] = radiance[i, j]
        return
    fu, fv, cu, cv = intrinsics[0], intrinsics[1], intrinsics[2], intrinsics[3]
    g = BLUR_GRID_PX
    gh = (h - 1 + g - 1) // g + 1 if h > 1 else 1
    gw = (w - 1 + g - 1) // g + 1 if w > 1 else 1
    ch, cw = max(gh - 1, 1), max(gw - 1, 1)
    inv_step = 1.0 / step_px
    min_path = BLUR_MIN_PATH_PX
    t_max = 0.0
    for k in range(k_count):
        t_max = max(t_max, math.sqrt(t_s_mid[k, 0] ** 2 + t_s_mid[k, 1] ** 2 + t_s_mid[k, 2] ** 2))
    # |d path / d(1 / range)| <= f |t| / bz^2 for a pinhole (bz: bearing z); x 2 for distortion
    px_per_m = 2.0 * max(fu, fv) * t_max
    for ci in prange(ch):
        us = np.empty(k_count)
        vs = np.empty(k_count)
        i0 = min(ci * g, h - 1)
        i1 = min(i0 + g, h - 1)
        # 1. exact paths of the band's top and bottom node rows, as displacements from the node
        node_u = np.empty((2, gw, k_count))
        node_v = np.empty((2, gw, k_count))
        node_ok = np.empty((2, gw), dtype=np.bool_)
        node_span = np.empty((2, gw))
        for r in range(2):
            i = i0 if r == 0 else i1
            for gj in range(gw):
                j = min(gj * g, w - 1)
                node_ok[r, gj] = _reproject(i, j, range_m, bearings, R_s_mid, t_s_mid, fu, fv, cu, cv, model,
                                            distortion, us, vs)
                span = 0.0
                for k in range(k_count):
                    node_u[r, gj, k] = us[k] - j
                    node_v[r, gj, k] = vs[k] - i
                    if k > 0:
                        span += abs(us[k] - us[k - 1]) + abs(vs[k] - vs[k - 1])
                node_span[r, gj] = span
        # 2. how each cell of the band gets its paths
        mode = np.zeros(cw, dtype=np.int64)
        if gh > 1 and gw > 1:
            for cj in range(cw):
                j0 = cj * g
                j1 = min(j0 + g, w - 1)
                bz = min(min(bearings[i0, j0, 2], bearings[i0, j1, 2]), min(bearings[i1, j0, 2], bearings[i1, j1, 2]))
                mode[cj] = _cell_mode(range_m, i0, i1, j0, j1,
                                      bz > 0.0 and node_ok[0, cj] and node_ok[0, cj + 1] and node_ok[1, cj]
                                      and node_ok[1, cj + 1],
                                      max(max(node_span[0, cj], node_span[0, cj + 1]),
                                          max(node_span[1, cj], node_span[1, cj + 1])),
                                      px_per_m / (bz * bz), min_path)
        # 3. per pixel: interpolated (or exact) path, then the line integral
        edge_u = np.empty((gw, k_count))  # node displacements interpolated to the pixel row
        edge_v = np.empty((gw, k_count))
        row_end = i1 if ci < ch - 1 else h
        for i in range(i0, row_end):
            fy = (i - i0) / (i1 - i0) if i1 > i0 else 0.0
            for gj in range(gw):
                for k in range(k_count):
                    edge_u[gj, k] = node_u[0, gj, k] + fy * (node_u[1, gj, k] - node_u[0, gj, k])
                    edge_v[gj, k] = node_v[0, gj, k] + fy * (node_v[1, gj, k] - node_v[0, gj, k])
            for cj in range(cw):
                j0 = min(cj * g, w - 1)
                j1 = min(j0 + g, w - 1)
                col_end = j1 if cj < cw - 1 else w
                m = mode[cj]
                if m == 2:
                    for j in range(j0, col_end):
                        out[i, j] = radiance[i, j]
                elif m == 1:
                    inv_cell = 1.0 / (j1 - j0)
                    for j in range(j0, col_end):
                        fx = (j - j0) * inv_cell
                        for k in range(k_count):
                            us[k] = j + edge_u[cj, k] + fx * (edge_u[cj + 1, k] - edge_u[cj, k])
                            vs[k] = i + edge_v[cj, k] + fx * (edge_v[cj + 1, k] - edge_v[cj, k])
                        out[i, j] = _path_average(radiance, us, vs, k_count, inv_step, min_path, radiance[i, j])
                else:
                    for j in range(j0, col_end):
                        if _reproject(i, j, range_m, bearings, R_s_mid, t_s_mid, fu, fv, cu, cv, model, distortion,
                                      us, vs):
                            out[i, j] = _path_average(radiance, us, vs, k_count, inv_step, min_path, radiance[i, j])
                        else:
                            out[i, j] = radiance[i, j]


@njit(cache=True)
def expose_and_digitise(signal, scale_map, exposure_scale, shot_a, read_b, key, normal_table, out):
    """Grey levels = round(clip(mean + sqrt(a * mean + b) * n, 0, 255)) as uint8.

    signal (H, W) float32: blurred radiance [0, 1]; scale_map (H, W) float32: 255 x
    vignetting x camera gain [grey levels per unit radiance at the reference exposure];
    exposure_scale: exposure time / reference exposure x analog gain; shot_a [grey level]
    and read_b [grey level^2]: Poisson-Gaussian variance a * mean + b (Foi et al., IEEE TIP
    2008, eq. 3, heteroscedastic Gaussian approximation); n ~ N(0, 1) from the counter-based
    hash of (key, pixel index) through ``normal_table`` (:data:`NORMAL_TABLE`), so the
    result does not depend on threading. Serial: ~0.5 ms per 752x480 frame, less than waking
    the thread pool costs when another process holds a core (up to ~8 ms).
    """
    h, w = signal.shape
    noisy = shot_a > 0.0 or read_b > 0.0
    for i in range(h):
        for j in range(w):
            mean = signal[i, j] * scale_map[i, j] * exposure_scale
            value = mean
            if noisy:
                var = shot_a * max(mean, 0.0) + read_b
                value += math.sqrt(var) * counter_normal(key, i * w + j, normal_table)
            value = math.floor(value + 0.5)
            out[i, j] = np.uint8(min(max(value, 0.0), 255.0))
