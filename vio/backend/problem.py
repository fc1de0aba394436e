"""Synthetic sliding-window problems with exact ground truth, for tests and benchmarks.

A window of keyframes along :func:`datasets.synth.trajectory.default_trajectory` (the
MAV flies a loop in a hall, cameras looking horizontally), landmarks seen by the EuRoC
stereo rig, and the raw IMU samples between consecutive keyframes from
:func:`datasets.synth.imu.simulate_imu`. Observations are undistorted pinhole pixels
(the calibration's intrinsics without its lens distortion), optionally with Gaussian
pixel noise. Frames follow the project convention (``p_world = T_world_body @ p_body``);
cameras are OpenCV-style (z forward, x right, y down); pixel centres sit at integer
coordinates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from datasets.calibration import euroc_cameras, euroc_imu
from datasets.synth.imu import ImuSimConfig, simulate_imu
from datasets.synth.trajectory import default_trajectory

from ..preintegration import ImuBias, ImuParams, ImuPreintegration
from ..state import BA, BG, ERROR_DIM, POS, ROT, VEL, KeyframeState, retract

MIN_DEPTH_M = 1e-3  # points closer to the image plane than this count as behind the camera
LANDMARK_DEPTH_M = (2.0, 8.0)  # depth range of new landmarks in their anchor keyframe's cam0
IMAGE_BORDER_PX = 4.0  # true projections keep this far from the image edge
TRACK_LENGTH_SPREAD = 2  # track lengths are obs_per_landmark + U{-2..2}, clipped to [2, N]
_CANDIDATES = 64  # landmark positions tried at once
_MAX_BATCHES = 50


def _rigid(T, name: str) -> np.ndarray:
    T = np.array(T, dtype=np.float64)
    if (T.shape != (4, 4) or not np.all(np.isfinite(T)) or not np.allclose(T[3], [0, 0, 0, 1])
            or not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6)):
        raise ValueError(f"StereoRig: '{name}' must be a 4x4 rigid transform")
    T.flags.writeable = False
    return T


@dataclass(frozen=True, eq=False)
class StereoRig:
    """Two pinhole cameras on the body: intrinsics [px] of cam0 (left) and cam1 (right),
    their mountings ``T_body_cam0``/``T_body_cam1`` (EuRoC ``T_BS``), image size [px]."""

    fx0: float
    fy0: float
    cx0: float
    cy0: float
    fx1: float
    fy1: float
    cx1: float
    cy1: float
    T_body_cam0: np.ndarray
    T_body_cam1: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        for name in ("fx0", "fy0", "cx0", "cy0", "fx1", "fy1", "cx1", "cy1"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"StereoRig: '{name}' must be a finite number, got {value!r}")
            if name[0] == "f" and value <= 0:
                raise ValueError(f"StereoRig: focal length '{name}' must be positive, got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"StereoRig: '{name}' must be a positive integer, got {value!r}")
        object.__setattr__(self, "T_body_cam0", _rigid(self.T_body_cam0, "T_body_cam0"))
        object.__setattr__(self, "T_body_cam1", _rigid(self.T_body_cam1, "T_body_cam1"))

    @classmethod
    def euroc(cls) -> "StereoRig":
        """The EuRoC VI-sensor (752x480; intrinsics and T_BS of cam0/cam1, no distortion)."""
        cam0, cam1 = euroc_cameras()
        return cls(*cam0.intrinsics, *cam1.intrinsics, cam0.T_body_cam, cam1.T_body_cam, *cam0.resolution)

    def camera(self, cam_index: int) -> tuple[float, float, float, float, np.ndarray]:
        """(fx, fy, cx, cy, T_body_cam) of camera 0 (left) or 1 (right)."""
        if cam_index == 0:
            return self.fx0, self.fy0, self.cx0, self.cy0, self.T_body_cam0
        if cam_index == 1:
            return self.fx1, self.fy1, self.cx1, self.cy1, self.T_body_cam1
        raise ValueError(f"StereoRig: cam_index must be 0 or 1, got {cam_index!r}")

    def project(self, cam_index: int, p_world, T_world_body) -> tuple[np.ndarray, np.ndarray]:
        """Pixels of world points in camera ``cam_index``.

        p_world (..., 3) [m] and T_world_body (..., 4, 4) broadcast against each other.
        Returns uv (..., 2) [px] (NaN where the point is not in front) and in_front (...)
        (camera depth > MIN_DEPTH_M).
        """
        fx, fy, cx, cy, T_body_cam = self.camera(cam_index)
        T_world_cam = np.asarray(T_world_body, dtype=np.float64) @ T_body_cam
        d = np.asarray(p_world, dtype=np.float64) - T_world_cam[..., :3, 3]
        p_cam = np.einsum("...ji,...j->...i", T_world_cam[..., :3, :3], d)  # R_world_cam^T d
        z = p_cam[..., 2]
        in_front = z > MIN_DEPTH_M
        z = np.where(in_front, z, np.nan)
        uv = np.stack([fx * p_cam[..., 0] / z + cx, fy * p_cam[..., 1] / z + cy], axis=-1)
        return uv, in_front

    def in_image(self, uv, border_px: float = 0.0) -> np.ndarray:
        """(...) bool: pixel centres uv (..., 2) lie at least ``border_px`` inside the image."""
        uv = np.asarray(uv, dtype=np.float64)
        u, v = uv[..., 0], uv[..., 1]
        return ((u >= border_px) & (u <= self.width - 1 - border_px)
                & (v >= border_px) & (v <= self.height - 1 - border_px))


@dataclass
class WindowObservations:
    """M stereo observations, sorted by landmark then keyframe.

    keyframe (M,) int64 and landmark (M,) int64 indices; uv_left (M, 2), uv_right (M, 2)
    [px]: undistorted pinhole pixels in cam0 and cam1.
    """

    keyframe: np.ndarray
    landmark: np.ndarray
    uv_left: np.ndarray
    uv_right: np.ndarray

    def __len__(self) -> int:
        return len(self.keyframe)


class ImuSegment(NamedTuple):
    """Raw IMU samples from keyframe k (inclusive) to k+1 (exclusive); sample i is held
    over its interval dt_s[i] [s]. gyro (n, 3) [rad/s], accel (n, 3) [m/s^2], body frame."""

    dt_s: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray


@dataclass
class WindowProblem:
    """A synthetic window: N keyframes, L landmarks, their observations and the IMU data.

    timestamps_ns (N,) int64; states_true: N :class:`KeyframeState` (true biases at the
    keyframe stamps); landmarks_true (L, 3) world positions [m]; imu_segments: N - 1
    :class:`ImuSegment`; imu_params: noise model of the IMU data; pixel_sigma: std of the
    added pixel noise [px] (0 = perfect observations).
    """

    rig: StereoRig
    timestamps_ns: np.ndarray
    states_true: list[KeyframeState]
    landmarks_true: np.ndarray
    observations: WindowObservations
    imu_segments: list[ImuSegment]
    imu_params: ImuParams
    pixel_sigma: float

    def poses_true(self) -> np.ndarray:
        """(N, 4, 4) true T_world_body of the keyframes."""
        return pose_matrices(self.states_true)

    def preintegrations(self) -> list[ImuPreintegration]:
        """N - 1 preintegrations; segment k is integrated at keyframe k's true biases."""
        out = []
        for state, segment in zip(self.states_true, self.imu_segments):
            pim = ImuPreintegration(self.imu_params, ImuBias(state.bg, state.ba))
            pim.integrate_batch(*segment)
            out.append(pim)
        return out


def pose_matrices(states: list[KeyframeState]) -> np.ndarray:
    """(N, 4, 4) T_world_body of keyframe states."""
    T = np.tile(np.eye(4), (len(states), 1, 1))
    for T_k, state in zip(T, states):
        T_k[:3, :3] = state.R
        T_k[:3, 3] = state.p
    return T


def _grid_ns(value_s: float, step_ns: int, name: str) -> int:
    """``value_s`` [s] as int64 ns; it must fall on the IMU sample grid."""
    value_ns = round(value_s * 1e9)
    if value_ns % step_ns or abs(value_ns - value_s * 1e9) > 1.0:
        raise ValueError(f"make_window_problem: {name} must be a multiple of the IMU period "
                         f"{step_ns * 1e-9:g} s, got {value_s!r}")
    return value_ns


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"make_window_problem: {message}")


def _place_landmark(rig: StereoRig, poses: np.ndarray, anchor: int, rng: np.random.Generator) -> np.ndarray:
    """World point [m] seen by both cameras of every pose (K, 4, 4): back-projected from a
    random cam0 pixel and depth of ``poses[anchor]``."""
    fx, fy, cx, cy, T_body_cam0 = rig.camera(0)
    T_world_cam0 = poses[anchor] @ T_body_cam0
    b = IMAGE_BORDER_PX
    for _ in range(_MAX_BATCHES):
        u = rng.uniform(b, rig.width - 1 - b, _CANDIDATES)
        v = rng.uniform(b, rig.height - 1 - b, _CANDIDATES)
        depth = rng.uniform(*LANDMARK_DEPTH_M, _CANDIDATES)
        p_cam = np.stack([(u - cx) / fx * depth, (v - cy) / fy * depth, depth], axis=1)
        p_world = p_cam @ T_world_cam0[:3, :3].T + T_world_cam0[:3, 3]
        seen = np.ones(_CANDIDATES, dtype=bool)
        for cam in (0, 1):
            uv, in_front = rig.project(cam, p_world[None], poses[:, None])  # (K, candidates)
            seen &= np.all(in_front & rig.in_image(uv, IMAGE_BORDER_PX), axis=0)
        if seen.any():
            return p_world[np.argmax(seen)]
    raise ValueError(f"make_window_problem: found no landmark visible in {len(poses)} consecutive keyframes; "
                     "lower obs_per_landmark or keyframe_interval_s")


def _landmark_tracks(rig: StereoRig, poses: np.ndarray, n_landmarks: int, obs_per_landmark: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Landmarks (L, 3) [m] and the consecutive keyframe indices that observe each."""
    n_keyframes = len(poses)
    seen_count = np.zeros(n_keyframes, dtype=np.int64)
    landmarks = np.empty((n_landmarks, 3))
    tracks = []
    for j in range(n_landmarks):
        spread = rng.integers(-TRACK_LENGTH_SPREAD, TRACK_LENGTH_SPREAD + 1)
        length = int(np.clip(obs_per_landmark + spread, 2, n_keyframes))
        neediest = rng.choice(np.flatnonzero(seen_count == seen_count.min()))
        first = rng.integers(max(0, neediest - length + 1), min(neediest, n_keyframes - length) + 1)
        track = np.arange(first, first + length)
        landmarks[j] = _place_landmark(rig, poses[track], length // 2, rng)
        seen_count[track] += 1
        tracks.append(track)
    return landmarks, tracks


def make_window_problem(n_keyframes: int = 10, n_landmarks: int = 150, obs_per_landmark: int = 5,
                        keyframe_interval_s: float = 0.25, pixel_sigma: float = 0.0,
                        imu_noise_scale: float = 0.0, seed: int = 0, start_s: float = 10.0) -> WindowProblem:
    """A window of ``n_keyframes`` keyframes every ``keyframe_interval_s`` seconds from
    ``start_s`` seconds into the default trajectory (both multiples of the 5 ms IMU period).

    Each landmark is tracked over a run of consecutive keyframes of length
    ``obs_per_landmark + U{-2..2}`` (clipped to [2, n_keyframes]), placed on the keyframes
    with the fewest observations so far, so that observations spread evenly. Its position
    is back-projected from a random pixel at 2-8 m depth in the run's middle keyframe,
    redrawn until both cameras of every keyframe of the run see it. Observations are exact
    projections plus N(0, pixel_sigma^2) per coordinate. IMU data: EuRoC noise densities
    times ``imu_noise_scale`` (0 = noise-free with zero, constant biases). Geometry, pixel
    noise and IMU noise use independent streams of ``seed``: changing ``pixel_sigma`` only
    rescales the same noise.
    """
    for name, value in (("n_keyframes", n_keyframes), ("n_landmarks", n_landmarks),
                        ("obs_per_landmark", obs_per_landmark), ("seed", seed)):
        _check(isinstance(value, (int, np.integer)) and not isinstance(value, bool),
               f"{name} must be an integer, got {value!r}")
    _check(n_keyframes >= 2 and n_landmarks >= 1 and obs_per_landmark >= 2,
           "need n_keyframes >= 2, n_landmarks >= 1 and obs_per_landmark >= 2")
    for name, value in (("pixel_sigma", pixel_sigma), ("imu_noise_scale", imu_noise_scale),
                        ("keyframe_interval_s", keyframe_interval_s), ("start_s", start_s)):
        _check(math.isfinite(value) and value >= 0, f"{name} must be finite and >= 0, got {value!r}")
    _check(keyframe_interval_s > 0, "keyframe_interval_s must be positive")

    imu_config = ImuSimConfig(noise_scale=float(imu_noise_scale))
    step_ns = imu_config.step_ns
    interval_ns = _grid_ns(keyframe_interval_s, step_ns, "keyframe_interval_s")
    offsets_ns = _grid_ns(start_s, step_ns, "start_s") + interval_ns * np.arange(n_keyframes, dtype=np.int64)
    trajectory = default_trajectory(duration_s=int(offsets_ns[-1]) * 1e-9)
    calibration = euroc_imu()
    imu = simulate_imu(trajectory, calibration, imu_config, seed)
    truth = trajectory.evaluate(offsets_ns * 1e-9)
    index = offsets_ns // step_ns  # IMU samples at the keyframe stamps
    states = [KeyframeState(truth.R_world_body[k], truth.p_world_body[k], truth.v_world[k],
                            imu.gyro_bias[i], imu.accel_bias[i]) for k, i in enumerate(index)]
    segments = [ImuSegment(np.diff(imu.timestamps_ns[i0:i1 + 1]) * 1e-9, imu.gyro[i0:i1].copy(),
                           imu.accel[i0:i1].copy()) for i0, i1 in zip(index[:-1], index[1:])]
    # Noise-free data (scale 0) still needs finite IMU weights: the nominal EuRoC ones.
    scale = imu_noise_scale or 1.0
    imu_params = ImuParams(gyro_noise_density=scale * calibration.gyro_noise_density,
                           accel_noise_density=scale * calibration.accel_noise_density,
                           gyro_random_walk=scale * calibration.gyro_random_walk,
                           accel_random_walk=scale * calibration.accel_random_walk,
                           gravity=imu_config.gravity_world)

    rig = StereoRig.euroc()
    poses = pose_matrices(states)
    geometry_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    landmarks, tracks = _landmark_tracks(rig, poses, n_landmarks, obs_per_landmark, geometry_rng)
    keyframe = np.concatenate(tracks)
    landmark = np.repeat(np.arange(n_landmarks), [len(t) for t in tracks])
    uv = [rig.project(cam, landmarks[landmark], poses[keyframe])[0] for cam in (0, 1)]
    noise = pixel_sigma * noise_rng.standard_normal((2, len(keyframe), 2))
    observations = WindowObservations(keyframe, landmark, uv[0] + noise[0], uv[1] + noise[1])
    return WindowProblem(rig, trajectory.start_ns + offsets_ns, states, landmarks, observations, segments,
                         imu_params, float(pixel_sigma))


def perturb_states(states: list[KeyframeState], rng, pos_m: float = 0.3, rot_deg: float = 5.0,
                   vel_mps: float = 0.2, gyro_bias: float = 0.01, accel_bias: float = 0.1) -> list[KeyframeState]:
    """Copies of ``states``, each moved by exactly the given magnitudes in independent,
    uniformly random directions: R Exp(dtheta) with |dtheta| = rot_deg [deg], p + dp with
    |dp| = pos_m [m], v + dv (|dv| = vel_mps [m/s]), bg + dbg (|dbg| = gyro_bias [rad/s]),
    ba + dba (|dba| = accel_bias [m/s^2]). ``rng``: a numpy Generator or a seed.
    """
    parts = ((ROT, math.radians(rot_deg)), (POS, pos_m), (VEL, vel_mps), (BG, gyro_bias), (BA, accel_bias))
    for _, magnitude in parts:
        if not (math.isfinite(magnitude) and magnitude >= 0):
            raise ValueError(f"perturb_states: magnitudes must be finite and >= 0, got {magnitude!r}")
    rng = np.random.default_rng(rng)
    out = []
    for state in states:
        delta = np.empty(ERROR_DIM)
        for part, magnitude in parts:
            direction = rng.standard_normal(3)
            delta[part] = magnitude * direction / np.linalg.norm(direction)
        out.append(retract(state, delta))
    return out
