"""Numba kernels of the occupancy maps: DDA ray traversal and the per-scan cell marking.

Traversal: Amanatides & Woo, "A Fast Voxel Traversal Algorithm for Ray Tracing",
Eurographics 1987 (tMax/tDelta per axis, step along the axis whose boundary comes first).
The same code serves 2-D and 3-D grids (D = len(origin)).

Cell coordinates are ``u = (p - origin_m) / resolution_m``; cell ``i`` holds the half-open
box ``i <= u < i + 1`` on every axis. A ray is ``p(t) = origin + t * direction`` for
``0 <= t <= max_t`` (``direction`` need not be a unit vector).

Visited cells, exactly: the cells ``C(t)`` for ``t`` in ``[0, max_t)``, in order of ``t``,
where ``C(t)`` is the cell holding ``p(t + eps)`` for every small enough ``eps > 0`` (the
right limit). So every visited cell holds a piece of the ray of positive length, and:

- start on a boundary: the ray starts in the cell it moves into (``u = 3`` moving in -x
  starts in cell 2);
- a ray lying in a boundary plane runs in the cells on the plane's positive side;
- corner crossing (boundaries of two or three axes at the same ``t``): all those axes step
  at once, straight into the diagonal cell; the side cells (zero length) are not visited.
  Ties are exact float64 equalities of the tMax values. They are exact for the geometric
  ties of rays with dyadic coordinates (axis-aligned or diagonal rays from cell corners,
  faces or centres on power-of-two resolutions); for other rays a rounding error of a few
  ulp decides only crossings that close (the tests check against a fine-stepping reference);
- a boundary crossed exactly at ``max_t`` is not taken; ``max_t <= 0`` visits ``C(0)`` only.

Cells outside the box ``[lo, lo + shape)`` are not written; the walk ends when the ray has
left the box (a line cannot re-enter a box) or cannot reach it.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

FREE_MARK = np.uint8(1)
HIT_MARK = np.uint8(2)

# indices of the scan statistics array filled by mark_scan
STAT_RAYS, STAT_STEPS, STAT_CELLS, STAT_HIT_RAYS = range(4)
N_STATS = 4


@njit(cache=True)
def walk(u0, d, max_t, lo, shape, out_idx):
    """DDA from cell coordinates ``u0`` (D,) along ``d`` (D,) [cells per unit t] up to ``max_t``.

    Writes the visited cells inside ``[lo, lo + shape)`` into ``out_idx`` (M, D) int64 and
    stops early when it is full. Returns ``(count, last_inside, steps)``: cells written,
    whether the walk's final cell (the one holding ``p(max_t)`` from below) is inside the
    box, and the number of DDA steps taken.
    """
    n_dim = u0.shape[0]
    cell = np.empty(n_dim, np.int64)
    step = np.empty(n_dim, np.int64)
    t_max = np.empty(n_dim)
    t_delta = np.empty(n_dim)
    for a in range(n_dim):
        f = math.floor(u0[a])
        c = np.int64(f)
        if d[a] > 0.0:
            step[a] = 1
            t_delta[a] = 1.0 / d[a]
            t_max[a] = (f + 1.0 - u0[a]) / d[a]
        elif d[a] < 0.0:
            if f == u0[a]:
                c -= 1  # on a boundary, moving down: start in the cell below
            step[a] = -1
            t_delta[a] = -1.0 / d[a]
            t_max[a] = (c - u0[a]) / d[a]
        else:
            step[a] = 0
            t_delta[a] = np.inf
            t_max[a] = np.inf
        cell[a] = c
    count = 0
    steps = 0
    was_inside = False
    capacity = out_idx.shape[0]
    while True:
        inside = True
        for a in range(n_dim):
            if cell[a] < lo[a] or cell[a] >= lo[a] + shape[a]:
                inside = False
                break
        if inside:
            if count == capacity:
                return count, False, steps
            for a in range(n_dim):
                out_idx[count, a] = cell[a]
            count += 1
            was_inside = True
        elif was_inside:
            return count, False, steps
        else:
            for a in range(n_dim):
                if (cell[a] < lo[a] and step[a] <= 0) or (cell[a] >= lo[a] + shape[a] and step[a] >= 0):
                    return count, False, steps
        t_next = t_max[0]
        for a in range(1, n_dim):
            if t_max[a] < t_next:
                t_next = t_max[a]
        if not t_next < max_t:
            return count, inside, steps
        for a in range(n_dim):
            if t_max[a] == t_next:
                cell[a] += step[a]
                t_max[a] += t_delta[a]
        steps += 1


@njit(cache=True)
def traverse_ray(origin, direction, max_t, origin_m, resolution_m, shape, out_idx):
    """Cells of a grid (origin_m (3,) [m], resolution_m, shape (3,)) along one ray.

    origin (3,) [m, world], direction (3,) [m per unit t], max_t: the ray is
    ``origin + t * direction`` for ``0 <= t <= max_t``. Writes the visited in-grid cells
    (rule in the module docstring) into ``out_idx`` (M, 3) int64 in ray order and returns
    their count; stops when ``out_idx`` is full. ``M >= 3 + sum_a ceil(|direction_a| *
    max_t / resolution_m)`` always suffices. Callable from other njit code.
    """
    u0 = (origin - origin_m) / resolution_m
    d = direction / resolution_m
    lo = np.zeros(shape.shape[0], np.int64)
    return walk(u0, d, max_t, lo, shape, out_idx)[0]


@njit(cache=True)
def traverse_ray_2d(origin, direction, max_t, origin_m, resolution_m, shape, out_idx):
    """2-D twin of :func:`traverse_ray`: origin, direction, origin_m, shape (2,); out_idx (M, 2)."""
    u0 = (origin - origin_m) / resolution_m
    d = direction / resolution_m
    lo = np.zeros(shape.shape[0], np.int64)
    return walk(u0, d, max_t, lo, shape, out_idx)[0]


@njit(cache=True)
def mark_scan(u0, ends_u, max_t, hit, lo, shape, marks, touched, scratch, stats):
    """Marks the cells of one scan in a window ``[lo, lo + shape)`` (OctoMap's scan rule).

    u0 (D,): sensor origin, ends_u (N, D): ray end points, both in cell coordinates; ray k
    runs along ``ends_u[k] - u0`` for ``t`` in ``[0, max_t[k]]`` (1 reaches the end point).
    Every visited cell gets FREE_MARK; when ``hit[k]``, the ray's final cell (if inside)
    gets HIT_MARK instead of FREE_MARK for that ray. ``marks`` (prod(shape),) uint8 is
    zero on entry and indexed by the window's C-order linear index; ``touched`` receives the
    linear index of each cell when it is first marked; ``scratch`` (M, D) must hold one
    ray's cells. Adds to ``stats`` (STAT_*). Returns the number of touched cells.
    """
    n_dim = u0.shape[0]
    stride = np.empty(n_dim, np.int64)
    stride[n_dim - 1] = 1
    for a in range(n_dim - 2, -1, -1):
        stride[a] = stride[a + 1] * shape[a + 1]
    d = np.empty(n_dim)
    n_touched = 0
    for k in range(ends_u.shape[0]):
        for a in range(n_dim):
            d[a] = ends_u[k, a] - u0[a]
        count, last_inside, steps = walk(u0, d, max_t[k], lo, shape, scratch)
        stats[STAT_RAYS] += 1
        stats[STAT_STEPS] += steps
        stats[STAT_CELLS] += count
        hit_last = hit[k] and last_inside
        if hit_last:
            stats[STAT_HIT_RAYS] += 1
        for j in range(count):
            lin = np.int64(0)
            for a in range(n_dim):
                lin += (scratch[j, a] - lo[a]) * stride[a]
            if marks[lin] == 0:
                touched[n_touched] = lin
                n_touched += 1
            if hit_last and j == count - 1:
                marks[lin] |= HIT_MARK
            else:
                marks[lin] |= FREE_MARK
    return n_touched
