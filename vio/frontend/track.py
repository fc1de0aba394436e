"""Pyramidal KLT with a forward-backward check, and the gyro-predicted initial guess.

KLT: ``cv2.calcOpticalFlowPyrLK`` (Bouguet, "Pyramidal implementation of the Lucas
Kanade feature tracker", Intel 2000) on the raw images. The forward-backward check
(Kalal et al., ICPR 2010) tracks the result back and drops points that do not return
within ``fb_threshold_px``. OpenCV 5.0's Python binding takes images only (4.x also
accepted prebuilt pyramid lists), so OpenCV rebuilds the pyramids inside each call;
the workload model counts one pyramid per image (see docs/frontend_workload.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .config import FrontendConfig
from .undistort import Undistorter


@dataclass(frozen=True)
class KltResult:
    """Tracked positions (N, 2) float64 raw px (NaN where lost), ``ok`` (N,) bool, and the
    number of points tracked forward and backward (for the workload)."""

    uv: np.ndarray
    ok: np.ndarray
    n_forward: int
    n_backward: int


def _lk(prev: np.ndarray, nxt: np.ndarray, pts: np.ndarray, guess: np.ndarray | None,
        config: FrontendConfig) -> tuple[np.ndarray, np.ndarray]:
    p0 = np.ascontiguousarray(pts, dtype=np.float32).reshape(-1, 1, 2)
    flags = 0
    p1 = None
    if guess is not None:
        p1 = np.ascontiguousarray(guess, dtype=np.float32).reshape(-1, 1, 2)
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, config.klt_max_iterations, config.klt_epsilon)
    win = (config.klt_window_px, config.klt_window_px)
    out, status, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, p0, p1, winSize=win, maxLevel=config.pyramid_levels - 1,
                                              criteria=criteria, flags=flags)
    return out.reshape(-1, 2).astype(np.float64), status.reshape(-1).astype(bool)


def klt_forward(prev: np.ndarray, nxt: np.ndarray, uv: np.ndarray, config: FrontendConfig,
                guess: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-way KLT of raw pixels uv (N, 2): positions (N, 2) and ``ok`` (converged, inside ``nxt``)."""
    fwd, ok = _lk(prev, nxt, uv, guess, config)
    h, w = nxt.shape
    ok &= np.all(np.isfinite(fwd), axis=1)
    ok &= (fwd[:, 0] >= 0) & (fwd[:, 0] <= w - 1) & (fwd[:, 1] >= 0) & (fwd[:, 1] <= h - 1)
    return fwd, ok


def fb_check(prev: np.ndarray, nxt: np.ndarray, uv: np.ndarray, fwd: np.ndarray, ok: np.ndarray,
             config: FrontendConfig, guess: np.ndarray | None = None) -> int:
    """Tracks ``fwd[ok]`` back from ``nxt`` into ``prev`` and clears ``ok`` (in place) where it
    does not return within ``fb_threshold_px`` of uv. The backward track starts from the
    forward prior displacement reversed (not from the answer uv, which would make the
    check lenient). Returns the number of points tracked back."""
    idx = np.flatnonzero(ok)
    if len(idx):
        back_guess = None if guess is None else fwd[idx] - (guess[idx] - uv[idx])
        back, ok_back = _lk(nxt, prev, fwd[idx], back_guess, config)
        ok[idx] = ok_back & (np.linalg.norm(back - uv[idx], axis=1) <= config.fb_threshold_px)
    return len(idx)


def klt_track(prev: np.ndarray, nxt: np.ndarray, uv: np.ndarray, config: FrontendConfig,
              guess: np.ndarray | None = None) -> KltResult:
    """Tracks raw pixels ``uv`` (N, 2) from image ``prev`` into ``nxt`` with an FB check.

    guess: initial positions in ``nxt`` (N, 2) (e.g. gyro-predicted); None starts at uv.
    A point is kept when both directions converge, it stays inside the image and the
    backward track ends within ``fb_threshold_px`` of where it started.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    n = len(uv)
    out = np.full((n, 2), np.nan)
    if n == 0:
        return KltResult(out, np.zeros(0, dtype=bool), 0, 0)
    fwd, ok = klt_forward(prev, nxt, uv, config, guess)
    n_back = fb_check(prev, nxt, uv, fwd, ok, config, guess)
    out[ok] = fwd[ok]
    return KltResult(out, ok, n, n_back)


def rotation_guess(undistorter: Undistorter, uv_prev: np.ndarray, R_prev_cur: np.ndarray) -> np.ndarray:
    """Raw pixels (N, 2) in the current image predicted by a pure rotation.

    R_prev_cur maps current-camera directions into the previous camera (T_a_b
    convention), so a bearing f_prev is seen at f_cur = R_prev_cur^T f_prev; in
    undistorted pixels this is the homography K R_prev_cur^T K^-1. Points rotating
    behind the camera keep their previous position.
    """
    xy = undistorter.normalized(uv_prev)
    f_cur = np.column_stack([xy, np.ones(len(xy))]) @ np.asarray(R_prev_cur, dtype=np.float64)
    ahead = f_cur[:, 2] > 1e-6
    guess = np.array(uv_prev, dtype=np.float64, copy=True).reshape(-1, 2)
    if ahead.any():
        guess[ahead] = undistorter.project(f_cur[ahead])
    return guess
