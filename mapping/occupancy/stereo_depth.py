"""Dense depth from a calibrated stereo pair: rectification, semi-global matching, 3-D points.

Frames (``T_a_b`` maps points from b into a):

- ``cam0``, ``cam1``: the raw cameras, ``T_body_cam`` from the dataset's sensor.yaml;
- ``rect``: the rectified left camera. :func:`cv2.stereoRectify` returns ``R1``, the
  rotation that takes points from cam0 into rect, so ``R_rect_cam0 = R1`` and
  ``T_body_rect = T_body_cam0 @ [R1^T, 0]``. Rectified images share rows; disparity
  ``d = u_left - u_right`` [px] gives ``(X, Y, Z, W) = Q (u, v, d, 1)`` in rect
  (Hartley & Zisserman, 2nd ed., Sec. 11.12; OpenCV's ``reprojectImageTo3D``).

Points in the world: ``p_world = T_world_body @ T_body_rect @ p_rect``.

Disparity: OpenCV's StereoSGBM (Hirschmüller, "Stereo Processing by Semiglobal Matching
and Mutual Information", IEEE TPAMI 2008), fixed-point output in 1/16 px.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from datasets.calibration import CameraCalibration
from datasets.configuration import ConfigMixin

from ..errors import MappingError


@dataclass(frozen=True)
class StereoDepthConfig(ConfigMixin):
    """Dense stereo options (StereoSGBM parameters in OpenCV's names and units).

    num_disparities: disparity search range [px], a positive multiple of 16; the nearest
        depth measured is f * baseline / num_disparities (0.5 m for EuRoC at 96; nearer
        surfaces alias to wrong disparities).
    block_size: odd matching window edge [px]; p1, p2: SGM smoothness penalties are
        p1_factor * block_size^2 and p2_factor * block_size^2 (OpenCV's suggestion: 8, 32).
    uniqueness_ratio [%], speckle_window_size [px], speckle_range [px], disp12_max_diff [px]:
        SGBM's rejection of ambiguous, speckled and left-right inconsistent disparities.
    pixel_step, max_block_spread_px: one point per pixel_step x pixel_step block of the
        rectified image, at the block's median disparity, kept only when all its disparities
        are valid and span at most max_block_spread_px [px] (drops depth edges, where SGM
        blends foreground and background, and noisy matches).
    max_depth_m: drop points with depth (rect z) beyond this [m] (small disparities are noisy).
    border_px: drop this many pixels at each image border (SGBM's and the rectification's edge effects).
    """

    num_disparities: int = 96
    block_size: int = 5
    p1_factor: int = 8
    p2_factor: int = 32
    uniqueness_ratio: int = 10
    speckle_window_size: int = 100
    speckle_range: int = 2
    disp12_max_diff: int = 1
    pixel_step: int = 4
    max_block_spread_px: float = 1.0
    max_depth_m: float = 10.0
    border_px: int = 8

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> None:
            raise MappingError(f"stereo depth config: '{name}' {why}, got {getattr(self, name)!r}")

        for name in ("num_disparities", "block_size", "p1_factor", "p2_factor", "uniqueness_ratio",
                     "speckle_window_size", "speckle_range", "disp12_max_diff", "pixel_step", "border_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                bad(name, "must be a non-negative integer")
        if self.num_disparities < 16 or self.num_disparities % 16:
            bad("num_disparities", "must be a positive multiple of 16")
        if self.block_size < 1 or self.block_size % 2 == 0:
            bad("block_size", "must be odd and >= 1")
        if self.p2_factor <= self.p1_factor:
            bad("p2_factor", "must exceed p1_factor")
        if self.pixel_step < 1:
            bad("pixel_step", "must be >= 1")
        if not (isinstance(self.max_block_spread_px, (int, float)) and self.max_block_spread_px >= 0):
            bad("max_block_spread_px", "must be >= 0")
        if not (isinstance(self.max_depth_m, (int, float)) and np.isfinite(self.max_depth_m) and self.max_depth_m > 0):
            bad("max_depth_m", "must be a positive number of metres")


class StereoDepth:
    """Rectifies and matches stereo pairs of a calibrated rig (radial-tangential or no distortion).

    ``T_body_rect`` (4, 4): rectified left camera in the body frame; ``Q`` (4, 4):
    disparity-to-depth matrix; ``focal_px``, ``baseline_m`` of the rectified pair.
    """

    def __init__(self, cam0: CameraCalibration, cam1: CameraCalibration,
                 config: StereoDepthConfig = StereoDepthConfig()):
        for cam in (cam0, cam1):
            if cam.distortion_model not in ("radial-tangential", "none"):
                raise MappingError(f"{cam.name}: stereo depth supports radial-tangential or no distortion, "
                                   f"not '{cam.distortion_model}'")
        if cam0.resolution != cam1.resolution:
            raise MappingError(f"cam0 and cam1 resolutions differ: {cam0.resolution} vs {cam1.resolution}")
        self.config = config
        size = cam0.resolution
        T_cam1_cam0 = np.linalg.inv(cam1.T_body_cam) @ cam0.T_body_cam
        dist = [np.array(c.distortion_coefficients if c.distortion_model != "none" else [0, 0, 0, 0], np.float64)
                for c in (cam0, cam1)]
        R1, R2, P1, P2, Q, _, _ = cv2.stereoRectify(cam0.K, dist[0], cam1.K, dist[1], size,
                                                    T_cam1_cam0[:3, :3], T_cam1_cam0[:3, 3:4],
                                                    flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
        if not P2[0, 3] < 0:
            raise MappingError("cam1 is not to the right of cam0 after rectification; expected a "
                               "horizontal stereo rig with cam1 on the right")
        self.Q = Q
        self.focal_px = float(P1[0, 0])
        self.baseline_m = float(-P2[0, 3] / P2[0, 0])
        self.T_body_rect = cam0.T_body_cam @ _rotation4(R1.T)
        self._maps = [cv2.initUndistortRectifyMap(c.K, d, R, P, size, cv2.CV_16SC2)
                      for c, d, R, P in ((cam0, dist[0], R1, P1), (cam1, dist[1], R2, P2))]
        c = config
        self._matcher = cv2.StereoSGBM_create(
            minDisparity=0, numDisparities=c.num_disparities, blockSize=c.block_size,
            P1=c.p1_factor * c.block_size ** 2, P2=c.p2_factor * c.block_size ** 2,
            disp12MaxDiff=c.disp12_max_diff, uniquenessRatio=c.uniqueness_ratio,
            speckleWindowSize=c.speckle_window_size, speckleRange=c.speckle_range, mode=cv2.STEREO_SGBM_MODE_SGBM)
        self.size = size

    def rectify(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rectified uint8 images (height, width) of a raw pair."""
        for name, image in (("left", left), ("right", right)):
            if image.shape != (self.size[1], self.size[0]) or image.dtype != np.uint8:
                raise MappingError(f"{name} image must be uint8 of shape {(self.size[1], self.size[0])}, "
                                   f"got {image.dtype} {image.shape}")
        return tuple(cv2.remap(img, m[0], m[1], cv2.INTER_LINEAR) for img, m in zip((left, right), self._maps))

    def disparity(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Disparity [px] float32 (height, width) in the rectified left image; <= 0 where invalid."""
        rect_left, rect_right = self.rectify(left, right)
        return self._matcher.compute(rect_left, rect_right).astype(np.float32) / 16.0

    def points_rect(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Points (N, 3) [m] in the rectified left camera, one per consistent pixel block
        (see StereoDepthConfig), with depth <= max_depth_m."""
        c = self.config
        u, v, d = block_disparities(self.disparity(left, right), c.pixel_step, c.border_px, c.max_block_spread_px)
        uvd1 = np.stack([u, v, d, np.ones(len(d))], axis=1)
        xyzw = uvd1 @ self.Q.T
        points = xyzw[:, :3] / xyzw[:, 3:4]
        return points[(points[:, 2] > 0) & (points[:, 2] <= c.max_depth_m)]

    def points_body(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Points (N, 3) [m] of :meth:`points_rect` in the body frame."""
        p = self.points_rect(left, right)
        return p @ self.T_body_rect[:3, :3].T + self.T_body_rect[:3, 3]


def block_disparities(disparity: np.ndarray, step: int, border_px: int,
                      max_spread_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One disparity per step x step block of the image inside the border: the block's
    median, kept when every disparity in the block is valid (> 0) and they span at most
    max_spread_px. Returns the block centres u, v [px] and the disparities d [px] (float64)."""
    height, width = disparity.shape
    rows, cols = (height - 2 * border_px) // step, (width - 2 * border_px) // step
    blocks = disparity[border_px:border_px + rows * step, border_px:border_px + cols * step]
    blocks = blocks.reshape(rows, step, cols, step).transpose(0, 2, 1, 3).reshape(rows, cols, step * step)
    lo, hi = blocks.min(axis=2), blocks.max(axis=2)
    ok = (lo > 0) & (hi - lo <= max_spread_px)
    r, c = np.nonzero(ok)
    d = np.median(blocks[r, c], axis=1)
    centre = border_px + (step - 1) / 2
    return centre + c * step, centre + r * step, d.astype(np.float64)


def _rotation4(R: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = R
    return T
