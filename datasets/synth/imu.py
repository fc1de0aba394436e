"""IMU simulation from a body trajectory: gyro and accelerometer with white noise and
random-walk biases (the model of Forster et al., T-RO 2017, Sec. IV; EuRoC/Kalibr units).

    gyro_k  = omega_imu(t_k) + b_g,k + n_g,k
    accel_k = R_world_imu(t_k)^T (a_world(t_k) - g_world) + b_a,k + n_a,k

Continuous densities become discrete ones at dt = 1 / rate: white noise has std
sigma_c / sqrt(dt), and each bias step b_{k+1} = b_k + sigma_rw * sqrt(dt) * N(0, 1).
Both are multiplied by ``noise_scale``. With ``vibration.enabled`` a fitted rotor-vibration
process (datasets/synth/vibration.py, docs/imu_vibration.md) is added to both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..calibration import ImuCalibration
from ..configuration import ConfigError, ConfigMixin
from .trajectory import BodyTrajectory, TrajectorySample
from .vibration import VibrationConfig, simulate_vibration

_VECTOR_FIELDS = ("gravity_world", "initial_gyro_bias", "initial_accel_bias")


@dataclass(frozen=True)
class ImuSimConfig(ConfigMixin):
    """IMU simulation options.

    rate_hz: sample rate [Hz]; samples are ``round(1e9 / rate_hz)`` ns apart.
    noise_scale: multiplies the calibration's noise densities and random walks
        (0 = noise-free: no white noise and constant biases).
    gravity_world: gravity vector in the world frame [m/s^2].
    initial_gyro_bias [rad/s], initial_accel_bias [m/s^2]: biases at t = 0, IMU frame.
    vibration: rotor-vibration model (off by default: the idealised datasheet IMU).
    """

    rate_hz: float = 200.0
    noise_scale: float = 1.0
    gravity_world: tuple[float, float, float] = (0.0, 0.0, -9.81)
    initial_gyro_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)
    initial_accel_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)
    vibration: VibrationConfig = VibrationConfig(enabled=False)

    def __post_init__(self) -> None:
        if isinstance(self.vibration, dict):
            object.__setattr__(self, "vibration", VibrationConfig.from_dict(self.vibration))
        if not isinstance(self.vibration, VibrationConfig):
            raise ConfigError(f"ImuSimConfig: 'vibration' must be a VibrationConfig, got {self.vibration!r}")
        for name in ("rate_hz", "noise_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"ImuSimConfig: '{name}' must be a finite number, got {value!r}")
        if not 0 < self.rate_hz <= 1e6:
            raise ValueError(f"ImuSimConfig: 'rate_hz' must be in (0, 1e6] Hz, got {self.rate_hz!r}")
        if self.noise_scale < 0:
            raise ValueError(f"ImuSimConfig: 'noise_scale' must be >= 0, got {self.noise_scale!r}")
        object.__setattr__(self, "rate_hz", float(self.rate_hz))
        object.__setattr__(self, "noise_scale", float(self.noise_scale))
        for name in _VECTOR_FIELDS:
            value = getattr(self, name)
            try:
                vec = tuple(float(v) for v in value)
            except (TypeError, ValueError):
                vec = ()
            if len(vec) != 3 or not all(math.isfinite(v) for v in vec):
                raise ValueError(f"ImuSimConfig: '{name}' must be 3 finite numbers, got {value!r}")
            object.__setattr__(self, name, vec)

    @property
    def step_ns(self) -> int:
        """Sample spacing [ns]."""
        return int(round(1e9 / self.rate_hz))



@dataclass(frozen=True)
class ImuSeries:
    """Simulated IMU samples in the IMU frame.

    timestamps_ns int64 (N,); gyro (N, 3) [rad/s]; accel (N, 3) [m/s^2] (specific force);
    gyro_bias (N, 3) [rad/s] and accel_bias (N, 3) [m/s^2]: the true biases in each sample.
    """

    timestamps_ns: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray
    gyro_bias: np.ndarray
    accel_bias: np.ndarray


def _random_walk(start: tuple[float, float, float], sigma: float, n: int, rng: np.random.Generator) -> np.ndarray:
    steps = sigma * rng.standard_normal((n - 1, 3))
    return np.asarray(start) + np.vstack([np.zeros((1, 3)), np.cumsum(steps, axis=0)])


def imu_rotation(imu: ImuCalibration) -> np.ndarray:
    """R_imu_body (3, 3) of ``imu.T_body_imu``; a lever arm is rejected, since the specific
    force at an offset point needs angular acceleration."""
    T = np.asarray(imu.T_body_imu, dtype=np.float64)
    if np.linalg.norm(T[:3, 3]) > 1e-9:
        raise ValueError(f"simulate_imu: IMU '{imu.name}' has a lever arm {T[:3, 3]} m from the body "
                         "origin; only a rotated mounting is supported")
    return T[:3, :3].T


def ideal_readings(state: TrajectorySample, R_imu_body: np.ndarray, gravity_world) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free gyro [rad/s] and accelerometer (specific force) [m/s^2] readings (N, 3) in
    the IMU frame for the body states ``state``."""
    f_body = np.einsum("nji,nj->ni", state.R_world_body, state.a_world - np.asarray(gravity_world))
    return state.omega_body @ R_imu_body.T, f_body @ R_imu_body.T


def _vibration(traj: BodyTrajectory, speed: np.ndarray, dt: float, config: ImuSimConfig, seed: int) -> np.ndarray:
    """Vibration (N, 6) at the N samples; regimes are decided on the trajectory's whole source
    when it is a cut (a twin of part of a sequence), so a handheld stretch stays rotors-off."""
    source = traj.source_speed()
    if source is None:
        return simulate_vibration(speed, dt, config.vibration, seed)
    t_src, v_src = source
    first = int(math.floor(min(t_src[0], 0.0) / dt))
    last = int(math.ceil(max(t_src[-1], (len(speed) - 1) * dt) / dt))
    grid = np.arange(first, last + 1) * dt
    full = np.interp(grid, t_src, v_src)
    inside = (grid >= 0) & (grid <= (len(speed) - 1) * dt + 1e-12)
    full[np.flatnonzero(inside)[:len(speed)]] = speed  # the twin's own (spline) speed where it exists
    return simulate_vibration(full, dt, config.vibration, seed)[-first:-first + len(speed)]


def simulate_imu(traj: BodyTrajectory, imu: ImuCalibration, config: ImuSimConfig, seed: int) -> ImuSeries:
    """IMU samples at ``traj.start_ns + k * config.step_ns`` covering [0, traj.duration_s].

    Noise densities come from ``imu`` (its ``rate_hz`` is not used: ``config.rate_hz``
    sets the rate). ``imu.T_body_imu`` may rotate the IMU w.r.t. the body; a lever arm
    is rejected, since the specific force at an offset point needs angular acceleration.
    The same ``seed`` always gives the same series (``np.random.default_rng(seed)``);
    vibration, when enabled, draws from its own stream, so the noise and bias draws do not
    change when it is switched on.
    """
    R_imu_body = imu_rotation(imu)
    step_ns = config.step_ns
    n = int(round(traj.duration_s * 1e9)) // step_ns + 1
    k = np.arange(n, dtype=np.int64)
    state = traj.evaluate(k * step_ns * 1e-9)

    gyro, accel = ideal_readings(state, R_imu_body, config.gravity_world)

    dt = step_ns * 1e-9
    s = config.noise_scale
    rng = np.random.default_rng(seed)
    gyro_bias = _random_walk(config.initial_gyro_bias, s * imu.gyro_random_walk * math.sqrt(dt), n, rng)
    accel_bias = _random_walk(config.initial_accel_bias, s * imu.accel_random_walk * math.sqrt(dt), n, rng)
    gyro_noise = s * imu.gyro_noise_density / math.sqrt(dt) * rng.standard_normal((n, 3))
    accel_noise = s * imu.accel_noise_density / math.sqrt(dt) * rng.standard_normal((n, 3))
    if config.vibration.enabled:
        vib = _vibration(traj, np.linalg.norm(state.v_world, axis=1), dt, config, seed)
        gyro = gyro + vib[:, :3]  # fitted in the IMU frame, as the readings are
        accel = accel + vib[:, 3:]
    return ImuSeries(traj.start_ns + k * step_ns, gyro + gyro_bias + gyro_noise,
                     accel + accel_bias + accel_noise, gyro_bias, accel_bias)
