"""Slow, obviously correct references for the occupancy kernels.

Ray cells: step finely along the ray and record the distinct cells, with the same rule as
``mapping.occupancy._kernels`` (half-open cells; the cell of ``p(t)`` is the one the ray is
in just after ``t``). Where two consecutive samples are neither in the same cell nor in
face neighbours, the ray crossed two boundaries between them: the interval is bisected
until it is below ``TIE_T`` (then the crossings are simultaneous: a corner crossing, no
side cell) or the two cells are face neighbours. Same cell or face neighbours at both
ends leaves nothing in between (a cell, and a slab of cells, is convex).

Scan update: OctoMap's rule written out with Python sets.
"""
from __future__ import annotations

import math

import numpy as np

SAMPLES_PER_CELL = 64  # fine stepping: a power of two keeps dyadic rays exact
TIE_T = 1e-12  # [relative to max_t] crossings closer than this count as simultaneous


def _cell_after(u: np.ndarray, d: np.ndarray) -> tuple:
    """Cell holding u + eps * d for small eps > 0."""
    c = np.floor(u)
    c = c - ((c == u) & (d < 0))
    return tuple(int(v) for v in c)


def _cell_before(u: np.ndarray, d: np.ndarray) -> tuple:
    """Cell holding u - eps * d for small eps > 0."""
    c = np.floor(u)
    c = c - ((c == u) & (d > 0))
    return tuple(int(v) for v in c)


def _neighbours_or_same(a: tuple, b: tuple) -> bool:
    return sum(abs(x - y) for x, y in zip(a, b)) <= 1


def _between(u0, d, ta, ca, tb, cb, tol, out):
    """Appends the cells strictly between ca (at ta) and cb (at tb) in ray order."""
    if _neighbours_or_same(ca, cb) or tb - ta <= tol:
        return
    tm = 0.5 * (ta + tb)
    cm = _cell_after(u0 + tm * d, d)
    _between(u0, d, ta, ca, tm, cm, tol, out)
    if cm != ca and cm != cb:
        out.append(cm)
    _between(u0, d, tm, cm, tb, cb, tol, out)


def ray_sequence(u0, d, max_t) -> list[tuple]:
    """All cells (unbounded grid) of the ray u0 + t d, 0 <= t < max_t, in cell coordinates, in order."""
    if max_t <= 0 or not np.any(d):
        seq = [_cell_after(u0, d)]
    else:
        n = 2 ** max(0, math.ceil(math.log2(max_t * np.abs(d).max() * SAMPLES_PER_CELL)))  # dyadic steps
        ts = max_t * np.arange(n) / n
        u = u0 + ts[:, None] * d
        after = np.floor(u) - ((np.floor(u) == u) & (d < 0))  # _cell_after for every sample
        changed = np.flatnonzero(np.any(after[1:] != after[:-1], axis=1)) + 1
        keep = np.concatenate([[0], np.unique(np.concatenate([changed - 1, changed]))]).astype(int)
        ts = [float(ts[k]) for k in keep] + [max_t]
        cells = [tuple(int(v) for v in after[k]) for k in keep] + [_cell_before(u0 + max_t * d, d)]
        seq = [cells[0]]
        tol = TIE_T * max_t
        for k in range(1, len(cells)):
            found: list[tuple] = []
            _between(u0, d, ts[k - 1], cells[k - 1], ts[k], cells[k], tol, found)
            for c in found + [cells[k]]:
                if c != seq[-1]:
                    seq.append(c)
    return seq


def _inside(c: tuple, shape) -> bool:
    return all(0 <= c[a] < shape[a] for a in range(len(c)))


def ray_cells(origin, direction, max_t, origin_m, resolution_m, shape) -> list[tuple]:
    """Cells visited by the ray origin + t direction, 0 <= t < max_t, inside [0, shape), in order."""
    origin, direction, origin_m = (np.asarray(v, dtype=np.float64) for v in (origin, direction, origin_m))
    u0 = (origin - origin_m) / resolution_m
    d = direction / resolution_m
    return [c for c in ray_sequence(u0, d, max_t) if _inside(c, shape)]


def scan_update_reference(log_odds: np.ndarray, origin_m, resolution_m, origin, points, max_range_m,
                          l_hit, l_miss, l_min, l_max) -> np.ndarray:
    """OctoMap's scan update on a copy of ``log_odds`` (float32, any dimension).

    Each ray marks the cells from the sensor to its end point free; the end point's cell is
    occupied (only when the end point is within max range and its cell, the ray's last
    cell, lies in the grid). A cell occupied by any ray takes one hit; every other touched
    cell takes one miss; log-odds are clamped to [l_min, l_max] after the update.
    """
    out = log_odds.copy()
    shape = out.shape
    free, occupied = set(), set()
    origin = np.asarray(origin, dtype=np.float64)
    for p in np.asarray(points, dtype=np.float64):
        rng = float(np.linalg.norm(p - origin))
        hit = rng <= max_range_m
        max_t = 1.0 if hit else max_range_m / rng
        # the same ray parametrisation as the grid: cell coordinates of origin and end point
        u0 = (origin - origin_m) / resolution_m
        u1 = (p - origin_m) / resolution_m
        seq = ray_sequence(u0, u1 - u0, max_t)
        cells = [c for c in seq if _inside(c, shape)]
        if hit and _inside(seq[-1], shape):
            occupied.add(cells[-1])
            free.update(cells[:-1])
        else:
            free.update(cells)
    for c in free - occupied:
        out[c] = np.float32(min(max(out[c] + np.float32(l_miss), np.float32(l_min)), np.float32(l_max)))
    for c in occupied:
        out[c] = np.float32(min(max(out[c] + np.float32(l_hit), np.float32(l_min)), np.float32(l_max)))
    return out
