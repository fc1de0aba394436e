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
BLUR_GRID_RANGE_TOL = 0.03  # ... unless the range in the grid cell varies by more than 3 % (depth edge)
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
def _path_average(radiance, us, vs, k_count, step_px, seg_len):
    """Mean of the radiance along the polyline (us, vs) (K points), midpoint sub-steps <= step_px.

    seg_len: scratch (K - 1,). Same sums as the slow per-pixel reference (in the tests), with
    fewer divisions and square roots and an unclamped float32 loop for segments inside the image."""
    h, w = radiance.shape
    total_len = 0.0
    for k in range(k_count - 1):
        du, dv = us[k + 1] - us[k], vs[k + 1] - vs[k]
        seg_len[k] = math.sqrt(du * du + dv * dv)  # not math.hypot: libm hypot is slow
        total_len += seg_len[k]
    scale = min(MAX_PATH_SAMPLES / max(total_len / step_px, 1.0), 1.0) / step_px  # shrink sub-steps if too many
    acc = 0.0
    for k in range(k_count - 1):
        du, dv = us[k + 1] - us[k], vs[k + 1] - vs[k]
        n = max(int(math.ceil(seg_len[k] * scale)), 1)
        inv_n = 1.0 / n
        seg = 0.0
        inside = (min(us[k], us[k + 1]) >= 0.0 and max(us[k], us[k + 1]) < w - 1.0
                  and min(vs[k], vs[k + 1]) >= 0.0 and max(vs[k], vs[k + 1]) < h - 1.0)
        if inside:  # no clamping needed: the segment lies inside the image
            su, sv = np.float32(du * inv_n), np.float32(dv * inv_n)
            u, v = np.float32(us[k] + 0.5 * du * inv_n), np.float32(vs[k] + 0.5 * dv * inv_n)
            seg32 = np.float32(0.0)
            for m in range(n):
                i0 = np.uint64(v)  # unsigned indices: no negative-index wraparound branches
                j0 = np.uint64(u)
                fy, fx = v - np.float32(i0), u - np.float32(j0)
                a = radiance[i0, j0]
                b = radiance[i0, j0 + np.uint64(1)]
                c = radiance[i0 + np.uint64(1), j0]
                e = radiance[i0 + np.uint64(1), j0 + np.uint64(1)]
                top = a + (b - a) * fx
                seg32 += top + ((c + (e - c) * fx) - top) * fy
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


@njit(cache=True, parallel=True)
def motion_blur(radiance, range_m, bearings, R_s_mid, t_s_mid, intrinsics, model, distortion,
                step_px, out):
    """Exposure-time average of the mid-exposure radiance along each pixel's image path (fast).

    Same inputs, output and model as the slow per-pixel reference (tests/datasets/test_sensor_model.py), but
    the image path is reprojected exactly only at a coarse grid (every :data:`BLUR_GRID_PX`-th
    pixel in each direction, plus the last row and column) and interpolated bilinearly inside
    each grid cell: the flow field is smooth there except at depth edges, so a cell whose range
    varies by more than :data:`BLUR_GRID_RANGE_TOL` (relative), mixes hits and misses (NaN) or
    has a grid node behind the camera falls back to exact per-pixel reprojection. Pixels whose
    whole path is shorter than :data:`BLUR_MIN_PATH_PX` keep their radiance (the path is
    centred on the pixel, so the average differs from it only at second order).
    Writes out (H, W) float32.
    """
    h, w = radiance.shape
    k_count = R_s_mid.shape[0]
    fu, fv, cu, cv = intrinsics[0], intrinsics[1], intrinsics[2], intrinsics[3]
    g = BLUR_GRID_PX
    gh = (h - 1 + g - 1) // g + 1 if h > 1 else 1
    gw = (w - 1 + g - 1) // g + 1 if w > 1 else 1
    if k_count < 2:
        for i in prange(h):
            for j in range(w):
                out[i, j] = radiance[i, j]
        return
    # 1. exact paths at the grid nodes
    grid_u = np.empty((gh, gw, k_count))
    grid_v = np.empty((gh, gw, k_count))
    grid_ok = np.empty((gh, gw), dtype=np.bool_)
    for gi in prange(gh):
        i = min(gi * g, h - 1)
        for gj in range(gw):
            j = min(gj * g, w - 1)
            grid_ok[gi, gj] = _reproject(i, j, range_m, bearings, R_s_mid, t_s_mid, fu, fv, cu, cv, model,
                                         distortion, grid_u[gi, gj], grid_v[gi, gj])
    # 2. cells where interpolation is trusted: smooth range, no miss/hit mix, all nodes valid
    ch, cw = max(gh - 1, 1), max(gw - 1, 1)
    cell_ok = np.empty((ch, cw), dtype=np.bool_)
    for ci in prange(ch):
        i0 = min(ci * g, h - 1)
        i1 = min(i0 + g, h - 1)
        for cj in range(cw):
            j0 = min(cj * g, w - 1)
            j1 = min(j0 + g, w - 1)
            ok = (gh > 1 and gw > 1 and grid_ok[ci, cj] and grid_ok[ci, cj + 1]
                  and grid_ok[ci + 1, cj] and grid_ok[ci + 1, cj + 1])
            if ok:
                lo, hi = np.inf, -np.inf
                n_miss = 0
                for a in range(i0, i1 + 1):
                    for b in range(j0, j1 + 1):
                        r = range_m[a, b]
                        if math.isfinite(r):
                            lo = min(lo, r)
                            hi = max(hi, r)
                        else:
                            n_miss += 1
                n_all = (i1 - i0 + 1) * (j1 - j0 + 1)
                if n_miss == n_all:
                    ok = True
                elif n_miss > 0 or lo <= 0.0:
                    ok = False
                else:
                    ok = hi - lo <= BLUR_GRID_RANGE_TOL * lo
            cell_ok[ci, cj] = ok
    # 3. per pixel: interpolated (or exact) path, then the line integral
    min_path = BLUR_MIN_PATH_PX
    for i in prange(h):
        us = np.empty(k_count)
        vs = np.empty(k_count)
        seg_len = np.empty(k_count - 1)
        ci = min(i // g, ch - 1)
        i0 = min(ci * g, h - 1)
        i1 = min(i0 + g, h - 1)
        fy = (i - i0) / (i1 - i0) if i1 > i0 else 0.0
        # displacement of the node paths interpolated to this row, at every grid column
        edge_u = np.empty((gw, k_count))
        edge_v = np.empty((gw, k_count))
        if gh > 1:
            for gj in range(gw):
                jn = min(gj * g, w - 1)
                for k in range(k_count):
                    edge_u[gj, k] = (1.0 - fy) * grid_u[ci, gj, k] + fy * grid_u[ci + 1, gj, k] - jn
                    edge_v[gj, k] = (1.0 - fy) * (grid_v[ci, gj, k] - i0) + fy * (grid_v[ci + 1, gj, k] - i1)
        for j in range(w):
            cj = min(j // g, cw - 1)
            if cell_ok[ci, cj]:
                j0 = min(cj * g, w - 1)
                j1 = min(j0 + g, w - 1)
                fx = (j - j0) / (j1 - j0) if j1 > j0 else 0.0
                for k in range(k_count):
                    us[k] = j + edge_u[cj, k] + fx * (edge_u[cj + 1, k] - edge_u[cj, k])
                    vs[k] = i + edge_v[cj, k] + fx * (edge_v[cj + 1, k] - edge_v[cj, k])
            elif not _reproject(i, j, range_m, bearings, R_s_mid, t_s_mid, fu, fv, cu, cv, model, distortion,
                                us, vs):
                out[i, j] = radiance[i, j]
                continue
            span = 0.0
            for k in range(k_count - 1):
                span += abs(us[k + 1] - us[k]) + abs(vs[k + 1] - vs[k])
            if span < min_path:
                out[i, j] = radiance[i, j]
            else:
                out[i, j] = _path_average(radiance, us, vs, k_count, step_px, seg_len)


@njit(cache=True, parallel=True)
def expose_and_digitise(signal, scale_map, exposure_scale, shot_a, read_b, key, normal_table, out):
    """Grey levels = round(clip(mean + sqrt(a * mean + b) * n, 0, 255)) as uint8.

    signal (H, W) float32: blurred radiance [0, 1]; scale_map (H, W) float32: 255 x
    vignetting x camera gain [grey levels per unit radiance at the reference exposure];
    exposure_scale: exposure time / reference exposure x analog gain; shot_a [grey level]
    and read_b [grey level^2]: Poisson-Gaussian variance a * mean + b (Foi et al., IEEE TIP
    2008, eq. 3, heteroscedastic Gaussian approximation); n ~ N(0, 1) from the counter-based
    hash of (key, pixel index) through ``normal_table`` (:data:`NORMAL_TABLE`), so the
    result does not depend on threading.
    """
    h, w = signal.shape
    noisy = shot_a > 0.0 or read_b > 0.0
    for i in prange(h):
        for j in range(w):
            mean = signal[i, j] * scale_map[i, j] * exposure_scale
            value = mean
            if noisy:
                var = shot_a * max(mean, 0.0) + read_b
                value += math.sqrt(var) * counter_normal(key, i * w + j, normal_table)
            value = math.floor(value + 0.5)
            out[i, j] = np.uint8(min(max(value, 0.0), 255.0))
