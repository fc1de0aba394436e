"""Speed of the stereo front-end, per stereo frame, with the share of each stage.

Runs in one process, on images decoded into memory beforehand (PNG decoding is the
reader's cost, not the front-end's):
- the real EuRoC V1_01 fragment (../shared/data/euroc_v101_micro, 95 frames), if present;
- a synthetic 4 s hall sequence generated into a temporary folder (2 s rest, then motion).
Both use gyro rotation predictions integrated from the sequence's own IMU stream.
The first frame (numba JIT compile or cache load) is reported apart; the steady state
is compared with the 12 ms front-end budget (40 fps end to end) and with real time
(20 Hz camera, 50 ms per frame).

Run: .venv/bin/python benchmarks/frontend_speed.py [--no-workload]
"""
from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from vio.frontend import Frontend, FrontendConfig
from vio.frontend.frontend import STAGES

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
        report("real EuRoC V1_01 fragment", run(open_euroc(REAL), config))
    else:
        print(f"\nreal EuRoC fragment not found at {REAL.resolve()}; skipped")
    with tempfile.TemporaryDirectory() as tmp:
        generate_sequence(tmp, SynthConfig(duration_s=4, seed=1))
        report("synthetic hall, 4 s (2 s rest, then motion)", run(open_euroc(tmp), config))


if __name__ == "__main__":
    main()
