"""Camera sensor and optics model: scene radiance -> EuRoC-like 8-bit images.

Turns the renderer's scene radiance (texture x shading in [0, 1], before gain, noise and
quantisation) into the uint8 frames of an MT9V034 global-shutter camera pair like
EuRoC's VI-sensor (Burri et al., IJRR 2016). Effects, in the order applied, each with
its own switch in :class:`CameraSensorConfig`:

1. motion blur: average over the exposure window of the radiance, by reprojecting each
   pixel's mid-exposure 3-D point with the true poses at K instants of the window
   (:func:`_sensor_kernels.motion_blur`);
2. optical blur: Gaussian PSF of the lens (+ pixel aperture);
3. vignetting: V(r) = exp(c1 r^2 + c2 r^4 + c3 r^6), r = distance from the principal
   point / distance from it to the farthest corner;
4. camera gain: cam_i / cam0 response ratio;
5. auto-exposure: exposure x analog gain follows a target mean grey level of cam0 with a
   first-order lag; both cameras share it (the VI-sensor triggers them together);
6. Poisson-Gaussian noise var = a * I + b [grey level^2] (Foi et al., IEEE TIP 2008),
   then 8-bit rounding with clipping.

Grey level of a pixel with blurred radiance L:
    I = 255 * L * V(r) * gain_cam * (t_exp / t_ref) * g_analog
where t_ref is the exposure fitted to the real frames, so with every effect off an image
is round(255 * L), the renderer's own scaling. All numbers come from
``camera_euroc.yaml`` (written by ``scripts/fit_camera_model.py``) or are MT9V034 facts
cited below; see docs/camera_model.md.

Use, one captured stereo frame n at a time, in time order::

    offsets_s = model.exposure_sample_offsets_s(n)       # (K,) around the capture time [s]
    poses = trajectory poses at t_capture + offsets_s    # (K, 4, 4) T_world_body
    radiance, range_m = renderer.render_radiance(i, poses[K // 2])  # mid-exposure
    images = model.expose_stereo(radiances, ranges, poses, n)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..calibration import CameraCalibration
from ..configuration import ConfigMixin
from ..errors import DatasetError
from . import _kernels, _sensor_kernels
from .render import pixel_bearings

SHIPPED_PARAMETERS = Path(__file__).with_name("camera_euroc.yaml")

# MT9V034 facts (ON Semiconductor MT9V034 datasheet): analog gain 1x..4x; shutter
# width counted in rows of (752 active + 94 default horizontal blanking) pixel clocks at
# the 26.66 MHz master clock, so one row (the shortest exposure) lasts 31.7 us. The
# longest exposure is the frame period (a global-shutter frame cannot integrate longer
# than the frame interval at a fixed frame rate).
ANALOG_GAIN_RANGE = (1.0, 4.0)
ROW_TIME_S = (752 + 94) / 26.66e6
PSF_RADIUS_SIGMAS = 3.0  # Gaussian taps cut at 3 sigma (99.7 % of the mass)


@dataclass(frozen=True)
class EnvironmentCameraGain(ConfigMixin):
    """Per EuRoC environment, each camera's response relative to cam0 (empty: not fitted).
    The real right/left ratio differs between the environments (0.87 in the vicon room,
    1.00 in the machine hall; see docs/camera_model.md)."""

    machine_hall: tuple[float, ...] = ()
    vicon_room: tuple[float, ...] = ()


@dataclass(frozen=True)
class CameraModelParameters(ConfigMixin):
    """Fitted camera parameters (``camera_model`` section of camera_euroc.yaml).

    vignetting_log_coefficients: per camera (c1, c2, c3) of log V(r) = c1 r^2 + c2 r^4 + c3 r^6.
    camera_gain: per camera, response relative to cam0 (cam0 = 1); the default for scenes
        of no fitted environment.
    environment_camera_gain: the same per EuRoC environment.
    psf_sigma_px: Gaussian PSF standard deviation [px].
    shot_noise_a: shot-noise slope of var = a * I + b [grey level] (at analog gain 1).
    read_noise_b: signal-independent variance [grey level^2], 8-bit rounding excluded.
    target_grey: auto-exposure target, mean grey level of cam0 [0, 255].
    lag_frames: auto-exposure first-order time constant [frames].
    exposure_s: exposure of the real frames [s]; the reference t_ref of the radiance scale.
    """

    vignetting_log_coefficients: tuple[tuple[float, ...], ...] = ()
    camera_gain: tuple[float, ...] = ()
    environment_camera_gain: EnvironmentCameraGain = EnvironmentCameraGain()
    psf_sigma_px: float = 0.0
    shot_noise_a: float = 0.0
    read_noise_b: float = 0.0
    target_grey: float = 128.0
    lag_frames: float = 1.0
    exposure_s: float = 0.005

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise DatasetError(f"camera model parameters: '{name}' {why}, got {getattr(self, name)!r}")

        if len(self.vignetting_log_coefficients) != len(self.camera_gain) or not self.camera_gain:
            bad("camera_gain", "needs one entry per camera, as many as vignetting_log_coefficients")
        if any(len(c) == 0 or not all(math.isfinite(v) for v in c) for c in self.vignetting_log_coefficients):
            bad("vignetting_log_coefficients", "must be non-empty lists of finite numbers")
        if not all(g > 0 and math.isfinite(g) for g in self.camera_gain):
            bad("camera_gain", "must be positive")
        for env, gains in self.environment_camera_gain.to_dict().items():
            if gains and (len(gains) != len(self.camera_gain) or not all(g > 0 and math.isfinite(g) for g in gains)):
                bad("environment_camera_gain", f"'{env}' needs one positive entry per camera")
        if not 0 <= self.psf_sigma_px <= 10:
            bad("psf_sigma_px", "must be in [0, 10] px")
        if self.shot_noise_a < 0 or self.read_noise_b < 0:
            bad("shot_noise_a", "and read_noise_b must be >= 0")
        if not 0 < self.target_grey < 255:
            bad("target_grey", "must be in (0, 255)")
        if not self.lag_frames > 0:
            bad("lag_frames", "must be > 0")
        if not 0 < self.exposure_s < 1:
            bad("exposure_s", "must be in (0, 1) s")


def load_parameters(path: str | Path | None = None) -> CameraModelParameters:
    """Fitted parameters from a yaml file's ``camera_model`` section (None = the shipped fit)."""
    path = SHIPPED_PARAMETERS if path is None else Path(path)
    if not path.is_file():
        raise DatasetError(f"camera model parameter file not found: {path}")
    return CameraModelParameters.from_yaml(path, section="camera_model")


@dataclass(frozen=True)
class CameraSensorConfig(ConfigMixin):
    """Options of the camera sensor model; every number not listed here is fitted.

    enabled: False gives round(clip(255 * radiance)) (the ideal renderer) and no exposure window.
    parameters: fitted parameter yaml (see scripts/fit_camera_model.py); None = shipped camera_euroc.yaml.
    motion_blur: average the radiance over the exposure window along the true motion.
    motion_blur_samples: poses per exposure window (odd, >= 1; 1 = no blur); the image path
        is piecewise linear between them.
    motion_blur_step_px: longest sub-step of the line integral along the image path [px].
    optical_blur: Gaussian lens PSF (fitted sigma).
    vignetting: fitted radial falloff.
    camera_gain: fitted cam_i / cam0 response ratio.
    auto_exposure: exposure x analog gain track the fitted target grey level with the fitted lag;
        off = fixed ``exposure_s``.
    exposure_s: fixed exposure [s] when auto_exposure is off; None = the fitted real exposure.
    noise: Poisson-Gaussian noise (fitted a, b); off = only 8-bit rounding.
    noise_scale: multiplies the noise standard deviation (1 = fitted).
    """

    enabled: bool = True
    parameters: str | None = None
    motion_blur: bool = True
    motion_blur_samples: int = 5
    motion_blur_step_px: float = 0.5
    optical_blur: bool = True
    vignetting: bool = True
    camera_gain: bool = True
    auto_exposure: bool = True
    exposure_s: float | None = None
    noise: bool = True
    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise DatasetError(f"camera sensor config: '{name}' {why}, got {getattr(self, name)!r}")

        if self.motion_blur_samples < 1 or self.motion_blur_samples % 2 == 0 or self.motion_blur_samples > 65:
            bad("motion_blur_samples", "must be odd, in 1..65")
        if not 0 < self.motion_blur_step_px <= 4:
            bad("motion_blur_step_px", "must be in (0, 4] px")
        if self.exposure_s is not None and not 0 < self.exposure_s < 1:
            bad("exposure_s", "must be in (0, 1) s")
        if not 0 <= self.noise_scale <= 100:
            bad("noise_scale", "must be in [0, 100]")
        if self.parameters is not None and not Path(self.parameters).is_file():
            bad("parameters", "must name an existing yaml file")


def _mix64(z: int) -> int:
    """The kernels' SplitMix64 finaliser of a Python int taken modulo 2^64."""
    return int(_kernels.mix64(np.uint64(z & (2**64 - 1))))


def gaussian_taps(sigma_px: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps (2R+1,) float32, R = ceil(3 sigma)."""
    radius = max(1, int(math.ceil(PSF_RADIUS_SIGMAS * sigma_px)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma_px) ** 2)
    return (taps / taps.sum()).astype(np.float32)


def vignetting_map(camera: CameraCalibration, log_coefficients) -> np.ndarray:
    """V(r) (H, W) float64, r = |pixel - principal point| / |farthest corner - principal point|."""
    _, _, cu, cv = camera.intrinsics
    w, h = camera.resolution
    r_max = max(math.hypot(x - cu, y - cv) for x in (0, w - 1) for y in (0, h - 1))
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    r2 = ((u - cu) ** 2 + (v - cv) ** 2) / r_max ** 2
    return np.exp(sum(c * r2 ** (i + 1) for i, c in enumerate(log_coefficients)))


class CameraSensorModel:
    """Stateful sensor model of a synchronised camera rig, fed frame by frame in time order.

    config: switches; cameras: calibrations (index i uses the fit of cam i); seed: drives
    the noise (counter-based: pixel (r, c) of camera i in frame n gets the same draw for
    the same seed whatever the threading); environment: the EuRoC environment whose
    fitted camera gains apply ("machine_hall", "vicon_room"; None or an environment
    without fitted gains: the default gains).
    """

    def __init__(self, config: CameraSensorConfig, cameras: tuple[CameraCalibration, ...], seed: int,
                 environment: str | None = None):
        if not cameras:
            raise DatasetError("camera sensor model: need at least one camera")
        if seed < 0:
            raise DatasetError(f"camera sensor model: seed must be >= 0, got {seed}")
        self.config = config
        self.cameras = tuple(cameras)
        self.params = load_parameters(config.parameters)
        fitted = self.params.environment_camera_gain.to_dict().get(environment) if environment else None
        self.camera_gain = tuple(fitted) if fitted else self.params.camera_gain
        if len(self.cameras) > len(self.camera_gain):
            raise DatasetError(f"camera sensor model: {len(self.cameras)} cameras but the parameter file fits "
                               f"{len(self.camera_gain)}")
        for cam in self.cameras:
            if cam.distortion_model not in _sensor_kernels.DISTORTION_CODES:
                raise DatasetError(f"{cam.name}: unsupported distortion model '{cam.distortion_model}'")
        self._base_key = _mix64(int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0]))
        on = config.enabled
        self._bearings = [pixel_bearings(c) for c in self.cameras] if on and config.motion_blur else None
        self._scale = []
        for i, cam in enumerate(self.cameras):
            scale = np.full((cam.height, cam.width), 255.0)
            if on and config.vignetting:
                scale *= vignetting_map(cam, self.params.vignetting_log_coefficients[i])
            if on and config.camera_gain:
                scale *= self.camera_gain[i]
            self._scale.append(scale.astype(np.float32))
        self._taps = gaussian_taps(self.params.psf_sigma_px) \
            if on and config.optical_blur and self.params.psf_sigma_px > 0 else None
        noise = on and config.noise
        self._shot_a = self.params.shot_noise_a * config.noise_scale ** 2 if noise else 0.0
        self._read_b = self.params.read_noise_b * config.noise_scale ** 2 if noise else 0.0
        self.min_exposure_s = ROW_TIME_S
        self.max_exposure_s = 1.0 / self.cameras[0].rate_hz
        fixed = config.exposure_s if config.exposure_s is not None else self.params.exposure_s
        self._alpha = 1.0 - math.exp(-1.0 / self.params.lag_frames)
        self._exposure_value = min(max(fixed, self.min_exposure_s), self.max_exposure_s)  # t_exp x g_analog [s]
        self._frame = 0
        self._done: set[int] = set()
        self._meter: float | None = None
        self.history: list[tuple[float, float, float]] = []  # per frame: (t_exp [s], analog gain, cam0 mean grey)

    # ------------------------------------------------------------ exposure window

    def _check_frame(self, frame_index: int) -> None:
        if frame_index != self._frame:
            raise ValueError(f"camera sensor model: frame {frame_index} requested, expected frame {self._frame} "
                             "(frames must come in time order, every camera once)")

    def exposure_time_s(self, frame_index: int) -> float:
        """Exposure time of frame ``frame_index`` [s] (decided by auto-exposure from the frames before)."""
        self._check_frame(frame_index)
        return min(self._exposure_value, self.max_exposure_s)

    def analog_gain(self, frame_index: int) -> float:
        """Analog gain of frame ``frame_index`` (> 1 only when the exposure is at its maximum)."""
        self._check_frame(frame_index)
        return self._exposure_value / min(self._exposure_value, self.max_exposure_s)

    def exposure_sample_offsets_s(self, frame_index: int) -> np.ndarray:
        """(K,) float64 instants [s] relative to the capture time at which ``expose`` needs the body poses.

        Uniform over the exposure window, centred on the capture time (mid-exposure), K odd,
        so entry K // 2 is 0 (the pose the radiance must be rendered at). K = 1 without motion blur.
        """
        t = self.exposure_time_s(frame_index)
        k = self.config.motion_blur_samples if self.config.enabled and self.config.motion_blur else 1
        return np.linspace(-t / 2, t / 2, k) if k > 1 else np.zeros(1)

    # ------------------------------------------------------------ imaging

    def _noise_key(self, cam_index: int, frame_index: int) -> np.uint64:
        return np.uint64(_mix64(self._base_key + frame_index * len(self.cameras) + cam_index + 1))

    def _relative_poses(self, cam: CameraCalibration, T_world_body_samples: np.ndarray):
        T_world_cam = T_world_body_samples @ cam.T_body_cam
        mid = T_world_cam[len(T_world_cam) // 2]
        R = np.ascontiguousarray(np.transpose(T_world_cam[:, :3, :3], (0, 2, 1)) @ mid[:3, :3])
        t = np.ascontiguousarray(np.einsum("kji,kj->ki", T_world_cam[:, :3, :3], mid[:3, 3] - T_world_cam[:, :3, 3]))
        return R, t

    def blur(self, cam_index: int, radiance: np.ndarray, range_m: np.ndarray,
             T_world_body_samples: np.ndarray) -> np.ndarray:
        """Motion- and optically-blurred radiance (H, W) float32 (effects 1 and 2 only)."""
        cam = self.cameras[cam_index]
        cfg = self.config
        signal = radiance
        if cfg.enabled and cfg.motion_blur and len(T_world_body_samples) > 1:
            R, t = self._relative_poses(cam, T_world_body_samples)
            signal = np.empty_like(radiance)
            _sensor_kernels.motion_blur(radiance, range_m, self._bearings[cam_index], R, t,
                                        np.asarray(cam.intrinsics, dtype=np.float64),
                                        _sensor_kernels.DISTORTION_CODES[cam.distortion_model],
                                        np.asarray(tuple(cam.distortion_coefficients) + (0.0,) * 4, dtype=np.float64),
                                        float(cfg.motion_blur_step_px), signal)
        if self._taps is not None:
            signal = cv2.sepFilter2D(signal, cv2.CV_32F, self._taps, self._taps, borderType=cv2.BORDER_REFLECT_101)
        return signal

    def expose(self, cam_index: int, radiance: np.ndarray, range_m: np.ndarray,
               T_world_body_samples: np.ndarray, frame_index: int) -> np.ndarray:
        """uint8 (H, W) image of camera ``cam_index`` for frame ``frame_index``.

        radiance (H, W) [0, 1] and range_m (H, W) [m from the camera centre, NaN = miss] are
        rendered at the mid-exposure pose; T_world_body_samples (K, 4, 4) are the body poses at
        :meth:`exposure_sample_offsets_s` (K // 2 = mid-exposure). When every camera has been
        exposed for this frame, auto-exposure meters cam0 and the model moves to the next frame.
        """
        self._check_frame(frame_index)
        if not 0 <= cam_index < len(self.cameras):
            raise IndexError(f"camera index {cam_index} out of range for {len(self.cameras)} cameras")
        if cam_index in self._done:
            raise ValueError(f"camera {cam_index} already exposed for frame {frame_index}")
        cam = self.cameras[cam_index]
        shape = (cam.height, cam.width)
        radiance = np.ascontiguousarray(radiance, dtype=np.float32)
        range_m = np.ascontiguousarray(range_m, dtype=np.float32)
        if radiance.shape != shape or range_m.shape != shape:
            raise ValueError(f"radiance and range_m must be {shape}, got {radiance.shape} and {range_m.shape}")
        poses = np.asarray(T_world_body_samples, dtype=np.float64)
        k = len(self.exposure_sample_offsets_s(frame_index))
        if poses.shape != (k, 4, 4) or not np.all(np.isfinite(poses)):
            raise ValueError(f"T_world_body_samples must be finite ({k}, 4, 4), got {poses.shape}")
        out = np.empty(shape, dtype=np.uint8)
        if not self.config.enabled:
            _sensor_kernels.expose_and_digitise(radiance, self._scale[cam_index], 1.0, 0.0, 0.0, np.uint64(0),
                                                _sensor_kernels.NORMAL_TABLE, out)
        else:
            t_exp = self.exposure_time_s(frame_index)
            gain = self.analog_gain(frame_index)
            signal = self.blur(cam_index, radiance, range_m, poses)
            # analog gain g multiplies the shot-noise slope by g and the read-noise variance by g^2
            _sensor_kernels.expose_and_digitise(signal, self._scale[cam_index], t_exp / self.params.exposure_s * gain,
                                                self._shot_a * gain, self._read_b * gain * gain,
                                                self._noise_key(cam_index, frame_index),
                                                _sensor_kernels.NORMAL_TABLE, out)
        if cam_index == 0:
            self._meter = float(out.mean())
        self._done.add(cam_index)
        if len(self._done) == len(self.cameras):
            self._advance()
        return out

    def expose_stereo(self, radiances, ranges, T_world_body_samples: np.ndarray, frame_index: int) -> list[np.ndarray]:
        """:meth:`expose` of every camera of the rig for one frame (same pose samples)."""
        return [self.expose(i, r, d, T_world_body_samples, frame_index)
                for i, (r, d) in enumerate(zip(radiances, ranges))]

    def _advance(self) -> None:
        """Auto-exposure update from the cam0 mean grey level (first order in log exposure value)."""
        t_exp = min(self._exposure_value, self.max_exposure_s)
        self.history.append((t_exp, self._exposure_value / t_exp, self._meter))
        if self.config.enabled and self.config.auto_exposure:
            error = math.log(self.params.target_grey / max(self._meter, 0.5))
            value = self._exposure_value * math.exp(self._alpha * error)
            self._exposure_value = min(max(value, self.min_exposure_s), self.max_exposure_s * ANALOG_GAIN_RANGE[1])
        self._frame += 1
        self._done.clear()
        self._meter = None


def benchmark(n_frames: int = 20, config: CameraSensorConfig = CameraSensorConfig(), seed: int = 0,
              angular_rate_rad_s: float = 1.0, speed_m_s: float = 0.5) -> dict:
    """Times the whole model on EuRoC-sized stereo pairs (752x480, every effect of ``config``).

    Synthetic input: random smooth radiance, a plane 2 m away, the rig rotating at
    ``angular_rate_rad_s`` and moving at ``speed_m_s``. Returns first-call time (JIT
    compile included) and the steady-state ms per stereo pair.
    """
    from ..calibration import euroc_cameras

    cams = euroc_cameras()
    model = CameraSensorModel(config, cams, seed)
    rng = np.random.default_rng(seed)
    radiance = cv2.GaussianBlur(rng.random((480, 752)).astype(np.float32), (0, 0), 2) * 0.8 + 0.1
    ranges = np.full((480, 752), 2.0, dtype=np.float32)

    def poses(offsets):
        out = np.tile(np.eye(4), (len(offsets), 1, 1))
        for k, s in enumerate(offsets):
            a = angular_rate_rad_s * s
            out[k, :3, :3] = cv2.Rodrigues(np.array([a, 0.3 * a, 0.1 * a]))[0]
            out[k, :3, 3] = [speed_m_s * s, 0, 0]
        return out

    t0 = time.perf_counter()
    model.expose_stereo([radiance, radiance], [ranges, ranges], poses(model.exposure_sample_offsets_s(0)), 0)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for n in range(1, n_frames + 1):
        model.expose_stereo([radiance, radiance], [ranges, ranges], poses(model.exposure_sample_offsets_s(n)), n)
    steady = (time.perf_counter() - t0) / n_frames
    return {"first_call_s": first, "ms_per_stereo_pair": steady * 1e3, "frames": n_frames}


if __name__ == "__main__":
    print(benchmark())
