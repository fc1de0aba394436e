"""Occupancy map quality and speed on a synthetic sequence with ground-truth poses.

Builds the map from SGBM stereo depth at the true poses and prints precision and recall of
the occupied voxels against the world mesh (definitions in mapping/occupancy/quality.py),
the build time per frame against real time, the dense and chunked grids side by side
(time, memory, equal log-odds), and the DDA kernel against the pure-Python fine-stepping
reference of the tests (steady state, JIT compile time apart). Usage:

    python benchmarks/map_quality.py [--sequence DIR] [--duration 12] [--every 5]
                                     [--resolution 0.1] [--max-range 4.0]

Without --sequence a sequence of the built-in hall is generated into --out (kept for
reruns); with it, any sequence written by ``navion synth`` (e.g. /tmp/twins/V2_01_easy).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence, make_scene
from mapping.occupancy import ChunkedOccupancyGrid3D, OccupancyGrid3D
from mapping.occupancy.integrate import MapBuildConfig, build_map
from mapping.occupancy.quality import map_quality
from mapping.occupancy.raycast import scan_cells
from mapping.occupancy.stereo_depth import StereoDepth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "mapping"))
import raycast_reference  # noqa: E402  (the tests' slow reference)


def _scene(sequence_dir: Path):
    meta = json.loads((sequence_dir / "navion_synth.json").read_text())
    trajectory = None if meta["trajectory"] == "default" else meta["trajectory"]
    return make_scene(SynthConfig.from_dict(meta["config"]), trajectory)


def _first_call_s() -> float:
    """Time of the first scan (numba compile or cache load) [s]."""
    t0 = time.perf_counter()
    scan_cells(np.zeros(3), 0.1, np.array([10, 10, 10]), [0.5, 0.5, 0.5], [[0.7, 0.6, 0.55]], 4.0)
    return time.perf_counter() - t0


def _dda_speed(build, stereo, sequence, first_s: float) -> None:
    """ns per DDA step of the kernel on one frame's rays against the Python reference."""
    grid = build.grid
    frame = next(f for f in sequence.stereo_frames() if f.timestamp_ns == build.timestamps_ns[0])
    T = build.T_world_body[0] @ stereo.T_body_rect
    points = stereo.points_rect(frame.left.image, frame.right.image) @ T[:3, :3].T + T[:3, 3]
    shape = np.asarray(grid.shape, np.int64)
    t0 = time.perf_counter()
    scan = scan_cells(grid.origin_m, grid.resolution_m, shape, T[:3, 3], points, grid.config.max_range_m)
    kernel_s = time.perf_counter() - t0
    subset = points[:: max(1, len(points) // 100)]
    u0 = (T[:3, 3] - grid.origin_m) / grid.resolution_m
    t0 = time.perf_counter()
    for p in subset:
        raycast_reference.ray_sequence(u0, (p - grid.origin_m) / grid.resolution_m - u0, 1.0)
    reference_per_ray_s = (time.perf_counter() - t0) / len(subset)
    kernel_per_ray_s = kernel_s / scan.rays
    print(f"DDA scan of {scan.rays} rays: {kernel_s * 1e3:.1f} ms ({kernel_s / max(scan.dda_steps, 1) * 1e9:.1f} ns "
          f"per DDA step, first call incl. JIT/cache load {first_s * 1e3:.0f} ms); Python fine-stepping "
          f"reference {reference_per_ray_s * 1e3:.2f} ms per ray: {reference_per_ray_s / kernel_per_ray_s:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, help="existing synthetic sequence (navion synth output)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/navion_map_quality"), help="where to generate one")
    parser.add_argument("--duration", type=float, default=12.0, help="generated sequence length [s]")
    parser.add_argument("--every", type=int, default=5, help="integrate every N-th frame")
    parser.add_argument("--resolution", type=float, default=0.1, help="voxel edge [m]")
    parser.add_argument("--max-range", type=float, default=4.0, help="map max range [m]")
    args = parser.parse_args()
    first_s = _first_call_s()

    sequence_dir = args.sequence
    if sequence_dir is None:
        sequence_dir = args.out / f"hall_{args.duration:g}s"
        if not (sequence_dir / "navion_synth.json").is_file():
            t0 = time.perf_counter()
            generate_sequence(sequence_dir, SynthConfig(duration_s=args.duration), overwrite=True)
            print(f"generated {sequence_dir} in {time.perf_counter() - t0:.1f} s")
    sequence = open_euroc(sequence_dir, quiet=True)
    scene = _scene(sequence_dir)
    span_s = (sequence.stereo_timestamps_ns[-1] - sequence.stereo_timestamps_ns[0]) * 1e-9

    results = {}
    for storage in ("chunked", "dense"):
        config = MapBuildConfig.from_dict({"every_n_frames": args.every, "occupancy": {
            "resolution_m": args.resolution, "max_range_m": args.max_range, "storage": storage}})
        results[storage] = build_map(sequence, None, config)
    build = results["chunked"]
    stereo = StereoDepth(sequence.cam0, sequence.cam1, config.stereo)
    dense, chunked = results["dense"].grid, results["chunked"].grid
    assert isinstance(dense, OccupancyGrid3D) and isinstance(chunked, ChunkedOccupancyGrid3D)
    same = np.array_equal(dense.log_odds, chunked.log_odds)
    n = len(build.timestamps_ns)
    print(f"sequence {sequence_dir}: {span_s:.1f} s, {n} frames integrated (every {args.every}), "
          f"{build.points / max(n, 1):.0f} points per frame, {args.resolution:g} m voxels, "
          f"max range {args.max_range:g} m")
    for storage, result in results.items():
        s = result.summary()
        print(f"  {storage:8s} build {s['wall_time_s']:.1f} s = {s['ms_per_frame']:.0f} ms per frame "
              f"({span_s / s['wall_time_s']:.2f}x real time; stereo depth {s['depth_time_s']:.1f} s, ray casting "
              f"and updates {s['integrate_time_s']:.1f} s), map {s['map_bytes'] / 1e6:.1f} MB")
    print(f"  chunked / dense: memory {chunked.memory_bytes / dense.memory_bytes:.3f}x, identical log-odds: {same}")
    t0 = time.perf_counter()
    quality = map_quality(build.grid, scene.world, build.T_world_body @ stereo.T_body_rect, stereo)
    print(f"quality ({time.perf_counter() - t0:.1f} s to score): precision {quality['precision']:.3f} "
          f"(within one voxel; exact {quality['precision_exact']:.3f}), recall {quality['recall']:.3f} "
          f"(exact; within one voxel {quality['recall_within_one_voxel']:.3f}); {quality['occupied_voxels']} "
          f"occupied voxels, {quality['observed_surface_voxels']} observed surface voxels")
    _dda_speed(build, stereo, sequence, first_s)


if __name__ == "__main__":
    main()
