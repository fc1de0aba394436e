"""Synthesise a short sequence, read it back with the EuRoC reader, compare exactly."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from datasets.euroc import open_euroc
from datasets.euroc_writer import EurocWriter
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence, make_scene

CONFIG = SynthConfig(realism="ideal", duration_s=3.0, seed=3, image_noise_sigma=1.5)


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    """Runs the generator once, capturing every stereo pair it hands the writer."""
    out = tmp_path_factory.mktemp("synth")
    captured = []
    original = EurocWriter.add_stereo

    def capture(self, timestamp_ns, left, right):
        captured.append((timestamp_ns, left.copy(), right.copy()))
        original(self, timestamp_ns, left, right)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EurocWriter, "add_stereo", capture)
        meta = generate_sequence(out, CONFIG)
    return out, meta, captured


def test_stamps_and_counts(synth_run):
    out, meta, captured = synth_run
    seq = open_euroc(out, quiet=True)
    traj = make_scene(CONFIG).trajectory
    expected_cam = traj.start_ns + 50_000_000 * np.arange(61, dtype=np.int64)
    assert np.array_equal(seq.stereo_timestamps_ns, expected_cam)
    assert np.array_equal(seq.stereo_timestamps_ns, [c[0] for c in captured])
    expected_imu = traj.start_ns + 5_000_000 * np.arange(601, dtype=np.int64)
    assert np.array_equal(seq.imu_timestamps_ns, expected_imu)
    assert meta["stereo_frames"] == 61 and meta["imu_samples"] == 601
    assert seq.warnings.as_dict() == {} or set(seq.warnings.as_dict()) <= {"header_line"}


def test_images_bit_exact(synth_run):
    out, _, captured = synth_run
    seq = open_euroc(out, quiet=True)
    for stereo, (t, left, right) in zip(seq.stereo_frames(), captured):
        assert stereo.timestamp_ns == t
        assert stereo.left.image.dtype == np.uint8 and stereo.left.image.shape == (480, 752)
        assert np.array_equal(stereo.left.image, left)
        assert np.array_equal(stereo.right.image, right)


def test_groundtruth_exact(synth_run):
    out, _, _ = synth_run
    seq = open_euroc(out, quiet=True)
    gt = seq.groundtruth
    traj = make_scene(CONFIG).trajectory
    truth = traj.evaluate((gt.timestamps_ns - traj.start_ns) * 1e-9)
    assert np.array_equal(gt.p_world_body, truth.p_world_body)
    assert np.array_equal(gt.v_world, truth.v_world)
    q = gt.q_world_body_wxyz
    R = Rotation.from_quat(np.column_stack([q[:, 1:], q[:, :1]])).as_matrix()
    assert np.abs(R - truth.R_world_body).max() < 1e-12
    assert gt.gyro_bias is not None and gt.accel_bias is not None


def test_calibration_written_is_euroc(synth_run):
    from datasets.calibration import euroc_cameras, euroc_imu

    out, _, _ = synth_run
    seq = open_euroc(out, quiet=True)
    for got, want in zip((seq.cam0, seq.cam1), euroc_cameras()):
        assert got.intrinsics == want.intrinsics
        assert got.distortion_coefficients == want.distortion_coefficients
        assert np.array_equal(got.T_body_cam, want.T_body_cam)
    assert seq.imu.gyro_noise_density == euroc_imu().gyro_noise_density


def _digest(folder) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_deterministic_for_seed(tmp_path):
    cfg = SynthConfig(realism="ideal", duration_s=2.5, seed=11, imu_noise_scale=1.0, exposure_flicker=True,
                      drop_frames=0.2, time_offset_ms=5.0)
    a = generate_sequence(tmp_path / "a", cfg)
    b = generate_sequence(tmp_path / "b", cfg)
    assert a == b
    assert _digest(tmp_path / "a" / "mav0") == _digest(tmp_path / "b" / "mav0")
    generate_sequence(tmp_path / "c", SynthConfig(realism="ideal", duration_s=2.5, seed=12, exposure_flicker=True,
                                                       drop_frames=0.2, time_offset_ms=5.0))
    assert _digest(tmp_path / "c" / "mav0") != _digest(tmp_path / "a" / "mav0")


def test_perturbations_recorded(tmp_path):
    cfg = SynthConfig(realism="ideal", duration_s=2.5, seed=5, drop_frames=0.2, time_offset_ms=5.0)
    meta = generate_sequence(tmp_path, cfg)
    seq = open_euroc(tmp_path, quiet=True)
    assert meta["dropped_frames"] == round(0.2 * 51)
    assert len(seq.stereo_timestamps_ns) == 51 - meta["dropped_frames"]
    # camera stamps sit 5 ms after the IMU grid
    offsets = (seq.stereo_timestamps_ns - seq.imu_timestamps_ns[0]) % 50_000_000
    assert np.all(offsets == 5_000_000) and meta["time_offset_ns"] == 5_000_000
    saved = json.loads((tmp_path / "navion_synth.json").read_text())
    assert saved["config"]["drop_frames"] == 0.2


def test_imu_file_equals_simulation(synth_run):
    """The written imu0/data.csv reads back bit-exactly as the simulated series."""
    from datasets.calibration import euroc_imu
    from datasets.synth.imu import ImuSimConfig, simulate_imu

    out, _, _ = synth_run
    seq = open_euroc(out, quiet=True)
    traj = make_scene(CONFIG).trajectory
    seed = int(np.random.default_rng(np.random.SeedSequence(CONFIG.seed).spawn(3)[0]).integers(2**31))
    imu = simulate_imu(traj, euroc_imu(), ImuSimConfig(noise_scale=CONFIG.imu_noise_scale), seed=seed)
    assert np.array_equal(seq.imu_gyro, imu.gyro) and np.array_equal(seq.imu_accel, imu.accel)
    assert np.array_equal(seq.groundtruth.gyro_bias, imu.gyro_bias)


def test_twin_sequence(tmp_path, euroc_groundtruth):
    """An MH_01 twin: stamps on the real sequence's clock, ground truth following the real poses."""
    from datasets.tum import read_tum

    cfg = SynthConfig(realism="ideal", duration_s=2.0, start_offset_s=50.0, seed=2)
    meta = generate_sequence(tmp_path, cfg, trajectory_path=euroc_groundtruth / "MH_01_easy.txt")
    seq = open_euroc(tmp_path, quiet=True)
    real = read_tum(euroc_groundtruth / "MH_01_easy.txt")
    gt = seq.groundtruth
    assert meta["stereo_frames"] == 41 and len(gt.timestamps_ns) == 401
    assert abs(gt.timestamps_ns[0] - (real.timestamps_ns[0] + 50_000_000_000)) < 5_000_000
    idx = np.searchsorted(real.timestamps_ns, gt.timestamps_ns)
    near = np.abs(real.timestamps_ns[idx] - gt.timestamps_ns) < 20_000
    err = np.linalg.norm(real.p_world_body[idx[near]] - gt.p_world_body[near], axis=1)
    assert near.sum() > 300 and err.max() < 0.01
    assert np.all(seq.stereo_frames().__next__().left.image.std() > 20)
