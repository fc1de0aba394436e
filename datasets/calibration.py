"""Sensor calibration as EuRoC's ``sensor.yaml`` files state it.

``T_body_sensor`` is EuRoC's ``T_BS``: it maps points from the sensor frame into
the body frame. Intrinsics are ``[fu, fv, cu, cv]`` in pixels; distortion models are
``radial-tangential`` (k1, k2, p1, p2; OpenCV's plumb-bob order) and ``equidistant``
(k1..k4; OpenCV's fisheye model). Noise figures are continuous-time densities.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .errors import DatasetError

DISTORTION_MODELS = {"radial-tangential": 4, "radtan": 4, "equidistant": 4, "none": 0}
# Plausibility limits on calibration values (far beyond any real sensor; larger values are
# corrupt files and would overflow the estimator's arithmetic, e.g. squared noise densities).
MAX_RESOLUTION_PX = 65535
MAX_RATE_HZ = 1e6
MAX_IMU_NOISE = 1e3  # noise densities and random walks, in their EuRoC units


@dataclass(frozen=True)
class CameraCalibration:
    """Pinhole camera with lens distortion, mounted on the body at ``T_body_cam``."""

    name: str
    T_body_cam: np.ndarray
    intrinsics: tuple[float, float, float, float]
    distortion_model: str
    distortion_coefficients: tuple[float, ...]
    resolution: tuple[int, int]  # (width, height) [px]
    rate_hz: float

    @property
    def K(self) -> np.ndarray:
        fu, fv, cu, cv = self.intrinsics
        return np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])

    @property
    def width(self) -> int:
        return self.resolution[0]

    @property
    def height(self) -> int:
        return self.resolution[1]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "intrinsics": list(self.intrinsics),
            "distortion_model": self.distortion_model,
            "distortion_coefficients": list(self.distortion_coefficients),
            "resolution": list(self.resolution),
            "rate_hz": self.rate_hz,
            "T_body_cam": self.T_body_cam.tolist(),
        }


@dataclass(frozen=True)
class ImuCalibration:
    """IMU mounting and noise model (continuous-time densities, EuRoC units).

    gyro_noise_density [rad/s/sqrt(Hz)], gyro_random_walk [rad/s^2/sqrt(Hz)],
    accel_noise_density [m/s^2/sqrt(Hz)], accel_random_walk [m/s^3/sqrt(Hz)].
    """

    name: str
    T_body_imu: np.ndarray
    rate_hz: float
    gyro_noise_density: float
    gyro_random_walk: float
    accel_noise_density: float
    accel_random_walk: float

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "rate_hz": self.rate_hz,
            "gyroscope_noise_density": self.gyro_noise_density,
            "gyroscope_random_walk": self.gyro_random_walk,
            "accelerometer_noise_density": self.accel_noise_density,
            "accelerometer_random_walk": self.accel_random_walk,
            "T_body_imu": self.T_body_imu.tolist(),
        }


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads YAML 1.2 exponent floats (``1e-3``, ``2E5``),
    which YAML 1.1 resolves to strings, so ``max_jump_m: 1e-3`` is the number users mean."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def load_yaml_text(text: str, source: str) -> dict:
    """Parse an EuRoC/OpenCV-flavoured yaml document.

    OpenCV writes a ``%YAML:1.0`` directive that PyYAML rejects; it is dropped.
    Syntax errors become DatasetError naming ``source`` and the line.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cleaned = ["" if ln.strip().startswith("%YAML") else ln for ln in lines]
    try:
        data = yaml.load("\n".join(cleaned), Loader=_Loader)  # _Loader is a SafeLoader
    except RecursionError:
        raise DatasetError("malformed yaml: nested too deeply", source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DatasetError(f"malformed yaml: {problem}", source, line) from None
    if not isinstance(data, dict):
        raise DatasetError("expected a yaml mapping at top level", source, 1)
    return data


def _line_of(text: str, key: str) -> int | None:
    for i, ln in enumerate(text.splitlines(), start=1):
        if ln.lstrip().startswith(key + ":"):
            return i
    return None


def _number(value, key: str, source: str, text: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DatasetError(f"'{key}' must be a finite number, got {value!r}", source, _line_of(text, key))
    return float(value)


def _numbers(value, n: int | None, key: str, source: str, text: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or (n is not None and len(value) != n):
        want = "a list" if n is None else f"a list of {n} numbers"
        raise DatasetError(f"'{key}' must be {want}, got {value!r}", source, _line_of(text, key))
    return [_number(v, key, source, text) for v in value]


def _require(data: dict, key: str, source: str):
    if key not in data:
        raise DatasetError(f"missing key '{key}'", source)
    return data[key]


def _transform(data: dict, source: str, text: str) -> np.ndarray:
    tbs = _require(data, "T_BS", source)
    if not isinstance(tbs, dict) or "data" not in tbs:
        raise DatasetError("'T_BS' must be a mapping with rows, cols and data", source, _line_of(text, "T_BS"))
    values = _numbers(tbs["data"], 16, "data", source, text)
    if tbs.get("rows", 4) != 4 or tbs.get("cols", 4) != 4:
        raise DatasetError("'T_BS' must be 4x4", source, _line_of(text, "T_BS"))
    T = np.array(values, dtype=np.float64).reshape(4, 4)
    R = T[:3, :3]
    if not np.allclose(T[3], [0, 0, 0, 1]) or not np.allclose(R @ R.T, np.eye(3), atol=1e-4):
        raise DatasetError("'T_BS' is not a rigid transform", source, _line_of(text, "T_BS"))
    return T


def parse_camera_yaml(text: str, source: str, name: str) -> CameraCalibration:
    """Camera calibration from the text of an EuRoC ``camN/sensor.yaml``."""
    data = load_yaml_text(text, source)
    T = _transform(data, source, text)
    model = str(_require(data, "distortion_model", source))
    if model not in DISTORTION_MODELS:
        raise DatasetError(f"unknown distortion_model '{model}' (expected one of "
                           f"{', '.join(sorted(DISTORTION_MODELS))})", source, _line_of(text, "distortion_model"))
    if model == "radtan":
        model = "radial-tangential"
    cam_model = data.get("camera_model", "pinhole")
    if cam_model != "pinhole":
        raise DatasetError(f"unsupported camera_model '{cam_model}' (only pinhole)", source,
                           _line_of(text, "camera_model"))
    intr = _numbers(_require(data, "intrinsics", source), 4, "intrinsics", source, text)
    dist = _numbers(_require(data, "distortion_coefficients", source), None,
                    "distortion_coefficients", source, text)
    if len(dist) != DISTORTION_MODELS[model]:
        raise DatasetError(f"'{model}' needs {DISTORTION_MODELS[model]} distortion coefficients, got {len(dist)}",
                           source, _line_of(text, "distortion_coefficients"))
    res = _numbers(_require(data, "resolution", source), 2, "resolution", source, text)
    if min(res) <= 0 or max(res) > MAX_RESOLUTION_PX or any(r != int(r) for r in res):
        raise DatasetError(f"'resolution' must be two integers in 1..{MAX_RESOLUTION_PX}, got {res}", source,
                           _line_of(text, "resolution"))
    rate = _number(_require(data, "rate_hz", source), "rate_hz", source, text)
    if not 0 < rate <= MAX_RATE_HZ:
        raise DatasetError(f"'rate_hz' must be in (0, {MAX_RATE_HZ:g}] Hz, got {rate}", source,
                           _line_of(text, "rate_hz"))
    if intr[0] <= 0 or intr[1] <= 0:
        raise DatasetError("focal lengths must be positive", source, _line_of(text, "intrinsics"))
    return CameraCalibration(name, T, tuple(intr), model, tuple(dist), (int(res[0]), int(res[1])), rate)


def parse_imu_yaml(text: str, source: str, name: str = "imu0") -> ImuCalibration:
    """IMU calibration from the text of an EuRoC ``imu0/sensor.yaml``."""
    data = load_yaml_text(text, source)
    T = _transform(data, source, text)
    vals = {}
    for key in ("rate_hz", "gyroscope_noise_density", "gyroscope_random_walk",
                "accelerometer_noise_density", "accelerometer_random_walk"):
        vals[key] = _number(_require(data, key, source), key, source, text)
        if vals[key] < 0 or (key == "rate_hz" and vals[key] == 0):
            raise DatasetError(f"'{key}' must be positive, got {vals[key]}", source, _line_of(text, key))
        limit = MAX_RATE_HZ if key == "rate_hz" else MAX_IMU_NOISE
        if vals[key] > limit:
            raise DatasetError(f"'{key}' must be at most {limit:g}, got {vals[key]}", source, _line_of(text, key))
    return ImuCalibration(name, T, vals["rate_hz"], vals["gyroscope_noise_density"],
                          vals["gyroscope_random_walk"], vals["accelerometer_noise_density"],
                          vals["accelerometer_random_walk"])


def _matrix_yaml(T: np.ndarray) -> str:
    rows = [", ".join(repr(float(v)) for v in row) for row in T]
    return "T_BS:\n  cols: 4\n  rows: 4\n  data: [" + ",\n         ".join(rows) + "]\n"


def camera_yaml(cal: CameraCalibration, comment: str = "navion-sim synthetic camera") -> str:
    """EuRoC-format ``sensor.yaml`` text for a camera (round-trips through parse_camera_yaml)."""
    return ("%YAML:1.0\nsensor_type: camera\n"
            f"comment: {comment}\n\n" + _matrix_yaml(cal.T_body_cam) +
            f"\nrate_hz: {cal.rate_hz!r}\nresolution: [{cal.resolution[0]}, {cal.resolution[1]}]\n"
            "camera_model: pinhole\n"
            f"intrinsics: [{', '.join(repr(float(v)) for v in cal.intrinsics)}] #fu, fv, cu, cv\n"
            f"distortion_model: {cal.distortion_model}\n"
            f"distortion_coefficients: [{', '.join(repr(float(v)) for v in cal.distortion_coefficients)}]\n")


def imu_yaml(cal: ImuCalibration, comment: str = "navion-sim synthetic IMU") -> str:
    """EuRoC-format ``imu0/sensor.yaml`` text (round-trips through parse_imu_yaml)."""
    return ("%YAML:1.0\nsensor_type: imu\n"
            f"comment: {comment}\n\n" + _matrix_yaml(cal.T_body_imu) +
            f"rate_hz: {cal.rate_hz!r}\n\n"
            f"gyroscope_noise_density: {cal.gyro_noise_density!r}     # [ rad / s / sqrt(Hz) ]\n"
            f"gyroscope_random_walk: {cal.gyro_random_walk!r}       # [ rad / s^2 / sqrt(Hz) ]\n"
            f"accelerometer_noise_density: {cal.accel_noise_density!r}  # [ m / s^2 / sqrt(Hz) ]\n"
            f"accelerometer_random_walk: {cal.accel_random_walk!r}    # [ m / s^3 / sqrt(Hz) ]\n")


# EuRoC MAV VI-sensor calibration (Burri et al., IJRR 2016; the values of the
# dataset's cam0/cam1/imu0 sensor.yaml files). Used by the synthetic generator so
# that it needs no EuRoC download.
_EUROC_CAM0_T = np.array([
    [0.0148655429818, -0.999880929698, 0.00414029679422, -0.0216401454975],
    [0.999557249008, 0.0149672133247, 0.025715529948, -0.064676986768],
    [-0.0257744366974, 0.00375618835797, 0.999660727178, 0.00981073058949],
    [0.0, 0.0, 0.0, 1.0]])
_EUROC_CAM1_T = np.array([
    [0.0125552670891, -0.999755099723, 0.0182237714554, -0.0198435579556],
    [0.999598781151, 0.0130119051815, 0.0251588363115, 0.0453689425024],
    [-0.0253898008918, 0.0179005838253, 0.999517347078, 0.00786212447038],
    [0.0, 0.0, 0.0, 1.0]])


def euroc_cameras() -> tuple[CameraCalibration, CameraCalibration]:
    """EuRoC cam0 and cam1 calibration (752x480, 20 Hz, radial-tangential)."""
    cam0 = CameraCalibration("cam0", _EUROC_CAM0_T.copy(), (458.654, 457.296, 367.215, 248.375),
                             "radial-tangential", (-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05),
                             (752, 480), 20.0)
    cam1 = CameraCalibration("cam1", _EUROC_CAM1_T.copy(), (457.587, 456.134, 379.999, 255.238),
                             "radial-tangential", (-0.28368365, 0.07451284, -0.00010473, -3.55590700e-05),
                             (752, 480), 20.0)
    return cam0, cam1


def euroc_imu() -> ImuCalibration:
    """EuRoC imu0 (ADIS16448) noise model, 200 Hz, identity mounting."""
    return ImuCalibration("imu0", np.eye(4), 200.0, 1.6968e-04, 1.9393e-05, 2.0e-3, 3.0e-3)


def read_yaml_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror}", path) from None
