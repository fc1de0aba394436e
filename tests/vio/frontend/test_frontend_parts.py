"""Front-end parts: undistortion, FB check, stereo geometry, RANSAC, keyframes, config,
and the numba kernels against slow references."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from datasets.calibration import CameraCalibration, euroc_cameras
from datasets.configuration import ConfigError
from vio.frontend import Frontend, FrontendConfig, FrontendError, _kernels
from vio.frontend.keyframes import KeyframeSelector
from vio.frontend.ransac import reject_outliers
from vio.frontend.stereo import StereoMatcher
from vio.frontend.track import ImagePyramid, klt_track, rotation_guess
from vio.frontend.undistort import Undistorter

CAM0, CAM1 = euroc_cameras()
FISHEYE = CameraCalibration("fisheye", np.eye(4), (190.978, 190.973, 254.932, 256.897), "equidistant",
                            (0.0034824, 0.00071503, -0.0020532, 0.00020294), (512, 512), 20.0)


def texture(h=480, w=752, seed=0) -> np.ndarray:
    """Smooth random texture with corners everywhere."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.uniform(0, 255, (h // 8, w // 8)), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 1.5), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- undistortion

@pytest.mark.parametrize("camera", [CAM0, FISHEYE], ids=["radtan", "equidistant"])
def test_undistortion_inverts_opencv_projection(camera):
    rng = np.random.default_rng(1)
    und = Undistorter(camera)
    # points whose distorted image lies inside the image, corners included
    uv_target = rng.uniform([0, 0], [camera.width - 1, camera.height - 1], (500, 2))
    uv_target[:4] = [[0, 0], [camera.width - 1, 0], [0, camera.height - 1], [camera.width - 1, camera.height - 1]]
    xy = und.normalized(uv_target)
    if camera.distortion_model == "equidistant":  # the image corners lie beyond 90 degrees
        beyond = ~np.all(np.isfinite(xy), axis=1)
        assert beyond[:4].all() and 0 < beyond.mean() < 0.5
        theta_d = np.hypot(*((uv_target[beyond] - camera.K[:2, 2]) / np.diag(camera.K)[:2]).T)
        assert np.all(theta_d > 1.5)  # near or beyond 90 degrees (theta_d(90 deg) = 1.58)
        uv_target, xy = uv_target[~beyond], xy[~beyond]
    pts = np.column_stack([xy, np.ones(len(xy))]).reshape(-1, 1, 3)
    D = np.asarray(camera.distortion_coefficients)
    if camera.distortion_model == "equidistant":
        uv_cv, _ = cv2.fisheye.projectPoints(pts, np.zeros(3), np.zeros(3), camera.K, D)
    else:
        uv_cv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), camera.K, D)
    assert np.abs(uv_cv.reshape(-1, 2) - uv_target).max() < 1e-3
    assert np.abs(und.distort(xy) - uv_target).max() < 1e-3
    np.testing.assert_allclose(und.undistort(uv_target), und.to_pixels(xy))


# ---------------------------------------------------------------- KLT

def test_fb_check_removes_corrupted_tracks():
    cfg = FrontendConfig()
    prev = texture()
    shift = np.float32([[1, 0, 3.0], [0, 1, -2.0]])
    nxt = cv2.warpAffine(prev, shift, (752, 480), borderMode=cv2.BORDER_REFLECT)
    rng = np.random.default_rng(2)
    uv = rng.uniform([60, 60], [690, 420], (120, 2))
    corrupt = np.zeros(len(uv), dtype=bool)
    corrupt[:30] = True
    for u, v in uv[corrupt]:  # occlude: new content where the feature moved to
        y, x = int(v) - 2, int(u) + 3
        nxt[y - 12:y + 13, x - 12:x + 13] = rng.integers(0, 256, (25, 25))
    far = np.linalg.norm(uv[:, None] - uv[None, corrupt], axis=2).min(axis=1) > 40
    prev, nxt = (ImagePyramid.build(img, cfg.pyramid_levels, cfg.klt_window_px) for img in (prev, nxt))
    res = klt_track(prev, nxt, uv, cfg)
    clean = ~corrupt & far
    assert res.ok[clean].mean() > 0.95
    assert np.abs(res.uv[clean & res.ok] - uv[clean & res.ok] - [3.0, -2.0]).max() < 0.1
    assert res.ok[corrupt].mean() < 0.2
    lenient = klt_track(prev, nxt, uv, FrontendConfig(fb_threshold_px=1e6))
    assert lenient.ok[corrupt].mean() > res.ok[corrupt].mean() + 0.3  # the check is what removes them


def test_rotation_guess_is_the_rotation_homography():
    und = Undistorter(CAM0)
    R_prev_cur = Rotation.from_rotvec([0.01, -0.03, 0.02]).as_matrix()
    uv = np.array([[100.0, 80.0], [376.0, 240.0], [650.0, 400.0]])
    f_cur = np.column_stack([und.normalized(uv), np.ones(3)]) @ R_prev_cur  # R^T f_prev
    expected = und.distort(f_cur[:, :2] / f_cur[:, 2:])
    np.testing.assert_allclose(rotation_guess(und, uv, R_prev_cur), expected, atol=1e-9)


# ---------------------------------------------------------------- stereo geometry

def test_stereo_epipolar_error_and_disparity_of_a_true_point():
    cfg = FrontendConfig()
    matcher = StereoMatcher(Undistorter(CAM0), Undistorter(CAM1), cfg)
    T_cam1_cam0 = np.linalg.inv(CAM1.T_body_cam) @ CAM0.T_body_cam
    xy0 = np.array([[0.1, -0.05], [-0.3, 0.2]])
    for z in (0.8, 3.0, 20.0):
        p1 = np.column_stack([xy0 * z, np.full(2, z)]) @ T_cam1_cam0[:3, :3].T + T_cam1_cam0[:3, 3]
        xy1 = p1[:, :2] / p1[:, 2:]
        assert np.all(matcher.epipolar_error_px(xy0, xy1) < 1e-9)
        # rectified-pair disparity f b / z, up to the small out-of-plane baseline
        np.testing.assert_allclose(matcher.disparity_px(xy0, xy1), matcher.f0 * matcher.baseline_m / z, rtol=0.03)
        off = xy1 + [0.0, 2.0 / matcher.f1]
        assert np.all(matcher.epipolar_error_px(xy0, off) > 1.5)


# ---------------------------------------------------------------- RANSAC

def two_view(n=200, outliers=0.2, translation=(0.3, 0.05, 0.1), seed=3):
    rng = np.random.default_rng(seed)
    p_prev = np.column_stack([rng.uniform(-3, 3, (n, 2)), rng.uniform(2, 8, n)])
    R_prev_cur = Rotation.from_rotvec([0.02, 0.05, -0.01]).as_matrix()
    t_prev_cur = np.asarray(translation, dtype=float)
    p_cur = (p_prev - t_prev_cur) @ R_prev_cur  # R^T (p - t)
    xy_prev = p_prev[:, :2] / p_prev[:, 2:]
    xy_cur = p_cur[:, :2] / p_cur[:, 2:] + rng.normal(0, 0.2 / 458, (n, 2))
    bad = rng.random(n) < outliers
    xy_cur[bad] += rng.uniform(-40, 40, (bad.sum(), 2)) / 458
    bad &= np.linalg.norm(xy_cur - (p_cur[:, :2] / p_cur[:, 2:]), axis=1) * 458 > 4
    return xy_prev, xy_cur, R_prev_cur, bad


@pytest.mark.parametrize("use_gyro", [True, False], ids=["2pt", "5pt"])
def test_ransac_rejects_injected_outliers(use_gyro):
    xy_prev, xy_cur, R, bad = two_view()
    res = reject_outliers(xy_prev, xy_cur, R if use_gyro else None, 458.0, FrontendConfig())
    assert res.method == ("2pt" if use_gyro else "5pt")
    assert (~res.inliers[bad]).mean() > 0.95
    assert res.inliers[~bad].mean() > 0.95
    assert res.hypotheses >= 1


def test_ransac_skipped_without_translation():
    xy_prev, xy_cur, R, _ = two_view(outliers=0.0, translation=(0, 0, 0))
    res = reject_outliers(xy_prev, xy_cur, R, 458.0, FrontendConfig())
    assert res.method == "skipped" and res.inliers.all() and res.median_flow_px < 1.0


def two_point_reference(f_prev, f_cur_rot, samples, threshold, confidence):
    n = len(f_prev)
    normals = np.cross(f_cur_rot, f_prev)
    best, needed, it, scored, inliers = -1, len(samples), 0, 0, np.zeros(n, bool)
    while it < needed:
        a, b = samples[it]
        it += 1
        t = np.cross(normals[a], normals[b])
        if np.linalg.norm(t) < 1e-12:
            continue
        t /= np.linalg.norm(t)
        scored += 1
        ok = np.abs(normals @ t) <= threshold * np.linalg.norm(np.cross(t, f_cur_rot), axis=1)
        if ok.sum() > best:
            best, inliers = ok.sum(), ok
            w = best / n
            needed = it if w >= 1 else (min(len(samples), math.ceil(math.log(1 - confidence) / math.log(1 - w * w)))
                                        if w > 0 else needed)
    return inliers, it, scored


def test_two_point_kernel_matches_reference():
    xy_prev, xy_cur, R, _ = two_view(n=60, outliers=0.5)
    f_prev = np.column_stack([xy_prev, np.ones(60)])
    f_prev /= np.linalg.norm(f_prev, axis=1, keepdims=True)
    f_cur = np.column_stack([xy_cur, np.ones(60)])
    f_cur_rot = (f_cur / np.linalg.norm(f_cur, axis=1, keepdims=True)) @ R.T
    samples = np.random.default_rng(0).integers(0, 60, (300, 2))
    samples[3] = [5, 5]  # a degenerate sample
    inliers = np.zeros(60, dtype=bool)
    it, scored = _kernels.two_point_ransac(f_prev, f_cur_rot, samples, 2.0 / 458, 0.999, inliers)
    ref_inliers, ref_it, ref_scored = two_point_reference(f_prev, f_cur_rot, samples, 2.0 / 458, 0.999)
    assert (it, scored) == (ref_it, ref_scored) and scored == it - 1
    np.testing.assert_array_equal(inliers, ref_inliers)


# ---------------------------------------------------------------- detection kernels

def select_reference(score, mask, quota, cell_w, cell_h, border, quality, min_score, min_dist, max_new):
    h, w = score.shape
    mask, quota = mask.copy(), quota.copy()
    cands, n_eval = [], 0
    for r, c in zip(*np.nonzero(quota > 0)):
        ys = range(max(r * cell_h, border), min((r + 1) * cell_h, h - border))
        xs = range(max(c * cell_w, border), min((c + 1) * cell_w, w - border))
        vals = [score[y, x] for y in ys for x in xs if mask[y, x]]
        n_eval += len(vals)
        thr = max(min_score, quality * max(vals, default=0.0))
        for y in ys:
            for x in xs:
                s = score[y, x]
                if mask[y, x] and s >= thr and s > 0 and s >= score[y - 1:y + 2, x - 1:x + 2].max():
                    cands.append((-s, len(cands), x, y))
    out = []
    for _, _, x, y in sorted(cands):
        r, c = min(y // cell_h, quota.shape[0] - 1), min(x // cell_w, quota.shape[1] - 1)
        if len(out) < max_new and mask[y, x] and quota[r, c] > 0:
            out.append((x, y))
            quota[r, c] -= 1
            yy, xx = np.mgrid[0:h, 0:w]
            mask[(xx - x) ** 2 + (yy - y) ** 2 <= min_dist**2] = 0
    return np.array(out, dtype=float).reshape(-1, 2), n_eval, mask


def test_select_corners_matches_reference():
    rng = np.random.default_rng(4)
    score = cv2.GaussianBlur(rng.random((60, 90)).astype(np.float32), (0, 0), 1.0)
    mask = np.full((60, 90), 255, np.uint8)
    _kernels.paint_discs(mask, np.array([[30.0, 20.0]]), 6.0)
    quota = np.array([[3, 0, 2], [1, 4, 2]], dtype=np.int64)
    ref_uv, ref_eval, ref_mask = select_reference(score, mask, quota, 30, 30, 2, 0.3, 0.0, 6.0, 9)
    out, stats = np.zeros((9, 2)), np.zeros(3, np.int64)
    n = _kernels.select_corners(score, mask, quota, 30, 30, 2, 0.3, 0.0, 6.0, 9, out, stats)
    np.testing.assert_array_equal(out[:n], ref_uv)
    assert stats[0] == ref_eval and stats[2] == n
    np.testing.assert_array_equal(mask, ref_mask)


def test_detection_is_spread_and_keeps_distance():
    cam = CameraCalibration("c", np.eye(4), (400.0, 400.0, 376.0, 240.0), "none", (), (752, 480), 20.0)
    fe = Frontend(cam, CameraCalibration("r", np.array([[1, 0, 0, 0.1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]),
                                          (400.0, 400.0, 376.0, 240.0), "none", (), (752, 480), 20.0))
    out = fe.process((1, texture(), texture(seed=5)))
    assert len(out) == fe.config.max_features
    counts = fe.detector.cell_counts(out.uv_left_px)
    assert counts.max() <= fe.detector.quota and counts.min() > 0
    d = np.linalg.norm(out.uv_left_px[:, None] - out.uv_left_px[None], axis=2) + 1e9 * np.eye(len(out))
    assert d.min() > fe.config.min_distance_px


# ---------------------------------------------------------------- keyframes

def test_keyframes_trigger_on_parallax_not_on_rotation():
    cfg = FrontendConfig(keyframe_parallax_px=10.0, keyframe_min_track_ratio=0.6)
    sel = KeyframeSelector(cfg, 450.0)
    ids = np.arange(100)
    xy = np.random.default_rng(5).uniform(-0.5, 0.5, (100, 2))
    assert sel.update(ids, xy, None).is_keyframe
    small = sel.update(ids, xy + 5.0 / 450, None)
    assert not small.is_keyframe and small.mean_parallax_px == pytest.approx(5.0 * math.sqrt(2))
    assert sel.update(ids, xy + 8.0 / 450, None).is_keyframe  # 11.3 px
    # pure rotation seen through the gyro: no parallax
    R = Rotation.from_rotvec([0.0, 0.05, 0.0]).as_matrix()
    f = np.column_stack([xy + 8.0 / 450, np.ones(100)]) @ R
    rotated = sel.update(ids, f[:, :2] / f[:, 2:], R)
    assert not rotated.is_keyframe and rotated.mean_parallax_px < 1e-6
    assert sel.update(ids[50:], (f[:, :2] / f[:, 2:])[50:], np.eye(3)).is_keyframe  # half lost


# ---------------------------------------------------------------- config and inputs

@pytest.mark.parametrize("field, value, words", [
    ("max_features", 0, "'max_features' must be >= 1"),
    ("klt_window_px", 20, "'klt_window_px' must be odd"),
    ("fb_threshold_px", float("nan"), "'fb_threshold_px' must be a finite number"),
    ("min_disparity_px", 200.0, "'min_disparity_px' must be in [0, max_disparity_px"),
    ("count_workload", 1, "'count_workload' must be true or false"),
    ("pyramid_levels", 2.5, "'pyramid_levels' must be an integer"),
    ("max_features", 2**63 - 1, "'max_features' must be at most 100000"),
    ("klt_window_px", 100001, "'klt_window_px' must be at most 255"),
])
def test_config_validation_is_clear(field, value, words):
    with pytest.raises(FrontendError, match="frontend config: " + words.replace("[", r"\[").replace("(", r"\(")):
        FrontendConfig(**{field: value})


def test_config_from_dict_and_yaml(tmp_path):
    assert FrontendConfig.from_dict({"max_features": 150}).max_features == 150
    with pytest.raises(ConfigError, match="unknown option"):
        FrontendConfig.from_dict({"max_feature": 150})
    path = tmp_path / "fe.yaml"
    path.write_text("max_features: 160\nfb_threshold_px: 1.0\n")
    assert FrontendConfig.from_yaml(path) == FrontendConfig(max_features=160, fb_threshold_px=1.0)
    path.write_text("grid_rows: -1\n")
    with pytest.raises(ConfigError, match=r"fe\.yaml:1: frontend config: 'grid_rows'"):
        FrontendConfig.from_yaml(path)


def test_bad_frames_are_rejected():
    fe = Frontend(CAM0, CAM1)
    with pytest.raises(FrontendError, match="left image must be uint8"):
        fe.process((1, np.zeros((480, 752), np.float32), np.zeros((480, 752), np.uint8)))
    fe.process((5, texture(), texture()))
    with pytest.raises(FrontendError, match="does not increase"):
        fe.process((5, texture(), texture()))
    with pytest.raises(FrontendError, match="rotation"):
        fe.process((6, texture(), texture()), np.eye(2))
