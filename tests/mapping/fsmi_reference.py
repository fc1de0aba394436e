"""Slow, obviously correct references for the mutual-information kernels.

Beam MI: the issue's double sum over hit cell j and measured cell k written out with plain
loops and math.erf, with f(delta, r) in the issue's own form. Sensor beams: the cells a ray crosses found by
intersecting it with every cell's box (not by stepping), ordered by entry distance.
MI-map lines: each cell's band and projection computed directly, bands sorted by projection.
"""
from __future__ import annotations

import math


def info_gain(delta: float, r: float) -> float:
    return math.log((r + 1) / (r + 1 / delta)) - math.log(delta) / (r * delta + 1)


def cell_mass(k: int, j: int, s: float, sigma: float, truncation: int | None = None) -> float:
    """Mass of N((j + 1/2) s, sigma^2) inside [k s, (k + 1) s] (0 beyond the truncation)."""
    if truncation is not None and abs(k - j) > truncation:
        return 0.0
    mu = (j + 0.5) * s

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mu) / (sigma * math.sqrt(2))))

    return cdf((k + 1) * s) - cdf(k * s)


def beam_mi(p, s, sigma, delta_occ=1.5, delta_emp=1 / 1.5, truncation=None) -> float:
    """sum_j sum_k P(e_j) G_kj (sum_{i<k} f(delta_emp, r_i) + f(delta_occ, r_k)); the two
    brackets are computed once per j and per k."""
    n = len(p)
    r = [pi / (1 - pi) for pi in p]
    p_first = []
    for j in range(n):
        value = p[j]
        for i in range(j):
            value *= 1 - p[i]
        p_first.append(value)
    gain = [sum(info_gain(delta_emp, r[i]) for i in range(k)) + info_gain(delta_occ, r[k]) for k in range(n)]
    total = 0.0
    for j in range(n):
        for k in range(n):
            total += p_first[j] * cell_mass(k, j, s, sigma, truncation) * gain[k]
    return total


def ray_cells(x0, y0, dx, dy, range_cells, nx, ny):
    """Cells (ix, iy) a ray from (x0, y0) [cells] crosses with positive length, in order,
    up to the map edge and before the first cell whose centre projects >= range_cells."""
    hits = []
    for iy in range(ny):
        for ix in range(nx):
            t_in, t_out = 0.0, math.inf
            for lo, start, d in ((ix, x0, dx), (iy, y0, dy)):
                if d == 0:
                    if not lo <= start < lo + 1:
                        t_out = -math.inf
                    continue
                a, b = (lo - start) / d, (lo + 1 - start) / d
                t_in, t_out = max(t_in, min(a, b)), min(t_out, max(a, b))
            if t_out > t_in:
                hits.append((t_in, ix, iy))
    hits.sort()
    cells = []
    for _, ix, iy in hits:
        if cells and dx * ((ix + 0.5) - x0) + dy * ((iy + 0.5) - y0) >= range_cells:
            break
        cells.append((ix, iy))
    return cells


BAND_PHASE = 0.3819660112501051


def band_lines(nx, ny, dx, dy):
    """{band: [(u, ix, iy), ...] sorted by u}: the MI map's beam lines of one direction."""
    w = abs(dx) + abs(dy)
    lines = {}
    for iy in range(ny):
        for ix in range(nx):
            band = math.floor((dx * (iy + 0.5) - dy * (ix + 0.5)) / w - BAND_PHASE)
            lines.setdefault(band, []).append((dx * (ix + 0.5) + dy * (iy + 0.5), ix, iy))
    return {band: sorted(cells) for band, cells in lines.items()}


def line_windows(nx, ny, dx, dy, range_cells):
    """{(ix, iy): [(ix, iy), ...]}: every cell's beam, its line's cells from it on with
    a centre projection less than range_cells beyond its own."""
    beams = {}
    for cells in band_lines(nx, ny, dx, dy).values():
        for a, (ua, ix, iy) in enumerate(cells):
            beams[(ix, iy)] = [(cx, cy) for u, cx, cy in cells[a:] if u - ua < range_cells]
    return beams


def lockstep_banks(groups, n_banks, row_stride):
    """Bank statistics of groups of cell sequences read in lockstep, one cell per sequence
    and step: (reads per bank, steps, conflicts, cycles, merged). Same-cell requests of one
    step are one access; a bank serves one access per cycle."""
    reads = [0] * n_banks
    steps = conflicts = cycles = merged = 0
    for group in groups:
        for t in range(max(len(seq) for seq in group)):
            requested = [seq[t] for seq in group if t < len(seq)]
            distinct = set(requested)
            merged += len(requested) - len(distinct)
            per_bank = [0] * n_banks
            for ix, iy in distinct:
                per_bank[(ix + row_stride * iy) % n_banks] += 1
            for b, c in enumerate(per_bank):
                reads[b] += c
                conflicts += max(0, c - 1)
            steps += 1
            cycles += max(per_bank)
    return reads, steps, conflicts, cycles, merged
