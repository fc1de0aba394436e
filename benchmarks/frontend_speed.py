"""Speed of the stereo front-end, per stereo frame, with the share of each stage.

Runs in one process, on images decoded into memory beforehand (PNG decoding is the
reader's cost, not the front-end's):
- the real EuRoC V1_01 fragment (../shared/data/euroc_v101_micro, 95 frames), if present;
- a synthetic 4 s hall sequence generated into a temporary folder (2 s rest, then motion).
Both use gyro rotation predictions integrated from the sequence's own IMU stream.
The first frame (numba JIT compile or cache load) is reported apart; the steady state
is compared with the 12 ms front-end budget (40 fps end to end) and with real time
(20 Hz camera, 50 ms per frame).

KLT side by side, per stereo frame: the four passes the front-end runs (temporal forward
and backward, stereo forward and backward) of up to 180 Shi-Tomasi corners, by the numba
kernel on pyramids built once per image (two builds per frame into recycled buffers, the
left one reused as the next frame's previous image) against four
cv2.calcOpticalFlowPyrLK calls (which rebuild both pyramids each time; with OpenCV's
default threads and with one), with the same window, levels and stopping rules; wall and
process CPU time; also their agreement and the kernel's iterations per (point, level)
set-up. The kernel runs on one thread: a numba prange over the points (OpenMP layer) cut
its wall time by 1.7x on an idle machine but made it 1.2-5x slower than one thread when
two busy processes wanted the cores (the waiting threads spin); the pipeline's PNG
prefetch thread competes the same way.

Run: .venv/bin/python benchmarks/frontend_speed.py [--no-workload]
"""
from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from vio.frontend import Frontend, FrontendConfig
from vio.frontend.frontend import STAGES
from vio.frontend.track import ImagePyramid, KltStats, klt_forward

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "euroc_v101_micro"
BUDGET_MS = 12.0
REAL_TIME_MS = 50.0  # 20 Hz


def gyro_rotations(seq, stamps_ns: np.ndarray) -> list[np.ndarray | None]:
    """R_cam0prev_cam0cur per frame from the gyro (held samples, body = IMU frame)."""
    t, gyro = seq.imu_timestamps_ns, seq.imu_gyro
    R_body_cam = seq.cam0.T_body_cam[:3, :3]
    out: list[np.ndarray | None] = [None]
    for t0, t1 in pairwise(stamps_ns):
        k0 = max(np.searchsorted(t, t0, side="right") - 1, 0)
        k1 = np.searchsorted(t, t1, side="left")
        R = Rotation.identity()
        for k in range(k0, max(k1, k0 + 1)):
            a, b = max(t[k], t0), min(t[k + 1] if k + 1 < len(t) else t1, t1)
            if b > a:
                R = R * Rotation.from_rotvec(gyro[k] * (b - a) * 1e-9)
        out.append(R_body_cam.T @ R.as_matrix() @ R_body_cam)
    return out


def run(seq, config: FrontendConfig) -> dict:
    frames = [(f.timestamp_ns, f.left.image, f.right.image) for f in seq.stereo_frames()]
    rotations = gyro_rotations(seq, np.array([f[0] for f in frames], dtype=np.int64))
    fe = Frontend(seq.cam0, seq.cam1, config)
    t0 = time.perf_counter()
    fe.process(frames[0], rotations[0])
    first_ms = (time.perf_counter() - t0) * 1e3
    fe.reset()
    stages, totals, sizes, stereo = Counter(), [], [], []
    for frame, R in zip(frames, rotations):
        t0 = time.perf_counter()
        out = fe.process(frame, R)
        totals.append((time.perf_counter() - t0) * 1e3)
        stages.update({k: v * 1e3 for k, v in fe.last_timings_s.items()})
        sizes.append(len(out))
        stereo.append(out.n_stereo)
    total = sum(totals)
    return {"frames": len(frames), "first_ms": first_ms, "mean_ms": total / len(frames),
            "median_ms": float(np.median(totals)), "p95_ms": float(np.percentile(totals, 95)),
            "shares": {k: stages[k] / total for k in STAGES}, "features": float(np.mean(sizes)),
            "stereo": float(np.mean(stereo))}


def opencv_klt(prev: np.ndarray, nxt: np.ndarray, uv: np.ndarray, config: FrontendConfig) -> np.ndarray:
    out, status, _ = cv2.calcOpticalFlowPyrLK(
        prev, nxt, uv.astype(np.float32).reshape(-1, 1, 2), None, winSize=(config.klt_window_px,) * 2,
        maxLevel=config.pyramid_levels - 1,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, config.klt_max_iterations, config.klt_epsilon))
    out = out.reshape(-1, 2).astype(np.float64)
    out[~status.reshape(-1).astype(bool)] = np.nan
    return out


class Clock:
    """Accumulated wall and process CPU time [s] of timed blocks."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> None:
        self._t = (time.perf_counter(), time.process_time())

    def __exit__(self, *exc) -> None:
        self.wall += time.perf_counter() - self._t[0]
        self.cpu += time.process_time() - self._t[1]


def klt_side_by_side(seq, config: FrontendConfig) -> dict:
    """ms per stereo frame (wall, CPU) of the four KLT passes: numba on shared pyramids vs
    OpenCV with its default threads and with one thread."""
    frames = [(f.left.image, f.right.image) for f in seq.stereo_frames()]
    clocks = {"numba": Clock(), "opencv": Clock(), "opencv_1thread": Clock()}
    stats, diffs = KltStats(), []
    prev_pyr, spare = None, []
    klt_forward(ImagePyramid.build(frames[0][0], config.pyramid_levels, config.klt_window_px),
                ImagePyramid.build(frames[0][0], config.pyramid_levels, config.klt_window_px),
                np.array([[100.0, 100.0]]), config)  # JIT compile or cache load
    threads = cv2.getNumThreads()
    for (prev, _), (left, right) in pairwise(frames):
        uv = cv2.goodFeaturesToTrack(prev, config.max_features, config.quality_level, config.min_distance_px)
        uv = uv.reshape(-1, 2).astype(np.float64)
        right = cv2.convertScaleAbs(right, alpha=cv2.mean(left)[0] / max(cv2.mean(right)[0], 1.0))
        with clocks["numba"]:
            if prev_pyr is None:
                prev_pyr = ImagePyramid.build(prev, config.pyramid_levels, config.klt_window_px)
            # buffers recycled as in the front-end
            cur = ImagePyramid.build(left, config.pyramid_levels, config.klt_window_px, spare.pop() if spare else None)
            rgt = ImagePyramid.build(right, config.pyramid_levels, config.klt_window_px,
                                     spare.pop() if spare else None)
            fwd, ok1, s1 = klt_forward(prev_pyr, cur, uv, config)
            back, ok2, s2 = klt_forward(cur, prev_pyr, fwd, config)
            st, ok3, s3 = klt_forward(cur, rgt, fwd, config)
            st_back, ok4, s4 = klt_forward(rgt, cur, st, config)
        spare += [prev_pyr, rgt]
        prev_pyr = cur
        stats = stats + s1 + s2 + s3 + s4
        passes = [np.where(ok[:, None], p, np.nan) for p, ok in ((fwd, ok1), (back, ok2), (st, ok3), (st_back, ok4))]
        for name, n_threads in (("opencv", threads), ("opencv_1thread", 1)):
            cv2.setNumThreads(n_threads)
            with clocks[name]:
                ref = [opencv_klt(prev, left, uv, config), opencv_klt(left, prev, fwd, config),
                       opencv_klt(left, right, fwd, config), opencv_klt(right, left, st, config)]
        cv2.setNumThreads(threads)
        for got, want in zip(passes, ref):
            diffs.append(np.linalg.norm(got - want, axis=1))
    d = np.concatenate(diffs)
    d = d[np.isfinite(d)]
    n = len(frames) - 1
    out = {f"{name}_{kind}_ms": 1e3 * getattr(c, kind) / n for name, c in clocks.items() for kind in ("wall", "cpu")}
    return {**out, "threads": threads, "median_diff_px": float(np.median(d)),
            "p99_diff_px": float(np.percentile(d, 99)), "iterations_per_setup": stats.iterations / max(stats.setups, 1)}


def report_klt(name: str, r: dict) -> None:
    print(f"  KLT, 4 passes per frame ({name}), wall / CPU ms: numba on shared pyramids (1 thread) "
          f"{r['numba_wall_ms']:.2f} / {r['numba_cpu_ms']:.2f}; cv2.calcOpticalFlowPyrLK with {r['threads']} threads "
          f"{r['opencv_wall_ms']:.2f} / {r['opencv_cpu_ms']:.2f}, with 1 thread "
          f"{r['opencv_1thread_wall_ms']:.2f} / {r['opencv_1thread_cpu_ms']:.2f}")
    print(f"  numba vs cv2: {r['opencv_wall_ms'] / r['numba_wall_ms']:.2f}x wall, "
          f"{r['opencv_cpu_ms'] / r['numba_cpu_ms']:.2f}x CPU ({r['threads']} threads); "
          f"{r['opencv_1thread_wall_ms'] / r['numba_wall_ms']:.2f}x wall (1 thread)")
    print(f"  tracks agree: median {r['median_diff_px']:.1e} px, 99th percentile {r['p99_diff_px']:.1e} px; "
          f"{r['iterations_per_setup']:.2f} iterations per (point, level) "
          f"(bound {FrontendConfig().klt_max_iterations})")


def report(name: str, r: dict) -> None:
    print(f"\n{name}: {r['frames']} stereo frames, {r['features']:.0f} features/frame, {r['stereo']:.0f} with stereo")
    print(f"  first frame (JIT compile / cache load): {r['first_ms']:.1f} ms")
    print(f"  steady state: mean {r['mean_ms']:.2f} ms, median {r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms "
          f"per stereo frame")
    print(f"  vs 12 ms budget: {r['mean_ms'] / BUDGET_MS:.2f}x of budget; "
          f"vs real time (20 Hz): {REAL_TIME_MS / r['mean_ms']:.1f}x faster than real time")
    print("  stage shares: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["shares"].items()))


def main() -> None:
    config = FrontendConfig(count_workload="--no-workload" not in sys.argv)
    print(f"front-end speed (count_workload={config.count_workload}, max_features={config.max_features})")
    if (REAL / "mav0").is_dir():
        seq = open_euroc(REAL)
        report("real EuRoC V1_01 fragment", run(seq, config))
        report_klt("real", klt_side_by_side(seq, config))
    else:
        print(f"\nreal EuRoC fragment not found at {REAL.resolve()}; skipped")
    with tempfile.TemporaryDirectory() as tmp:
        generate_sequence(tmp, SynthConfig(duration_s=4, seed=1))
        seq = open_euroc(tmp)
        report("synthetic hall, 4 s (2 s rest, then motion)", run(seq, config))
        report_klt("synthetic", klt_side_by_side(seq, config))


if __name__ == "__main__":
    main()
