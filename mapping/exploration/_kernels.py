"""Numba kernels of the exploration planner: grid Dijkstra and FSMI view scoring.

Dijkstra: 26-connected moves on a 3-D boolean grid, step lengths ``resolution_m * (1,
sqrt 2, sqrt 3)`` for face, edge and corner neighbours; an indexed binary heap with
decrease-key holds the open cells (each cell enters it at most once).

View scoring: the beams of a level camera are cast through the occupancy grid with the
occupancy package's DDA (:func:`mapping.occupancy._kernels.traverse_ray`); the cells'
occupancy probabilities along each beam go to FSMI's beam mutual information
(:mod:`mapping._kernels`), summed over the beams.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mapping._kernels import T_BEAMS, T_CELLS, T_PAIRS, T_WALK_STEPS, beam_mi_table, gaussian_support, pair_count
from mapping.occupancy._kernels import traverse_ray


@njit(cache=True, inline="always")
def _heap_less(heap, i, j, dist):
    return dist[heap[i]] < dist[heap[j]]


@njit(cache=True, inline="always")
def _heap_swap(heap, pos, i, j):
    a = heap[i]
    b = heap[j]
    heap[i] = b
    heap[j] = a
    pos[b] = i
    pos[a] = j


@njit(cache=True)
def _sift_up(heap, pos, dist, i):
    while i > 0:
        up = (i - 1) // 2
        if not _heap_less(heap, i, up, dist):
            return
        _heap_swap(heap, pos, i, up)
        i = up


@njit(cache=True)
def _sift_down(heap, pos, dist, i, size):
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        child = left
        if left + 1 < size and _heap_less(heap, left + 1, left, dist):
            child = left + 1
        if not _heap_less(heap, child, i, dist):
            return
        _heap_swap(heap, pos, i, child)
        i = child


@njit(cache=True)
def dijkstra_26(traversable, start, resolution_m, dist, parent):
    """Shortest 26-connected path lengths from cell ``start`` (3,) through ``traversable``.

    traversable (nx, ny, nz) bool; dist (nx * ny * nz,) float64 and parent (same,) int64,
    indexed by the C-order linear cell index, receive the path length [m] (inf when not
    reachable) and the previous cell of a shortest path (-1 for the start and unreachable
    cells). The start cell is the source whatever its own value; every other cell of a path
    must be traversable. Returns the number of settled cells.
    """
    nx, ny, nz = traversable.shape
    n = nx * ny * nz
    dist[:] = np.inf
    parent[:] = -1
    pos = np.full(n, -1, np.int64)  # heap slot; -1: never seen, -2: settled
    heap = np.empty(n, np.int64)
    offsets = np.empty((26, 3), np.int64)
    weights = np.empty(26)
    k = 0
    for dx in range(-1, 2):
        for dy in range(-1, 2):
            for dz in range(-1, 2):
                m = abs(dx) + abs(dy) + abs(dz)
                if m == 0:
                    continue
                offsets[k, 0] = dx
                offsets[k, 1] = dy
                offsets[k, 2] = dz
                weights[k] = resolution_m * math.sqrt(m)
                k += 1
    s = (start[0] * ny + start[1]) * nz + start[2]
    dist[s] = 0.0
    heap[0] = s
    pos[s] = 0
    size = 1
    settled = 0
    while size > 0:
        u = heap[0]
        size -= 1
        if size > 0:
            last = heap[size]
            heap[0] = last
            pos[last] = 0
            _sift_down(heap, pos, dist, 0, size)
        pos[u] = -2
        settled += 1
        ux = u // (ny * nz)
        uy = (u // nz) % ny
        uz = u % nz
        for k in range(26):
            vx = ux + offsets[k, 0]
            vy = uy + offsets[k, 1]
            vz = uz + offsets[k, 2]
            if vx < 0 or vy < 0 or vz < 0 or vx >= nx or vy >= ny or vz >= nz:
                continue
            if not traversable[vx, vy, vz]:
                continue
            v = (vx * ny + vy) * nz + vz
            if pos[v] == -2:
                continue
            nd = dist[u] + weights[k]
            if nd < dist[v]:
                dist[v] = nd
                parent[v] = u
                if pos[v] == -1:
                    heap[size] = v
                    pos[v] = size
                    size += 1
                _sift_up(heap, pos, dist, pos[v])
    return settled


@njit(cache=True, inline="always")
def _level_camera_direction(bearing, cos_yaw, sin_yaw, out):
    """World direction of a camera-frame bearing (OpenCV axes: x right, y down, z forward) for a
    level camera looking along yaw: x_cam = (sin, -cos, 0), y_cam = (0, 0, -1), z_cam = (cos, sin, 0)."""
    out[0] = sin_yaw * bearing[0] + cos_yaw * bearing[2]
    out[1] = -cos_yaw * bearing[0] + sin_yaw * bearing[2]
    out[2] = -bearing[1]


@njit(cache=True, parallel=True)
def score_views(probability, origin_m, resolution_m, shape, positions, yaws, bearings, range_m, g, truncation,
                delta_occ, delta_emp, max_cells, counting, mi_out, tally):
    """FSMI of each candidate view: a level camera at positions[c] [m, world] with yaw yaws[c] [rad].

    probability (nx, ny, nz) float64: occupancy probability per cell (0.5 unknown).
    bearings (B, 3): unit beam directions in the camera frame. Each beam runs from the
    camera centre for range_m [m] through the grid (the walk ends where the beam leaves
    it); its cells' probabilities, in beam order, give the beam's MI
    (:func:`mapping._kernels.beam_mi_table`) with FSMI's Gaussian table ``g`` and truncation
    ``truncation`` [cells], already clipped to the table's support (as
    :func:`mapping.fsmi.gaussian_table` returns them). A beam ends ``truncation`` cells after
    its first certain cell (p = 1): later cells have no hit probability and lie beyond the
    Gaussian's reach, so its MI is unchanged. mi_out[c] receives the sum over the beams
    [nats]; with ``counting``, tally[c] (FSMI's T_* slots) the beams, cells read, (j, k)
    pairs and DDA cells walked. max_cells bounds one beam's cells.
    """
    for c in prange(positions.shape[0]):
        cells = np.empty((max_cells, 3), np.int64)
        p = np.empty(max_cells)
        direction = np.empty(3)
        cos_yaw = math.cos(yaws[c])
        sin_yaw = math.sin(yaws[c])
        origin = positions[c]
        total = 0.0
        for b in range(bearings.shape[0]):
            _level_camera_direction(bearings[b], cos_yaw, sin_yaw, direction)
            walked = traverse_ray(origin, direction, range_m, origin_m, resolution_m, shape, cells)
            count = walked
            j = 0
            while j < count:
                p[j] = probability[cells[j, 0], cells[j, 1], cells[j, 2]]
                if p[j] >= 1.0:
                    count = min(count, j + truncation + 1)
                j += 1
            total += beam_mi_table(p[:count], g, truncation, delta_occ, delta_emp)
            if counting:
                tally[c, T_BEAMS] += 1
                tally[c, T_CELLS] += count
                tally[c, T_WALK_STEPS] += walked
                if count > 0:
                    tally[c, T_PAIRS] += pair_count(count, gaussian_support(g, min(truncation, count - 1)))
        mi_out[c] = total
