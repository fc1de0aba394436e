"""End-to-end VIO speed on the MH_01 twin (synthesis and JIT compilation excluded).

Synthesises the MH_01_easy twin once (cached in benchmarks/.cache/), warms the numba
kernels up on a separate pipeline, then replays the sequence with image prefetching as
``navion replay`` does. Prints frames/s, the real-time factor, the front-end and
back-end shares, the ratio to the 40 fps target, and the ATE.

Run: .venv/bin/python benchmarks/vio_replay.py [--frames N] [--sequence PATH]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from datasets.euroc import open_euroc
from datasets.messages import StereoFrame
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from navion.evaluation import PoseSeries, evaluate
from navion.sequences import prefetch_images
from vio.pipeline import VioPipeline

TARGET_FPS = 40.0
ROOT = Path(__file__).resolve().parent
GROUNDTRUTH = ROOT.parent.parent / "shared" / "data" / "euroc_groundtruth" / "MH_01_easy.txt"


def mh01_twin() -> Path:
    out = ROOT / ".cache" / "MH_01_easy_twin"
    if not (out / "navion_synth.json").is_file():
        print(f"synthesising the MH_01 twin into {out} (once) ...")
        generate_sequence(out, SynthConfig(seed=0), trajectory_path=GROUNDTRUTH, overwrite=True)
    return out


def warm_up(seq, n_frames: int = 60) -> float:
    """Runs a throw-away pipeline over the first frames; returns the time it took [s]."""
    start = time.perf_counter()
    pipe = VioPipeline(seq.cam0, seq.cam1, seq.imu)
    frames = 0
    for m in seq.messages():
        pipe.process(m)
        frames += isinstance(m, StereoFrame)
        if frames >= n_frames and pipe.initialized and len(pipe._window) >= 3:
            break
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=None, help="replay only the first N frames")
    parser.add_argument("--sequence", help="a EuRoC-format sequence instead of the MH_01 twin")
    args = parser.parse_args()
    seq = open_euroc(args.sequence or mh01_twin(), quiet=True)
    print(f"warm-up (JIT compile or cache load): {warm_up(seq):.1f} s")

    pipe = VioPipeline(seq.cam0, seq.cam1, seq.imu)
    total = len(seq.stereo_timestamps_ns) if args.frames is None else args.frames
    states, frames = [], 0
    start = time.perf_counter()
    for m in prefetch_images(seq.messages()):
        if isinstance(m, StereoFrame) and frames >= total:
            break
        s = pipe.process(m)
        frames += isinstance(m, StereoFrame)
        if s is not None:
            states.append(s)
    wall = time.perf_counter() - start
    span = (pipe.records[-1].timestamp_ns - pipe.records[0].timestamp_ns) * 1e-9
    fe = np.sum([r.frontend_s for r in pipe.records])
    be = np.sum([r.backend_s for r in pipe.records])
    fps = frames / wall
    print(f"replay: {frames} frames in {wall:.1f} s = {fps:.1f} fps, {span / wall:.2f}x real time, "
          f"{fps / TARGET_FPS:.2f}x the {TARGET_FPS:.0f} fps target")
    print(f"shares of wall time: front-end {fe / wall:.0%} ({1e3 * fe / frames:.1f} ms/frame), "
          f"back-end {be / wall:.0%} ({1e3 * be / frames:.1f} ms/frame), "
          f"other (I/O, IMU, bookkeeping) {1 - (fe + be) / wall:.0%}")
    gt = seq.groundtruth
    if gt is not None and len(states) > 3:
        result = evaluate(PoseSeries.from_groundtruth(gt), PoseSeries.from_states(states))
        print(f"accuracy: ATE RMSE {result.ate_stats.rmse:.3f} m (se3), resets {pipe.resets}")


if __name__ == "__main__":
    main()
