"""Node runtime overhead and real-time pacing on a 10 s sequence.

Measures, side by side on the same first ``--duration`` seconds of one sequence (numba
warmed up first):

1. direct replay: ``VioPipeline`` over the prefetched message stream, as
   ``benchmarks/vio_replay.py`` and ``navion replay`` do;
2. ``launch/euroc_replay.yaml`` in fast mode (player -> vio -> energy_monitor, recorder):
   frames/s and CPU time per frame, and their ratios to 1 (target: within 10 %), as
   shipped and without the energy monitor's periodic statuses (each re-measures the
   frame codec through ``accel_model.report.build_report``);
3. the same launch paced at ``--rate`` x real time: wall time against the data span
   (target at x1: 10 s +- 5 %), real-time factor and lag. Pacing can only hold when the
   estimator is faster than the data rate; the lag says by how much it is not.

Default sequence: the V1_01_easy twin in /tmp/twins, else a 10 s synthetic sequence made
once in benchmarks/.cache/.

Run: .venv/bin/python benchmarks/launch_realtime.py [--sequence PATH] [--duration S] [--rate K]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from datasets.euroc import open_euroc
from datasets.messages import StereoFrame
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from navion.runtime.launch import load_launch
from navion.runtime.run import run_launch
from navion.sequences import prefetch_images
from vio.pipeline import VioPipeline

ROOT = Path(__file__).resolve().parent
LAUNCH = ROOT.parent / "launch" / "euroc_replay.yaml"
TWIN = Path("/tmp/twins/V1_01_easy")


def default_sequence() -> Path:
    if (TWIN / "mav0").is_dir():
        return TWIN
    out = ROOT / ".cache" / "synthetic_10s"
    if not (out / "navion_synth.json").is_file():
        print(f"synthesising a 10 s sequence into {out} (once) ...")
        generate_sequence(out, SynthConfig(duration_s=10.0, seed=0), overwrite=True)
    return out


def direct_replay(path: Path, duration_s: float) -> tuple[int, float, float]:
    """(frames, wall time [s], CPU time [s]) of VioPipeline over the first ``duration_s`` of ``path``."""
    seq = open_euroc(path, quiet=True)
    first = min(int(seq.imu_timestamps_ns[0]), int(seq.stereo_timestamps_ns[0]))
    pipe = VioPipeline(seq.cam0, seq.cam1, seq.imu)
    frames, start, cpu = 0, time.perf_counter(), time.process_time()
    for message in prefetch_images(seq.messages(end_ns=first + round(duration_s * 1e9))):
        pipe.process(message)
        frames += isinstance(message, StereoFrame)
    return frames, time.perf_counter() - start, time.process_time() - cpu


def launch(path: Path, duration_s: float, out: Path, *extra: str) -> dict:
    overrides = [f"player.path={path}", f"player.duration_s={duration_s}", *extra]
    return run_launch(load_launch(LAUNCH, overrides), out).summary


def fast_line(name: str, summary: dict, replay_fps: float, replay_cpu_ms: float) -> str:
    cpu_ms = 1e3 * summary["process_cpu_time_s"] / summary["frames"]
    return (f"{name}: {summary['frames']} frames in {summary['wall_time_s']:.2f} s = {summary['fps']:.1f} fps, "
            f"{summary['fps'] / replay_fps:.3f}x the direct replay's fps (target 0.90-1.10); CPU {cpu_ms:.1f} ms/frame, "
            f"{replay_cpu_ms / cpu_ms:.3f}x the direct replay's frames per CPU second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, help="EuRoC-format sequence (default: V1_01 twin or synthetic)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of data to play (default 10)")
    parser.add_argument("--rate", type=float, default=1.0, help="real-time multiple of the paced run (default 1)")
    args = parser.parse_args()
    path = args.sequence or default_sequence()
    print(f"sequence {path}, first {args.duration:g} s")
    start = time.perf_counter()
    direct_replay(path, 3.0)
    print(f"warm-up (JIT compile or cache load): {time.perf_counter() - start:.1f} s")

    frames, wall, cpu = direct_replay(path, args.duration)
    replay_fps, replay_cpu_ms = frames / wall, 1e3 * cpu / frames
    with tempfile.TemporaryDirectory() as tmp:
        fast = launch(path, args.duration, Path(tmp) / "fast")
        quiet = launch(path, args.duration, Path(tmp) / "quiet", "energy_monitor.status_period_s=0")
        paced = launch(path, args.duration, Path(tmp) / "paced", "clock.mode=realtime", f"clock.rate={args.rate}")
    print(f"direct replay: {frames} frames in {wall:.2f} s = {replay_fps:.1f} fps; CPU {replay_cpu_ms:.1f} ms/frame")
    print(fast_line("launch, fast (as shipped)", fast, replay_fps, replay_cpu_ms))
    print(fast_line("launch, fast, no energy statuses", quiet, replay_fps, replay_cpu_ms))
    clock = paced["clock"]
    target = clock["sim_time_s"] / args.rate
    print(f"launch, paced x{args.rate:g}: wall {clock['wall_time_s']:.2f} s for {clock['sim_time_s']:.2f} s of data "
          f"(target {target:.2f} s): {clock['wall_time_s'] / target:.3f}x the target (goal 0.95-1.05), "
          f"real-time factor {clock['realtime_factor']:.3f}, lag max {clock['lag_max_s']:.3f} s "
          f"mean {clock['lag_mean_s']:.3f} s, CPU {clock['cpu_percent']:.0f} %")
    print(f"(machine load while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

if __name__ == "__main__":
    main()
