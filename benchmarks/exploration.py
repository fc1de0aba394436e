"""Next-best-view exploration of the synthetic hall: FSMI planner against the random-frontier baseline.

The default hall (20 x 12 x 5 m, 12 boxes, 4 pillars, ``--hall-seed``) is explored from its
centre by :func:`mapping.exploration.run_exploration` with true poses: a level depth camera
(80 x 60 rays over 90 x 60 degrees, 5 m) integrated into a 0.2 m occupancy grid. The MI
planner runs once (it is deterministic); the random baseline (a random frontier cluster's
random candidate) runs with ``--random-seeds`` seeds. Prints per run the views and path
length to 50, 80 and 90 % of the reachable free space, the final coverage, the smallest
true clearance of the flown path, and the time per decision (the first decision, with the
numba compile or cache load, apart); then the MI scoring workload per decision. Writes
``coverage.png`` (coverage against views and against path length) and ``exploration.json``.

Run: nice -n 10 .venv/bin/python benchmarks/exploration.py [--out benchmarks/out]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from accel_model.workload import Workload  # noqa: E402
from datasets.synth.world import HallConfig, build_hall  # noqa: E402
from mapping.exploration import ExplorationConfig, ExplorationSimConfig, run_exploration  # noqa: E402

TARGETS = (0.5, 0.8, 0.9)


def describe(result) -> dict:
    steady = result.decision_time_s[2:]
    return {
        "strategy": result.strategy, "seed": result.seed, "views": result.n_views, "finished": result.finished,
        "final_coverage": float(result.coverage[-1]), "path_length_m": float(result.path_length_m[-1]),
        "views_to": {str(t): result.views_to(t) for t in TARGETS},
        "path_to_m": {str(t): result.path_to(t) for t in TARGETS},
        "min_clearance_m": result.min_clearance_m,
        "first_decision_s": float(result.decision_time_s[1]) if result.n_views > 1 else None,
        "decision_median_s": float(np.median(steady)) if len(steady) else None,
        "coverage": result.coverage.tolist(), "path_length_per_view_m": result.path_length_m.tolist(),
    }


def fmt(value, spec: str = "d") -> str:
    return "-" if value is None else format(value, spec)


def print_row(d: dict) -> None:
    views = " ".join(f"{fmt(d['views_to'][str(t)]):>5}" for t in TARGETS)
    paths = " ".join(f"{fmt(d['path_to_m'][str(t)], '.0f'):>5}" for t in TARGETS)
    print(f"{d['strategy']:<7} {d['seed']:>4} {views}   {paths}   {d['final_coverage']:6.3f} {d['views']:5d} "
          f"{d['min_clearance_m']:6.2f} {fmt(d['first_decision_s'], '.2f'):>6} {fmt(d['decision_median_s'], '.3f'):>7}")


def mean_views_to(rows: list[dict], target: float, cap: int) -> tuple[float, int]:
    """Mean views to target over rows, a run that never got there counted as cap + 1; and how many did."""
    values = [r["views_to"][str(target)] for r in rows]
    return float(np.mean([v if v is not None else cap + 1 for v in values])), sum(v is not None for v in values)


def plot(results, path: Path) -> None:
    fig, (ax_v, ax_p) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in results:
        style = dict(color="C0", lw=2.2, label="FSMI next-best view") if r.strategy == "mi" else \
            dict(color="C1", lw=1.0, alpha=0.8, label=f"random frontier (seed {r.seed})")
        views = np.arange(1, r.n_views + 1)
        ax_v.plot(views, 100 * r.coverage, **style)
        ax_p.plot(r.path_length_m, 100 * r.coverage, **style)
    for ax, label in ((ax_v, "views"), (ax_p, "path length [m]")):
        ax.axhline(90, color="grey", ls="--", lw=0.8)
        ax.set_xlabel(label)
        ax.set_ylabel("reachable free space mapped [%]")
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 100)
    handles, labels = ax_v.get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab if "random" not in lab else "random frontier", h)
    ax_v.legend(seen.values(), seen.keys(), loc="lower right")
    fig.suptitle("Exploration of the synthetic hall (coverage of reachable free space)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--max-views", type=int, default=80)
    parser.add_argument("--random-seeds", type=int, default=3)
    parser.add_argument("--hall-seed", type=int, default=0)
    parser.add_argument("--lambda-per-m", type=float, default=ExplorationConfig().lambda_per_m)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    world = build_hall(HallConfig(), seed=args.hall_seed)
    config = ExplorationConfig(lambda_per_m=args.lambda_per_m)
    sim = ExplorationSimConfig()
    extent = world.bounds_max - world.bounds_min
    print(f"hall {extent[0]:.0f} x {extent[1]:.0f} x {extent[2]:.0f} m, {len(world.obstacle_boxes)} obstacles, "
          f"map {sim.resolution_m} m, depth {sim.sensor_width_px}x{sim.sensor_height_px} rays to "
          f"{sim.sensor_range_m} m, scoring {config.beams_h}x{config.beams_v} beams over "
          f"{config.fov_h_deg:.0f}x{config.fov_v_deg:.0f} deg to {config.range_m} m, lambda {config.lambda_per_m} "
          f"nats/m, robot radius {config.robot_radius_m} m")

    results = []
    t0 = time.perf_counter()
    workload = Workload("mi")
    results.append(run_exploration(world, config, "mi", args.max_views, seed=0, sim=sim, workload=workload))
    for seed in range(args.random_seeds):
        results.append(run_exploration(world, config, "random", args.max_views, seed=seed, sim=sim))
    total_s = time.perf_counter() - t0
    rows = [describe(r) for r in results]
    n_reachable = int(np.count_nonzero(results[0].reachable))
    print(f"reachable free cells: {n_reachable} ({n_reachable * sim.resolution_m ** 3:.0f} m^3)\n")
    print("                 views to coverage   path [m] to coverage")
    print("strategy seed   50%   80%   90%     50%   80%   90%   final views  clear  first  median")
    print("                                                                    [m]    [s]    [s]")
    for d in rows:
        print_row(d)

    mi_row = rows[0]
    random_rows = rows[1:]
    print()
    for t in TARGETS:
        mean, reached = mean_views_to(random_rows, t, args.max_views)
        mi_views = mi_row["views_to"][str(t)]
        ratio = f"{mean / mi_views:.2f}x" if mi_views else "-"
        path = [r["path_to_m"][str(t)] for r in random_rows if r["path_to_m"][str(t)] is not None]
        print(f"{int(100 * t)} %: MI {fmt(mi_views)} views, {fmt(mi_row['path_to_m'][str(t)], '.0f')} m;  "
              f"random mean {mean:.1f} views ({reached}/{len(random_rows)} seeds reached it; a miss counts "
              f"{args.max_views + 1}), {fmt(np.mean(path) if path else None, '.0f')} m over those;  "
              f"random / MI views {ratio}")
    mi_times = results[0].decision_time_s[2:]
    rnd_times = np.concatenate([r.decision_time_s[2:] for r in results[1:]])
    print(f"time per decision: MI median {np.median(mi_times):.3f} s (max {mi_times.max():.3f}), random median "
          f"{np.median(rnd_times):.3f} s; MI first decision {rows[0]['first_decision_s']:.2f} s (numba compile or "
          f"cache load); all runs {total_s:.0f} s wall")

    decisions = max(1, results[0].n_views - 1 + int(results[0].finished))
    print(f"MI scoring workload per decision (mean of {decisions}): {workload.total_ops() / decisions:,.0f} ops "
          f"({workload.total_ops('mul') / decisions:,.0f} mul, {workload.total_ops('add') / decisions:,.0f} add, "
          f"{workload.total_ops('compare') / decisions:,.0f} compare), "
          f"{workload.buffers['occupancy_map'].reads_words / decisions:,.0f} map-cell reads")

    plot(results, args.out / "coverage.png")
    (args.out / "exploration.json").write_text(json.dumps({"runs": rows, "n_reachable_cells": n_reachable,
                                                           "config": config.to_dict(), "sim": sim.to_dict()},
                                                          indent=1))
    print(f"wrote {args.out / 'coverage.png'} and {args.out / 'exploration.json'}")


if __name__ == "__main__":
    main()
