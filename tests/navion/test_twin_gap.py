"""navion twin-gap: each measure against analytic cases or slow references, the bands, the CLI's
bad-input paths, and a short end-to-end run on the real fragments."""
import json
import math

import numpy as np
import pytest

from cli_runner import expect_one_line_error, run
from data_paths import shared_data
from navion.twin_gap import images, imu
from navion.twin_gap.report import BANDS, Band, Row


def _texture(shape=(240, 320), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    import cv2

    img = cv2.GaussianBlur(rng.uniform(0, 255, shape), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min()) * 200 + 20
    return img.astype(np.uint8)


# ----------------------------------------------------------------------------- images

def test_sobel_magnitude_of_a_ramp_is_eight_times_its_slope():
    img = np.tile(np.arange(64, dtype=np.uint8) * 2, (32, 1))  # slope 2 grey/px in x
    g = images.gradient_magnitude(img)
    assert np.allclose(g[:, 1:-1], 16.0)


def test_histogram_quantiles_match_the_pixel_quantiles():
    img = _texture()
    g = images.gradient_magnitude(img)
    h = images.gradient_histogram(img)
    assert h.sum() == img.size
    for q in (0.5, 0.9):
        assert abs(images.histogram_quantile(h, q) - np.quantile(g, q)) <= 4.0  # one bin


def test_immerkaer_noise_of_gaussian_noise_on_a_flat_image():
    rng = np.random.default_rng(1)
    for sigma in (2.0, 5.0):
        img = np.clip(np.round(128 + rng.normal(0, sigma, (480, 752))), 0, 255).astype(np.uint8)
        assert images.immerkaer_noise(img) == pytest.approx(sigma, rel=0.05)


def test_immerkaer_equals_a_slow_loop():
    img = _texture((40, 50))
    f = img.astype(float)
    total = 0.0
    for y in range(1, 39):
        for x in range(1, 49):
            total += abs(sum(images.IMMERKAER_MASK[j, i] * f[y - 1 + j, x - 1 + i] for j in range(3) for i in range(3)))
    expected = math.sqrt(math.pi / 2) * total / (6 * 48 * 38)
    assert images.immerkaer_noise(img) == pytest.approx(expected, rel=1e-9)


def test_vignetting_profile_of_a_radial_falloff():
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2)
    r /= r.max()
    img = np.round(200 * (1 - 0.4 * r ** 2)).astype(np.uint8)
    profile = images.radial_profile(img)
    ring = np.minimum((r * images.RADIAL_BINS).astype(int), images.RADIAL_BINS - 1)
    expected = [(200 * (1 - 0.4 * r[ring == k] ** 2)).mean() for k in range(images.RADIAL_BINS)]
    assert np.allclose(profile, expected, atol=0.6)
    assert profile[-1] / profile[0] == pytest.approx(1 - 0.4 * 0.95 ** 2, abs=0.02)


def test_gain_ratio_of_a_scaled_shifted_copy():
    left = _texture((256, 320))
    d = 12
    right = np.zeros_like(left)
    right[:, :-d] = np.round(left[:, d:] * 0.9).astype(np.uint8)  # right[x - d] = 0.9 left[x]
    right[:, -d:] = 100
    assert images.best_disparity(left, right) == d
    assert images.gain_ratio(left, right) == pytest.approx(0.9, abs=0.005)


def test_high_frequency_fraction_of_white_noise_is_the_area_beyond_the_cutoff():
    img = np.random.default_rng(2).integers(0, 256, (256, 256)).astype(np.uint8)
    assert images.high_frequency_fraction(img) == pytest.approx(1 - math.pi * 0.25 ** 2, abs=0.01)
    assert images.high_frequency_fraction(np.full((64, 64), 7, np.uint8)) == 0.0


def test_codec_png_corner_and_blur_measures_behave():
    tex, flat = _texture(), np.full((240, 320), 90, np.uint8)
    assert images.codec_ratio(flat) > 10 * images.codec_ratio(tex)
    assert images.png_ratio(flat) > images.png_ratio(tex) > 1
    assert images.corner_count(flat) == 0
    squares = np.zeros((200, 200), np.uint8)
    for y in range(20, 180, 40):
        for x in range(20, 180, 40):
            squares[y:y + 20, x:x + 20] = 255
    assert images.corner_count(squares) == 4 * 16
    import cv2

    assert images.laplacian_variance(cv2.GaussianBlur(tex, (0, 0), 2)) < images.laplacian_variance(tex)


# ----------------------------------------------------------------------------- IMU

def test_highpass_std_of_a_sinusoid_mix_keeps_only_the_high_tone():
    fs = 200.0
    t = np.arange(0, 30, 1 / fs)
    x = np.column_stack([np.sin(2 * np.pi * 2 * t) + 0.1 * np.sin(2 * np.pi * 50 * t),
                         0.5 * np.sin(2 * np.pi * 1 * t), 0.2 * np.sin(2 * np.pi * 70 * t)])
    everywhere = np.ones(len(t), dtype=bool)
    out = imu.highpass_std(x, fs, {"all": everywhere, "none": ~everywhere})
    assert out["none"] is None
    assert out["all"][0] == pytest.approx(0.1 / math.sqrt(2), rel=0.03)
    assert out["all"][1] < 1e-3
    assert out["all"][2] == pytest.approx(0.2 / math.sqrt(2), rel=0.02)


def test_psd_integrates_to_the_variance():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.3, (20000, 3))
    f, p = imu.psd(x, 200.0)
    assert np.trapezoid(p, f, axis=0) == pytest.approx([0.09] * 3, rel=0.05)


def test_rest_rule():
    assert imu.classify_motion(np.array([0.01, 0.01, 0.2]), np.array([0.05, 0.2, 0.0])).tolist() == [True, False, False]


def test_ideal_imu_of_a_resting_body_reads_gravity():
    from datasets.synth.trajectory import default_trajectory

    traj = default_trajectory(duration_s=6.0, rest_s=2.0)
    stamps = traj.start_ns + np.arange(0, 200) * 5_000_000  # first second: at rest
    gyro, accel, speed, rate = imu.ideal_imu(traj, stamps)
    assert np.allclose(gyro, 0, atol=1e-9) and np.allclose(speed, 0, atol=1e-9)
    assert np.allclose(np.linalg.norm(accel, axis=1), 9.81, atol=1e-9)


# ----------------------------------------------------------------------------- bands

def test_bands():
    assert Band("relative", 0.25).inside(100, 124) and not Band("relative", 0.25).inside(100, 126)
    assert Band("absolute", 0.03).inside(0.90, 0.92) and not Band("absolute", 0.03).inside(0.90, 1.01)
    assert Band("factor", 1.5).inside(1.0, 0.7) and not Band("factor", 1.5).inside(1.0, 0.6)
    assert Band("range", (0.5, 2.0)).inside(8.4, 16) and not Band("range", (0.5, 2.0)).inside(8.4, 1.7)
    assert Row("x", "x", 32.0, 4.5, "gradient_median").flag == "OUT"
    assert Row("x", "x", 32.0, None, "gradient_median").flag == ""
    assert set(BANDS) >= {"gradient_median", "corners_per_frame", "codec_ratio", "gain_ratio", "imu_highpass_std",
                          "stereo_tracks_per_frame", "reprojection_rms_px", "ate_rmse_m"}


# ----------------------------------------------------------------------------- CLI

def test_real_sequence_without_groundtruth_is_one_line(capsys, tmp_path):
    micro = shared_data("euroc_v101_micro/mav0")
    mav0 = tmp_path / "nogt" / "mav0"
    mav0.mkdir(parents=True)
    for name in ("cam0", "cam1", "imu0", "body.yaml"):
        (mav0 / name).symlink_to(micro / name)
    expect_one_line_error(capsys, ["twin-gap", mav0.parent, "--out", tmp_path / "out"], "no ground truth",
                          "--groundtruth")


def test_twin_that_does_not_overlap_is_one_line(capsys, tmp_path):
    mh01 = shared_data("euroc_mh01_moving")
    micro = shared_data("euroc_v101_micro")
    expect_one_line_error(capsys, ["twin-gap", mh01, "--twin", micro, "--out", tmp_path / "out", "--no-vio"],
                          "do not overlap")


def test_groundtruth_that_misses_the_frames_is_one_line(capsys, tmp_path):
    micro = shared_data("euroc_v101_micro")
    gt = shared_data("euroc_groundtruth/MH_01_easy.txt")
    expect_one_line_error(capsys, ["twin-gap", micro, "--groundtruth", gt, "--out", tmp_path / "out"],
                          "ground truth", "covers 0")


def test_end_to_end_on_mh01_few_frames(capsys, tmp_path):
    mh01 = shared_data("euroc_mh01_moving")
    out = tmp_path / "gap"
    code, stdout, err = run(capsys, "twin-gap", mh01, "--out", out, "--max-frames", 8, "--image-frames", 2,
                            "--seed", 3)
    assert code == 0, err
    assert "rows outside their band" in stdout and "twin gap" in stdout
    gap = json.loads((out / "gap.json").read_text())
    rows = {r["key"]: r for r in gap["rows"]}
    assert rows["cam0.gradient_median"]["real"] > 0 and rows["cam0.gradient_median"]["twin"] > 0
    assert rows["vio.tracks_per_frame"]["real"] > 0
    assert rows["energy.total"]["real"] > 0
    assert gap["meta"]["real_frames"] == 8 and gap["meta"]["twin_frames"] == 8
    assert gap["meta"]["max_camera_stamp_snap_ns"] < 1_000_000
    for name in ("gap.md", "imu_psd.png", "gradient_histogram.png", "frames.png", "vignetting.png"):
        assert (out / name).is_file()


def test_end_to_end_on_v101_with_external_groundtruth(capsys, tmp_path):
    micro = shared_data("euroc_v101_micro")
    gt = shared_data("euroc_groundtruth/V1_01_easy.txt")
    out = tmp_path / "gap"
    code, _, err = run(capsys, "twin-gap", micro, "--groundtruth", gt, "--out", out, "--max-frames", 6,
                       "--image-frames", 2, "--no-vio")
    assert code == 0, err
    gap = json.loads((out / "gap.json").read_text())
    assert gap["meta"]["groundtruth_rate_hz"] >= 100
    rows = {r["key"]: r for r in gap["rows"]}
    assert rows["imu.gyro_residual_std.x"]["real"] is not None  # dense GT: residual reported
    assert rows["stereo.gain_ratio"]["real"] == pytest.approx(0.9, abs=0.1)


def test_short_groundtruth_warns(capsys, tmp_path):
    """The fragment's own 11 s of ground truth cannot give the twin its hall and IMU regimes."""
    mh01 = shared_data("euroc_mh01_moving")
    code, stdout, err = run(capsys, "twin-gap", mh01, "--out", tmp_path / "gap", "--max-frames", 4,
                            "--image-frames", 1, "--no-vio")
    assert code == 0, err
    assert "warning: the ground truth covers only 10.9 s" in stdout
    assert "covers only" in json.loads((tmp_path / "gap" / "gap.json").read_text())["meta"]["warning"]
