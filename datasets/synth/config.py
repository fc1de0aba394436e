"""Configuration of the synthetic EuRoC-format sequence generator."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..configuration import ConfigMixin
from ..errors import DatasetError
from .calibration_error import CalibrationErrorConfig
from .sensor_model import CameraSensorConfig
from .texture import TextureConfig
from .vibration import VibrationConfig

REALISM_LEVELS = ("realistic", "ideal")


@dataclass(frozen=True)
class SynthConfig(ConfigMixin):
    """Options of ``navion synth``; every field has a documented unit.

    duration_s: length of the sequence [s]; None takes the whole trajectory.
    seed: drives IMU noise, image noise, world layout, frame drops and flicker.
    imu_noise_scale: multiplies EuRoC's imu0 densities and random walks (0 = noise-free).
    image_noise_sigma: std of additive Gaussian image noise [grey levels], idealised sensors
        only (realistic ones take the fitted Poisson-Gaussian noise, scaled by camera.noise_scale).
    time_offset_ms: camera stamp minus true capture time [ms] (t_cam_stamp = t_true + offset).
    drop_frames: fraction in [0, 1) of stereo frames removed from the output.
    exposure_flicker: vary the exposure gain from frame to frame (both cameras alike).
    camera_rate_hz: stereo frame rate [Hz]; must divide the 200 Hz IMU rate.
    imu_rate_hz: IMU rate [Hz].
    start_offset_s: start this far into a TUM trajectory [s] (twins only).
    png_compression: zlib level 0-9 of the written PNGs (lossless at every level).
    renderer: ray tracer, "boxes" (numba, the hall's boxes) or "open3d" (RaycastingScene);
        both give the same images (see datasets/synth/render.py).
    realism: "realistic" (default: every section below as configured) or "ideal" (the
        idealised sensors of unit tests: blocks texture, no optics or sensor effects, no
        IMU vibration, exact calibration; the sections are ignored).
    texture: surface textures (:class:`datasets.synth.texture.TextureConfig`).
    calibration_error: true-versus-written calibration
        (:class:`datasets.synth.calibration_error.CalibrationErrorConfig`).
    camera: the camera sensor and optics model (:class:`datasets.synth.sensor_model.CameraSensorConfig`,
        docs/camera_model.md): motion blur, lens blur, vignetting, camera gains, auto-exposure, noise.
    imu_vibration: rotor vibration added to the IMU
        (:class:`datasets.synth.vibration.VibrationConfig`, docs/imu_vibration.md).
    """

    duration_s: float | None = None
    seed: int = 0
    imu_noise_scale: float = 1.0
    image_noise_sigma: float = 1.0
    time_offset_ms: float = 0.0
    drop_frames: float = 0.0
    exposure_flicker: bool = False
    camera_rate_hz: float = 20.0
    imu_rate_hz: float = 200.0
    start_offset_s: float = 0.0
    png_compression: int = 1
    renderer: str = "boxes"
    realism: str = "realistic"
    texture: TextureConfig = field(default_factory=TextureConfig)
    calibration_error: CalibrationErrorConfig = field(default_factory=CalibrationErrorConfig)
    camera: CameraSensorConfig = field(default_factory=CameraSensorConfig)
    imu_vibration: VibrationConfig = field(default_factory=VibrationConfig)

    @property
    def ideal(self) -> bool:
        return self.realism == "ideal"

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise DatasetError(f"synth config: '{name}' {why}, got {getattr(self, name)!r}")

        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                bad(f.name, "must be finite")
        if self.duration_s is not None and self.duration_s <= 0:
            bad("duration_s", "must be positive")
        if self.imu_noise_scale < 0:
            bad("imu_noise_scale", "must be >= 0")
        if self.image_noise_sigma < 0:
            bad("image_noise_sigma", "must be >= 0")
        if not 0.0 <= self.drop_frames < 1.0:
            bad("drop_frames", "must be in [0, 1)")
        if abs(self.time_offset_ms) > 1000.0:
            bad("time_offset_ms", "must be within +-1000 ms")
        if self.camera_rate_hz <= 0 or self.imu_rate_hz <= 0:
            bad("camera_rate_hz", "and imu_rate_hz must be positive")
        ratio = self.imu_rate_hz / self.camera_rate_hz
        if abs(ratio - round(ratio)) > 1e-9:
            bad("camera_rate_hz", f"must divide the IMU rate {self.imu_rate_hz} Hz")
        if self.start_offset_s < 0:
            bad("start_offset_s", "must be >= 0")
        if not 0 <= self.png_compression <= 9:
            bad("png_compression", "must be in 0..9")
        if self.seed < 0:
            bad("seed", "must be >= 0")
        if self.renderer not in ("boxes", "open3d"):
            bad("renderer", "must be 'boxes' or 'open3d'")
        if self.realism not in REALISM_LEVELS:
            bad("realism", f"must be one of {', '.join(REALISM_LEVELS)}")
        if self.realism == "realistic" and self.image_noise_sigma != 1.0:
            bad("image_noise_sigma", "applies to realism 'ideal' only; realistic twins take the fitted sensor "
                                     "noise (scale it with camera: {noise_scale: K})")

