"""Numba kernels of the mutual-information (FSMI, FCMI) computations.

Beam model (Zhang, Henderson, Karaman, Sze, "FSMI: Fast computation of Shannon mutual
information for information-theoretic mapping", ICRA 2019): cells ``i = 0..n-1``
of width ``s`` with occupancy ``o_i``; ``P(e_j) = o_j prod_{i<j} (1 - o_i)``; a hit in
cell ``j`` is measured ``z ~ N((j + 1/2) s, sigma^2)`` and ``G_kj`` is that Gaussian's
mass inside cell ``k``; ``MI = sum_j sum_k P(e_j) G_kj (sum_{i<k} f(d_emp, r_i) + f(d_occ, r_k))``
[nats] with ``f`` the information gained in one cell (:func:`info_gain`). ``G_kj``
depends on ``d = k - j`` only: ``g[|d|]`` (:func:`gaussian_cell_masses`).

Every beam kernel takes a Gaussian table ``g`` and a truncation ``k`` [cells]: pairs with
hit cell and measured cell more than ``k`` apart are dropped (FSMI's truncated Gaussian).
The exact sum uses ``k = n - 1``; ``gaussian_support`` lowers it to the last ``d`` with
``g[d] >= G_FLOOR`` (the dropped masses are below 1e-300, invisible in float64 next to
``g[0]``), so exact evaluation costs ``O(n min(n, 39 sigma / s))``.

2-D grids are ``grid[iy, ix]`` (row = y); cell ``(ix, iy)`` is the square
``[ix, ix + 1) x [iy, iy + 1)`` in cell coordinates. Counting: kernels that take
``counting`` add to an int64 ``tally`` row indexed by the ``T_*`` constants only when it
is true; the formulas that turn tallies into operations are in ``docs/mapping.md``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

G_FLOOR = 1e-300  # Gaussian cell masses below this count as zero (also avoids subnormals)
BAND_PHASE = 0.3819660112501051  # 2 - golden ratio: no cell centre lies on a band edge for small rational slopes

# tally slots
T_BEAMS = 0          # beams evaluated with beam_mi_core
T_CELLS = 1          # cells of those beams (map reads)
T_PAIRS = 2          # (j, k) terms of those beams
T_WALK_STEPS = 3     # DDA steps of the sensor walks
T_LINE_CELLS = 4     # FCMI: cells added at a window's front (one per line cell and direction)
T_FRONT_TERMS = 5    # FCMI: k terms of the front additions
T_H_TERMS = 6        # FCMI: j terms of the hit-into-new-cell sums
T_REMOVALS = 7       # FCMI: cells removed at a window's back
T_BACK_TERMS = 8     # FCMI: j terms of the removals (k = removed cell)
T_WINDOW_CHECKS = 9  # range comparisons that placed the window ends
N_TALLY = 10

# bank statistics slots
B_STEPS, B_CONFLICTS, B_CYCLES, B_MERGED = 0, 1, 2, 3
N_BANK_STATS = 4


# --------------------------------------------------------------------------- one beam

@njit(cache=True)
def gaussian_cell_masses(cell_size, sigma, m):
    """``g[d]`` for ``d = 0..m-1``: mass of N(0, sigma^2) in ``[(d - 1/2) s, (d + 1/2) s]``.

    ``G_kj = g[|k - j|]`` (FSMI, ICRA 2019). ``cell_size`` and ``sigma`` in the
    same unit. erfc differences keep the tail masses accurate to their own magnitude.
    """
    g = np.empty(m)
    c = cell_size / (sigma * math.sqrt(2.0))
    for d in range(m):
        if d == 0:
            g[d] = math.erf(0.5 * c)
        else:
            g[d] = 0.5 * (math.erfc((d - 0.5) * c) - math.erfc((d + 0.5) * c))
    return g


@njit(cache=True)
def gaussian_support(g, k):
    """Largest ``d <= min(k, len(g) - 1)`` with ``g[d] >= G_FLOOR`` (``g`` falls with ``d``)."""
    top = min(k, g.shape[0] - 1)
    d = 0
    while d < top and g[d + 1] >= G_FLOOR:
        d += 1
    return d


@njit(cache=True)
def _gain(p, delta, log_delta):
    """f(delta, r), r = p / (1 - p), as ``p' log(delta) - log(1 + p (delta - 1))`` with the
    updated probability ``p' = p delta / (1 + p (delta - 1))`` (algebraically equal to
    FSMI's ``log((r + 1) / (r + 1/delta)) - log(delta) / (r delta + 1)``)."""
    t = p * (delta - 1.0)
    return p * delta / (1.0 + t) * log_delta - math.log1p(t)


@njit(cache=True)
def info_gain(delta, p):
    """Information [nats] one measurement with odds factor ``delta`` gains in a cell of
    occupancy probability ``p`` (FSMI, ICRA 2019): f(delta, r), r = p / (1 - p)."""
    return _gain(p, delta, math.log(delta))


@njit(cache=True)
def beam_mi_core(o, gain_emp, gain_occ, g, k, scratch):
    """MI [nats] of one beam from its per-cell terms.

    o, gain_emp, gain_occ (n,): occupancy ``o_i``, ``f(d_emp, r_i)``, ``f(d_occ, r_i)``;
    g: Gaussian table with ``len(g) > min(k, n - 1)``; k: truncation [cells];
    scratch (>= n,): work space. Cost: ``n`` cells and ``sum_j |[j-k, j+k] & [0, n)|`` pairs.
    """
    n = o.shape[0]
    s = 0.0
    for i in range(n):
        scratch[i] = s + gain_occ[i]  # C_k = sum_{i<k} f_emp(r_i) + f_occ(r_k)
        s += gain_emp[i]
    mi = 0.0
    prod = 1.0
    for j in range(n):
        lo = j - k if j > k else 0
        hi = j + k if j + k < n else n - 1
        acc = 0.0
        for kk in range(lo, j):
            acc += g[j - kk] * scratch[kk]
        for kk in range(j, hi + 1):
            acc += g[kk - j] * scratch[kk]
        mi += o[j] * prod * acc
        prod *= 1.0 - o[j]
    return mi


@njit(cache=True)
def beam_mi_table(p, g, k, delta_occ, delta_emp):
    """MI [nats] of a beam of occupancy probabilities ``p`` (n,) float64 with a precomputed
    Gaussian table ``g`` (``gaussian_cell_masses``) and truncation ``k`` [cells]; the
    truncation is clipped to ``gaussian_support(g, n - 1)``. Callable from njit code."""
    n = p.shape[0]
    if n == 0:
        return 0.0
    gain_emp = np.empty(n)
    gain_occ = np.empty(n)
    log_emp, log_occ = math.log(delta_emp), math.log(delta_occ)
    for i in range(n):
        gain_emp[i] = _gain(p[i], delta_emp, log_emp)
        gain_occ[i] = _gain(p[i], delta_occ, log_occ)
    return beam_mi_core(p, gain_emp, gain_occ, g, gaussian_support(g, min(k, n - 1)), np.empty(n))


@njit(cache=True)
def beam_mi_exact(p, cell_size, sigma, delta_occ, delta_emp):
    """Exact beam MI [nats] (every pair ``j, k`` of the beam); p (n,) float64."""
    n = p.shape[0]
    return beam_mi_table(p, gaussian_cell_masses(cell_size, sigma, max(n, 1)), n, delta_occ, delta_emp)


@njit(cache=True)
def beam_mi_truncated(p, cell_size, sigma, delta_occ, delta_emp, k):
    """Beam MI [nats] with the Gaussian truncated to ``+-k`` cells around the hit cell."""
    n = p.shape[0]
    m = min(k, max(n - 1, 0)) + 1
    return beam_mi_table(p, gaussian_cell_masses(cell_size, sigma, m), k, delta_occ, delta_emp)


@njit(cache=True)
def pair_count(n, k):
    """Number of ``(j, k')`` pairs with ``|k' - j| <= k`` in a beam of ``n`` cells."""
    kk = min(k, n - 1)
    if n <= 0:
        return 0
    return n * (2 * kk + 1) - kk * (kk + 1)


# --------------------------------------------------------------------------- 2-D sensor beams

@njit(cache=True)
def walk_2d(x0, y0, dx, dy, range_cells, nx, ny, out_ix, out_iy):
    """Amanatides-Woo cell walk (Eurographics 1987) on an ``ny x nx`` grid.

    Start ``(x0, y0)`` and ``range_cells`` in cell units, ``(dx, dy)`` a unit direction.
    Visits the cells holding a piece of the ray of positive length, in order (a start on
    an edge, moving down that axis, starts in the lower cell; an exact corner crossing
    steps diagonally). The walk stops at the map edge or before the first cell whose
    centre projects ``>= range_cells`` along the ray: ``dx (ix + 1/2 - x0) +
    dy (iy + 1/2 - y0)``; the start cell always counts. Writes cells into ``out_ix``,
    ``out_iy`` (capacity ``>= (|dx| + |dy|) (range_cells + 1) + 4`` suffices) and returns
    their count (0 when the start is off the map).
    """
    fx = math.floor(x0)
    fy = math.floor(y0)
    ix = int(fx)
    iy = int(fy)
    if dx < 0.0 and fx == x0:
        ix -= 1
    if dy < 0.0 and fy == y0:
        iy -= 1
    if ix < 0 or ix >= nx or iy < 0 or iy >= ny:
        return 0
    if dx > 0.0:
        sx, tdx, tmx = 1, 1.0 / dx, (ix + 1.0 - x0) / dx
    elif dx < 0.0:
        sx, tdx, tmx = -1, -1.0 / dx, (ix - x0) / dx
    else:
        sx, tdx, tmx = 0, np.inf, np.inf
    if dy > 0.0:
        sy, tdy, tmy = 1, 1.0 / dy, (iy + 1.0 - y0) / dy
    elif dy < 0.0:
        sy, tdy, tmy = -1, -1.0 / dy, (iy - y0) / dy
    else:
        sy, tdy, tmy = 0, np.inf, np.inf
    n = 0
    cap = out_ix.shape[0]
    while n < cap:
        out_ix[n] = ix
        out_iy[n] = iy
        n += 1
        if tmx < tmy:
            ix += sx
            tmx += tdx
        elif tmy < tmx:
            iy += sy
            tmy += tdy
        else:
            ix += sx
            iy += sy
            tmx += tdx
            tmy += tdy
        if ix < 0 or ix >= nx or iy < 0 or iy >= ny:
            break
        if dx * ((ix + 0.5) - x0) + dy * ((iy + 0.5) - y0) >= range_cells:
            break
    return n


@njit(cache=True)
def walk_capacity(range_cells):
    """Cell capacity that holds any :func:`walk_2d` of ``range_cells`` (|dx| + |dy| <= sqrt 2)."""
    return int(1.5 * (range_cells + 1.0)) + 4


@njit(cache=True, parallel=True)
def sensor_mi_kernel(grid, x0, y0, yaw, offsets, range_cells, g, k, delta_occ, delta_emp,
                     counting, tally, out):
    """Sum of beam MI over the beams of each pose (``prange`` over poses).

    grid (ny, nx) occupancy; x0, y0 (N,) sensor positions [cells]; yaw (N,) [rad];
    offsets (B,) beam angles relative to the yaw [rad]; g, k as in :func:`beam_mi_core`
    (k already clipped to the table's support); tally (N, N_TALLY); out (N,) [nats].
    """
    ny, nx = grid.shape
    cap = walk_capacity(range_cells)
    log_occ, log_emp = math.log(delta_occ), math.log(delta_emp)
    for q in prange(x0.shape[0]):
        cx = np.empty(cap, np.int64)
        cy = np.empty(cap, np.int64)
        o = np.empty(cap)
        ge = np.empty(cap)
        go = np.empty(cap)
        scratch = np.empty(cap)
        total = 0.0
        for b in range(offsets.shape[0]):
            angle = yaw[q] + offsets[b]
            n = walk_2d(x0[q], y0[q], math.cos(angle), math.sin(angle), range_cells, nx, ny, cx, cy)
            for i in range(n):
                p = grid[cy[i], cx[i]]
                o[i] = p
                ge[i] = _gain(p, delta_emp, log_emp)
                go[i] = _gain(p, delta_occ, log_occ)
            total += beam_mi_core(o[:n], ge[:n], go[:n], g, k, scratch)
            if counting:
                tally[q, T_BEAMS] += 1
                tally[q, T_CELLS] += n
                tally[q, T_PAIRS] += pair_count(n, k)
                tally[q, T_WALK_STEPS] += n
        out[q] = total


# --------------------------------------------------------------------------- MI map lines

@njit(cache=True)
def beam_lines(nx, ny, dx, dy):
    """Parallel beam lines of direction ``(dx, dy)`` covering an ``ny x nx`` grid.

    Cell ``(ix, iy)`` belongs to band ``floor(v / w - BAND_PHASE)`` with
    ``v = dx (iy + 1/2) - dy (ix + 1/2)`` and ``w = |dx| + |dy|``: each band is the cell set
    one straight line crosses (a 4-connected standard digital line, Reveilles 1991), and
    the bands partition the grid. Returns CSR arrays ``(starts, cells, u)``: band ``l``
    holds ``cells[starts[l]:starts[l+1]]`` (flat ``iy * nx + ix``) in walk order, and
    ``u = dx (ix + 1/2) + dy (iy + 1/2)`` is each cell centre's projection on the direction.
    """
    n = nx * ny
    w = abs(dx) + abs(dy)
    band = np.empty(n, np.int64)
    kmin = np.int64(2) ** 62
    kmax = -kmin
    for iy in range(ny):
        for ix in range(nx):
            v = dx * (iy + 0.5) - dy * (ix + 0.5)
            b = np.int64(math.floor(v / w - BAND_PHASE))
            band[iy * nx + ix] = b
            kmin = min(kmin, b)
            kmax = max(kmax, b)
    n_lines = kmax - kmin + 1
    starts = np.zeros(n_lines + 1, np.int64)
    for c in range(n):
        starts[band[c] - kmin + 1] += 1
    for line in range(n_lines):
        starts[line + 1] += starts[line]
    cursor = starts[:-1].copy()
    cells = np.empty(n, np.int64)
    u = np.empty(n)
    for xi in range(nx):
        ix = xi if dx >= 0.0 else nx - 1 - xi
        for yi in range(ny):
            iy = yi if dy >= 0.0 else ny - 1 - yi
            c = iy * nx + ix
            line = band[c] - kmin
            pos = cursor[line]
            cells[pos] = c
            u[pos] = dx * (ix + 0.5) + dy * (iy + 0.5)
            cursor[line] = pos + 1
    return starts, cells, u


@njit(cache=True)
def fcmi_line(o, q, gain_emp, gain_occ, cum_emp, cum_logq, u, range_cells, g, k, out, counting, tally):
    """MI [nats] of the beam of every cell of one line, reusing the next cell's result.

    The beam of cell ``a`` is the window ``[a, e(a))`` of the line with ``u[j] - u[a] <
    range_cells``. Cells are taken in reverse; for a window ``[a, e)`` the kernel keeps
    ``MI`` and ``W = sum_{j,k} P(e_j) G_kj`` (hit mass inside the window). Adding cell ``a``
    in front (``P^a_j = (1 - o_a) P^{a+1}_j``, ``S^a_k = f_emp(a) + S^{a+1}_k``)::

        MI(a) = o_a sum_k g[k-a] (S^a_k + F_k) + (1 - o_a) (MI(a+1) + E_a W(a+1) + F_a H)
        W(a)  = o_a sum_k g[k-a]               + (1 - o_a) (W(a+1) + H)

    with ``H = sum_{j>a} P^{a+1}_j g[j-a]`` (hits that fall into cell ``a``). Dropping the
    back cell ``b`` subtracts its terms (``k = b`` and ``j = b``); the products
    ``prod_{a<=i<j} (1 - o_i)`` come from the line's log prefix sums ``cum_logq``, so nothing
    under- or overflows. Per cell O(k): the same numbers as :func:`beam_mi_core` per window.

    o, q = 1 - o, gain_emp, gain_occ, u (L,); cum_emp, cum_logq (L + 1,) prefix sums of
    gain_emp and log(1 - o); out (L,) [nats]; tally (N_TALLY,).
    """
    n = o.shape[0]
    mi = 0.0
    w = 0.0
    e = n
    for a in range(n - 1, -1, -1):
        hi = min(e - 1, a + k)
        base = cum_emp[a]
        acc = 0.0
        gsum = 0.0
        for kk in range(a, hi + 1):
            gk = g[kk - a]
            acc += gk * (cum_emp[kk] - base + gain_occ[kk])
            gsum += gk
        h = 0.0
        pi = 1.0
        for j in range(a + 1, hi + 1):
            h += g[j - a] * (o[j] * pi)
            pi *= q[j]
        mi = o[a] * acc + q[a] * (mi + gain_emp[a] * w + gain_occ[a] * h)
        w = o[a] * gsum + q[a] * (w + h)
        removed = 0
        while u[e - 1] - u[a] >= range_cells:
            b = e - 1
            lo = max(a, b - k)
            sb = cum_emp[b] - base
            pi = math.exp(cum_logq[lo] - cum_logq[a])
            t1 = 0.0
            pb = 0.0
            for j in range(lo, b + 1):
                pb = o[j] * pi
                t1 += g[b - j] * pb
                pi *= q[j]
            t2 = 0.0
            g2 = 0.0
            for kk in range(lo, b):
                gk = g[b - kk]
                t2 += gk * (cum_emp[kk] - base + gain_occ[kk])
                g2 += gk
            mi -= t1 * (sb + gain_occ[b]) + pb * t2
            w -= t1 + pb * g2
            e -= 1
            removed += 1
            if counting:
                tally[T_BACK_TERMS] += b - lo + 1
        out[a] = mi
        if counting:
            tally[T_LINE_CELLS] += 1
            tally[T_FRONT_TERMS] += hi - a + 1
            tally[T_H_TERMS] += hi - a
            tally[T_REMOVALS] += removed
            tally[T_WINDOW_CHECKS] += removed + 1


@njit(cache=True)
def per_cell_line(o, gain_emp, gain_occ, u, free, range_cells, g, k, scratch, out, counting, tally):
    """Reference for :func:`fcmi_line`: each free cell's window evaluated on its own with
    :func:`beam_mi_core` (non-free cells get 0). Same arguments; free (L,) bool."""
    n = o.shape[0]
    e = 0
    for a in range(n):
        e = max(e, a + 1)
        while e < n and u[e] - u[a] < range_cells:
            e += 1
        if not free[a]:
            out[a] = 0.0
            continue
        out[a] = beam_mi_core(o[a:e], gain_emp[a:e], gain_occ[a:e], g, k, scratch)
        if counting:
            tally[T_BEAMS] += 1
            tally[T_CELLS] += e - a
            tally[T_PAIRS] += pair_count(e - a, k)
            tally[T_WINDOW_CHECKS] += e - a + 1  # a sensor on its own compares its beam and one cell more


@njit(cache=True)
def map_gains(grid, delta_occ, delta_emp, gain_emp, gain_occ, log_q):
    """Per-cell ``f(d_emp, r)``, ``f(d_occ, r)`` and ``log(1 - o)`` of a grid (same shapes)."""
    log_occ, log_emp = math.log(delta_occ), math.log(delta_emp)
    ny, nx = grid.shape
    for iy in range(ny):
        for ix in range(nx):
            p = grid[iy, ix]
            gain_emp[iy, ix] = _gain(p, delta_emp, log_emp)
            gain_occ[iy, ix] = _gain(p, delta_occ, log_occ)
            log_q[iy, ix] = math.log1p(-p)


@njit(cache=True, parallel=True)
def mi_map_kernel(grid, gain_emp, gain_occ, log_q, free, dirs_x, dirs_y, range_cells, g, k,
                  use_fcmi, workers, counting, tally, out):
    """MI map over all directions; one parallel region, directions dealt round-robin to
    ``workers`` threads that each sum into their own map (one barrier in all).

    grid, gain_emp, gain_occ, log_q (ny, nx); free (ny, nx) bool (per-cell method: only
    these cells are evaluated); dirs_x, dirs_y (D,) unit directions; out (ny * nx,)
    receives the sum over directions [nats]; tally (D, N_TALLY).
    """
    ny, nx = grid.shape
    n_cells = nx * ny
    flat_o = grid.ravel()
    flat_e = gain_emp.ravel()
    flat_f = gain_occ.ravel()
    flat_l = log_q.ravel()
    flat_free = free.ravel()
    n_dirs = dirs_x.shape[0]
    workers = max(1, min(workers, n_dirs))
    planes = np.zeros((workers, n_cells))
    longest = nx + ny
    for worker in prange(workers):
        o = np.empty(longest)
        q = np.empty(longest)
        ge = np.empty(longest)
        go = np.empty(longest)
        res = np.empty(longest)
        scratch = np.empty(longest)
        fr = np.empty(longest, np.bool_)
        cum_e = np.empty(longest + 1)
        cum_l = np.empty(longest + 1)
        plane = planes[worker]
        for d in range(worker, n_dirs, workers):
            starts, cells, u = beam_lines(nx, ny, dirs_x[d], dirs_y[d])
            for line in range(starts.shape[0] - 1):
                a0 = starts[line]
                n = starts[line + 1] - a0
                if n == 0:
                    continue
                cum_e[0] = 0.0
                cum_l[0] = 0.0
                for i in range(n):
                    c = cells[a0 + i]
                    o[i] = flat_o[c]
                    ge[i] = flat_e[c]
                    go[i] = flat_f[c]
                    fr[i] = flat_free[c]
                    q[i] = 1.0 - o[i]
                    cum_e[i + 1] = cum_e[i] + ge[i]
                    cum_l[i + 1] = cum_l[i] + flat_l[c]
                if use_fcmi:
                    fcmi_line(o[:n], q[:n], ge[:n], go[:n], cum_e[:n + 1], cum_l[:n + 1], u[a0:a0 + n],
                              range_cells, g, k, res, counting, tally[d])
                else:
                    per_cell_line(o[:n], ge[:n], go[:n], u[a0:a0 + n], fr[:n], range_cells, g, k, scratch, res,
                                  counting, tally[d])
                for i in range(n):
                    plane[cells[a0 + i]] += res[i]
    for c in range(n_cells):
        total = 0.0
        for worker in range(workers):
            total += planes[worker, c]
        out[c] = total


# --------------------------------------------------------------------------- memory banks

@njit(cache=True)
def _lockstep(step_cells, nx, n_banks, row_stride, counts, reads, stats):
    """One lockstep step: the parallel units request the flat cells ``step_cells`` at once.

    Requests for the same cell merge into one access (a broadcast); cell ``(ix, iy)`` is in
    bank ``(ix + row_stride * iy) mod n_banks``; a bank serves one access per cycle.
    """
    for b in range(n_banks):
        counts[b] = 0
    m = step_cells.shape[0]
    for i in range(m):
        merged = False
        for j in range(i):
            if step_cells[j] == step_cells[i]:
                merged = True
                break
        if merged:
            stats[B_MERGED] += 1
            continue
        c = step_cells[i]
        bank = (c % nx + row_stride * (c // nx)) % n_banks
        counts[bank] += 1
        reads[bank] += 1
    busiest = 0
    for b in range(n_banks):
        if counts[b] > 1:
            stats[B_CONFLICTS] += counts[b] - 1
        busiest = max(busiest, counts[b])
    stats[B_STEPS] += 1
    stats[B_CYCLES] += busiest


@njit(cache=True)
def sensor_bank_kernel(nx, ny, x0, y0, yaw, offsets, range_cells, units, n_banks, row_stride, reads, stats):
    """Bank accesses and conflicts of :func:`sensor_mi_kernel`'s beams: groups of ``units``
    consecutive beams of a pose advance in lockstep, each reading its next cell per step."""
    cap = walk_capacity(range_cells)
    n_beams = offsets.shape[0]
    cx = np.empty((n_beams, cap), np.int64)
    cy = np.empty((n_beams, cap), np.int64)
    lengths = np.empty(n_beams, np.int64)
    counts = np.empty(n_banks, np.int64)
    step_cells = np.empty(units, np.int64)
    for q in range(x0.shape[0]):
        for b in range(n_beams):
            angle = yaw[q] + offsets[b]
            lengths[b] = walk_2d(x0[q], y0[q], math.cos(angle), math.sin(angle), range_cells, nx, ny,
                                 cx[b], cy[b])
        for first in range(0, n_beams, units):
            last = min(first + units, n_beams)
            steps = 0
            for b in range(first, last):
                steps = max(steps, lengths[b])
            for t in range(steps):
                m = 0
                for b in range(first, last):
                    if t < lengths[b]:
                        step_cells[m] = cy[b, t] * nx + cx[b, t]
                        m += 1
                _lockstep(step_cells[:m], nx, n_banks, row_stride, counts, reads, stats)


@njit(cache=True)
def per_cell_bank_kernel(nx, ny, free, dirs_x, dirs_y, range_cells, units, n_banks, row_stride, reads, stats):
    """Bank accesses and conflicts of the per-cell MI map: for each free cell, groups of
    ``units`` consecutive beam directions advance in lockstep along their windows."""
    n = nx * ny
    n_dirs = dirs_x.shape[0]
    order = np.empty((n_dirs, n), np.int32)
    pos = np.empty((n_dirs, n), np.int32)
    end = np.empty((n_dirs, n), np.int32)
    for d in range(n_dirs):
        starts, cells, u = beam_lines(nx, ny, dirs_x[d], dirs_y[d])
        for line in range(starts.shape[0] - 1):
            e = starts[line]
            for a in range(starts[line], starts[line + 1]):
                e = max(e, a + 1)
                while e < starts[line + 1] and u[e] - u[a] < range_cells:
                    e += 1
                order[d, a] = cells[a]
                pos[d, cells[a]] = a
                end[d, cells[a]] = e
    counts = np.empty(n_banks, np.int64)
    step_cells = np.empty(units, np.int64)
    for c in range(n):
        if not free[c]:
            continue
        for first in range(0, n_dirs, units):
            last = min(first + units, n_dirs)
            steps = 0
            for d in range(first, last):
                steps = max(steps, end[d, c] - pos[d, c])
            for t in range(steps):
                m = 0
                for d in range(first, last):
                    if pos[d, c] + t < end[d, c]:
                        step_cells[m] = order[d, pos[d, c] + t]
                        m += 1
                _lockstep(step_cells[:m], nx, n_banks, row_stride, counts, reads, stats)


@njit(cache=True)
def fcmi_bank_kernel(nx, ny, dirs_x, dirs_y, units, n_banks, row_stride, reads, stats):
    """Bank accesses and conflicts of FCMI: groups of ``units`` neighbouring lines of one
    direction advance in lockstep, each reading its next cell (from the line's far end)."""
    counts = np.empty(n_banks, np.int64)
    step_cells = np.empty(units, np.int64)
    for d in range(dirs_x.shape[0]):
        starts, cells, _ = beam_lines(nx, ny, dirs_x[d], dirs_y[d])
        n_lines = starts.shape[0] - 1
        for first in range(0, n_lines, units):
            last = min(first + units, n_lines)
            steps = 0
            for line in range(first, last):
                steps = max(steps, starts[line + 1] - starts[line])
            for t in range(steps):
                m = 0
                for line in range(first, last):
                    idx = starts[line + 1] - 1 - t
                    if idx >= starts[line]:
                        step_cells[m] = cells[idx]
                        m += 1
                _lockstep(step_cells[:m], nx, n_banks, row_stride, counts, reads, stats)
