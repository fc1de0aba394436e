"""The numba pyramidal KLT against cv2.calcOpticalFlowPyrLK (the reference it follows) and
against known image shifts; the shared pyramid against OpenCV's."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vio.frontend import FrontendConfig, FrontendError, _kernels
from vio.frontend.track import ImagePyramid, klt_forward

CFG = FrontendConfig()


def texture(h=480, w=752, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.uniform(0, 255, (h // 8, w // 8)), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.5), 0, 255).astype(np.uint8)


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The image content moved by (dx, dy) px (bilinear, reflected border)."""
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, M, img.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def opencv_lk(prev, nxt, uv, cfg, guess=None):
    flags, p1 = 0, None
    if guess is not None:
        flags, p1 = cv2.OPTFLOW_USE_INITIAL_FLOW, guess.astype(np.float32).reshape(-1, 1, 2)
    out, status, _ = cv2.calcOpticalFlowPyrLK(
        prev, nxt, uv.astype(np.float32).reshape(-1, 1, 2), p1, winSize=(cfg.klt_window_px,) * 2,
        maxLevel=cfg.pyramid_levels - 1, flags=flags,
        criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, cfg.klt_max_iterations, cfg.klt_epsilon))
    return out.reshape(-1, 2).astype(np.float64), status.reshape(-1).astype(bool)


def ours(prev, nxt, uv, cfg, guess=None):
    pyr = [ImagePyramid.build(img, cfg.pyramid_levels, cfg.klt_window_px) for img in (prev, nxt)]
    return klt_forward(*pyr, uv, cfg, guess)


def test_pyramid_matches_opencv_and_recycles_buffers():
    img = texture(seed=3)
    pyr = ImagePyramid.build(img, 3, 21)
    n_cv, cv_pyr = cv2.buildOpticalFlowPyramid(img, (21, 21), 2, withDerivatives=True)
    assert pyr.levels == n_cv + 1 == 3
    for lev in range(3):
        np.testing.assert_array_equal(pyr.level(pyr.pixels, lev), cv_pyr[2 * lev])
        deriv = cv_pyr[2 * lev + 1]  # interleaved Scharr dx, dy
        np.testing.assert_array_equal(pyr.level(pyr.grad_x, lev), deriv[..., 0])
        np.testing.assert_array_equal(pyr.level(pyr.grad_y, lev), deriv[..., 1])
    other = texture(seed=13)
    again = ImagePyramid.build(other, 3, 21, recycle=pyr)
    assert again is pyr
    np.testing.assert_array_equal(pyr.level(pyr.grad_y, 2), ImagePyramid.build(other, 3, 21).level(pyr.grad_y, 2))
    assert ImagePyramid.build(other, 2, 21, recycle=pyr) is not pyr  # another layout: new buffers
    # levels stop before one would be no larger than the window, as in OpenCV
    small = texture(64, 96, seed=4)
    n_cv, _ = cv2.buildOpticalFlowPyramid(small, (21, 21), 4)
    assert ImagePyramid.build(small, 5, 21).levels == n_cv + 1 == 2
    with pytest.raises(FrontendError):
        ImagePyramid.build(img.astype(np.float32), 3, 21)


def test_windows_beyond_the_edge_are_reflected_and_derivatives_zero():
    img = texture(40, 56, seed=14)
    pyr = ImagePyramid.build(img, 1, 7)
    start, stride, w, h = pyr.layout[0]
    out = np.empty(12 * 15, dtype=np.uint8)
    _kernels.gather_window(pyr.pixels, start, stride, w, h, -6, 30, out, 12, 15, False)
    padded = cv2.copyMakeBorder(img, 20, 20, 20, 20, cv2.BORDER_REFLECT_101)
    np.testing.assert_array_equal(out.reshape(12, 15), padded[20 + 30:20 + 42, 20 - 6:20 + 9])
    grad = np.empty(12 * 15, dtype=np.int16)
    _kernels.gather_window(pyr.grad_x, start, stride, w, h, 50, -3, grad, 12, 15, True)
    padded = cv2.copyMakeBorder(pyr.level(pyr.grad_x, 0), 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=0)
    np.testing.assert_array_equal(grad.reshape(12, 15), padded[20 - 3:20 + 9, 20 + 50:20 + 65])


def test_klt_matches_opencv_and_the_true_shift():
    prev = texture(seed=5)
    shift = np.array([3.3, -2.6])
    nxt = shifted(prev, *shift)
    uv = np.random.default_rng(6).uniform([40, 40], [710, 440], (150, 2))
    got, ok, stats = ours(prev, nxt, uv, CFG)
    ref, ok_ref = opencv_lk(prev, nxt, uv, CFG)
    assert ok.mean() > 0.95 and np.mean(ok == ok_ref) > 0.98
    both = ok & ok_ref
    diff = np.linalg.norm(got[both] - ref[both], axis=1)
    assert np.median(diff) < 0.01 and np.percentile(diff, 95) < 0.05
    assert np.median(np.linalg.norm(got[ok] - (uv[ok] + shift), axis=1)) < 0.05
    assert stats.points == len(uv) and stats.setups == 3 * len(uv)  # all windows inside every level
    assert stats.setups <= stats.iterations <= CFG.klt_max_iterations * stats.setups


def test_klt_with_a_guess_and_few_iterations_matches_opencv():
    cfg = FrontendConfig(klt_max_iterations=2, klt_window_px=15, pyramid_levels=2)
    prev = texture(seed=7)
    shift = np.array([-6.2, 4.7])
    nxt = shifted(prev, *shift)
    rng = np.random.default_rng(8)
    uv = rng.uniform([30, 30], [720, 450], (120, 2))
    guess = uv + shift + rng.normal(0, 1.0, uv.shape)
    got, ok, stats = ours(prev, nxt, uv, cfg, guess)
    ref, ok_ref = opencv_lk(prev, nxt, uv, cfg, guess)
    assert np.mean(ok == ok_ref) > 0.98
    both = ok & ok_ref
    assert np.median(np.linalg.norm(got[both] - ref[both], axis=1)) < 0.01
    assert stats.iterations <= 2 * stats.setups


def test_klt_near_and_beyond_the_border_matches_opencv():
    prev = texture(seed=9)
    nxt = shifted(prev, 1.6, 0.8)
    rng = np.random.default_rng(10)
    w, h = 752, 480
    uv = np.vstack([rng.uniform([0, 0], [w - 1, 12], (30, 2)), rng.uniform([w - 13, 0], [w - 1, h - 1], (30, 2)),
                    rng.uniform([-30, 0], [0, h - 1], (20, 2)),  # just outside: may still track in
                    rng.uniform([-80, -80], [-25, h + 80], (10, 2))])  # window beyond the image
    got, ok, _ = ours(prev, nxt, uv, CFG)
    ref, ok_ref = opencv_lk(prev, nxt, uv, CFG)
    ok_ref &= (ref[:, 0] >= 0) & (ref[:, 0] <= w - 1) & (ref[:, 1] >= 0) & (ref[:, 1] <= h - 1)
    assert np.mean(ok == ok_ref) > 0.95 and not ok[80:].any()
    both = ok & ok_ref
    assert both.sum() > 30 and np.median(np.linalg.norm(got[both] - ref[both], axis=1)) < 0.05


def test_klt_iterations_are_what_ran():
    img = texture(seed=11)
    uv = np.random.default_rng(12).uniform([40, 40], [710, 440], (50, 2))
    # identical images: every level's first step is zero (up to float32 rounding), so one
    # iteration per set-up
    got, ok, stats = ours(img, img, uv, CFG)
    assert ok.all() and np.abs(got - uv).max() < 1e-5
    assert stats.setups == 3 * len(uv) and stats.iterations == stats.setups
    # flat image: G is singular on every level, set up but no iteration, and the point is lost
    flat = np.full_like(img, 128)
    _, ok, stats = ours(flat, flat, uv, CFG)
    assert not ok.any() and stats.setups == 3 * len(uv) and stats.iterations == 0
    # non-finite input points are lost without work
    _, ok, stats = ours(img, img, np.array([[np.nan, 5.0]]), CFG)
    assert not ok.any() and stats.setups == 0
