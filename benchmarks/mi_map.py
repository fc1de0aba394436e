"""MI map of a 20 m x 20 m map at 0.1 m (201 x 201 cells), 60 beams, 10 m range: the
benchmark of the MI hardware papers (Li, Zhang, Karaman, Sze, RSS 2019).

The map is synthetic and seeded: 4 x 4 rooms of 5 m with 0.2 m walls and doorways, some
furniture, two rooms and a few patches left unexplored (p = 0.5), and occupancy
probabilities drawn the way log-odds updates make them (free cells after 1..8 misses,
walls after 1..6 hits, clamped like OctoMap's 0.12 / 0.97).

Prints, measured side by side in this run:
- the first call on a tiny map (JIT compile, or numba cache load);
- FCMI wall time (exact and truncated at +-ceil(3 sigma / res) cells), cell-beam
  evaluations per second (free cells x beams / s) and beam-cell visits per second;
- per-cell FSMI on the same problem and FCMI's speed-up over it (exact: 6 beams so the
  per-cell run stays short; truncated: all 60 beams), with their largest difference;
- truncated against exact: the error and the time ratio;
- the workload of one FCMI and one per-cell map, and map-bank conflicts per lockstep step.

Run: .venv/bin/python benchmarks/mi_map.py   (about 30 s on 2 idle cores)
"""
from __future__ import annotations

import math
import os
import time
from functools import partial

import numba
import numpy as np

from accel_model.workload import Workload
from mapping.fsmi import BankStats
from mapping.mi_map import mi_map

RES_M = 0.1
N_CELLS = 201
BEAMS = 60
RANGE_M = 10.0
SIGMA_M = 0.05
P_MIN, P_MAX = 0.12, 0.97
L_MISS, L_HIT = math.log(0.4 / 0.6), math.log(0.7 / 0.3)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def build_map(seed: int = 0) -> np.ndarray:
    """(201, 201) occupancy probabilities, grid[iy, ix]."""
    rng = np.random.default_rng(seed)
    n = N_CELLS
    kind = np.zeros((n, n), np.int8)  # 0 free, 1 wall, 2 unknown
    room = 50  # cells per room
    for k in range(0, n, room):
        kind[:, k:k + 2] = 1
        kind[k:k + 2, :] = 1
    for k in range(room // 2, n, room):  # doorways in every wall segment
        for w in range(0, n - room, room):
            kind[k - 5:k + 5, w:w + 2][kind[k - 5:k + 5, w:w + 2] == 1] = 0
            kind[w:w + 2, k - 5:k + 5][kind[w:w + 2, k - 5:k + 5] == 1] = 0
    kind[:, :2] = kind[:, -2:] = kind[:2, :] = kind[-2:, :] = 1
    for _ in range(25):  # furniture
        x, y = rng.integers(5, n - 15, 2)
        w, h = rng.integers(3, 10, 2)
        kind[y:y + h, x:x + w] = 1
    for ry, rx in ((3, 1), (0, 3)):  # unexplored rooms
        kind[ry * room + 2:(ry + 1) * room, rx * room + 2:(rx + 1) * room] = 2
    for _ in range(8):  # unexplored patches
        x, y = rng.integers(0, n - 20, 2)
        r = rng.integers(4, 12)
        yy, xx = np.mgrid[0:n, 0:n]
        kind[(xx - x) ** 2 + (yy - y) ** 2 < r * r] = 2
    misses = rng.integers(1, 9, (n, n))
    hits = rng.integers(1, 7, (n, n))
    lo, hi = math.log(P_MIN / (1 - P_MIN)), math.log(P_MAX / (1 - P_MAX))
    p = np.where(kind == 0, sigmoid(np.maximum(misses * L_MISS, lo)), sigmoid(np.minimum(hits * L_HIT, hi)))
    p[kind == 2] = 0.5
    return p


def timed(fn, repeats: int = 1):
    """(result, best wall time [s], CPU time of all threads in that run [s])."""
    best, cpu, out = math.inf, math.inf, None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return out, best, cpu


def main() -> None:
    grid = build_map()
    free = int((grid < 0.5).sum())
    k3 = math.ceil(3 * SIGMA_M / RES_M)
    print(f"map {N_CELLS} x {N_CELLS} at {RES_M} m, {free} free cells ({free / grid.size:.0%}), "
          f"{BEAMS} beams, range {RANGE_M} m, sigma {SIGMA_M} m; numba threads: {numba.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} (wall times stretch when other jobs share the cores; "
          f"CPU time is the sum over threads)")

    _, first, _ = timed(partial(mi_map, grid[:12, :12], RES_M, n_beams=4, range_m=0.5))
    print(f"first call on a 12 x 12 map (JIT compile or numba cache load; both methods share the kernel): "
          f"{first:.2f} s")

    def run(method, truncation, beams=BEAMS, **kw):
        return mi_map(grid, RES_M, n_beams=beams, range_m=RANGE_M, sigma_m=SIGMA_M, truncation=truncation,
                      method=method, **kw)

    print("\nFCMI, whole MI map (best of 3; target <= 1 s wall):")
    results = {}
    for label, trunc in (("exact", None), (f"truncated +-{k3}", k3)):
        wl = Workload("mi_map")
        run("fcmi", trunc, workload=wl)
        steps = wl.buffers["occupancy_map"].reads_words
        mi, wall, cpu = timed(partial(run, "fcmi", trunc), repeats=3)
        results[trunc] = (mi, wall)
        print(f"  {label:<16} wall {wall:6.3f} s, CPU {cpu:6.3f} s;  {free * BEAMS / wall / 1e6:6.2f} M cell-beam "
              f"evaluations/s, {steps / wall / 1e6:6.1f} M line-cell steps/s")
    exact, t_exact = results[None]
    trunc, t_trunc = results[k3]
    rel = np.abs(trunc - exact) / exact
    print(f"  truncated vs exact: max relative error {np.nanmax(rel):.2e}, mean {np.nanmean(rel):.2e}; "
          f"time ratio exact / truncated {t_exact / t_trunc:.2f}")

    print("\nFCMI against per-cell FSMI (same beams, same cells):")
    for label, trunc, beams in (("exact, 6 beams", None, 6), (f"truncated +-{k3}, {BEAMS} beams", k3, BEAMS)):
        fast, t_fast, c_fast = timed(partial(run, "fcmi", trunc, beams), repeats=3)
        slow, t_slow, c_slow = timed(partial(run, "per_cell", trunc, beams))
        diff = np.nanmax(np.abs(fast - slow) / slow)
        print(f"  {label:<26} FCMI {t_fast:6.3f} s, per-cell {t_slow:6.2f} s: speed-up {t_slow / t_fast:5.1f}x "
              f"(CPU {c_slow / c_fast:5.1f}x); max relative difference {diff:.1e}")

    print("\nWorkload of one map (truncated), in millions:")
    map_reads = {}
    for method in ("fcmi", "per_cell"):
        wl = Workload("mi_map")
        run(method, k3, workload=wl)
        map_reads[method] = wl.buffers["occupancy_map"].reads_words
        ops = ", ".join(f"{kind} {wl.total_ops(kind) / 1e6:.1f}" for kind in ("mul", "add", "div", "compare")
                        if wl.total_ops(kind))
        reads = ", ".join(f"{name} {t.reads_words / 1e6:.1f}" for name, t in sorted(wl.buffers.items())
                          if t.reads_words)
        print(f"  {method:<8} ops: {ops}\n           reads: {reads}")
    print(f"  map reads per-cell / FCMI: {map_reads['per_cell'] / map_reads['fcmi']:.1f}x")

    print("\nMap banks: 16 banks, 16 units in lockstep (FCMI: lines; per-cell: beams of a sensor):")
    for stride in (1, 4, 7):
        line = []
        for method in ("fcmi", "per_cell"):
            banks = BankStats(n_banks=16, row_stride=stride, parallel_units=16)
            run(method, k3, bank_stats=banks)
            line.append(f"{method} {banks.conflicts_per_step:5.2f} conflicts, "
                        f"{banks.cycles / banks.steps:5.2f} cycles per step")
        print(f"  bank = (ix + {stride} iy) mod 16:  " + ";  ".join(line))


if __name__ == "__main__":
    main()
