"""ROS bag replay: bags written with rosbags come back bit-exact, flaws are counted, damage is a DatasetError."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rosbags", reason="optional extra navion-sim[bags] not installed")

from datasets.calibration import camera_yaml, euroc_cameras, euroc_imu, imu_yaml  # noqa: E402
from datasets.errors import DatasetError  # noqa: E402
from datasets.messages import ImuSample, StereoFrame  # noqa: E402
from datasets.rosbag import BagTopics, open_bag, write_euroc_bag  # noqa: E402

W, H = 16, 12
T0 = 1_403_636_580_838_560_000


def _calibration(folder: Path) -> Path:
    """EuRoC calibration with the tiny test resolution, in EuRoC's folder layout."""
    for cam in euroc_cameras():
        (folder / cam.name).mkdir(parents=True)
        (folder / cam.name / "sensor.yaml").write_text(camera_yaml(dataclasses.replace(cam, resolution=(W, H))))
    (folder / "imu0").mkdir()
    (folder / "imu0" / "sensor.yaml").write_text(imu_yaml(euroc_imu()))
    return folder


@pytest.fixture
def calib(tmp_path) -> Path:
    return _calibration(tmp_path / "calib")


def _sequence(n_imu=200, n_stereo=10, seed=0):
    rng = np.random.default_rng(seed)
    t_imu = T0 + np.arange(n_imu, dtype=np.int64) * 5_000_000  # 200 Hz
    stereo = [(T0 + i * 50_000_000 + 1, rng.integers(0, 256, (H, W), dtype=np.uint8),
               rng.integers(0, 256, (H, W), dtype=np.uint8)) for i in range(n_stereo)]  # 20 Hz, off the IMU grid
    return t_imu, rng.normal(size=(n_imu, 3)), rng.normal(size=(n_imu, 3)) + [0, 0, 9.81], stereo


def test_round_trip(tmp_path, calib):
    t_imu, gyro, accel, stereo = _sequence()
    gt_t, gt_p = t_imu[::2], np.random.default_rng(1).normal(size=(100, 3))
    path = write_euroc_bag(tmp_path / "seq.bag", t_imu, gyro, accel, stereo, groundtruth=(gt_t, gt_p))
    with open_bag(path, calibration=calib) as bag:
        assert bag.imu_timestamps_ns.dtype == np.int64
        assert np.array_equal(bag.imu_timestamps_ns, t_imu)
        assert np.array_equal(bag.imu_gyro, gyro) and np.array_equal(bag.imu_accel, accel)
        assert bag.stereo_timestamps_ns.tolist() == [t for t, _, _ in stereo]
        assert np.array_equal(bag.groundtruth_timestamps_ns, gt_t)
        assert np.array_equal(bag.groundtruth_position, gt_p)
        assert bag.groundtruth_q_wxyz is None  # Leica-style positions only
        assert bag.cam0.resolution == (W, H) and bag.warnings.as_dict() == {}

        frames = list(bag.stereo_frames())
        assert all("image" not in f.left._cache for f in frames)  # nothing decoded by the scan
        for frame, (t, left, right) in zip(frames, stereo):
            assert frame.timestamp_ns == frame.left.timestamp_ns == frame.right.timestamp_ns == t
            assert (frame.left.camera, frame.right.camera) == ("cam0", "cam1")
            assert frame.left.image.dtype == np.uint8 and np.array_equal(frame.left.image, left)
            assert np.array_equal(frame.right.image, right)

        messages = list(bag.messages())
        stamps = [m.timestamp_ns for m in messages]
        assert stamps == sorted(stamps) and len(messages) == 210
        assert sum(isinstance(m, StereoFrame) for m in messages) == 10
        imu = [m for m in messages if isinstance(m, ImuSample)]
        assert np.array_equal([m.gyro for m in imu], gyro)

        summary = bag.summary()
        assert summary["camera_frames"] == 20 and summary["stereo_pairs"] == 10
        assert summary["imu_samples"] == 200 and summary["groundtruth_samples"] == 100
        assert summary["imu_rate_hz"] == pytest.approx(200.0) and summary["camera_rate_hz"] == pytest.approx(20.0)
        assert summary["duration_s"] == pytest.approx(0.995)
        assert summary["cam0"] == bag.cam0.to_dict() and summary["warnings"] == {}
    late = list(bag.stereo_frames())[-1]  # after close, the bag is reopened on demand
    assert np.array_equal(late.left.image, stereo[-1][1])
    bag.close()


def test_messages_time_window(tmp_path, calib):
    t_imu, gyro, accel, stereo = _sequence(n_imu=100, n_stereo=5)
    with open_bag(write_euroc_bag(tmp_path / "w.bag", t_imu, gyro, accel, stereo), calibration=calib) as bag:
        lo, hi = stereo[1][0], stereo[3][0]
        window = list(bag.messages(start_ns=lo, end_ns=hi))
    assert [m.timestamp_ns for m in window if isinstance(m, StereoFrame)] == [lo, stereo[2][0], hi]
    assert [m.timestamp_ns for m in window if isinstance(m, ImuSample)] == [t for t in t_imu if lo <= t <= hi]


def test_imu_before_frame_at_equal_stamp(tmp_path, calib):
    t_imu, gyro, accel, stereo = _sequence(n_imu=20, n_stereo=2)
    stereo = [(int(t_imu[10]), stereo[0][1], stereo[0][2])]
    with open_bag(write_euroc_bag(tmp_path / "s.bag", t_imu, gyro, accel, stereo), calibration=calib) as bag:
        kinds = [(m.timestamp_ns, type(m).__name__) for m in bag.messages()]
    assert kinds[10:12] == [(t_imu[10], "ImuSample"), (t_imu[10], "StereoFrame")]


def test_flaws_are_dropped_and_counted(tmp_path, calib):
    t_imu, gyro, accel, stereo = _sequence(n_imu=30, n_stereo=6)
    t_imu[5] = t_imu[4]          # duplicate IMU stamp (decreasing ones: see the ROS2 test)
    gyro[12, 1] = np.nan         # NaN IMU sample
    stereo[2] = (stereo[2][0], stereo[2][1], None)   # left without right
    stereo[3] = (stereo[3][0], None, stereo[3][2])   # right without left
    stereo[5] = (stereo[4][0], stereo[5][1], stereo[5][2])  # repeated stereo stamp
    path = write_euroc_bag(tmp_path / "flawed.bag", t_imu, gyro, accel, stereo)
    with open_bag(path, calibration=calib, quiet=True) as bag:
        assert bag.warnings.as_dict() == {"duplicate_stamp": 3, "nan_sample": 1, "unpaired_frame": 2}
        assert len(bag.imu_timestamps_ns) == 28 and np.all(np.diff(bag.imu_timestamps_ns) > 0)
        assert np.isfinite(bag.imu_gyro).all()
        assert bag.stereo_timestamps_ns.tolist() == [stereo[i][0] for i in (0, 1, 4)]
        assert bag.camera_timestamps_ns("cam0").tolist() == [stereo[i][0] for i in (0, 1, 2, 4)]
        assert np.array_equal(bag.load_image("cam0", stereo[4][0]), stereo[4][1])  # the first of the repeats
        assert np.array_equal(bag.load_image("cam0", stereo[2][0]), stereo[2][1])  # unpaired, still loadable
        with pytest.raises(DatasetError, match="no valid frame"):
            bag.load_image("cam1", stereo[2][0])
        with pytest.raises(ValueError, match="unknown camera"):
            bag.camera_timestamps_ns("cam2")
        assert bag.summary()["camera_frames"] == 8


def test_ros2_bag_with_vicon_groundtruth(tmp_path, calib):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    t_imu, gyro, accel, stereo = _sequence(n_imu=20, n_stereo=2)

    def header(t):
        stamp = T["builtin_interfaces/msg/Time"](sec=int(t) // 10**9, nanosec=int(t) % 10**9)
        return T["std_msgs/msg/Header"](stamp=stamp, frame_id="x")

    def vec(cls, v):
        return T[cls](x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def imu(t, g, a):
        return T["sensor_msgs/msg/Imu"](
            header=header(t), orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
            orientation_covariance=np.zeros(9), angular_velocity=vec("geometry_msgs/msg/Vector3", g),
            angular_velocity_covariance=np.zeros(9), linear_acceleration=vec("geometry_msgs/msg/Vector3", a),
            linear_acceleration_covariance=np.zeros(9))

    records = [(int(t), "/imu0", "sensor_msgs/msg/Imu", imu(t, g, a)) for t, g, a in zip(t_imu, gyro, accel)]
    # recorded last, but its header stamp goes back in time
    records.append((int(t_imu[-1]) + 1, "/imu0", "sensor_msgs/msg/Imu", imu(t_imu[3], gyro[0], accel[0])))
    for t, left, right in stereo:
        for topic, img in (("/cam0/image_raw", left), ("/cam1/image_raw", right)):
            records.append((t, topic, "sensor_msgs/msg/Image", T["sensor_msgs/msg/Image"](
                header=header(t), height=H, width=W, encoding="mono8", is_bigendian=0, step=W, data=img.ravel())))
    q_xyzw = np.array([0.1, -0.2, 0.3, 0.9])
    records.append((T0, "/vicon/firefly_sbx/firefly_sbx", "geometry_msgs/msg/TransformStamped",
                    T["geometry_msgs/msg/TransformStamped"](header=header(T0), child_frame_id="body",
                                                            transform=T["geometry_msgs/msg/Transform"](
                        translation=vec("geometry_msgs/msg/Vector3", [1, 2, 3]),
                        rotation=T["geometry_msgs/msg/Quaternion"](*q_xyzw)))))
    records.sort(key=lambda r: r[0])
    with Writer(tmp_path / "ros2bag", version=9) as writer:
        conns = {}
        for t, topic, msgtype, msg in records:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            writer.write(conns[topic], t, ts.serialize_cdr(msg, msgtype))

    with open_bag(tmp_path / "ros2bag", calibration=calib, quiet=True) as bag:
        assert np.array_equal(bag.imu_timestamps_ns, t_imu) and np.array_equal(bag.imu_accel, accel)
        assert bag.warnings.as_dict() == {"non_monotonic_stamp": 1}
        assert np.array_equal(next(bag.stereo_frames()).right.image, stereo[0][2])
        assert bag.groundtruth_position.tolist() == [[1.0, 2.0, 3.0]]
        assert bag.groundtruth_q_wxyz.tolist() == [q_xyzw[[3, 0, 1, 2]].tolist()]


def test_custom_topics(tmp_path, calib):
    topics = BagTopics.from_dict({"cam0": "/left", "cam1": "/right", "imu": "/imu", "groundtruth": ["/gt"]})
    t_imu, gyro, accel, stereo = _sequence(n_imu=10, n_stereo=1)
    path = write_euroc_bag(tmp_path / "c.bag", t_imu, gyro, accel, stereo, topics=topics)
    with open_bag(path, calibration=calib, topics=topics) as bag:
        assert len(bag.stereo_timestamps_ns) == 1 and len(bag.imu_timestamps_ns) == 10
    with pytest.raises(DatasetError, match="topic '/cam0/image_raw' not in bag"):
        open_bag(path, calibration=calib)
    with pytest.raises(DatasetError, match="unknown bag topic keys"):
        BagTopics.from_dict({"camera": "/x"})
    with pytest.raises(DatasetError, match="distinct"):
        BagTopics(cam0="/a", cam1="/a")


def test_resolution_must_match_calibration(tmp_path):
    t_imu, gyro, accel, stereo = _sequence(n_imu=10, n_stereo=1)
    path = write_euroc_bag(tmp_path / "tiny.bag", t_imu, gyro, accel, stereo)
    with pytest.raises(DatasetError, match=f"{W}x{H} but the cam0 calibration says 752x480") as info:
        open_bag(path)  # default EuRoC calibration
    assert info.value.path == str(path)


@pytest.mark.parametrize("damage", ["truncated_tail", "truncated_half", "header_only", "garbage", "empty"])
def test_damaged_bag_is_dataset_error(tmp_path, calib, damage):
    t_imu, gyro, accel, stereo = _sequence(n_imu=50, n_stereo=3)
    data = write_euroc_bag(tmp_path / "good.bag", t_imu, gyro, accel, stereo).read_bytes()
    damaged = {"truncated_tail": data[:-100], "truncated_half": data[:len(data) // 2], "header_only": data[:13],
               "garbage": np.random.default_rng(0).bytes(5000), "empty": b""}[damage]
    path = tmp_path / "bad.bag"
    path.write_bytes(damaged)
    with pytest.raises(DatasetError) as info:
        with open_bag(path, calibration=calib, quiet=True) as bag:
            for frame in bag.stereo_frames():
                frame.left.image
    assert str(path) in str(info.value)


def test_missing_bag_and_calibration(tmp_path):
    with pytest.raises(DatasetError, match="no such ROS bag"):
        open_bag(tmp_path / "nope.bag")
    t_imu, gyro, accel, stereo = _sequence(n_imu=5, n_stereo=1)
    path = write_euroc_bag(tmp_path / "a.bag", t_imu, gyro, accel, stereo)
    with pytest.raises(DatasetError, match="cannot read"):
        open_bag(path, calibration=tmp_path / "no_calib")
    with pytest.raises(DatasetError, match="already exists"):
        write_euroc_bag(path, t_imu, gyro, accel, stereo)


def test_missing_rosbags_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rosbags.highlevel", None)
    with pytest.raises(DatasetError, match=r"navion-sim\[bags\]"):
        open_bag(tmp_path / "x.bag")


def test_replay_of_a_bag_writes_its_run_folder(tmp_path, calib, capsys):
    """`navion replay` takes a bag like a folder (summary names the bag; too-small frames never crash it)."""
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "navion"))
    from cli_runner import run

    t_imu, gyro, accel, stereo = _sequence()
    path = write_euroc_bag(tmp_path / "r.bag", t_imu, gyro, accel, stereo)
    code, out, err = run(capsys, "replay", path, "--calibration", calib, "--out", tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["sequence"] == str(path) and summary["frames"] == 10
