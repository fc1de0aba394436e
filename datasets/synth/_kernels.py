"""Numba kernels of the synthetic world: procedural texture, box-world ray tracing, shading.

Texture tables (built by :mod:`datasets.synth.world`; S surfaces, L layers):

- ``frames`` (S, 3, 3) float64, world frame [m]: row 0 the texture origin, rows 1 and 2
  the unit texture axes U, V in the surface plane. A surface point p has texture
  coordinates ``u = (p - origin) . U``, ``v = (p - origin) . V`` [m].
- ``grey`` (S, 2): the surface's grey range: value = grey[s, 0] + grey[s, 1] * g.
- ``layer_inv_cell`` (S, L) [1/m], ``layer_offset`` (S, L, 2) [cells],
  ``layer_seed`` (S, L) uint64, ``coverage`` (L,): layer l divides the plane into cells
  ``(i, j) = floor(u * layer_inv_cell + offset_u), floor(v * ... + offset_v)``, coarse
  to fine; each cell draws one 64-bit hash (:func:`cell_hash`).
- ``markers`` (M, 5) float64: surface id, u, v [m], half size h [m], blur b [m]. Inside
  ``|u - u0|, |v - v0| < h`` the texture is the smooth saddle
  ``0.5 + 0.45 tanh((u - u0) / b) tanh((v - v0) / b)``: its critical point (u0, v0)
  maps exactly onto the image's critical point under any smooth projection.

Geometry: the hall interior is the box [shell_lo, shell_hi], seen from inside; obstacles
are boxes [box_lo[k], box_hi[k]], seen from outside. Face f = 2 * axis + side (side 0
the low plane, 1 the high plane) of the shell is surface ``shell_faces[f]``, of
obstacle k surface ``box_faces[k, f]``.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import njit, prange
from scipy.special import ndtri

# Debian's TBB is older than numba wants; numba then falls back to OpenMP, which is
# what we want anyway. Its one-off warning would only confuse users.
warnings.filterwarnings("ignore", message="The TBB threading layer requires TBB")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S8 = np.uint64(8)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S16 = np.uint64(16)
_S48 = np.uint64(48)
_MASK8 = np.uint64(0xFF)
_MASK16 = np.uint64(0xFFFF)
NORMAL_TABLE = ndtri((np.arange(2**16) + 0.5) / 2**16)  # equiprobable N(0, 1) quantiles (float64)
CELL_INDEX_OFFSET = 1 << 40  # keeps cell indices positive before the uint64 cast
RECT_MAX_INSET = 0.35  # a rectangle's edges lie within this fraction of the cell border


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser (Steele, Lea, Flood, OOPSLA 2014): uint64 -> uint64."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def cell_hash(seed, i, j):
    """64-bit hash of integer cell (i, j) under a layer seed."""
    return mix64(seed + np.uint64(i + CELL_INDEX_OFFSET) * _GOLDEN + np.uint64(j + CELL_INDEX_OFFSET) * _MIX1)


@njit(cache=True, inline="always")
def _bits(h, shift, mask):
    """(h >> shift) & mask as a float (via int64: uint64 -> float is slow on x86)."""
    return np.float64(np.int64((h >> shift) & mask))


@njit(cache=True, inline="always")
def _byte(h, k):
    """Byte k of h as a float in [0, 1)."""
    return _bits(h, _S8 * np.uint64(k), _MASK8) * (1.0 / 256.0)


@njit(cache=True, inline="always")
def texture_uv(u, v, s, grey, layer_inv_cell, layer_offset, layer_seed, coverage):
    """Procedural grey in [0, 1] at texture coordinates (u, v) [m] of surface s.

    Layer 0 gives each cell the grey g = (h & 0xFFFF) / 2^16. In each finer layer a cell
    with ``(h & 0xFFFF) / 2^16 < coverage[l]`` holds a rectangle whose edges sit at cell
    fractions ``0.35 * byte2``, ``1 - 0.35 * byte3`` (u) and ``0.35 * byte4``,
    ``1 - 0.35 * byte5`` (v), byte k = ((h >> 8k) & 0xFF) / 256; inside it the grey
    becomes ``(g + 0.25 + 0.5 * (h >> 48) / 2^16) mod 1``, so every rectangle differs
    from what it covers by at least a quarter of the grey range: corners at every scale.
    """
    g = 0.0
    for layer in range(layer_seed.shape[1]):
        fu = u * layer_inv_cell[s, layer] + layer_offset[s, layer, 0]
        fv = v * layer_inv_cell[s, layer] + layer_offset[s, layer, 1]
        i = math.floor(fu)
        j = math.floor(fv)
        h = cell_hash(layer_seed[s, layer], np.int64(i), np.int64(j))
        r = _bits(h, np.uint64(0), _MASK16) * (1.0 / 65536.0)
        if layer == 0:
            g = r
            continue
        ru = fu - i
        rv = fv - j
        # branch-free (random cells defeat branch prediction)
        inside = ((r < coverage[layer]) & (RECT_MAX_INSET * _byte(h, 2) <= ru)
                  & (ru < 1.0 - RECT_MAX_INSET * _byte(h, 3)) & (RECT_MAX_INSET * _byte(h, 4) <= rv)
                  & (rv < 1.0 - RECT_MAX_INSET * _byte(h, 5)))
        g_new = g + 0.25 + 0.5 * _bits(h, _S48, _MASK16) * (1.0 / 65536.0)
        g_new = g_new - 1.0 if g_new >= 1.0 else g_new
        g = g_new if inside else g
    return grey[s, 0] + grey[s, 1] * g


@njit(cache=True, inline="always")
def _bilinear(data, start, size, x, y):
    """Periodic bilinear sample of the size x size level at ``data[start:]`` at texel coords (x, y)."""
    x -= 0.5
    y -= 0.5
    fx = math.floor(x)
    fy = math.floor(y)
    ax = x - fx
    ay = y - fy
    mask = size - 1
    x0 = np.int64(fx) & mask
    y0 = np.int64(fy) & mask
    x1 = (x0 + 1) & mask
    y1 = (y0 + 1) & mask
    top = data[start + y0 * size + x0] * (1.0 - ax) + data[start + y0 * size + x1] * ax
    bottom = data[start + y1 * size + x0] * (1.0 - ax) + data[start + y1 * size + x1] * ax
    return top * (1.0 - ay) + bottom * ay


@njit(cache=True, inline="always")
def sample_tile(data, offset, size, t, x, y, footprint):
    """Trilinear mip sample of tile t at texel coords (x, y) (level-0 texels, periodic).

    footprint: the pixel's size on the surface [level-0 texels]. Mip maps after Williams
    (SIGGRAPH 1983), with the level chosen so that the bilinear kernel (two texels of its
    level wide) spans the footprint: level log2(footprint / 2), clamped to the pyramid,
    blending the two nearest levels.
    """
    n_levels = offset.shape[1]
    level = math.log2(0.5 * footprint) if footprint > 2.0 else 0.0
    if level >= n_levels - 1:
        return _bilinear(data, offset[t, n_levels - 1], 1, 0.0, 0.0)
    lo = np.int64(math.floor(level))
    w = level - lo
    s_lo = size >> lo
    v_lo = _bilinear(data, offset[t, lo], s_lo, x / (1 << lo), y / (1 << lo))
    if w == 0.0:
        return v_lo
    v_hi = _bilinear(data, offset[t, lo + 1], s_lo >> 1, x / (1 << (lo + 1)), y / (1 << (lo + 1)))
    return v_lo * (1.0 - w) + v_hi * w


@njit(cache=True, inline="always")
def surface_value(px, py, pz, s, footprint_m, tex):
    """Texture grey in [0, 1] of world point (px, py, pz) [m] on surface s (markers included).

    tex: (frames, grey, layer_inv_cell, layer_offset, layer_seed, coverage, markers,
    surface_tile, tile_data, tile_offset, tile_size, inv_texel_m). A surface with
    ``surface_tile[s] >= 0`` shows that tile at ``inv_texel_m`` texels per metre, sampled
    at the pixel footprint ``footprint_m`` [m on the surface]; others the procedural blocks.
    """
    (frames, grey, layer_inv_cell, layer_offset, layer_seed, coverage, markers,
     surface_tile, tile_data, tile_offset, tile_size, inv_texel_m) = tex
    dx = px - frames[s, 0, 0]
    dy = py - frames[s, 0, 1]
    dz = pz - frames[s, 0, 2]
    u = dx * frames[s, 1, 0] + dy * frames[s, 1, 1] + dz * frames[s, 1, 2]
    v = dx * frames[s, 2, 0] + dy * frames[s, 2, 1] + dz * frames[s, 2, 2]
    for m in range(markers.shape[0]):
        if markers[m, 0] == s:
            du = u - markers[m, 1]
            dv = v - markers[m, 2]
            if abs(du) < markers[m, 3] and abs(dv) < markers[m, 3]:
                return 0.5 + 0.45 * math.tanh(du / markers[m, 4]) * math.tanh(dv / markers[m, 4])
    t = surface_tile[s]
    if t >= 0:
        g = sample_tile(tile_data, tile_offset, tile_size, t, u * inv_texel_m, v * inv_texel_m,
                        footprint_m * inv_texel_m)
        return grey[s, 0] + grey[s, 1] * g
    return texture_uv(u, v, s, grey, layer_inv_cell, layer_offset, layer_seed, coverage)


@njit(cache=True, parallel=True)
def texture_points(points, surface_ids, tex, out):
    """out[k] = texture grey of points[k] (world, [m]) on surface surface_ids[k] (finest tile level)."""
    for k in prange(points.shape[0]):
        out[k] = surface_value(points[k, 0], points[k, 1], points[k, 2], surface_ids[k], 0.0, tex)


@njit(cache=True, parallel=True)
def cull_tiles(tile_axis, tile_cos, tile_sin, R_world_cam, p_world_cam, sphere_centre, sphere_radius,
               sphere_box, tile_count, tile_boxes):
    """Per image tile, the obstacles some ray of the tile may hit.

    Tile t's rays lie in the cone (axis tile_axis[t] in the camera frame, half angle with
    cosine/sine tile_cos[t], tile_sin[t]) from p_world_cam [m, world]. Obstacle
    sphere_box[q] is kept when its covering sphere q (world centre [m], radius [m])
    meets the cone (spheres are grouped by box). Writes tile_count[t] and the obstacle
    ids tile_boxes[t, :count].
    """
    for t in prange(tile_axis.shape[0]):
        cx, cy, cz = tile_axis[t, 0], tile_axis[t, 1], tile_axis[t, 2]
        ax = R_world_cam[0, 0] * cx + R_world_cam[0, 1] * cy + R_world_cam[0, 2] * cz
        ay = R_world_cam[1, 0] * cx + R_world_cam[1, 1] * cy + R_world_cam[1, 2] * cz
        az = R_world_cam[2, 0] * cx + R_world_cam[2, 1] * cy + R_world_cam[2, 2] * cz
        count = 0
        last = -1
        for q in range(sphere_centre.shape[0]):
            k = sphere_box[q]
            if k == last:
                continue
            vx = sphere_centre[q, 0] - p_world_cam[0]
            vy = sphere_centre[q, 1] - p_world_cam[1]
            vz = sphere_centre[q, 2] - p_world_cam[2]
            dist = math.sqrt(vx * vx + vy * vy + vz * vz)
            r = sphere_radius[q]
            hit = dist <= r
            if not hit:
                sin_b = r / dist
                cos_b = math.sqrt(1.0 - sin_b * sin_b)
                cos_ab = tile_cos[t] * cos_b - tile_sin[t] * sin_b  # cos(alpha + beta)
                wide = tile_sin[t] * cos_b + tile_cos[t] * sin_b < 0.0  # alpha + beta > pi
                hit = wide or (ax * vx + ay * vy + az * vz) >= cos_ab * dist
            if hit:
                tile_boxes[t, count] = k
                count += 1
                last = k
        tile_count[t] = count


@njit(cache=True, inline="always")
def _trace(ox, oy, oz, dx, dy, dz, candidates, n_candidates, shell_lo, shell_hi, shell_faces, box_lo, box_hi,
           box_faces):
    """First hit (t [m along the direction], surface id) of a ray starting inside the shell."""
    d = (dx, dy, dz)
    o = (ox, oy, oz)
    t_best = np.inf
    surf = -1
    for a in range(3):  # exit through the shell
        if d[a] > 0.0:
            t = (shell_hi[a] - o[a]) / d[a]
            if t < t_best:
                t_best = t
                surf = shell_faces[2 * a + 1]
        elif d[a] < 0.0:
            t = (shell_lo[a] - o[a]) / d[a]
            if t < t_best:
                t_best = t
                surf = shell_faces[2 * a]
    for c in range(n_candidates):  # enter an obstacle (slab test)
        k = candidates[c]
        t_near = -np.inf
        t_far = np.inf
        face = -1
        for a in range(3):
            if d[a] == 0.0:
                if o[a] < box_lo[k, a] or o[a] > box_hi[k, a]:
                    t_far = -1.0
                continue
            inv = 1.0 / d[a]
            t0 = (box_lo[k, a] - o[a]) * inv
            t1 = (box_hi[k, a] - o[a]) * inv
            f = 2 * a
            if t0 > t1:
                t0, t1 = t1, t0
                f += 1
            if t0 > t_near:
                t_near = t0
                face = f
            t_far = min(t_far, t1)
        if 0.0 < t_near <= t_far and t_near < t_best:
            t_best = t_near
            surf = box_faces[k, face]
    return t_best, surf


@njit(cache=True, inline="always")
def gaussian(key, k, normal_table):
    """Standard normal sample number k of the counter-based stream ``key``.

    16 bits of a SplitMix64 hash pick one of the 2^16 equiprobable quantiles in
    ``normal_table`` (inverse-CDF sampling, tails cut at |z| = 4.17).
    """
    h = mix64(key ^ (np.uint64(k >> 2) * _GOLDEN))
    return normal_table[np.int64((h >> (_S16 * np.uint64(k & 3))) & _MASK16)]


@njit(cache=True, parallel=True)
def render_image(bearings, tile_size, tile_count, tile_boxes, R_world_cam, p_world_cam,
                 shell_lo, shell_hi, shell_faces, box_lo, box_hi, box_faces, shading, tex, pixel_angle,
                 gain, noise_key, noise_sigma, normal_table, out, radiance_out, range_out, surface_out):
    """Ray-trace and shade one camera image.

    bearings (H, W, 3): unit pixel bearings in the camera frame; tiles of tile_size^2
    pixels (row-major, ceil(W / tile_size) per row) with candidate obstacles from
    :func:`cull_tiles`; tex: texture tables (:func:`surface_value`); pixel_angle: angle
    subtended by one pixel [rad] (sets the texture footprint). Pixel (u, v) =
    255 * gain * radiance + noise_sigma * gaussian(noise_key, v * W + u, normal_table),
    rounded and clipped into ``out`` (H, W) uint8, where radiance = texture * shading.
    Each of out, radiance_out (float32 radiance), range_out (hit distance [m from
    p_world_cam]) and surface_out (surface id) is written when it is (H, W), skipped when
    empty. A miss gives 0, 0, NaN and -1.
    """
    height, width = bearings.shape[0], bearings.shape[1]
    tiles_x = (width + tile_size - 1) // tile_size
    ox, oy, oz = p_world_cam[0], p_world_cam[1], p_world_cam[2]
    for row in prange(height):
        tile_row = (row // tile_size) * tiles_x
        for col in range(width):
            bx, by, bz = bearings[row, col, 0], bearings[row, col, 1], bearings[row, col, 2]
            dx = R_world_cam[0, 0] * bx + R_world_cam[0, 1] * by + R_world_cam[0, 2] * bz
            dy = R_world_cam[1, 0] * bx + R_world_cam[1, 1] * by + R_world_cam[1, 2] * bz
            dz = R_world_cam[2, 0] * bx + R_world_cam[2, 1] * by + R_world_cam[2, 2] * bz
            tile = tile_row + col // tile_size
            t, s = _trace(ox, oy, oz, dx, dy, dz, tile_boxes[tile], tile_count[tile], shell_lo, shell_hi,
                          shell_faces, box_lo, box_hi, box_faces)
            _write_pixel(row, col, ox, oy, oz, dx, dy, dz, t, s, shading, tex, pixel_angle, gain, noise_key,
                         noise_sigma, normal_table, out, radiance_out, range_out, surface_out)


@njit(cache=True, inline="always")
def _radiance(ox, oy, oz, dx, dy, dz, t, s, shading, tex, pixel_angle):
    """Radiance (texture x shading, [0, 1]) of a ray (origin o, unit direction d) hitting surface s at t [m]."""
    frames = tex[0]
    nx = frames[s, 1, 1] * frames[s, 2, 2] - frames[s, 1, 2] * frames[s, 2, 1]
    ny = frames[s, 1, 2] * frames[s, 2, 0] - frames[s, 1, 0] * frames[s, 2, 2]
    nz = frames[s, 1, 0] * frames[s, 2, 1] - frames[s, 1, 1] * frames[s, 2, 0]
    cos_incidence = max(abs(dx * nx + dy * ny + dz * nz), 0.05)
    footprint = t * pixel_angle / math.sqrt(cos_incidence)  # geometric mean of the footprint's axes
    g = surface_value(ox + t * dx, oy + t * dy, oz + t * dz, s, footprint, tex)
    return g * shading[s]


@njit(cache=True, inline="always")
def _write_pixel(row, col, ox, oy, oz, dx, dy, dz, t, s, shading, tex, pixel_angle, gain, noise_key,
                 noise_sigma, normal_table, out, radiance_out, range_out, surface_out):
    radiance = _radiance(ox, oy, oz, dx, dy, dz, t, s, shading, tex, pixel_angle) if s >= 0 else 0.0
    if radiance_out.size > 0:
        radiance_out[row, col] = radiance
    if range_out.size > 0:
        range_out[row, col] = t if s >= 0 else np.nan
        surface_out[row, col] = s
    if out.size > 0:
        if s < 0:
            out[row, col] = np.uint8(0)
        else:
            value = 255.0 * gain * radiance
            if noise_sigma > 0.0:
                value += noise_sigma * gaussian(noise_key, row * out.shape[1] + col, normal_table)
            out[row, col] = np.uint8(min(max(math.floor(value + 0.5), 0.0), 255.0))


@njit(cache=True, parallel=True)
def shade_hits(bearings, R_world_cam, p_world_cam, range_in, surface_in, shading, tex, pixel_angle, gain,
               noise_key, noise_sigma, normal_table, out, radiance_out):
    """Shade an image from externally traced hits (range_in [m], surface_in, both (H, W)).

    Same shading and outputs as :func:`render_image`; used with open3d's RaycastingScene.
    """
    height, width = bearings.shape[0], bearings.shape[1]
    ox, oy, oz = p_world_cam[0], p_world_cam[1], p_world_cam[2]
    no_hits = np.empty((0, 0), dtype=np.float32)
    no_surface = np.empty((0, 0), dtype=np.int32)
    for row in prange(height):
        for col in range(width):
            bx, by, bz = bearings[row, col, 0], bearings[row, col, 1], bearings[row, col, 2]
            dx = R_world_cam[0, 0] * bx + R_world_cam[0, 1] * by + R_world_cam[0, 2] * bz
            dy = R_world_cam[1, 0] * bx + R_world_cam[1, 1] * by + R_world_cam[1, 2] * bz
            dz = R_world_cam[2, 0] * bx + R_world_cam[2, 1] * by + R_world_cam[2, 2] * bz
            _write_pixel(row, col, ox, oy, oz, dx, dy, dz, range_in[row, col], surface_in[row, col], shading,
                         tex, pixel_angle, gain, noise_key, noise_sigma, normal_table, out, radiance_out,
                         no_hits, no_surface)
