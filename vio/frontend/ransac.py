"""Outlier rejection between consecutive left frames.

- With a gyro rotation ``R_prev_cur``: 2-point RANSAC on the translation direction
  (numba kernel, :func:`vio.frontend._kernels.two_point_ransac`), as in Kimera-VIO and
  Troiani et al., ICRA 2014. Exact operation counts.
- Without: 5-point RANSAC on the essential matrix (``cv2.findEssentialMat``, Nister,
  PAMI 2004) on undistorted normalized coordinates (camera matrix = I, threshold
  divided by the focal length).

Both are skipped when the median rotation-compensated flow is below
``ransac_min_parallax_px``: with (near) zero translation every correspondence
satisfies the epipolar constraint for any t, so RANSAC cannot tell outliers apart and
only costs time. The FB check still guards tracks then. Without a gyro the flow cannot
be compensated, so a pure rotation is then checked with an essential matrix whose
translation is ill-defined (all points fit; no harm, little use).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import _kernels
from .config import FrontendConfig

FIVE_POINT_SAMPLE = 5


@dataclass(frozen=True)
class RansacResult:
    """Inlier mask (N,) bool, the method ("skipped", "2pt", "5pt"), the median
    rotation-compensated flow [px], and hypotheses scored (exact for 2pt; for 5pt the
    adaptive count OpenCV's RANSAC reaches for the final inlier ratio, an estimate)."""

    inliers: np.ndarray
    method: str
    median_flow_px: float
    hypotheses: int


def bearings(xy: np.ndarray) -> np.ndarray:
    """Unit bearings (N, 3) of normalized coordinates (N, 2)."""
    f = np.column_stack([xy, np.ones(len(xy))])
    return f / np.linalg.norm(f, axis=1, keepdims=True)


def adaptive_iterations(inlier_ratio: float, sample_size: int, confidence: float, cap: int) -> int:
    """RANSAC's hypothesis count log(1 - p) / log(1 - w^s), capped (Fischler & Bolles 1981)."""
    if inlier_ratio >= 1.0:
        return 1
    if inlier_ratio <= 0.0:
        return cap
    denom = math.log(1.0 - inlier_ratio ** sample_size)
    return cap if denom == 0.0 else min(cap, max(1, math.ceil(math.log(1.0 - confidence) / denom)))


def two_point_ransac(xy_prev: np.ndarray, xy_cur: np.ndarray, R_prev_cur: np.ndarray, threshold_px: float,
                     focal_px: float, confidence: float, max_iterations: int, seed: int) -> tuple[np.ndarray, int]:
    """Inlier mask (N,) and hypotheses scored, for known rotation R_prev_cur (3, 3).

    xy_prev, xy_cur: normalized coordinates (N, 2) of the same features in the previous
    and current camera; threshold_px / focal_px is the angular inlier threshold [rad].
    """
    n = len(xy_prev)
    inliers = np.zeros(n, dtype=bool)
    if n < 2:
        inliers[:] = True
        return inliers, 0
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=max_iterations)
    second = (first + rng.integers(1, n, size=max_iterations)) % n  # distinct from first
    samples = np.ascontiguousarray(np.column_stack([first, second]), dtype=np.int64)
    f_cur_rot = bearings(xy_cur) @ np.asarray(R_prev_cur, dtype=np.float64).T
    _, scored = _kernels.two_point_ransac(bearings(xy_prev), f_cur_rot, samples, threshold_px / focal_px,
                                          confidence, inliers)
    return inliers, int(scored)


def median_flow_px(xy_prev: np.ndarray, xy_cur: np.ndarray, R_prev_cur: np.ndarray | None, focal_px: float) -> float:
    """Median image motion [px] after removing the rotation R_prev_cur (if given)."""
    if len(xy_prev) == 0:
        return 0.0
    pred = xy_prev
    if R_prev_cur is not None:
        f = np.column_stack([xy_prev, np.ones(len(xy_prev))]) @ np.asarray(R_prev_cur, dtype=np.float64)
        pred = f[:, :2] / np.where(np.abs(f[:, 2:3]) > 1e-9, f[:, 2:3], 1e-9)
    return float(np.median(np.linalg.norm(xy_cur - pred, axis=1)) * focal_px)


def reject_outliers(xy_prev: np.ndarray, xy_cur: np.ndarray, R_prev_cur: np.ndarray | None, focal_px: float,
                    config: FrontendConfig) -> RansacResult:
    """RANSAC between consecutive left frames on normalized coordinates (N, 2)."""
    n = len(xy_prev)
    flow = median_flow_px(xy_prev, xy_cur, R_prev_cur, focal_px)
    minimum = 2 if R_prev_cur is not None else FIVE_POINT_SAMPLE + 3
    if flow < config.ransac_min_parallax_px or n < minimum:
        return RansacResult(np.ones(n, dtype=bool), "skipped", flow, 0)
    if R_prev_cur is not None:
        inliers, scored = two_point_ransac(xy_prev, xy_cur, R_prev_cur, config.ransac_threshold_px, focal_px,
                                           config.ransac_confidence, config.ransac_max_iterations, config.ransac_seed)
        return RansacResult(inliers, "2pt", flow, scored)
    E, mask = cv2.findEssentialMat(np.ascontiguousarray(xy_prev), np.ascontiguousarray(xy_cur), np.eye(3),
                                   cv2.RANSAC, config.ransac_confidence, config.ransac_threshold_px / focal_px,
                                   config.ransac_max_iterations)
    if E is None or mask is None:
        return RansacResult(np.ones(n, dtype=bool), "skipped", flow, config.ransac_max_iterations)
    inliers = mask.reshape(-1).astype(bool)
    hyp = adaptive_iterations(inliers.mean(), FIVE_POINT_SAMPLE, config.ransac_confidence, config.ransac_max_iterations)
    return RansacResult(inliers, "5pt", flow, hyp)
