"""Pyramidal KLT with a forward-backward check, and the gyro-predicted initial guess.

KLT: pyramidal Lucas-Kanade (Bouguet, "Pyramidal implementation of the Lucas Kanade
feature tracker", Intel 2000) by the numba kernel :func:`vio.frontend._kernels.klt_point`,
which follows cv2.calcOpticalFlowPyrLK's conventions (window, levels, stopping rules,
minimum-eigenvalue test; tested against it). Each image's pyramid and Scharr gradients
are built once (:class:`ImagePyramid`) and shared by every pass that uses the image:
temporal forward and backward, stereo forward and backward. (OpenCV 5.0's Python binding
takes images only, so each of its calls would rebuild both pyramids.) The kernel reports
the iterations it ran per point and level, which the workload counts. It runs on one
thread: OpenCV's and numba's two-thread versions lose badly whenever the second core is
busy (e.g. with the PNG prefetch thread; see benchmarks/frontend_speed.py).

The forward-backward check (Kalal et al., ICPR 2010) tracks the result back and drops
points that do not return within ``fb_threshold_px``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import _kernels
from .config import FrontendConfig, FrontendError
from .undistort import Undistorter

MIN_EIGENVALUE = 1e-4  # cv2.calcOpticalFlowPyrLK's default minEigThreshold (its units, see klt_point)


@dataclass(frozen=True)
class ImagePyramid:
    """An image's Gaussian pyramid (cv2.pyrDown) and Scharr derivatives for KLT.

    ``pixels`` uint8, ``grad_x``/``grad_y`` int16 (cv2.Scharr, 32 x the intensity gradient
    per px; reflected border): flat buffers holding the levels as laid out by ``layout``
    (L, 4) int64 = [offset, row stride, width, height]. As in OpenCV, the levels stop
    before one would be no larger than the KLT window ``window`` [px].
    """

    pixels: np.ndarray
    grad_x: np.ndarray
    grad_y: np.ndarray
    layout: np.ndarray
    window: int

    @property
    def levels(self) -> int:
        return len(self.layout)

    @property
    def width(self) -> int:
        return int(self.layout[0, 2])

    @property
    def height(self) -> int:
        return int(self.layout[0, 3])

    def level(self, buffer: np.ndarray, index: int) -> np.ndarray:
        """Level ``index`` of ``buffer`` (one of pixels, grad_x, grad_y) as an (h, w) view."""
        start, stride, w, h = (int(v) for v in self.layout[index])
        return buffer[start:start + stride * h].reshape(h, stride)[:, :w]

    @classmethod
    def build(cls, image: np.ndarray, levels: int, window: int,
              recycle: "ImagePyramid | None" = None) -> "ImagePyramid":
        """Pyramid of a uint8 (H, W) image with at most ``levels`` levels for a KLT window
        of side ``window`` px (odd).

        recycle: a pyramid no longer needed; if its layout fits, its buffers are overwritten
        and it is returned (fresh buffers cost page faults: measured 0.5 ms per image).
        """
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2 or min(image.shape) < 2:
            raise FrontendError("ImagePyramid: the image must be a 2-D uint8 array of at least 2 x 2 px")
        if levels < 1 or window < 3 or window % 2 == 0:
            raise FrontendError(f"ImagePyramid: need levels >= 1 and an odd window >= 3, got {levels}, {window}")
        sizes = [image.shape[::-1]]
        while len(sizes) < levels:
            w, h = (sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2
            if w <= window or h <= window:
                break
            sizes.append((w, h))
        layout = np.zeros((len(sizes), 4), dtype=np.int64)
        offset = 0
        for index, (w, h) in enumerate(sizes):
            layout[index] = (offset, w, w, h)
            offset += w * h
        if recycle is not None and recycle.window == window and np.array_equal(recycle.layout, layout):
            pyramid = recycle
        else:
            pyramid = cls(np.empty(offset, dtype=np.uint8), np.empty(offset, dtype=np.int16),
                          np.empty(offset, dtype=np.int16), layout, window)
        pyramid.level(pyramid.pixels, 0)[:] = image
        for index in range(len(sizes)):
            level = pyramid.level(pyramid.pixels, index)
            if index:
                cv2.pyrDown(pyramid.level(pyramid.pixels, index - 1), dst=level, dstsize=sizes[index])
            cv2.Scharr(level, cv2.CV_16S, 1, 0, dst=pyramid.level(pyramid.grad_x, index))
            cv2.Scharr(level, cv2.CV_16S, 0, 1, dst=pyramid.level(pyramid.grad_y, index))
        return pyramid


@dataclass(frozen=True)
class KltStats:
    """Work of KLT calls: points handed over, (point, level) set-ups (template window and
    G) and Gauss-Newton iterations run, summed over all calls."""

    points: int = 0
    setups: int = 0
    iterations: int = 0

    def __add__(self, other: "KltStats") -> "KltStats":
        return KltStats(self.points + other.points, self.setups + other.setups, self.iterations + other.iterations)


@dataclass(frozen=True)
class KltResult:
    """Tracked positions (N, 2) float64 raw px (NaN where lost), ``ok`` (N,) bool, and the
    work of the forward and backward passes (for the workload). ``fb_error_px`` (N,): the
    forward-backward distance [px] where both passes converged, NaN elsewhere (diagnostics)."""

    uv: np.ndarray
    ok: np.ndarray
    forward: KltStats
    backward: KltStats
    fb_error_px: np.ndarray | None = None


def klt_forward(prev: ImagePyramid, nxt: ImagePyramid, uv: np.ndarray, config: FrontendConfig,
                guess: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, KltStats]:
    """One-way KLT of raw pixels uv (N, 2) from ``prev`` into ``nxt``: positions (N, 2),
    ``ok`` (converged, inside ``nxt``) and the work done. guess: initial positions (N, 2)."""
    if prev.window != config.klt_window_px or nxt.window != config.klt_window_px or prev.levels != nxt.levels:
        raise FrontendError("klt: the pyramids must be built for the configured window and alike")
    uv = np.ascontiguousarray(uv, dtype=np.float64).reshape(-1, 2)
    out = np.array(uv if guess is None else guess, dtype=np.float64).reshape(-1, 2)
    if out.shape != uv.shape:
        raise FrontendError(f"klt: guess must have the shape of the points {uv.shape}, got {out.shape}")
    ok = np.zeros(len(uv), dtype=np.bool_)
    iterations = np.empty((len(uv), prev.levels), dtype=np.int32)
    _kernels.klt_points(prev.pixels, prev.grad_x, prev.grad_y, nxt.pixels, prev.layout, uv, out,
                        config.klt_window_px, config.klt_max_iterations, config.klt_epsilon ** 2, MIN_EIGENVALUE,
                        ok, iterations)
    ok &= (out[:, 0] >= 0) & (out[:, 0] <= nxt.width - 1) & (out[:, 1] >= 0) & (out[:, 1] <= nxt.height - 1)
    stats = KltStats(len(uv), int(np.count_nonzero(iterations >= 0)), int(iterations[iterations > 0].sum()))
    return out, ok, stats


def fb_check(prev: ImagePyramid, nxt: ImagePyramid, uv: np.ndarray, fwd: np.ndarray, ok: np.ndarray,
             config: FrontendConfig, guess: np.ndarray | None = None,
             error_out: np.ndarray | None = None) -> KltStats:
    """Tracks ``fwd[ok]`` back from ``nxt`` into ``prev`` and clears ``ok`` (in place) where it
    does not return within ``fb_threshold_px`` of uv. The backward track starts from the
    forward prior displacement reversed (not from the answer uv, which would make the
    check lenient). Returns the work of the backward pass. ``error_out`` (N,), optional:
    receives the forward-backward distance [px] of the points whose backward pass converged."""
    idx = np.flatnonzero(ok)
    if not len(idx):
        return KltStats()
    back_guess = None if guess is None else fwd[idx] - (guess[idx] - uv[idx])
    back, ok_back, stats = klt_forward(nxt, prev, fwd[idx], config, back_guess)
    error = np.linalg.norm(back - uv[idx], axis=1)
    if error_out is not None:
        error_out[idx[ok_back]] = error[ok_back]
    ok[idx] = ok_back & (error <= config.fb_threshold_px)
    return stats


def klt_track(prev: ImagePyramid, nxt: ImagePyramid, uv: np.ndarray, config: FrontendConfig,
              guess: np.ndarray | None = None) -> KltResult:
    """Tracks raw pixels ``uv`` (N, 2) from image ``prev`` into ``nxt`` with an FB check.

    guess: initial positions in ``nxt`` (N, 2) (e.g. gyro-predicted); None starts at uv.
    A point is kept when both directions converge, it stays inside the image and the
    backward track ends within ``fb_threshold_px`` of where it started.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    out = np.full((len(uv), 2), np.nan)
    if len(uv) == 0:
        return KltResult(out, np.zeros(0, dtype=bool), KltStats(), KltStats())
    fwd, ok, forward = klt_forward(prev, nxt, uv, config, guess)
    fb_error = np.full(len(uv), np.nan)
    backward = fb_check(prev, nxt, uv, fwd, ok, config, guess, fb_error)
    out[ok] = fwd[ok]
    return KltResult(out, ok, forward, backward, fb_error)


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
