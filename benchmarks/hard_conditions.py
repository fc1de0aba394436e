"""VIO under hard conditions: the MH_01 and V2_01 twins, unperturbed and under six perturbations.

Each run is ``navion.replay.replay`` over a :class:`datasets.perturb.PerturbedSequence` of
the full-length twin (cases below; ground truth stays the true one). The table gives per
run: resets, whether any output is NaN, frames and estimated frames, the ATE RMSE with one
SE(3) alignment of the whole trajectory, and the ATE over the tracked segments.

Tracked segments: the estimated states are split at every reset (a ``reset_reasons``
stamp of summary.json; the first state after it starts the next segment). Frames without
a state (before initialisation, during reinitialisation) and states captured inside the
wall window are excluded. Each segment of at least 3 poses is SE(3)-aligned on its own,
since a reinitialisation may choose a new yaw, and the errors of all segments are pooled
into one RMSE. Without resets this equals the whole-trajectory ATE.

The twins are the cached ones of ``benchmarks/euroc_twins.py`` (run it first), realistic
by default (``--realism ideal`` for the idealised twins).

Run (long: 14 replays of 2-3 min):
    nice -n 10 .venv/bin/python benchmarks/hard_conditions.py > /tmp/hard_conditions.txt
Re-print the table of earlier runs (e.g. a first run plus a rerun of some cases):
    .venv/bin/python benchmarks/hard_conditions.py --table first.txt rerun.txt
"""
from __future__ import annotations

import argparse
import json
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

from datasets.euroc import open_euroc
from datasets.perturb import PerturbConfig, PerturbedSequence
from datasets.tum import read_tum
from navion.evaluation import EvaluationError, PoseSeries, evaluate
from navion.replay import replay
from vio.pipeline import PipelineConfig

TWINS = Path(__file__).resolve().parent / ".cache"  # benchmarks/euroc_twins.py's cache
SEQUENCES = ("MH_01_easy", "V2_01_easy")
WALL_START_S = 60.0  # both twins fly at 0.3-0.7 m/s then (MH_01 rests from 20 s to 43 s)


def cases(seed: int, wall_start_s: float) -> dict[str, PerturbConfig]:
    """The unperturbed run and the six cases of issue #8."""
    return {
        "baseline": PerturbConfig(seed=seed),
        "imu_noise_x2": PerturbConfig(seed=seed, imu_noise_factor=2.0),
        "imu_noise_x4": PerturbConfig(seed=seed, imu_noise_factor=4.0),
        "drop_5pct": PerturbConfig(seed=seed, drop_fraction=0.05),
        "time_offset_+5ms": PerturbConfig(seed=seed, time_offset_ms=5.0),
        "flicker_0.6-1.4": PerturbConfig(seed=seed, flicker_gain=(0.6, 1.4)),
        f"wall_3s@{wall_start_s:g}s": PerturbConfig(seed=seed, wall_start_s=wall_start_s, wall_duration_s=3.0),
    }


def tracked_segments(traj, reset_stamps_ns: list[int], wall_ns: tuple[int, int] | None) -> list[np.ndarray]:
    """Index arrays of the tracked segments of ``traj`` (see the module docstring)."""
    t = traj.timestamps_ns
    label = np.searchsorted(np.sort(np.asarray(reset_stamps_ns, dtype=np.int64)), t, side="right")
    keep = np.ones(len(t), dtype=bool)
    if wall_ns is not None:
        keep &= ~((t >= wall_ns[0]) & (t < wall_ns[1]))
    return [np.flatnonzero(keep & (label == s)) for s in np.unique(label)]


def segment_ate(gt: PoseSeries, traj, segments: list[np.ndarray]) -> tuple[float | None, int, int]:
    """(pooled RMSE [m], segments used, poses used) with one SE(3) alignment per segment."""
    errors, used = [], 0
    for idx in segments:
        if len(idx) < 3:
            continue
        est = PoseSeries.from_quaternions(traj.timestamps_ns[idx], traj.p_world_body[idx],
                                          traj.q_world_body_xyzw[idx])
        try:
            errors.append(evaluate(gt, est, align="se3").ate_m)
        except EvaluationError:
            continue
        used += 1
    if not errors:
        return None, 0, 0
    e = np.concatenate(errors)
    return float(np.sqrt(np.mean(e ** 2))), used, len(e)


def run_case(seq_path: str, name: str, config: PerturbConfig, out_root: Path, max_frames: int | None) -> dict:
    seq = PerturbedSequence(open_euroc(seq_path, quiet=True), config)
    out = out_root / Path(seq_path).name / name
    row = {"sequence": Path(seq_path).name, "case": name}
    start = time.perf_counter()
    try:
        summary = replay(seq, out, PipelineConfig(), max_frames=max_frames)
    except Exception as exc:  # a crash is a result here: record it and go on with the other runs
        row.update(crashed=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        return row
    finally:
        seq.close()
    traj = read_tum(out / "trajectory.tum")
    gt = PoseSeries.from_groundtruth(seq.groundtruth)
    resets = [r["timestamp_ns"] for r in summary["reset_reasons"]]
    wall = None
    if seq.wall_window_ns is not None:  # the wall in image-stamp time
        wall = tuple(w + config.time_offset_ns for w in seq.wall_window_ns)
    segments = tracked_segments(traj, resets, wall)
    seg_rmse, n_seg, n_poses = segment_ate(gt, traj, segments)
    numbers = [v for v in (summary["ate_rmse_m"], seg_rmse) if v is not None]
    finite = bool(np.isfinite(traj.p_world_body).all() and np.isfinite(traj.q_world_body_xyzw).all()
                  and np.isfinite(numbers).all())
    row.update(frames=summary["frames"], estimated=summary["estimated_frames"], resets=summary["resets"],
               reasons=dict(Counter(r["reason"] for r in summary["reset_reasons"])), finite=finite,
               ate_rmse_m=summary["ate_rmse_m"], tracked_ate_rmse_m=seg_rmse, segments=n_seg,
               tracked_poses=n_poses, wall_s=time.perf_counter() - start,
               dropped=len(seq.dropped_ns))
    return row


def _fmt(v, digits=3):
    return "n/a" if v is None else f"{v:.{digits}f}"


def print_table(rows: list[dict]) -> None:
    head = (f"{'sequence':<12} {'case':<18} {'frames':>6} {'est.':>6} {'resets':>6} {'NaN':>4} "
            f"{'ATE[m]':>7} {'tracked ATE[m]':>14} {'segm.':>5} {'poses':>6} {'time[s]':>7}  reset reasons")
    print(head)
    print("-" * len(head))
    for r in rows:
        if "crashed" in r:
            print(f"{r['sequence']:<12} {r['case']:<18} CRASHED: {r['crashed']}")
            continue
        reasons = ", ".join(f"{k} x{n}" for k, n in r["reasons"].items()) or "-"
        print(f"{r['sequence']:<12} {r['case']:<18} {r['frames']:>6} {r['estimated']:>6} {r['resets']:>6} "
              f"{'no' if r['finite'] else 'YES':>4} {_fmt(r['ate_rmse_m']):>7} {_fmt(r['tracked_ate_rmse_m']):>14} "
              f"{r['segments']:>5} {r['tracked_poses']:>6} {r['wall_s']:>7.0f}  {reasons}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", nargs="+", help="EuRoC-format sequences (default: the cached "
                        f"twins of {', '.join(SEQUENCES)})")
    parser.add_argument("--realism", choices=("realistic", "ideal"), default="realistic",
                        help="which cached twins (default realistic)")
    parser.add_argument("--cases", nargs="+", help="only these cases (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-frames", type=int, help="replay only the first N frames of each run")
    parser.add_argument("--wall-start-s", type=float, default=WALL_START_S, help="start of the wall window [s]")
    parser.add_argument("--out", default="/tmp/hard_conditions", help="run folders go here")
    parser.add_argument("--table", nargs="+", metavar="LOG", help="only print the table of the JSON rows that "
                        "earlier runs printed into these logs (later rows of a sequence and case replace earlier ones)")
    args = parser.parse_args()
    if args.table:
        rows = {}
        for log in args.table:
            for line in Path(log).read_text().splitlines():
                if line.startswith("{"):
                    row = json.loads(line)
                    rows[row["sequence"], row["case"]] = row
        print_table(list(rows.values()))
        return
    all_cases = cases(args.seed, args.wall_start_s)
    chosen = {k: v for k, v in all_cases.items() if args.cases is None or k.split("@")[0] in args.cases
              or k in args.cases}
    rows = []
    for seq_path in args.sequences or [str(TWINS / f"twins_{args.realism}" / n) for n in SEQUENCES]:
        for name, config in chosen.items():
            row = run_case(seq_path, name, config, Path(args.out), args.max_frames)
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "traceback"}), flush=True)
            if "traceback" in row:
                print(row["traceback"], flush=True)
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
