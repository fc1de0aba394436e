"""Calibration error: render with "true" cameras that differ from the written calibration.

A real rig is only known through its calibration. The twin writes the nominal
calibration to ``sensor.yaml`` and renders with cameras perturbed from it by zero-mean
Gaussian errors of the configured standard deviations (per camera, independently):

- extrinsics: ``T_body_cam_true = T_body_cam @ [Exp(dtheta) | dt]``, dtheta [rad] and dt
  [m] per axis in the camera frame;
- intrinsics: ``f_true = f * (1 + e_f)`` (fu and fv alike), principal point shifted by
  e_c [px] per axis; distortion is kept.

Default magnitudes are bounded by the real fragments: KLT stereo matches under the
written EuRoC calibration lie 0.12 px (V1_01) and 0.26 px (MH_01) from their epipolar
lines (median, matching noise included; ``scripts/measure_epipolar.py``), so the
defaults add about 0.1 px (docs/synth_realism.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from ..calibration import CameraCalibration
from ..configuration import ConfigMixin
from ..errors import DatasetError


@dataclass(frozen=True)
class CalibrationErrorConfig(ConfigMixin):
    """Standard deviations of the difference between true and written calibration.

    rotation_deg: camera-body rotation error per axis [deg].
    translation_mm: camera-body translation error per axis [mm].
    focal_fraction: relative focal-length error (fu and fv scaled alike).
    principal_point_px: principal-point error per axis [px].
    """

    enabled: bool = True
    rotation_deg: float = 0.01
    translation_mm: float = 0.1
    focal_fraction: float = 0.0005
    principal_point_px: float = 0.1

    def __post_init__(self) -> None:
        for name in ("rotation_deg", "translation_mm", "focal_fraction", "principal_point_px"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise DatasetError(f"calibration_error config: '{name}' must be finite and >= 0, got {value!r}")
        if self.rotation_deg > 5 or self.translation_mm > 50 or self.focal_fraction > 0.05 \
                or self.principal_point_px > 20:
            raise DatasetError("calibration_error config: errors beyond 5 deg, 50 mm, 5 % focal length or "
                               "20 px are not calibration errors")


def true_camera(camera: CameraCalibration, config: CalibrationErrorConfig,
                rng: np.random.Generator) -> CameraCalibration:
    """The camera the scene is rendered with: ``camera`` (as written) with errors drawn from ``rng``."""
    if not config.enabled:
        return camera
    dtheta = np.deg2rad(config.rotation_deg) * rng.standard_normal(3)
    dt = 1e-3 * config.translation_mm * rng.standard_normal(3)
    e_f = config.focal_fraction * rng.standard_normal()
    e_c = config.principal_point_px * rng.standard_normal(2)
    delta = np.eye(4)
    delta[:3, :3] = Rotation.from_rotvec(dtheta).as_matrix()
    delta[:3, 3] = dt
    fu, fv, cu, cv = camera.intrinsics
    return replace(camera, T_body_cam=np.asarray(camera.T_body_cam) @ delta,
                   intrinsics=(fu * (1 + e_f), fv * (1 + e_f), cu + e_c[0], cv + e_c[1]))
