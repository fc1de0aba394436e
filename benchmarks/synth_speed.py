"""Speed of the synthetic EuRoC-format generator.

Prints, measured side by side in one run:
- rendering alone: first-call time (numba JIT compile, or cache load) apart from the
  steady-state rate, with the ratios to the 20 fps target and to real time (20 Hz);
- open3d's RaycastingScene.cast_rays on the same rays (ray casting alone);
- the whole generator (`navion synth`: IMU, ground truth, rendering, PNG writing) with
  each renderer backend, idealised and with every realism option on (texture, optics
  and sensor, IMU vibration, calibration error), in stereo frames per second against
  the 20 fps target (ideal) and the 10 fps target (realistic, issue #15).

Run: .venv/bin/python benchmarks/synth_speed.py [n_frames]
"""
from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import open3d as o3d

from datasets.calibration import euroc_cameras
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from datasets.synth.render import StereoRenderer, pixel_bearings
from datasets.synth.world import HallConfig, build_hall

TARGET_FPS = 20.0  # whole generator, idealised sensors, stereo frames per second
TARGET_REALISTIC_FPS = 10.0  # whole generator with every realism option on


def _flight(n: int) -> tuple[np.ndarray, np.ndarray]:
    """EuRoC-like flight (15 m x 8 m x 3 m) and body poses looking along the motion."""
    s = np.linspace(0, 2 * np.pi, n, endpoint=False)
    p = np.column_stack([7.5 * np.sin(s), 4.0 * np.sin(2 * s), 1.5 - 1.2 * np.cos(s)])
    forward = np.gradient(p, axis=0)
    forward[:, 2] = 0
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    cam0 = euroc_cameras()[0]
    poses = np.empty((n, 4, 4))
    for k in range(n):
        left = np.cross([0.0, 0.0, 1.0], forward[k])
        T_world_cam = np.eye(4)
        T_world_cam[:3, :3] = np.column_stack([-left, [0.0, 0.0, -1.0], forward[k]])  # x right, y down, z forward
        T_world_cam[:3, 3] = p[k]
        poses[k] = T_world_cam @ np.linalg.inv(cam0.T_body_cam)
    return p, poses


def measure_render_fps(n_frames: int = 100, image_noise_sigma: float = 2.0) -> dict:
    """Render n_frames stereo pairs along a flight; return first-call and steady-state timings."""
    cams = euroc_cameras()
    positions, poses = _flight(max(n_frames, 2))
    renderer = StereoRenderer(build_hall(HallConfig(), positions, seed=0), cams, image_noise_sigma)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    renderer.render(poses[0], rng)
    first_call_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(n_frames):
        renderer.render(poses[k], rng)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return {"first_call_s": first_call_s, "fps": n_frames / wall_s, "cpu_ms_per_frame": 1e3 * cpu_s / n_frames,
            "rate_hz": cams[0].rate_hz}


def measure_open3d_cast_fps(n_frames: int = 20) -> float:
    """Stereo frames per second of RaycastingScene.cast_rays alone on the same hall and rays."""
    cams = euroc_cameras()
    positions, poses = _flight(max(n_frames, 2))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(build_hall(HallConfig(), positions, seed=0).mesh)
    bearings = [pixel_bearings(c).reshape(-1, 3) for c in cams]
    rays = np.empty((sum(len(b) for b in bearings), 6), dtype=np.float32)
    elapsed = 0.0
    for k in range(n_frames):
        row = 0
        for cam, b in zip(cams, bearings):
            T_world_cam = poses[k] @ cam.T_body_cam
            rays[row:row + len(b), :3] = T_world_cam[:3, 3]
            rays[row:row + len(b), 3:] = b @ T_world_cam[:3, :3].T
            row += len(b)
        t0 = time.perf_counter()
        scene.cast_rays(o3d.core.Tensor.from_numpy(rays))
        elapsed += time.perf_counter() - t0
    return n_frames / elapsed


def measure_generator_fps(n_frames: int, renderer: str, realism: str) -> float:
    """Stereo frames per second of generate_sequence (everything, scene set-up included,
    PNGs written to a temp dir), after a warm-up run that compiles the kernels."""
    duration_s = (n_frames - 1) / 20.0
    with tempfile.TemporaryDirectory() as out:
        generate_sequence(out + "/warm", SynthConfig(duration_s=2.5, renderer=renderer, realism=realism))
        t0 = time.perf_counter()
        meta = generate_sequence(out + "/run", SynthConfig(duration_s=duration_s, renderer=renderer,
                                                           realism=realism, seed=1))
        return meta["stereo_frames"] / (time.perf_counter() - t0)


def main(argv: list[str]) -> None:
    n_frames = int(argv[1]) if len(argv) > 1 else 100
    r = measure_render_fps(n_frames)
    print(f"render: first call (JIT compile or cache load) {r['first_call_s']:.2f} s")
    print(f"render: {r['fps']:.1f} stereo frames/s steady state over {n_frames} frames "
          f"(752x480 x2, noise on; {r['cpu_ms_per_frame']:.1f} ms CPU per frame)")
    print(f"render: {r['fps'] / TARGET_FPS:.2f}x the {TARGET_FPS:.0f} fps generator target, "
          f"{r['fps'] / r['rate_hz']:.2f}x real time ({r['rate_hz']:.0f} Hz cameras)")
    ref = measure_open3d_cast_fps(min(n_frames, 20))
    print(f"reference: open3d RaycastingScene.cast_rays alone {ref:.1f} stereo frames/s; "
          f"renderer is {r['fps'] / ref:.2f}x that")
    for backend, realism, target in (("boxes", "ideal", TARGET_FPS), ("boxes", "realistic", TARGET_REALISTIC_FPS),
                                     ("open3d", "realistic", TARGET_REALISTIC_FPS)):
        fps = measure_generator_fps(n_frames, backend, realism)
        print(f"generator ({backend:6s}, {realism:9s}): {fps:.1f} stereo frames/s incl. scene set-up and PNG "
              f"writing over {n_frames} frames, {fps / target:.2f}x the {target:.0f} fps target")


if __name__ == "__main__":
    main(sys.argv)
