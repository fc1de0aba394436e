"""Shi-Tomasi corner detection spread over a grid, away from existing tracks.

The image is cut into ``grid_rows x grid_cols`` cells, each allowed at most
``ceil(max_features / cells)`` features. Only cells with free slots are scored
(``cv2.cornerMinEigenVal``, the minimum eigenvalue of the gradient covariance over a
``corner_block_px`` window; Shi & Tomasi, CVPR 1994), so a frame whose tracks survive
costs little. Pixels within ``min_distance_px`` of an existing track are masked; the
numba kernel then picks 3x3 local maxima best first, keeping ``min_distance_px``
between features and the per-cell quota (as ``cv2.goodFeaturesToTrack`` does globally).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import _kernels
from .config import FrontendConfig


@dataclass(frozen=True)
class DetectionResult:
    """New corners (M, 2) float64 raw pixels and what the detector processed.

    scored_cells: cells whose score was computed; scored_pixels: pixels OpenCV scored
    (cells plus their margin); evaluated_pixels: unmasked pixels of those cells (the
    detection region); candidates: local maxima above threshold.
    """

    uv: np.ndarray
    scored_cells: int
    scored_pixels: int
    evaluated_pixels: int
    candidates: int


class GridDetector:
    """Detects up to ``max_features - len(existing)`` new corners per call."""

    def __init__(self, width: int, height: int, config: FrontendConfig):
        self.config = config
        self.width, self.height = width, height
        self.cell_w = -(-width // config.grid_cols)
        self.cell_h = -(-height // config.grid_rows)
        self.quota = -(-config.max_features // (config.grid_rows * config.grid_cols))
        self._score = np.zeros((height, width), dtype=np.float32)
        self._mask = np.empty((height, width), dtype=np.uint8)
        # Sobel (1 px) + block half-width + 1 px for the 3x3 maximum: margin read around a cell
        self.margin = config.corner_block_px // 2 + 2

    def cell_counts(self, uv: np.ndarray) -> np.ndarray:
        """Features per cell, (grid_rows, grid_cols) int64."""
        cfg = self.config
        counts = np.zeros((cfg.grid_rows, cfg.grid_cols), dtype=np.int64)
        if len(uv):
            c = np.clip((uv[:, 0] // self.cell_w).astype(np.int64), 0, cfg.grid_cols - 1)
            r = np.clip((uv[:, 1] // self.cell_h).astype(np.int64), 0, cfg.grid_rows - 1)
            np.add.at(counts, (r, c), 1)
        return counts

    def detect(self, image: np.ndarray, existing_uv: np.ndarray) -> DetectionResult:
        """New corners in ``image`` (H, W) uint8 given existing features (N, 2) raw px."""
        cfg = self.config
        existing_uv = np.asarray(existing_uv, dtype=np.float64).reshape(-1, 2)
        max_new = cfg.max_features - len(existing_uv)
        quota = np.maximum(self.quota - self.cell_counts(existing_uv), 0)
        if max_new <= 0 or not quota.any():
            return DetectionResult(np.zeros((0, 2)), 0, 0, 0, 0)
        n_cells, scored = int(np.count_nonzero(quota)), 0
        m = self.margin
        for r, c in zip(*np.nonzero(quota)):
            y0, y1 = r * self.cell_h, min((r + 1) * self.cell_h, self.height)
            x0, x1 = c * self.cell_w, min((c + 1) * self.cell_w, self.width)
            ry0, ry1, rx0, rx1 = max(y0 - m, 0), min(y1 + m, self.height), max(x0 - m, 0), min(x1 + m, self.width)
            roi = cv2.cornerMinEigenVal(image[ry0:ry1, rx0:rx1], cfg.corner_block_px, ksize=3)
            # keep the cell and 1 px around it: there the ROI border does not reach
            wy0, wy1, wx0, wx1 = max(y0 - 1, 0), min(y1 + 1, self.height), max(x0 - 1, 0), min(x1 + 1, self.width)
            self._score[wy0:wy1, wx0:wx1] = roi[wy0 - ry0:wy1 - ry0, wx0 - rx0:wx1 - rx0]
            scored += (ry1 - ry0) * (rx1 - rx0)
        self._mask.fill(255)
        _kernels.paint_discs(self._mask, existing_uv, float(cfg.min_distance_px))
        out = np.empty((max_new, 2), dtype=np.float64)
        stats = np.zeros(3, dtype=np.int64)
        n = _kernels.select_corners(self._score, self._mask, quota, self.cell_w, self.cell_h, cfg.border_px,
                                    cfg.quality_level, cfg.min_corner_score, float(cfg.min_distance_px),
                                    max_new, out, stats)
        return DetectionResult(out[:n], n_cells, scored, int(stats[0]), int(stats[1]))
