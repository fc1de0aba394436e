"""Point-wise undistortion of feature coordinates.

Design choice: the images are never remapped. KLT and detection run on the raw
(distorted) images, and only the feature coordinates are undistorted, so per frame
the cost is a few hundred point inversions instead of two full-image remaps (Navion
likewise undistorts features, not frames). Stereo epipolar checks use the calibrated
extrinsics ``T_cam1_cam0 = inv(T_body_cam1) @ T_body_cam0`` on undistorted normalized
coordinates, so no rectification is needed either.

Models: ``radial-tangential`` (OpenCV plumb-bob, ``cv2.undistortPoints``),
``equidistant`` (``cv2.fisheye.undistortPoints``) and ``none``. OpenCV 5.0 takes the
iteration criteria directly in ``undistortPoints`` (4.x had ``undistortPointsIter``);
the default 5 iterations leave ~0.1 px error in EuRoC's image corners, so 30
iterations to 1e-12 are used (round trip < 1e-3 px, tested). Equidistant pixels seen at
90 degrees or more off the optical axis have no pinhole coordinates; they come back NaN.
"""
from __future__ import annotations

import cv2
import numpy as np

from datasets.calibration import CameraCalibration

from .config import FrontendError

_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-12)
MODELS = ("radial-tangential", "equidistant", "none")


class Undistorter:
    """Maps raw pixels of one camera to undistorted pinhole pixels (same K) and back."""

    def __init__(self, camera: CameraCalibration):
        if camera.distortion_model not in MODELS:
            raise FrontendError(f"{camera.name}: unsupported distortion model '{camera.distortion_model}'")
        self.camera = camera
        self.model = camera.distortion_model
        self.K = camera.K
        self.K_inv = np.linalg.inv(self.K)
        self.D = np.asarray(camera.distortion_coefficients, dtype=np.float64)
        if self.model == "equidistant":  # distorted radius theta_d(theta) at theta = 90 degrees
            theta = np.pi / 2
            self.max_theta_d = theta * (1 + sum(k * theta ** (2 * i + 2) for i, k in enumerate(self.D)))

    def normalized(self, uv_raw: np.ndarray) -> np.ndarray:
        """Normalized image coordinates (x/z, y/z) (N, 2) float64 of raw pixels (N, 2) (NaN
        where the pixel's ray is 90 degrees or more off the axis)."""
        pts = np.ascontiguousarray(uv_raw, dtype=np.float64).reshape(-1, 1, 2)
        if len(pts) == 0:
            return np.zeros((0, 2))
        if self.model == "radial-tangential":
            out = cv2.undistortPoints(pts, self.K, self.D, criteria=_CRITERIA)
        elif self.model == "equidistant":
            out = cv2.fisheye.undistortPoints(pts, self.K, self.D, criteria=_CRITERIA)
            theta_d = np.hypot(*((pts.reshape(-1, 2) - self.K[:2, 2]) / np.diag(self.K)[:2]).T)
            out[theta_d >= self.max_theta_d] = np.nan
        else:
            out = (pts - self.K[:2, 2]) / np.diag(self.K)[:2]
        return out.reshape(-1, 2)

    def undistort(self, uv_raw: np.ndarray) -> np.ndarray:
        """Undistorted pinhole pixels in this camera's K, (N, 2) float64."""
        return self.to_pixels(self.normalized(uv_raw))

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """Pinhole pixels K [x, y, 1] of normalized coordinates (N, 2) (no distortion)."""
        return xy * np.diag(self.K)[:2] + self.K[:2, 2]

    def distort(self, xy: np.ndarray) -> np.ndarray:
        """Raw (distorted) pixels (N, 2) of normalized coordinates (N, 2)."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(xy) == 0:
            return np.zeros((0, 2))
        if self.model == "none":
            return self.to_pixels(xy)
        pts = np.concatenate([xy, np.ones((len(xy), 1))], axis=1).reshape(-1, 1, 3)
        zero = np.zeros(3)
        if self.model == "radial-tangential":
            out, _ = cv2.projectPoints(pts, zero, zero, self.K, self.D)
        else:
            out, _ = cv2.fisheye.projectPoints(pts, zero, zero, self.K, self.D)
        return out.reshape(-1, 2)

    def project(self, p_cam: np.ndarray) -> np.ndarray:
        """Raw pixels (N, 2) of points (N, 3) in this camera's frame (z > 0)."""
        p_cam = np.asarray(p_cam, dtype=np.float64).reshape(-1, 3)
        return self.distort(p_cam[:, :2] / p_cam[:, 2:3])
