"""Closed-loop exploration (launch/explore_sim.yaml) against open-loop references, side by side.

Runs, on the same hall (the launch's simulator ``hall`` and ``world_seed``):

1. the closed loop, VIO in the loop (simulator -> vio -> mapper -> explorer -> controller),
   once per ``--strategies`` entry (default: mi, then the random-frontier baseline): coverage
   reached, simulated time and goals to the coverage target, planned path, the VIO's ATE, the
   energy report's design power and per-stage energy, and the speed (simulated seconds per
   wall second: the ratio to real time; CPU seconds per simulated second);
2. the reference: :func:`mapping.exploration.run_exploration` with the same planner options
   on the same hall, with true poses and an ideal depth camera (no VIO, no stereo matching,
   no flight dynamics): views and path length to the target.

Ratios printed: random over mi (simulated time to target), closed loop over reference
(goals and planned path to the target), simulated over wall time.

Run: .venv/bin/python benchmarks/explore_closed_loop.py [--strategies mi,random] [--budget-s S]
     [--set NODE.PARAM=VALUE ...] [--out DIR]
Each closed-loop run takes minutes: measured here (2 cores, load average 2 to 5), mi 31.3
simulated s in 68 s of wall time, random 120 s in 241 s (rendering, VIO and stereo matching
dominate).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from datasets.synth.world import build_hall
from mapping.exploration import run_exploration
from mapping.exploration.simulate import ExplorationSimConfig
from navion.runtime.launch import load_launch
from navion.runtime.run import run_launch

LAUNCH = Path(__file__).resolve().parent.parent / "launch" / "explore_sim.yaml"


def closed_loop(strategy: str, overrides: list[str], out: Path) -> dict:
    """Figures of one closed-loop run with ``strategy``."""
    launch = load_launch(LAUNCH, [*overrides, f"explorer.strategy={strategy}"])
    start = time.perf_counter()
    result = run_launch(launch, out)
    wall = time.perf_counter() - start
    nodes = result.summary["nodes"]
    explorer, clock = nodes["explorer"], result.summary["clock"]
    energy = json.loads((out / "energy.json").read_text())
    goals_to_target = explorer["goals"] if explorer["target_reached"] else None  # the run stops at the target
    return {"status": result.status, "coverage": explorer["coverage"], "time_to_target_s": explorer["time_to_target_s"],
            "goals": explorer["goals"], "goals_to_target": goals_to_target, "path_m": explorer["planned_path_m"],
            "ate_m": nodes["recorder"]["ate_rmse_m"], "sim_s": clock["sim_time_s"], "wall_s": wall,
            "cpu_s": clock["process_cpu_time_s"], "power_mw": energy["accelerator"]["power_mw"],
            "stages_uj": {g: s["energy_per_frame_uj"] for g, s in energy["accelerator"]["stages"].items()},
            "decision_ms": explorer["decision_ms_mean"]}


def reference(overrides: list[str], target: float) -> dict:
    """run_exploration with true poses and an ideal depth camera on the launch's hall and planner."""
    nodes = {n.name: n for n in load_launch(LAUNCH, overrides).nodes}
    sim, explorer, mapper = nodes["simulator"].params, nodes["explorer"].params, nodes["mapper"].params
    world = build_hall(sim.hall, seed=sim.world_seed, fit_to_trajectory=False)
    config = ExplorationSimConfig(resolution_m=mapper.map.occupancy.resolution_m,
                                  sensor_range_m=mapper.map.occupancy.max_range_m, start_height_m=sim.start_height_m,
                                  start_yaw_deg=sim.start_yaw_deg)
    start = time.perf_counter()
    run = run_exploration(world, explorer.planner, "mi", max_views=60, sim=config)
    views = run.views_to(target)
    return {"goals_to_target": None if views is None else views - 1, "path_to_target_m": run.path_to(target),
            "coverage": float(run.coverage[-1]), "wall_s": time.perf_counter() - start}


def _ratio(a, b) -> str:
    return "n/a" if a is None or b in (None, 0) else f"{a / b:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="mi,random")
    parser.add_argument("--budget-s", type=float, help="explorer.time_budget_s [simulated s]")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE")
    parser.add_argument("--out", type=Path, help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    overrides = list(args.overrides) + ([f"explorer.time_budget_s={args.budget_s}"] if args.budget_s else [])
    target = {n.name: n for n in load_launch(LAUNCH, overrides).nodes}["explorer"].params.coverage_target
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; coverage target {target}")
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as scratch:
        base = args.out or Path(scratch)
        runs = {s: closed_loop(s, overrides, base / s) for s in args.strategies.split(",")}
    ref = reference(overrides, target)
    print(f"\n{'closed loop':<12}{'status':>9}{'cover':>7}{'t->target [s]':>15}{'goals':>7}{'path [m]':>10}"
          f"{'ATE [m]':>9}{'sim/wall':>10}{'CPU/sim s':>10}{'power [mW]':>12}{'decide [ms]':>12}")
    for name, r in runs.items():
        to_target = "-" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.1f}"
        print(f"{name:<12}{r['status']:>9}{r['coverage']:>7.3f}{to_target:>15}{r['goals']:>7}{r['path_m']:>10.1f}"
              f"{r['ate_m']:>9.4f}{r['sim_s'] / r['wall_s']:>10.3f}{r['cpu_s'] / r['sim_s']:>10.2f}"
              f"{r['power_mw']:>12.2f}{r['decision_ms']:>12.0f}")
        print(f"{'':<12}energy per frame [uJ]: " + ", ".join(f"{g} {v:.2f}" for g, v in r["stages_uj"].items()))
    path = "-" if ref["path_to_target_m"] is None else f"{ref['path_to_target_m']:.1f}"
    print(f"\nreference (true poses, ideal depth camera): {ref['goals_to_target']} goals and {path} m to the "
          f"target, final coverage {ref['coverage']:.3f} ({ref['wall_s']:.1f} s)")
    if "mi" in runs:
        mi = runs["mi"]
        print(f"closed loop / reference: goals to target {_ratio(mi['goals_to_target'], ref['goals_to_target'])}, "
              f"planned path {_ratio(mi['path_m'] if mi['goals_to_target'] else None, ref['path_to_target_m'])}")
        if "random" in runs:
            rnd = runs["random"]
            if rnd["time_to_target_s"] is None and mi["time_to_target_s"]:  # bounded by the budget
                print(f"random / mi: simulated time to target > {rnd['sim_s'] / mi['time_to_target_s']:.2f} "
                      f"(random: coverage {rnd['coverage']:.3f} when its {rnd['sim_s']:.0f} s ended)")
            else:
                ratio = _ratio(rnd["time_to_target_s"], mi["time_to_target_s"])
                print(f"random / mi: simulated time to target {ratio}")


if __name__ == "__main__":
    main()
