"""Sensor simulation in steps, for closed loops where the trajectory grows as it is flown.

:class:`OnlineSensorSimulator` produces the same messages as a synthesised EuRoC-format
sequence (``generate_sequence``): 200 Hz IMU samples with the calibration's white noise
and bias random walks, and stereo frames rendered at every 10th IMU instant, stamped in
int64 ns on the grid ``start_ns + k * step_ns``. It keeps the bias state and random
generators between calls, so any split of ``[0, T]`` into steps gives identical output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..calibration import euroc_cameras, euroc_imu
from ..messages import CameraFrame, ImuSample, StereoFrame
from .imu import ImuSimConfig, ideal_readings, imu_rotation
from .render import StereoRenderer
from .trajectory import BodyTrajectory
from .world import HallWorld


@dataclass(frozen=True)
class TruePose:
    """Ground truth at one IMU instant: T_world_body (4, 4), v_world [m/s] (3,)."""

    timestamp_ns: int
    T_world_body: np.ndarray
    v_world: np.ndarray


class OnlineSensorSimulator:
    """Renders stereo and IMU from ``world`` along ``trajectory`` up to a requested time.

    camera_rate_hz must divide the IMU rate. ``noise_scale`` scales the EuRoC noise
    densities and random walks (0: noise-free); ``image_noise_sigma`` is the renderer's
    pixel noise [grey levels].
    """

    def __init__(self, world: HallWorld, trajectory: BodyTrajectory, seed: int = 0,
                 imu_rate_hz: float = 200.0, camera_rate_hz: float = 20.0, noise_scale: float = 1.0,
                 image_noise_sigma: float = 1.0, renderer: str = "boxes"):
        ratio = imu_rate_hz / camera_rate_hz
        if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
            raise ValueError(f"camera rate {camera_rate_hz} Hz must divide the IMU rate {imu_rate_hz} Hz")
        self.trajectory = trajectory
        self.cameras = tuple(replace(c, rate_hz=camera_rate_hz) for c in euroc_cameras())
        self.imu_calibration = replace(euroc_imu(), rate_hz=imu_rate_hz)
        self.config = ImuSimConfig(rate_hz=imu_rate_hz, noise_scale=noise_scale)
        self.frame_every = int(round(ratio))
        self.renderer = StereoRenderer(world, self.cameras, image_noise_sigma=image_noise_sigma, backend=renderer)
        imu_seq, image_seq = np.random.SeedSequence(seed).spawn(2)
        self._imu_rng, self._image_rng = np.random.default_rng(imu_seq), np.random.default_rng(image_seq)
        self._R_imu_body = imu_rotation(self.imu_calibration)
        self._gyro_bias = np.asarray(self.config.initial_gyro_bias, dtype=np.float64)
        self._accel_bias = np.asarray(self.config.initial_accel_bias, dtype=np.float64)
        self._next_k = 0
        self.last_truth: TruePose | None = None

    @property
    def step_ns(self) -> int:
        return self.config.step_ns

    @property
    def time_ns(self) -> int:
        """Stamp of the next sample to be produced [ns]."""
        return self.trajectory.start_ns + self._next_k * self.step_ns

    def advance(self, until_ns: int) -> list:
        """ImuSample and StereoFrame messages (time order; a frame follows the IMU sample of
        its instant) for every grid instant ``<= until_ns`` not produced yet, clipped to
        the trajectory's current end."""
        end_ns = min(int(until_ns), self.trajectory.start_ns + int(self.trajectory.duration_s * 1e9))
        last_k = (end_ns - self.trajectory.start_ns) // self.step_ns
        if last_k < self._next_k:
            return []
        k = np.arange(self._next_k, last_k + 1, dtype=np.int64)
        self._next_k = int(last_k) + 1
        state = self.trajectory.evaluate(k * self.step_ns * 1e-9)
        gyro, accel = self._add_noise(*ideal_readings(state, self._R_imu_body, self.config.gravity_world))
        out: list = []
        for i, kk in enumerate(k):
            stamp = self.trajectory.start_ns + int(kk) * self.step_ns
            out.append(ImuSample(stamp, gyro[i], accel[i]))
            if kk % self.frame_every == 0:
                T = np.eye(4)
                T[:3, :3], T[:3, 3] = state.R_world_body[i], state.p_world_body[i]
                left, right = self.renderer.render(T, rng=self._image_rng)
                out.append(StereoFrame(stamp, CameraFrame.from_array(stamp, "cam0", left),
                                       CameraFrame.from_array(stamp, "cam1", right)))
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = state.R_world_body[-1], state.p_world_body[-1]
        self.last_truth = TruePose(self.trajectory.start_ns + int(k[-1]) * self.step_ns, T, state.v_world[-1].copy())
        return out

    def _add_noise(self, gyro: np.ndarray, accel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """White noise plus bias random walks continued from the previous call."""
        s, imu, n = self.config.noise_scale, self.imu_calibration, len(gyro)
        dt = self.step_ns * 1e-9
        z = self._imu_rng.standard_normal((n, 12))  # one row per sample: any split draws the same rows
        # running sums seeded with the last bias: the same additions in the same order for any split
        bias_g = np.cumsum(np.vstack([self._gyro_bias, s * imu.gyro_random_walk * math.sqrt(dt) * z[:, 0:3]]), 0)[1:]
        bias_a = np.cumsum(np.vstack([self._accel_bias, s * imu.accel_random_walk * math.sqrt(dt) * z[:, 3:6]]), 0)[1:]
        self._gyro_bias, self._accel_bias = bias_g[-1], bias_a[-1]
        noise_g = s * imu.gyro_noise_density / math.sqrt(dt) * z[:, 6:9]
        noise_a = s * imu.accel_noise_density / math.sqrt(dt) * z[:, 9:12]
        return gyro + bias_g + noise_g, accel + bias_a + noise_a
