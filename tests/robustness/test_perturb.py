"""datasets.perturb: each perturbation does what it says, deterministically per seed, and a
replay under perturbation completes with finite outputs."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from datasets.calibration import ImuCalibration, euroc_cameras, euroc_imu
from datasets.configuration import ConfigError
from datasets.errors import DatasetError, WarningCounter
from datasets.messages import CameraFrame, ImuSample, StereoFrame
from datasets.perturb import PerturbConfig, PerturbedSequence, apply_gain
from datasets.stream import CAMERAS, StereoInertialSequence
from datasets.tum import read_tum

T0 = 1_000_000_000_000
IMU_DT_NS, CAM_DT_NS = 5_000_000, 50_000_000
W, H = 40, 30


class FakeSequence(StereoInertialSequence):
    """An in-memory sequence: 200 Hz IMU, 20 Hz stereo of W x H images that depend on the stamp."""

    def __init__(self, duration_s: float = 20.0, imu: ImuCalibration | None = None, imu_noise_seed: int | None = None):
        self.root = "<fake>"
        self.cam0, self.cam1 = (dataclasses.replace(c, resolution=(W, H)) for c in euroc_cameras())
        self.imu = imu or euroc_imu()
        self.warnings = WarningCounter(quiet=True)
        n_imu = int(duration_s * 200) + 1
        self.imu_timestamps_ns = T0 + IMU_DT_NS * np.arange(n_imu, dtype=np.int64)
        self.imu_gyro = np.zeros((n_imu, 3))
        self.imu_accel = np.tile([0.0, 0.0, 9.81], (n_imu, 1))
        if imu_noise_seed is not None:  # the sequence's own white noise at the calibration's densities
            rng = np.random.default_rng(imu_noise_seed)
            self.imu_gyro = self.imu_gyro + rng.normal(0, self.imu.gyro_noise_density * math.sqrt(200), (n_imu, 3))
            self.imu_accel = self.imu_accel + rng.normal(0, self.imu.accel_noise_density * math.sqrt(200), (n_imu, 3))
        self.stereo_timestamps_ns = T0 + CAM_DT_NS * np.arange(int(duration_s * 20) + 1, dtype=np.int64)
        self._camera_ns = {cam: self.stereo_timestamps_ns for cam in CAMERAS}
        self.groundtruth = None

    def image(self, camera: str, t: int) -> np.ndarray:
        k = (t - T0) // CAM_DT_NS
        return ((np.arange(W * H).reshape(H, W) * 7 + 13 * k + 50 * CAMERAS.index(camera)) % 256).astype(np.uint8)

    def _frame(self, camera: str, t: int) -> CameraFrame:
        return CameraFrame.from_array(t, camera, self.image(camera, t))

    def _groundtruth_count(self) -> int:
        return 0

    def close(self) -> None:
        pass


def _frames(seq) -> list[StereoFrame]:
    return list(seq.stereo_frames())


def test_defaults_change_nothing():
    base = FakeSequence(2.0)
    seq = PerturbedSequence(base, PerturbConfig())
    assert np.array_equal(seq.imu_gyro, base.imu_gyro) and np.array_equal(seq.imu_accel, base.imu_accel)
    assert np.array_equal(seq.stereo_timestamps_ns, base.stereo_timestamps_ns)
    for a, b in zip(_frames(seq), _frames(base)):
        assert a.timestamp_ns == b.timestamp_ns and np.array_equal(a.left.image, b.left.image)
    assert [type(m) for m in seq.messages()] == [type(m) for m in base.messages()]


@pytest.mark.parametrize("k", [2.0, 5.0])
def test_imu_white_noise_total_density_is_k_times(k):
    """The sequence already carries white noise at the calibration's density; afterwards the
    total per-sample std is k times the calibration's sigma_c * sqrt(rate)."""
    imu = dataclasses.replace(euroc_imu(), gyro_random_walk=0.0, accel_random_walk=0.0)
    seq = PerturbedSequence(FakeSequence(200.0, imu, imu_noise_seed=1), PerturbConfig(imu_noise_factor=k, seed=3))
    for values, density, mean in ((seq.imu_gyro, imu.gyro_noise_density, 0.0),
                                  (seq.imu_accel, imu.accel_noise_density, np.array([0, 0, 9.81]))):
        measured = np.std(values - mean, axis=0)
        assert measured == pytest.approx(np.full(3, k * density * math.sqrt(200.0)), rel=0.02)


def test_imu_bias_walk_increments():
    """With white noise off, the added signal is a random walk whose steps have std
    sigma_rw * sqrt(k^2 - 1) * sqrt(dt), starting at zero."""
    k = 3.0
    imu = dataclasses.replace(euroc_imu(), gyro_noise_density=0.0, accel_noise_density=0.0)
    base = FakeSequence(200.0, imu)
    seq = PerturbedSequence(base, PerturbConfig(imu_noise_factor=k))
    for added, walk in ((seq.imu_gyro - base.imu_gyro, imu.gyro_random_walk),
                        (seq.imu_accel - base.imu_accel, imu.accel_random_walk)):
        assert np.array_equal(added[0], np.zeros(3))
        steps = np.diff(added, axis=0)
        assert np.std(steps, axis=0) == pytest.approx(np.full(3, walk * math.sqrt(k * k - 1) * math.sqrt(0.005)),
                                                      rel=0.02)
        assert abs(np.mean(steps)) < 4 * walk * math.sqrt(k * k - 1) * math.sqrt(0.005) / math.sqrt(steps.size)


def test_dropped_frames():
    base = FakeSequence(20.0)  # 401 pairs
    seq = PerturbedSequence(base, PerturbConfig(drop_fraction=0.05, seed=7))
    n = len(base.stereo_timestamps_ns)
    assert len(seq.dropped_ns) == round(0.05 * n) and len(seq.stereo_timestamps_ns) == n - round(0.05 * n)
    assert seq.stereo_timestamps_ns[0] == base.stereo_timestamps_ns[0]
    assert set(seq.stereo_timestamps_ns) | set(seq.dropped_ns) == set(base.stereo_timestamps_ns)
    assert not set(seq.camera_timestamps_ns("cam1")) & set(seq.dropped_ns)
    frames = [m.timestamp_ns for m in seq.messages() if isinstance(m, StereoFrame)]
    assert frames == seq.stereo_timestamps_ns.tolist()
    assert sum(isinstance(m, ImuSample) for m in seq.messages()) == len(base.imu_timestamps_ns)
    other = PerturbedSequence(base, PerturbConfig(drop_fraction=0.05, seed=8))
    assert set(other.dropped_ns) != set(seq.dropped_ns)
    assert seq.summary()["dropped_pairs"] == len(seq.dropped_ns)


def test_time_offset_shifts_image_stamps_only():
    base = FakeSequence(2.0)
    seq = PerturbedSequence(base, PerturbConfig(time_offset_ms=5.0))
    assert np.array_equal(seq.stereo_timestamps_ns - base.stereo_timestamps_ns, np.full(41, 5_000_000))
    assert np.array_equal(seq.imu_timestamps_ns, base.imu_timestamps_ns)
    for frame in _frames(seq)[:5]:  # the image is the one captured 5 ms before its stamp
        assert np.array_equal(frame.left.image, base.image("cam0", frame.timestamp_ns - 5_000_000))
    merged = [m.timestamp_ns for m in seq.messages()]
    assert merged == sorted(merged)
    assert seq.load_image("cam1", T0 + 5_000_000).shape == (H, W)
    with pytest.raises(DatasetError, match="no valid frame"):
        seq.load_image("cam1", T0)


@pytest.mark.parametrize("independent", [False, True])
def test_exposure_flicker(independent):
    base = FakeSequence(10.0)
    config = PerturbConfig(flicker_gain=(0.6, 1.4), flicker_offset=10.0, flicker_independent=independent, seed=2)
    seq = PerturbedSequence(base, config)
    gains = []
    for frame in _frames(seq):
        pair = []
        for camera, image in (("cam0", frame.left.image), ("cam1", frame.right.image)):
            gain, offset = seq.flicker(camera, frame.timestamp_ns)
            assert 0.6 <= gain <= 1.4 and -10 <= offset <= 10
            raw = base.image(camera, frame.timestamp_ns).astype(np.float64)
            expected = np.clip(np.rint(raw * gain + offset), 0, 255)
            assert np.abs(image.astype(np.float64) - expected).max() <= 1  # float32 rounding at .5
            pair.append((gain, offset))
        assert (pair[0] == pair[1]) != independent
        gains.append(pair[0][0])
    assert np.mean(gains) == pytest.approx(1.0, abs=0.05) and np.std(gains) == pytest.approx(0.8 / math.sqrt(12),
                                                                                            rel=0.15)


def test_apply_gain_clips_to_uint8():
    image = np.array([[0, 100, 200, 255]], np.uint8)
    assert apply_gain(image, 1.4, 0.0).tolist() == [[0, 140, 255, 255]]
    assert apply_gain(image, 0.6, -70.0).tolist() == [[0, 0, 50, 83]]


def test_featureless_wall_window():
    base = FakeSequence(10.0)
    seq = PerturbedSequence(base, PerturbConfig(wall_start_s=2.0, wall_duration_s=3.0, wall_grey=90,
                                                wall_noise_sigma=2.0))
    start = T0 + 2_000_000_000
    assert seq.wall_window_ns == (start, start + 3_000_000_000)
    inside = 0
    for frame in _frames(seq):
        left, right = frame.left.image, frame.right.image
        if start <= frame.timestamp_ns < start + 3_000_000_000:
            inside += 1
            for image in (left, right):
                assert abs(image.mean() - 90) < 0.5 and image.std() == pytest.approx(2.0, rel=0.15)
            assert not np.array_equal(left, right)  # independent sensor noise per camera
        else:
            assert np.array_equal(left, base.image("cam0", frame.timestamp_ns))
    assert inside == 60  # 3 s at 20 Hz
    assert seq.imu_gyro is base.imu_gyro


def test_deterministic_per_seed_and_reading_order():
    base = FakeSequence(6.0)
    config = PerturbConfig(seed=11, imu_noise_factor=4.0, drop_fraction=0.1, time_offset_ms=5.0,
                           flicker_gain=(0.6, 1.4), wall_start_s=1.0, wall_duration_s=1.0)
    a, b = PerturbedSequence(base, config), PerturbedSequence(base, config)
    assert np.array_equal(a.imu_accel, b.imu_accel) and np.array_equal(a.stereo_timestamps_ns, b.stereo_timestamps_ns)
    forward = [(f.left.image, f.right.image) for f in _frames(a)]
    backward = [(f.left.image, f.right.image) for f in reversed(_frames(b))][::-1]
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(forward, backward))
    c = PerturbedSequence(base, dataclasses.replace(config, seed=12))
    assert not np.array_equal(a.imu_accel, c.imu_accel)


def test_summary_and_passthrough():
    base = FakeSequence(1.0)
    seq = PerturbedSequence(base, PerturbConfig(seed=4, time_offset_ms=-2.5))
    summary = seq.summary()
    assert summary["perturbation"]["time_offset_ms"] == -2.5 and summary["stereo_pairs"] == 21
    json.dumps(summary)
    assert seq.image("cam0", T0).shape == (H, W)  # attributes the wrapper lacks come from the sequence
    with pytest.raises(DatasetError, match="cannot perturb"):
        PerturbedSequence(object(), PerturbConfig())


@pytest.mark.parametrize("options, needle", [
    ({"imu_noise_factor": 0.9}, "imu_noise_factor"), ({"drop_fraction": 1.0}, "drop_fraction"),
    ({"time_offset_ms": 2000}, "time_offset_ms"), ({"flicker_gain": [0.0, 1.0]}, "flicker_gain"),
    ({"flicker_gain": [1.2, 1.1]}, "flicker_gain"), ({"wall_grey": 300}, "wall_grey"),
    ({"wall_duration_s": 0}, "wall_duration_s"), ({"seed": -1}, "seed"), ({"wall_start_s": -1}, "wall_start_s"),
])
def test_config_validation(options, needle):
    with pytest.raises(ConfigError, match=needle):
        PerturbConfig.from_dict(options)


def test_config_from_cli(tmp_path):
    config = PerturbConfig.from_cli(["drop_fraction=0.05", "flicker_gain=[0.6, 1.4]", "wall_start_s=40"])
    assert config == PerturbConfig(drop_fraction=0.05, flicker_gain=(0.6, 1.4), wall_start_s=40.0)
    (tmp_path / "p.yaml").write_text("time_offset_ms: 5\nimu_noise_factor: 5e0\n")
    assert PerturbConfig.from_cli([str(tmp_path / "p.yaml")]) == PerturbConfig(time_offset_ms=5.0, imu_noise_factor=5.0)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        PerturbConfig.from_cli(["a=1", "b"])


def test_replay_under_perturbation(fragment_copy, tmp_path):
    """Every perturbation at once on 40 real frames: the run completes with finite outputs."""
    from datasets.euroc import open_euroc
    from navion.replay import replay

    config = PerturbConfig(seed=1, imu_noise_factor=3.0, drop_fraction=0.05, time_offset_ms=5.0,
                           flicker_gain=(0.7, 1.3), wall_start_s=1.6, wall_duration_s=0.3)
    with open_euroc(fragment_copy(40).parent, quiet=True) as base:
        seq = PerturbedSequence(base, config)
        summary = replay(seq, tmp_path / "run")
    assert summary["stopped_by"] is None and summary["frames"] == 38
    trajectory = read_tum(tmp_path / "run" / "trajectory.tum")
    assert len(trajectory) == summary["estimated_frames"] > 0
    assert np.isfinite(trajectory.p_world_body).all() and np.isfinite(trajectory.q_world_body_xyzw).all()
    assert summary["ate_rmse_m"] is not None and math.isfinite(summary["ate_rmse_m"])
