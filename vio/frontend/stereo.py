"""Sparse stereo matching: KLT from the left into the right image, checked geometrically.

The images are not rectified; the check uses the calibrated extrinsics
``T_cam1_cam0 = inv(T_body_cam1) @ T_body_cam0`` (R, t): a match x0 <-> x1 (normalized
coordinates) satisfies x1^T E x0 = 0 with E = [t]_x R (Hartley & Zisserman, eq. 9.12).
A match is kept when

- the left -> right KLT converges inside the right image,
- the distance of x1 from the epipolar line E x0, times cam1's focal length, is at most
  ``epipolar_threshold_px``, and
- the disparity along the baseline, f0 (x0 - x1') . b_xy with x1' the right bearing
  rotated into cam0 (R^T x1, z = 1) and b_xy the unit image-plane direction of cam1's
  centre in cam0, lies in [min_disparity_px, max_disparity_px]. For a rectified pair
  this is the usual f b / z > 0, and
- the right -> left KLT of the survivors returns within ``fb_threshold_px``.

With ``stereo_gain_compensation`` the right image is first scaled by
mean(left) / mean(right) (:meth:`StereoMatcher.equalize`, before its pyramid is built):
KLT minimises raw intensity differences, and the two EuRoC
cameras differ by about 10 % in brightness (measured on V1_01: 145 vs 130 grey levels,
which costs a quarter of the matches).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .config import FrontendConfig, FrontendError
from .track import ImagePyramid, KltStats, fb_check, klt_forward
from .undistort import Undistorter


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


@dataclass(frozen=True)
class StereoResult:
    """Right raw pixels (N, 2) and normalized coordinates (N, 2), NaN where unmatched;
    ``ok`` (N,) bool; the work of the KLT passes (forward, backward), the number of
    geometric checks and of the retry seeds placed (:meth:`StereoMatcher.match_with_retries`)."""

    uv_raw: np.ndarray
    xy: np.ndarray
    ok: np.ndarray
    forward: KltStats
    backward: KltStats
    n_checked: int
    n_reseeded: int = 0


class StereoMatcher:
    """Matches left features into the right image of a calibrated stereo pair."""

    def __init__(self, und0: Undistorter, und1: Undistorter, config: FrontendConfig):
        T_cam1_cam0 = np.linalg.inv(und1.camera.T_body_cam) @ und0.camera.T_body_cam
        self.R = T_cam1_cam0[:3, :3]
        self.t = T_cam1_cam0[:3, 3]
        baseline = np.linalg.norm(self.t)
        p_cam0_cam1 = -self.R.T @ self.t
        if baseline < 1e-6 or np.linalg.norm(p_cam0_cam1[:2]) < 1e-6:
            raise FrontendError("stereo: the cameras need a baseline across the image plane")
        self.baseline_m = float(baseline)
        self.E = _skew(self.t / baseline) @ self.R
        self.b_xy = p_cam0_cam1[:2] / np.linalg.norm(p_cam0_cam1[:2])
        self.f0 = float(np.mean(np.diag(und0.K)[:2]))
        self.f1 = float(np.mean(np.diag(und1.K)[:2]))
        self.und0, self.und1, self.config = und0, und1, config

    def seed(self, xy0: np.ndarray, depth_m: float | None = None) -> np.ndarray:
        """Right raw pixels (N, 2) of left normalized points placed at ``depth_m`` [m]
        (default ``stereo_prior_depth_m``)."""
        depth = self.config.stereo_prior_depth_m if depth_m is None else depth_m
        p0 = np.column_stack([xy0, np.ones(len(xy0))]) * depth
        return self.und1.project(p0 @ self.R.T + self.t)

    def epipolar_error_px(self, xy0: np.ndarray, xy1: np.ndarray) -> np.ndarray:
        """Distance [px] of x1 from the epipolar line E x0 in the right image."""
        lines = np.column_stack([xy0, np.ones(len(xy0))]) @ self.E.T
        num = np.abs(np.einsum("ij,ij->i", lines[:, :2], xy1) + lines[:, 2])
        return self.f1 * num / np.hypot(lines[:, 0], lines[:, 1])

    def disparity_px(self, xy0: np.ndarray, xy1: np.ndarray) -> np.ndarray:
        """Disparity [px] along the baseline direction (see module docstring)."""
        rot = np.column_stack([xy1, np.ones(len(xy1))]) @ self.R  # rows R^T x1
        return self.f0 * ((xy0 - rot[:, :2] / rot[:, 2:3]) @ self.b_xy)

    def equalize(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """The right image to match against: scaled by mean(left) / mean(right) with
        ``stereo_gain_compensation`` (saturating at 255), else unchanged."""
        if not self.config.stereo_gain_compensation:
            return right
        return cv2.convertScaleAbs(right, alpha=cv2.mean(left)[0] / max(cv2.mean(right)[0], 1.0))

    def match(self, left: ImagePyramid, right: ImagePyramid, uv0: np.ndarray, xy0: np.ndarray,
              guess: np.ndarray) -> StereoResult:
        """Matches raw left pixels uv0 (N, 2) (normalized xy0) starting from raw ``guess``;
        ``right`` is the pyramid of the :meth:`equalize`-d right image."""
        cfg = self.config
        n = len(uv0)
        xy1 = np.full((n, 2), np.nan)
        if n == 0:
            return StereoResult(np.zeros((0, 2)), xy1, np.zeros(0, dtype=bool), KltStats(), KltStats(), 0)
        uv1, ok, forward = klt_forward(left, right, uv0, cfg, guess)
        idx = np.flatnonzero(ok)
        if len(idx):  # geometry first: the backward KLT then only runs on plausible matches
            xy1[idx] = self.und1.normalized(uv1[idx])
            disparity = self.disparity_px(xy0[idx], xy1[idx])
            ok[idx] = ((self.epipolar_error_px(xy0[idx], xy1[idx]) <= cfg.epipolar_threshold_px)
                       & (disparity >= cfg.min_disparity_px) & (disparity <= cfg.max_disparity_px))
        backward = fb_check(left, right, uv0, uv1, ok, cfg, guess)
        uv1[~ok] = np.nan
        xy1[~ok] = np.nan
        return StereoResult(uv1, xy1, ok, forward, backward, len(idx))

    def match_with_retries(self, left: ImagePyramid, right: ImagePyramid, uv0: np.ndarray, xy0: np.ndarray,
                           guess: np.ndarray, retry: np.ndarray) -> StereoResult:
        """:meth:`match`, then the points flagged in ``retry`` (N,) bool (new features, seeded
        at the prior depth) that did not match are matched again from seeds at each of
        ``stereo_retry_depths_m`` in turn; the work of every attempt is summed."""
        result = self.match(left, right, uv0, xy0, guess)
        uv1, xy1, ok = result.uv_raw.copy(), result.xy.copy(), result.ok.copy()
        forward, backward, checked, reseeded = result.forward, result.backward, result.n_checked, 0
        for depth in self.config.stereo_retry_depths_m:
            idx = np.flatnonzero(retry & ~ok)
            if not len(idx):
                break
            again = self.match(left, right, uv0[idx], xy0[idx], self.seed(xy0[idx], depth))
            reseeded += len(idx)
            hit = idx[again.ok]
            uv1[hit], xy1[hit], ok[hit] = again.uv_raw[again.ok], again.xy[again.ok], True
            forward, backward, checked = forward + again.forward, backward + again.backward, checked + again.n_checked
        return StereoResult(uv1, xy1, ok, forward, backward, checked, reseeded)
