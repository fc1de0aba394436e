"""EuRoC reader on the real V1_01 fragment: counts, calibration, streams, images, zip input."""
from __future__ import annotations

import json
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

from datasets.euroc import EurocSequence, open_euroc
from datasets.messages import ImuSample, StereoFrame

FIRST_NS = 1403715273262142976
LAST_CAM_NS = 1403715277962142976


@pytest.fixture(scope="module")
def seq(euroc_micro) -> EurocSequence:
    return open_euroc(euroc_micro)


def test_counts_and_stamps(seq):
    assert len(seq.stereo_timestamps_ns) == 95
    assert seq.stereo_timestamps_ns.dtype == np.int64
    assert seq.stereo_timestamps_ns[0] == FIRST_NS and seq.stereo_timestamps_ns[-1] == LAST_CAM_NS
    assert np.array_equal(seq.camera_timestamps_ns("cam0"), seq.camera_timestamps_ns("cam1"))
    assert np.array_equal(seq.camera_timestamps_ns(), seq.stereo_timestamps_ns)
    assert len(seq.imu_timestamps_ns) == 29120 and seq.imu_timestamps_ns.dtype == np.int64
    assert seq.imu_timestamps_ns[1] == 1403715273267142912  # exact: not representable as float64
    assert seq.imu_gyro.shape == seq.imu_accel.shape == (29120, 3)


def test_real_header_is_quiet(euroc_micro, capsys):
    seq = open_euroc(euroc_micro)
    assert capsys.readouterr().err == ""
    assert seq.warnings.as_dict() == {"header_line": 4}


def test_imu_values(seq):
    assert seq.imu_gyro[0].tolist() == [-0.0020943951023931952, 0.017453292519943295, 0.07749261878854824]
    assert seq.imu_accel[0].tolist() == [9.0874956666666655, 0.13075533333333333, -3.6938381666666662]
    sample = next(seq.imu_samples())
    assert isinstance(sample, ImuSample) and sample.timestamp_ns == FIRST_NS
    assert np.array_equal(sample.gyro, seq.imu_gyro[0])
    assert not seq.imu_gyro.flags.writeable


def test_calibration(seq):
    assert seq.cam0.intrinsics == (458.654, 457.296, 367.215, 248.375)
    assert seq.cam0.distortion_model == "radial-tangential"
    assert seq.cam0.distortion_coefficients == (-0.28340811, 0.07395907, 0.00019359, 1.76187114e-05)
    assert seq.cam0.resolution == (752, 480) and seq.cam0.rate_hz == 20.0
    assert seq.cam0.T_body_cam[0].tolist() == [0.0148655429818, -0.999880929698, 0.00414029679422,
                                               -0.0216401454975]
    assert seq.cam1.intrinsics == (457.587, 456.134, 379.999, 255.238)
    assert seq.cam1.T_body_cam[1, 3] == 0.0453689425024
    assert seq.imu.gyro_noise_density == 1.6968e-04 and seq.imu.gyro_random_walk == 1.9393e-05
    assert seq.imu.accel_noise_density == 2.0e-3 and seq.imu.accel_random_walk == 3.0e-3
    assert seq.imu.rate_hz == 200.0 and np.array_equal(seq.imu.T_body_imu, np.eye(4))
    assert seq.body_yaml == {"comment": "Asctec Firefly MAV"}


def test_groundtruth(seq):
    gt = seq.groundtruth
    assert len(gt) == 2895 and gt.timestamps_ns[0] == FIRST_NS
    assert gt.p_world_body[0].tolist() == [0.878895, 2.1834, 0.948427]
    assert gt.q_world_body_wxyz[0].tolist() == [0.069433, -0.824237, -0.106942, -0.551702]
    assert gt.v_world.shape == gt.gyro_bias.shape == gt.accel_bias.shape == (2895, 3)
    assert gt.accel_bias[0].tolist() == [-0.0180115, 0.0659796, 0.0309774]
    states = list(seq.groundtruth_states())
    assert len(states) == 2895 and states[1].timestamp_ns == 1403715273312143104
    assert np.allclose(np.linalg.norm(gt.q_world_body_wxyz, axis=1), 1.0, atol=1e-5)


def test_messages_time_ordered(seq):
    msgs = list(seq.messages())
    assert len(msgs) == 29120 + 95
    stamps = [m.timestamp_ns for m in msgs]
    assert stamps == sorted(stamps)
    assert isinstance(msgs[0], ImuSample) and isinstance(msgs[1], StereoFrame)  # IMU first on a tie
    window = list(seq.messages(FIRST_NS, LAST_CAM_NS))
    assert sum(isinstance(m, StereoFrame) for m in window) == 95
    assert sum(isinstance(m, ImuSample) for m in window) == 941
    assert window[-1].timestamp_ns == LAST_CAM_NS and isinstance(window[-1], StereoFrame)
    assert list(seq.messages(FIRST_NS + 1, FIRST_NS + 4_000_000)) == []


def test_images_bit_exact(seq, euroc_micro):
    frames = list(seq.stereo_frames())
    assert len(frames) == 95
    for frame in (frames[0], frames[47], frames[-1]):
        for cam in (frame.left, frame.right):
            want = cv2.imread(str(euroc_micro / "mav0" / cam.camera / "data" / f"{frame.timestamp_ns}.png"),
                              cv2.IMREAD_UNCHANGED)
            assert cam.image.dtype == np.uint8 and cam.image.shape == (480, 752)
            assert np.array_equal(cam.image, want)
            assert np.array_equal(seq.load_image(cam.camera, frame.timestamp_ns), want)


def test_summary_json(seq):
    info = json.loads(json.dumps(seq.summary()))
    assert info["camera_frames"] == 190 and info["stereo_pairs"] == 95 and info["imu_samples"] == 29120
    assert info["imu_rate_hz"] == pytest.approx(200.0, rel=1e-3)
    assert info["camera_rate_hz"] == pytest.approx(20.0, rel=1e-3)
    assert info["duration_s"] == pytest.approx(145.595, abs=1e-3)
    assert info["groundtruth_samples"] == 2895 and info["warnings"] == {"header_line": 4}
    assert info["cam0"]["intrinsics"] == [458.654, 457.296, 367.215, 248.375]
    assert info["cam1"]["resolution"] == [752, 480] and len(info["cam1"]["T_body_cam"]) == 4


def test_mav0_and_sequence_folder_agree(seq, euroc_micro):
    other = open_euroc(euroc_micro / "mav0", quiet=True)
    assert np.array_equal(other.stereo_timestamps_ns, seq.stereo_timestamps_ns)
    assert np.array_equal(other.imu_accel, seq.imu_accel)


N_ZIP_FRAMES = 8


@pytest.fixture(scope="module", params=["V1_01_easy/", ""], ids=["top_folder", "bare_mav0"])
def zipped(request, euroc_micro, tmp_path_factory):
    """A zip of the real fragment with only its first frames (images read in place)."""
    src = euroc_micro / "mav0"
    archive = tmp_path_factory.mktemp("zip") / "V1_01_easy.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in src.rglob("*"):
            rel = path.relative_to(src).as_posix()
            if path.is_file() and not rel.startswith(("cam0/data", "cam1/data")):
                zf.write(path, f"{request.param}mav0/{rel}")
        for cam in ("cam0", "cam1"):
            lines = (src / cam / "data.csv").read_text().splitlines()[:N_ZIP_FRAMES + 1]
            zf.writestr(f"{request.param}mav0/{cam}/data.csv", "\n".join(lines) + "\n")
            for line in lines[1:]:
                name = line.split(",")[1]
                zf.write(src / cam / "data" / name, f"{request.param}mav0/{cam}/data/{name}")
    return archive


def test_zip_matches_folder(zipped, seq, euroc_micro):
    with open_euroc(zipped) as from_zip:
        assert from_zip.root == str(zipped)
        assert np.array_equal(from_zip.stereo_timestamps_ns, seq.stereo_timestamps_ns[:N_ZIP_FRAMES])
        assert np.array_equal(from_zip.imu_timestamps_ns, seq.imu_timestamps_ns)
        assert np.array_equal(from_zip.imu_gyro, seq.imu_gyro)
        assert np.array_equal(from_zip.groundtruth.q_world_body_wxyz, seq.groundtruth.q_world_body_wxyz)
        assert from_zip.cam1.intrinsics == seq.cam1.intrinsics and from_zip.body_yaml == seq.body_yaml
        assert from_zip.warnings.as_dict() == {"header_line": 4}
        for frame in from_zip.stereo_frames():
            assert ".zip:" in frame.left.source
            assert np.array_equal(frame.left.image, seq.load_image("cam0", frame.timestamp_ns))
            assert np.array_equal(frame.right.image, seq.load_image("cam1", frame.timestamp_ns))
    assert not (zipped.parent / "mav0").exists()  # nothing was extracted


def test_zip_reads_from_threads(zipped, seq):
    with open_euroc(zipped, quiet=True) as from_zip:
        jobs = [(cam, int(t)) for t in from_zip.stereo_timestamps_ns for cam in ("cam0", "cam1")] * 4
        with ThreadPoolExecutor(max_workers=8) as pool:
            images = list(pool.map(lambda job: from_zip.load_image(*job), jobs))
        for (cam, t), image in zip(jobs, images):
            assert np.array_equal(image, seq.load_image(cam, t))
    # closed: a later read reopens the archive
    assert from_zip.load_image("cam0", jobs[0][1]).shape == (480, 752)
    from_zip.close()


def test_index_without_images(euroc_micro, tmp_path):
    """Every indexed image is missing: frames are skipped and counted, IMU still loads."""
    dst = tmp_path / "any_name"
    shutil.copytree(euroc_micro / "mav0", dst / "mav0",
                    ignore=lambda d, names: [n for n in names if n.endswith(".png")])
    seq = open_euroc(dst, quiet=True)
    assert len(seq.stereo_timestamps_ns) == 0
    assert seq.warnings.counts["index_beyond_files"] == 190
    assert seq.summary()["camera_rate_hz"] is None and seq.summary()["imu_samples"] == 29120
