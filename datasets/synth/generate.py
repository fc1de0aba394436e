"""Synthesises a EuRoC-format stereo-inertial sequence with exact ground truth.

Time base: the trajectory's ``start_ns`` is t = 0. IMU samples and ground truth sit
on the IMU grid ``start_ns + k * dt_imu``; camera frames are captured at every
``imu_rate / camera_rate``-th IMU instant (as in EuRoC) and stamped
``t_capture + time_offset`` (the perturbation a VIO must estimate).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from ..calibration import CameraCalibration, ImuCalibration, euroc_cameras, euroc_imu
from ..errors import DatasetError
from ..euroc_writer import EurocWriter
from .config import SynthConfig
from .imu import ImuSimConfig, simulate_imu
from .calibration_error import true_camera
from .render import StereoRenderer
from .sensor_model import CameraSensorModel
from .texture import build_bank, resolve_profile
from .vibration import VibrationConfig
from .trajectory import BodyTrajectory, default_trajectory, trajectory_from_tum
from .world import HallConfig, HallWorld, build_hall

# Exposure flicker: gain = 1 + A sin(2 pi f t) + jitter, clipped (mimics mains
# flicker beating against the shutter, plus auto-exposure hunting).
FLICKER_AMPLITUDE = 0.25
FLICKER_FREQUENCY_HZ = 0.7
FLICKER_JITTER = 0.08
FLICKER_RANGE = (0.5, 1.6)


@dataclass(frozen=True)
class SynthScene:
    """Everything a sequence is made from; tests use it to score against truth."""

    trajectory: BodyTrajectory
    world: HallWorld
    config: SynthConfig
    environment: str | None = None  # the resolved texture profile (realistic scenes)


def make_scene(config: SynthConfig, trajectory_path: str | Path | None = None,
               trajectory: BodyTrajectory | None = None, scene_hint: str | None = None) -> SynthScene:
    """Builds the trajectory (given, default or TUM twin) and a hall that encloses it
    (the whole source trajectory, for a cut of a ground-truth file).

    scene_hint: a name holding the EuRoC sequence the scene copies (picks the texture
    profile); default the trajectory file's name."""
    if trajectory is not None:
        traj = trajectory
    elif trajectory_path is None:
        traj = default_trajectory() if config.duration_s is None else default_trajectory(
            duration_s=config.duration_s, rest_s=min(2.0, config.duration_s))
    else:
        traj = trajectory_from_tum(trajectory_path, duration_s=config.duration_s,
                                   start_offset_s=config.start_offset_s)
    scene_name = scene_hint or str(trajectory_path or "")
    environment = None if config.ideal else resolve_profile(config.texture, scene_name)
    bank = None if config.ideal else build_bank(config.texture, scene_name, config.seed)
    source = traj.source_positions()
    world = build_hall(HallConfig(), traj.positions(0.05) if source is None else source, seed=config.seed,
                       fit_to_trajectory=trajectory_path is not None or trajectory is not None, bank=bank)
    return SynthScene(traj, world, config, environment)


def _frame_gains(times_s: np.ndarray, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    if not config.exposure_flicker:
        return np.ones_like(times_s)
    gains = (1.0 + FLICKER_AMPLITUDE * np.sin(2 * np.pi * FLICKER_FREQUENCY_HZ * times_s)
             + FLICKER_JITTER * rng.standard_normal(times_s.shape))
    return np.clip(gains, *FLICKER_RANGE)


def _kept_frames(n: int, config: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the frames that survive ``drop_frames`` (the first always does)."""
    keep = np.ones(n, dtype=bool)
    n_drop = int(round(config.drop_frames * n))
    if n_drop:
        keep[1 + rng.choice(n - 1, size=min(n_drop, n - 1), replace=False)] = False
    return keep


def _capture_indices(camera_stamps_ns: np.ndarray, imu_stamps_ns: np.ndarray) -> np.ndarray:
    """Index of each capture stamp on the IMU grid; DatasetError if one is off the grid or span."""
    stamps = np.asarray(camera_stamps_ns, dtype=np.int64)
    if stamps.ndim != 1 or len(stamps) == 0 or np.any(np.diff(stamps) <= 0):
        raise DatasetError("camera_stamps_ns must be a non-empty increasing 1-D array")
    idx = np.searchsorted(imu_stamps_ns, stamps)
    inside = (idx < len(imu_stamps_ns)) & (stamps >= imu_stamps_ns[0])
    if not np.all(inside):
        raise DatasetError(f"{int((~inside).sum())} camera stamps lie outside the trajectory span "
                           f"[{imu_stamps_ns[0]}, {imu_stamps_ns[-1]}] ns")
    exact = imu_stamps_ns[idx] == stamps
    if not np.all(exact):
        raise DatasetError(f"{int((~exact).sum())} camera stamps are not on the IMU grid "
                           f"(start {imu_stamps_ns[0]} ns, step {imu_stamps_ns[1] - imu_stamps_ns[0]} ns)")
    return idx


def _pose(states, k: int) -> np.ndarray:
    """T_world_body (4, 4) of sample k of a TrajectorySample."""
    T = np.eye(4)
    T[:3, :3] = states.R_world_body[k]
    T[:3, 3] = states.p_world_body[k]
    return T


def _expose(renderer: StereoRenderer, sensor: CameraSensorModel, traj: BodyTrajectory, t_capture_s: float,
            frame: int, gain: float) -> list[np.ndarray]:
    """Stereo images of frame ``frame`` captured at t_capture_s [s]: radiance rendered at the
    capture (mid-exposure) pose, exposed over the poses of the exposure window (clipped to
    the trajectory span); ``gain`` (exposure flicker) scales the scene's radiance."""
    offsets = sensor.exposure_sample_offsets_s(frame)
    states = traj.evaluate(np.clip(t_capture_s + offsets, 0.0, traj.duration_s))
    poses = np.stack([_pose(states, j) for j in range(len(offsets))])
    radiances, ranges = [], []
    for i in range(len(renderer.cameras)):
        radiance, range_m = renderer.render_radiance(i, poses[len(offsets) // 2])
        radiances.append(radiance * np.float32(gain) if gain != 1.0 else radiance)
        ranges.append(range_m)
    return sensor.expose_stereo(radiances, ranges, poses, frame)


def generate_sequence(out_dir: str | Path, config: SynthConfig = SynthConfig(),
                      trajectory_path: str | Path | None = None, overwrite: bool = False,
                      progress: Callable[[int, int], None] | None = None, *,
                      trajectory: BodyTrajectory | None = None,
                      cameras: tuple[CameraCalibration, CameraCalibration] | None = None,
                      imu_calibration: ImuCalibration | None = None,
                      camera_stamps_ns: np.ndarray | None = None, scene_hint: str | None = None) -> dict:
    """Writes ``out_dir/mav0`` and ``out_dir/navion_synth.json``; returns that metadata.

    ``trajectory`` (instead of ``trajectory_path``) gives the body trajectory directly;
    ``cameras`` and ``imu_calibration`` replace EuRoC's calibration (their rates are
    replaced by the config's); ``camera_stamps_ns`` lists the capture instants (int64 ns,
    on the IMU grid ``trajectory.start_ns + k * step``) instead of every
    ``imu_rate / camera_rate``-th IMU sample. ``progress(done, total)`` is called after
    each rendered stereo frame. ``scene_hint``: see :func:`make_scene`.
    """
    if trajectory is not None and trajectory_path is not None:
        raise ValueError("give trajectory or trajectory_path, not both")
    scene = make_scene(config, trajectory_path, trajectory, scene_hint)
    traj = scene.trajectory
    cam0, cam1 = (replace(cam, rate_hz=config.camera_rate_hz) for cam in (cameras or euroc_cameras()))
    imu_cal = replace(imu_calibration or euroc_imu(), rate_hz=config.imu_rate_hz)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(4)]
    imu_rng_seed, image_rng, frame_rng, calibration_rng = int(rngs[0].integers(2**31)), rngs[1], rngs[2], rngs[3]
    if config.ideal:
        render_cams = (cam0, cam1)
    else:
        render_cams = tuple(true_camera(cam, config.calibration_error, calibration_rng) for cam in (cam0, cam1))

    vibration = VibrationConfig(enabled=False) if config.ideal else config.imu_vibration
    imu = simulate_imu(traj, imu_cal, ImuSimConfig(rate_hz=config.imu_rate_hz, noise_scale=config.imu_noise_scale,
                                                   vibration=vibration), seed=imu_rng_seed)
    imu_t_s = (imu.timestamps_ns - traj.start_ns) * 1e-9
    truth = traj.evaluate(imu_t_s)
    q_xyzw = Rotation.from_matrix(truth.R_world_body).as_quat()
    q_wxyz = np.column_stack([q_xyzw[:, 3], q_xyzw[:, :3]])
    q_wxyz *= np.where(q_wxyz[:, :1] < 0, -1.0, 1.0)

    if camera_stamps_ns is None:
        cam_idx = np.arange(0, len(imu.timestamps_ns), int(round(config.imu_rate_hz / config.camera_rate_hz)))
    else:
        cam_idx = _capture_indices(camera_stamps_ns, imu.timestamps_ns)
    keep = _kept_frames(len(cam_idx), config, frame_rng)
    cam_idx = cam_idx[keep]
    offset_ns = int(round(config.time_offset_ms * 1e6))
    gains = _frame_gains(imu_t_s[cam_idx], config, frame_rng)

    renderer = StereoRenderer(scene.world, render_cams, image_noise_sigma=config.image_noise_sigma,
                              backend=config.renderer)
    sensor = None if config.ideal else CameraSensorModel(config.camera, render_cams, seed=config.seed,
                                                         environment=scene.environment)
    with EurocWriter(out_dir, cam0, cam1, imu_cal, png_compression=config.png_compression,
                     overwrite=overwrite) as writer:
        writer.write_imu(imu.timestamps_ns, imu.gyro, imu.accel)
        writer.write_groundtruth(imu.timestamps_ns, truth.p_world_body, q_wxyz, truth.v_world,
                                 imu.gyro_bias, imu.accel_bias)
        for n, (k, gain) in enumerate(zip(cam_idx, gains)):
            if sensor is None:
                left, right = renderer.render(_pose(truth, k), rng=image_rng, gain=float(gain))
            else:
                left, right = _expose(renderer, sensor, traj, float(imu_t_s[k]), n, float(gain))
            writer.add_stereo(int(imu.timestamps_ns[k]) + offset_ns, left, right)
            if progress is not None:
                progress(n + 1, len(cam_idx))

    meta = {
        "generator": "navion-sim synth",
        "config": config.to_dict(),
        "trajectory": (str(trajectory_path) if trajectory_path is not None
                       else "given" if trajectory is not None else "default"),
        "start_ns": int(traj.start_ns),
        "duration_s": float(traj.duration_s),
        "stereo_frames": int(len(cam_idx)),
        "dropped_frames": int((~keep).sum()),
        "imu_samples": int(len(imu.timestamps_ns)),
        "time_offset_ns": offset_ns,
        "hall_bounds_min": [float(v) for v in scene.world.bounds_min],
        "hall_bounds_max": [float(v) for v in scene.world.bounds_max],
        "environment": scene.environment,
    }
    Path(out_dir, "navion_synth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
