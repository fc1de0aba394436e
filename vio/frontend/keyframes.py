"""Keyframe selection by parallax and track survival (as in VINS-Mono, Qin et al. T-RO 2018, IV-A).

A frame becomes a keyframe when it is the first, when the mean parallax of the
features shared with the last keyframe exceeds ``keyframe_parallax_px``, or when fewer
than ``keyframe_min_track_ratio`` of the last keyframe's features are still tracked.
Parallax is measured in undistorted pixels after removing the rotation accumulated
from the gyro predictions since the keyframe (R_kf_cur = R_kf_prev R_prev_cur), so a
pure rotation gives no parallax; frames without a prediction count as no rotation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import FrontendConfig


@dataclass(frozen=True)
class KeyframeDecision:
    """Whether this frame is a keyframe, the mean parallax [px] to the last keyframe
    and the number of features shared with it."""

    is_keyframe: bool
    mean_parallax_px: float
    n_common: int


class KeyframeSelector:
    def __init__(self, config: FrontendConfig, focal_px: float):
        self.config = config
        self.focal_px = focal_px
        self.reset()

    def reset(self) -> None:
        self.ids = None
        self.xy = np.zeros((0, 2))
        self.R_kf_cur = np.eye(3)

    def update(self, ids: np.ndarray, xy: np.ndarray, R_prev_cur: np.ndarray | None) -> KeyframeDecision:
        """Decides for the frame with track ids (N,) sorted ascending at normalized xy (N, 2)."""
        if R_prev_cur is not None:
            self.R_kf_cur = self.R_kf_cur @ np.asarray(R_prev_cur, dtype=np.float64)
        if self.ids is None:
            self._set(ids, xy)
            return KeyframeDecision(True, 0.0, len(ids))
        common, i_kf, i_cur = np.intersect1d(self.ids, ids, assume_unique=True, return_indices=True)
        parallax = 0.0
        if len(common):
            f = np.column_stack([self.xy[i_kf], np.ones(len(i_kf))]) @ self.R_kf_cur  # rows R^T f_kf
            pred = f[:, :2] / np.where(np.abs(f[:, 2:3]) > 1e-9, f[:, 2:3], 1e-9)
            parallax = float(np.mean(np.linalg.norm(xy[i_cur] - pred, axis=1)) * self.focal_px)
        ratio = len(common) / max(len(self.ids), 1)
        is_kf = parallax > self.config.keyframe_parallax_px or ratio < self.config.keyframe_min_track_ratio
        if is_kf:
            self._set(ids, xy)
        return KeyframeDecision(bool(is_kf), parallax, len(common))

    def _set(self, ids: np.ndarray, xy: np.ndarray) -> None:
        self.ids = np.array(ids, dtype=np.int64, copy=True)
        self.xy = np.array(xy, dtype=np.float64, copy=True)
        self.R_kf_cur = np.eye(3)
