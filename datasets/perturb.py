"""Hard conditions for VIO: a deterministic, seeded perturbation of an opened sequence.

:class:`PerturbedSequence` wraps any reader built on
:class:`datasets.stream.StereoInertialSequence` (EuRoC folder or zip, ROS bag) and offers
the same interface (``messages()``, ``cam0``, ``cam1``, ``imu``, ``stereo_timestamps_ns``,
``groundtruth``, ``root``, ``summary()``, ...). It changes what the sensors report, never
the truth: ground truth, calibration and the IMU time base stay those of the sequence.

Perturbations (all off by default; see :class:`PerturbConfig`):

1. **IMU noise x k.** White noise and bias random walks are added so that the total
   densities are ``k`` times the calibration's: independent Gaussian processes add in
   variance, so the added density is ``sigma * sqrt(k^2 - 1)``. Discretised with the
   sequence's sample interval ``dt`` as the IMU model does (Forster et al., T-RO 2017,
   Sec. IV; Kalibr's convention): white noise ``sigma_c / sqrt(dt)`` per sample, bias
   step ``sigma_rw * sqrt(dt)`` per sample. The estimator still reads the calibration's
   densities, so it trusts the IMU ``k`` times too much (``k^2`` in variance).
2. **Dropped frames.** ``round(drop_fraction * N)`` stereo pairs, drawn without
   replacement (the first pair is always kept), disappear from the stream.
3. **Camera-IMU time offset.** Every image stamp becomes ``t_capture + offset``: the
   images still show the world at ``t_capture`` while the IMU keeps true time (the
   convention of ``SynthConfig.time_offset_ms``).
4. **Exposure flicker.** Each stereo pair gets a gain drawn uniformly from
   ``flicker_gain`` and an offset uniformly from ``+-flicker_offset`` grey levels:
   ``out = clip(round(gain * image + offset), 0, 255)``. Both cameras get the same
   gain and offset (the VI-sensor's cameras share one exposure trigger), unless
   ``flicker_independent``, which draws them per camera.
5. **Featureless wall.** For ``wall_duration_s`` from ``wall_start_s`` after the first
   stereo pair, both images are replaced by a uniform grey ``wall_grey`` plus Gaussian
   sensor noise of ``wall_noise_sigma`` grey levels, independent per pixel and camera.
   This models a textureless wall filling the whole view (the camera too close to a
   blank surface to see anything else); the IMU keeps measuring the true motion.

Randomness: every perturbation draws from its own stream of ``SeedSequence(seed)``;
per-frame draws (flicker, wall noise) are seeded by the frame's original stamp, so an
image is the same whatever order, or subset, the frames are read in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import yaml

from .configuration import ConfigError, ConfigMixin
from .errors import DatasetError
from .messages import CameraFrame
from .stream import CAMERAS, StereoInertialSequence

# Stream numbers of the SeedSequence children (one per perturbation).
_IMU_STREAM, _DROP_STREAM, _FLICKER_STREAM, _WALL_STREAM = range(4)


@dataclass(frozen=True)
class PerturbConfig(ConfigMixin):
    """What to perturb; the defaults change nothing.

    seed: seeds every random draw (non-negative).
    imu_noise_factor: k >= 1; total IMU white-noise and bias-walk densities become k times
        the calibration's (1 = unchanged).
    drop_fraction: fraction in [0, 1) of stereo pairs removed.
    time_offset_ms: image stamp minus true capture time [ms], within +-1000 ms.
    flicker_gain: (low, high) range of the per-frame exposure gain, 0 < low <= high.
    flicker_offset: per-frame brightness offset drawn from [-x, x] [grey levels], x >= 0.
    flicker_independent: draw gain and offset per camera instead of per stereo pair.
    wall_start_s: start of the featureless-wall window after the first stereo pair [s];
        None = no wall.
    wall_duration_s: length of the wall window [s].
    wall_grey: grey level of the wall, 0..255.
    wall_noise_sigma: std of the wall images' sensor noise [grey levels].
    """

    seed: int = 0
    imu_noise_factor: float = 1.0
    drop_fraction: float = 0.0
    time_offset_ms: float = 0.0
    flicker_gain: tuple[float, float] = (1.0, 1.0)
    flicker_offset: float = 0.0
    flicker_independent: bool = False
    wall_start_s: float | None = None
    wall_duration_s: float = 3.0
    wall_grey: int = 128
    wall_noise_sigma: float = 2.0

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise ConfigError(f"perturb config: '{name}' {why}, got {getattr(self, name)!r}")

        if self.seed < 0:
            bad("seed", "must be >= 0")
        if not 1.0 <= self.imu_noise_factor <= 1e3:
            bad("imu_noise_factor", "must be in [1, 1000]")
        if not 0.0 <= self.drop_fraction < 1.0:
            bad("drop_fraction", "must be in [0, 1)")
        if not abs(self.time_offset_ms) <= 1000.0:
            bad("time_offset_ms", "must be within +-1000 ms")
        low, high = self.flicker_gain
        if not (math.isfinite(low) and math.isfinite(high) and 0.0 < low <= high <= 100.0):
            bad("flicker_gain", "must be (low, high) with 0 < low <= high <= 100")
        if not 0.0 <= self.flicker_offset <= 255.0:
            bad("flicker_offset", "must be in [0, 255] grey levels")
        if self.wall_start_s is not None and not 0.0 <= self.wall_start_s < 1e6:
            bad("wall_start_s", "must be >= 0 s (or null for no wall)")
        if not 0.0 < self.wall_duration_s < 1e6:
            bad("wall_duration_s", "must be positive")
        if not 0 <= self.wall_grey <= 255:
            bad("wall_grey", "must be in 0..255")
        if not 0.0 <= self.wall_noise_sigma <= 255.0:
            bad("wall_noise_sigma", "must be in [0, 255] grey levels")

    @property
    def time_offset_ns(self) -> int:
        return round(self.time_offset_ms * 1e6)

    @property
    def flickers(self) -> bool:
        return self.flicker_gain != (1.0, 1.0) or self.flicker_offset > 0

    @classmethod
    def from_cli(cls, items: list[str]) -> PerturbConfig:
        """From ``navion replay --perturb``: one yaml file, or ``KEY=VALUE`` pairs whose
        values are yaml scalars or lists (``drop_fraction=0.05 flicker_gain=[0.6,1.4]``)."""
        if len(items) == 1 and "=" not in items[0]:
            return cls.from_yaml(items[0])
        data = {}
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--perturb: expected KEY=VALUE or one yaml file, got {item!r}")
            try:
                data[key.strip()] = yaml.safe_load(value)
            except yaml.YAMLError:
                raise ConfigError(f"--perturb: cannot read the value of {key.strip()!r}: {value!r}") from None
        return cls.from_dict(data, source="--perturb")


def _rng(seed: int, stream: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, *key]))


def _wall_image(height: int, width: int, config: PerturbConfig, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0.0, config.wall_noise_sigma, (height, width)) if config.wall_noise_sigma else 0.0
    return np.clip(np.rint(config.wall_grey + noise), 0, 255).astype(np.uint8)


def apply_gain(image: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """``clip(round(gain * image + offset), 0, 255)`` as uint8."""
    return np.clip(np.rint(image.astype(np.float32) * np.float32(gain) + np.float32(offset)),
                   0, 255).astype(np.uint8)


class PerturbedSequence(StereoInertialSequence):
    """``seq`` as the sensors would report it under ``config`` (see the module docstring).

    ``dropped_ns`` holds the original stamps of the dropped stereo pairs and
    ``wall_window_ns`` the (start, end) original-time window of the wall (or None).
    Attributes the wrapper does not define are read from ``seq``.
    """

    def __init__(self, seq, config: PerturbConfig):
        if not isinstance(seq, StereoInertialSequence):
            raise DatasetError(f"cannot perturb a {type(seq).__name__}: expected an opened sequence")
        self._base = seq
        self.config = config
        self.root = seq.root
        self.cam0, self.cam1, self.imu = seq.cam0, seq.cam1, seq.imu
        self.warnings = seq.warnings
        self.groundtruth = getattr(seq, "groundtruth", None)
        self._offset_ns = config.time_offset_ns
        self.imu_timestamps_ns = seq.imu_timestamps_ns
        self.imu_gyro, self.imu_accel = self._noisy_imu()
        stereo = np.asarray(seq.stereo_timestamps_ns, dtype=np.int64)
        keep = self._kept_pairs(stereo)
        self.dropped_ns = _frozen(stereo[~keep])
        self.stereo_timestamps_ns = _frozen(stereo[keep] + self._offset_ns)
        self._camera_ns = {cam: _frozen(np.setdiff1d(seq.camera_timestamps_ns(cam), self.dropped_ns)
                                        + self._offset_ns) for cam in CAMERAS}
        if config.wall_start_s is None or len(stereo) == 0:
            self.wall_window_ns = None
        else:
            start = int(stereo[0]) + round(config.wall_start_s * 1e9)
            self.wall_window_ns = (start, start + round(config.wall_duration_s * 1e9))

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "_base":
            raise AttributeError(name)
        return getattr(self._base, name)

    # -- IMU ------------------------------------------------------------------------------------
    def _noisy_imu(self) -> tuple[np.ndarray, np.ndarray]:
        """Gyro and accel with white noise and bias walks added (module docstring, item 1)."""
        base = self._base
        k = self.config.imu_noise_factor
        t = np.asarray(base.imu_timestamps_ns, dtype=np.int64)
        if k == 1.0 or len(t) < 2:
            return base.imu_gyro, base.imu_accel
        dt_s = float(np.median(np.diff(t))) * 1e-9
        steps = np.diff(t).astype(np.float64) * 1e-9  # bias walk over the actual intervals
        extra = math.sqrt(k * k - 1.0)
        rng = _rng(self.config.seed, _IMU_STREAM)
        out = []
        for values, white, walk in ((base.imu_gyro, self.imu.gyro_noise_density, self.imu.gyro_random_walk),
                                    (base.imu_accel, self.imu.accel_noise_density, self.imu.accel_random_walk)):
            noise = rng.standard_normal(values.shape) * (extra * white / math.sqrt(dt_s))
            increments = rng.standard_normal((len(steps), 3)) * (extra * walk * np.sqrt(steps))[:, None]
            bias = np.vstack([np.zeros((1, 3)), np.cumsum(increments, axis=0)])
            out.append(_frozen(values + noise + bias))
        return out[0], out[1]

    # -- frames ---------------------------------------------------------------------------------
    def _kept_pairs(self, stereo: np.ndarray) -> np.ndarray:
        keep = np.ones(len(stereo), dtype=bool)
        n_drop = min(round(self.config.drop_fraction * len(stereo)), max(len(stereo) - 1, 0))
        if n_drop:
            rng = _rng(self.config.seed, _DROP_STREAM)
            keep[1 + rng.choice(len(stereo) - 1, size=n_drop, replace=False)] = False
        return keep

    def in_wall(self, original_ns: int) -> bool:
        """Whether the frame captured at ``original_ns`` shows the wall."""
        w = self.wall_window_ns
        return w is not None and w[0] <= original_ns < w[1]

    def flicker(self, camera: str, original_ns: int) -> tuple[float, float]:
        """(gain, offset) of ``camera``'s frame captured at ``original_ns``."""
        c = self.config
        if not c.flickers:
            return 1.0, 0.0
        key = (int(original_ns), CAMERAS.index(camera)) if c.flicker_independent else (int(original_ns),)
        rng = _rng(c.seed, _FLICKER_STREAM, *key)
        gain = rng.uniform(*c.flicker_gain)
        return float(gain), float(rng.uniform(-c.flicker_offset, c.flicker_offset))

    def _image(self, camera: str, original_ns: int) -> np.ndarray:
        cal = self.cam0 if camera == "cam0" else self.cam1
        if self.in_wall(original_ns):
            rng = _rng(self.config.seed, _WALL_STREAM, int(original_ns), CAMERAS.index(camera))
            return _wall_image(cal.height, cal.width, self.config, rng)
        image = self._base._frame(camera, original_ns).image
        gain, offset = self.flicker(camera, original_ns)
        return image if (gain, offset) == (1.0, 0.0) else apply_gain(image, gain, offset)

    def _frame(self, camera: str, timestamp_ns: int) -> CameraFrame:
        original = int(timestamp_ns) - self._offset_ns
        source = self._base._frame(camera, original).source
        return CameraFrame(int(timestamp_ns), camera, source, loader=partial(self._image, camera, original))

    def load_image(self, camera: str, timestamp_ns: int) -> np.ndarray:
        """uint8 (height, width) perturbed image of ``camera`` at a (perturbed) valid frame stamp."""
        self._check_camera(camera)
        stamps = self._camera_ns[camera]
        k = int(np.searchsorted(stamps, int(timestamp_ns)))
        if k == len(stamps) or stamps[k] != int(timestamp_ns):
            raise DatasetError(f"{camera} has no valid frame at {int(timestamp_ns)} ns", self.root)
        return self._frame(camera, int(timestamp_ns)).image

    # -- bookkeeping ----------------------------------------------------------------------------
    def _groundtruth_count(self) -> int:
        return self._base._groundtruth_count()

    def summary(self) -> dict:
        """The sequence's summary of what the sensors now report, plus the ``perturbation``."""
        return {**super().summary(), "perturbation": self.config.to_dict(),
                "dropped_pairs": len(self.dropped_ns)}

    def close(self) -> None:
        self._base.close()


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
