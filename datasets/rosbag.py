"""Replay EuRoC-style ROS bags without ROS (optional extra ``navion-sim[bags]``).

Reads ROS1 ``.bag`` files (and ROS2 bag folders) with the pure-Python ``rosbags``
library and produces the same stream as the EuRoC folder reader: ``ImuSample`` and
``StereoFrame`` merged in timestamp order. Stamps are the message header stamps,
``sec * 10**9 + nanosec`` as int64 nanoseconds (not the bag's record time).

Bags carry no calibration: it comes from a folder holding ``cam0``, ``cam1`` and
``imu0`` ``sensor.yaml`` files (EuRoC layout), or defaults to the EuRoC values.
Images stay in the bag until a consumer reads ``CameraFrame.image``; the scan only
checks their encoding and size.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

import numpy as np

from .calibration import (CameraCalibration, ImuCalibration, euroc_cameras, euroc_imu, parse_camera_yaml,
                          parse_imu_yaml, read_yaml_file)
from .errors import DatasetError, WarningCounter
from .messages import CameraFrame
from .stream import StereoInertialSequence

IMAGE = "sensor_msgs/msg/Image"
IMU = "sensor_msgs/msg/Imu"
POINT = "geometry_msgs/msg/PointStamped"
TRANSFORM = "geometry_msgs/msg/TransformStamped"
MONO_ENCODINGS = ("mono8", "8UC1")


@dataclass(frozen=True)
class BagTopics:
    """Topic names. ``groundtruth`` lists candidates; the first one in the bag is used.

    Defaults are EuRoC's: Leica prism positions (machine hall) or the Vicon pose
    (Vicon rooms), both in the tracker's own frames, not the IMU body frame.
    """

    cam0: str = "/cam0/image_raw"
    cam1: str = "/cam1/image_raw"
    imu: str = "/imu0"
    groundtruth: tuple[str, ...] = ("/leica/position", "/vicon/firefly_sbx/firefly_sbx")

    def __post_init__(self):
        gt = self.groundtruth
        object.__setattr__(self, "groundtruth", (gt,) if isinstance(gt, str) else tuple(gt))
        names = [self.cam0, self.cam1, self.imu, *self.groundtruth]
        if not all(isinstance(n, str) and n.strip("/") for n in names):
            raise DatasetError(f"topic names must be non-empty strings, got {names}")
        if len(set(names)) != len(names):
            raise DatasetError(f"topic names must be distinct, got {names}")

    @classmethod
    def from_dict(cls, data: dict) -> "BagTopics":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise DatasetError(f"unknown bag topic keys {sorted(unknown)} "
                               f"(expected {[f.name for f in fields(cls)]})")
        return cls(**data)


def _rosbags():
    """The rosbags entry points, imported on first use so the extra stays optional."""
    try:
        from rosbags.highlevel import AnyReader
        from rosbags.rosbag1 import Writer
        from rosbags.typesys import Stores, get_typestore
    except ImportError:
        raise DatasetError("ROS bag support needs the optional 'rosbags' package: "
                           "pip install 'navion-sim[bags]'") from None
    return AnyReader, Writer, get_typestore(Stores.ROS1_NOETIC)


def load_calibration(folder: str | Path | None) -> tuple[CameraCalibration, CameraCalibration, ImuCalibration]:
    """cam0, cam1, imu0 calibration from ``folder/{cam0,cam1,imu0}/sensor.yaml`` (or its
    ``mav0`` subfolder); EuRoC's own values when ``folder`` is None."""
    if folder is None:
        return (*euroc_cameras(), euroc_imu())
    root = Path(folder)
    if (root / "mav0").is_dir():
        root = root / "mav0"
    cams = [parse_camera_yaml(read_yaml_file(root / name / "sensor.yaml"), str(root / name / "sensor.yaml"), name)
            for name in ("cam0", "cam1")]
    imu_file = root / "imu0" / "sensor.yaml"
    return cams[0], cams[1], parse_imu_yaml(read_yaml_file(imu_file), str(imu_file))


def _stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 10**9 + int(msg.header.stamp.nanosec)


def _increasing(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keep, duplicate, decreasing) masks: a stamp is kept only if it exceeds every earlier one."""
    previous_max = np.maximum.accumulate(np.concatenate(([np.iinfo(np.int64).min], stamps)))[:-1]
    return stamps > previous_max, stamps == previous_max, stamps < previous_max


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array



class RosBag(StereoInertialSequence):
    """A scanned ROS bag: IMU arrays in memory, camera frames as lazy references into the bag.

    Mirrors ``datasets.euroc.EurocSequence``. Attributes: ``cam0``, ``cam1``
    (CameraCalibration), ``imu`` (ImuCalibration); ``stereo_timestamps_ns`` int64 (S,);
    ``imu_timestamps_ns`` int64 (N,), ``imu_gyro`` [rad/s] and ``imu_accel`` [m/s^2] (N, 3)
    in the IMU frame; ``groundtruth_timestamps_ns`` (M,), ``groundtruth_position`` [m] (M, 3)
    and ``groundtruth_q_wxyz`` (M, 4) or None (Leica gives positions only), raw tracker
    measurements in the tracker's frames, not the body frame; ``warnings`` (WarningCounter)
    counting dropped duplicate/decreasing stamps, non-finite IMU samples and unpaired frames.
    All arrays are read-only. Use as a context manager, or call :meth:`close`, to release
    the file.
    """

    def __init__(self, path: str | Path, calibration: str | Path | None = None, quiet: bool = False,
                 topics: BagTopics | None = None):
        self.path = Path(path)
        self.root = self.path  # where the sequence lives, as EurocSequence.root
        self.topics = topics or BagTopics()
        self.cam0, self.cam1, self.imu = load_calibration(calibration)
        self.warnings = WarningCounter(quiet=quiet)
        self._reader = None
        try:
            self._scan()
        except BaseException:
            self.close()
            raise

    # -- scanning -------------------------------------------------------------------------------
    def _open_reader(self):
        if self._reader is None:
            AnyReader, _, typestore = _rosbags()
            try:
                reader = AnyReader([self.path], default_typestore=typestore)
                reader.open()
            except FileNotFoundError:
                raise DatasetError("no such ROS bag", self.path) from None
            except Exception as exc:  # rosbags raises many types on damaged files
                raise DatasetError(f"unreadable ROS bag: {exc}", self.path) from exc
            self._reader = reader
        return self._reader

    def _roles(self, reader) -> tuple[dict[str, str], str | None]:
        """Role ("cam0", "cam1", "imu", "groundtruth") of each used topic, and the ground-truth type."""
        types: dict[str, set[str]] = {}
        for conn in reader.connections:
            types.setdefault(conn.topic, set()).add(conn.msgtype)
        roles = {self.topics.cam0: "cam0", self.topics.cam1: "cam1", self.topics.imu: "imu"}
        expected = {self.topics.cam0: {IMAGE}, self.topics.cam1: {IMAGE}, self.topics.imu: {IMU}}
        gt_topic = next((t for t in self.topics.groundtruth if t in types), None)
        if gt_topic is not None:
            roles[gt_topic] = "groundtruth"
            expected[gt_topic] = {POINT, TRANSFORM}
        for topic, allowed in expected.items():
            if topic not in types:
                raise DatasetError(f"topic '{topic}' not in bag (it has: {', '.join(sorted(types)) or 'none'})",
                                   self.path)
            if len(types[topic]) != 1 or not types[topic] <= allowed:
                raise DatasetError(f"topic '{topic}' carries {sorted(types[topic])}, expected one of "
                                   f"{sorted(allowed)}", self.path)
        return roles, None if gt_topic is None else next(iter(types[gt_topic]))

    def _check_image(self, msg, topic: str, cal: CameraCalibration) -> None:
        if msg.encoding not in MONO_ENCODINGS:
            raise DatasetError(f"'{topic}' image encoding '{msg.encoding}' is not supported "
                               f"(expected {' or '.join(MONO_ENCODINGS)})", self.path)
        if (msg.width, msg.height) != tuple(cal.resolution):
            raise DatasetError(f"'{topic}' images are {msg.width}x{msg.height} but the {cal.name} calibration "
                               f"says {cal.resolution[0]}x{cal.resolution[1]}", self.path)
        if msg.step < msg.width or len(msg.data) < msg.step * msg.height:
            raise DatasetError(f"'{topic}' image data is shorter than step*height", self.path)

    def _scan(self) -> None:
        reader = self._open_reader()
        roles, gt_type = self._roles(reader)
        cals = {"cam0": self.cam0, "cam1": self.cam1}
        imu_rows: list[tuple] = []
        frames: dict[str, list[tuple[int, tuple]]] = {"cam0": [], "cam1": []}
        gt_rows: list[tuple] = []
        seen: Counter[tuple[str, int]] = Counter()
        try:
            for conn, record_ns, raw in reader.messages([c for c in reader.connections if c.topic in roles]):
                role = roles[conn.topic]
                msg = reader.deserialize(raw, conn.msgtype)
                stamp = _stamp_ns(msg)
                if role == "imu":
                    w, a = msg.angular_velocity, msg.linear_acceleration
                    imu_rows.append((stamp, w.x, w.y, w.z, a.x, a.y, a.z))
                elif role == "groundtruth":
                    gt_rows.append(_groundtruth_row(msg, stamp))
                else:
                    self._check_image(msg, conn.topic, cals[role])
                    frames[role].append((stamp, (conn.topic, record_ns, seen[conn.topic, record_ns])))
                    seen[conn.topic, record_ns] += 1
        except DatasetError:
            raise
        except Exception as exc:  # damaged chunk, record or message bytes
            raise DatasetError(f"damaged ROS bag: {type(exc).__name__}: {exc}", self.path) from exc
        self._set_imu(imu_rows)
        self._set_cameras(frames)
        self._set_groundtruth(gt_rows, gt_type)

    def _drop_disordered(self, stamps: np.ndarray, topic: str) -> np.ndarray:
        """Keep mask for strictly increasing stamps; repeats and backward steps are counted."""
        keep, duplicate, decreasing = _increasing(stamps)
        for kind, mask, what in (("duplicate_stamp", duplicate, "repeated stamp"),
                                 ("non_monotonic_stamp", decreasing, "stamp goes back in time")):
            if mask.any():
                first = int(stamps[np.argmax(mask)])
                self.warnings.warn(kind, f"{self.path}: '{topic}' {what} ({first} ns); message dropped",
                                   int(mask.sum()))
        return keep

    def _set_imu(self, rows: list[tuple]) -> None:
        stamps = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([r[1:] for r in rows], dtype=np.float64).reshape(-1, 6)
        finite = np.isfinite(values).all(axis=1)
        self.warnings.warn("nan_sample", f"{self.path}: '{self.topics.imu}' sample with NaN/inf; dropped",
                           int(np.sum(~finite)))
        stamps, values = stamps[finite], values[finite]
        keep = self._drop_disordered(stamps, self.topics.imu)
        self.imu_timestamps_ns = _frozen(stamps[keep])
        self.imu_gyro = _frozen(values[keep, :3].copy())
        self.imu_accel = _frozen(values[keep, 3:].copy())

    def _set_cameras(self, frames: dict[str, list[tuple[int, tuple]]]) -> None:
        self._keys: dict[str, dict[int, tuple]] = {}
        for cam, topic in (("cam0", self.topics.cam0), ("cam1", self.topics.cam1)):
            keep = self._drop_disordered(np.array([s for s, _ in frames[cam]], dtype=np.int64), topic)
            self._keys[cam] = {s: key for (s, key), ok in zip(frames[cam], keep) if ok}
        self._camera_ns = {cam: _frozen(np.fromiter(keys, np.int64, len(keys)))
                           for cam, keys in self._keys.items()}
        t0, t1 = self._camera_ns["cam0"], self._camera_ns["cam1"]
        self.stereo_timestamps_ns = _frozen(np.intersect1d(t0, t1, assume_unique=True))
        self.warnings.warn("unpaired_frame", f"{self.path}: frames without a partner of the same stamp in the "
                           "other camera are excluded from stereo pairs",
                           len(t0) + len(t1) - 2 * len(self.stereo_timestamps_ns))

    def _set_groundtruth(self, rows: list[tuple], gt_type: str | None) -> None:
        stamps = np.array([r[0] for r in rows], dtype=np.int64)
        values = np.array([r[1:] for r in rows], dtype=np.float64).reshape(-1, 7 if gt_type == TRANSFORM else 3)
        keep = self._drop_disordered(stamps, "groundtruth")
        self.groundtruth_timestamps_ns = _frozen(stamps[keep])
        self.groundtruth_position = _frozen(values[keep, :3].copy())
        self.groundtruth_q_wxyz = _frozen(values[keep, 3:].copy()) if gt_type == TRANSFORM else None

    # -- images ---------------------------------------------------------------------------------
    def _load_image(self, key: tuple[str, int, int]) -> np.ndarray:
        """uint8 (height, width) pixels of the ``ordinal``-th message on ``topic`` at ``record_ns``."""
        topic, record_ns, ordinal = key
        reader = self._open_reader()
        try:
            conns = [c for c in reader.connections if c.topic == topic]
            stream = reader.messages(conns, start=record_ns, stop=record_ns + 1)
            conn, _, raw = next(itertools.islice(stream, ordinal, None))
            msg = reader.deserialize(raw, conn.msgtype)
        except Exception as exc:
            raise DatasetError(f"cannot read image on '{topic}' at bag time {record_ns}: {exc}",
                               self.path) from exc
        rows = np.frombuffer(msg.data, dtype=np.uint8, count=msg.step * msg.height)
        return rows.reshape(msg.height, msg.step)[:, :msg.width].copy()


    def load_image(self, camera: str, timestamp_ns: int) -> np.ndarray:
        """uint8 (height, width) image of ``camera`` at a valid frame stamp; DatasetError if unreadable."""
        self._check_camera(camera)
        key = self._keys[camera].get(int(timestamp_ns))
        if key is None:
            raise DatasetError(f"{camera} has no valid frame at {int(timestamp_ns)} ns", self.path)
        return self._load_image(key)


    # -- streams --------------------------------------------------------------------------------
    def _frame(self, camera: str, timestamp_ns: int) -> CameraFrame:
        key = self._keys[camera][timestamp_ns]
        return CameraFrame(timestamp_ns, camera, f"{self.path}:{key[0]}", partial(self._load_image, key))







    def _groundtruth_count(self) -> int:
        return len(self.groundtruth_timestamps_ns)

    def close(self) -> None:
        """Release the bag file; later image reads reopen it."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()





def _groundtruth_row(msg, stamp: int) -> tuple:
    if hasattr(msg, "point"):
        return stamp, msg.point.x, msg.point.y, msg.point.z
    tr, q = msg.transform.translation, msg.transform.rotation
    return stamp, tr.x, tr.y, tr.z, q.w, q.x, q.y, q.z


def open_bag(path: str | Path, calibration: str | Path | None = None, quiet: bool = False,
             topics: BagTopics | None = None) -> RosBag:
    """Scan a ROS bag (see :class:`RosBag`); DatasetError if it is missing, damaged or lacks topics."""
    return RosBag(path, calibration, quiet, topics)


def write_euroc_bag(path: str | Path, imu_timestamps_ns, gyro, accel, stereo, *,
                    groundtruth=None, topics: BagTopics | None = None) -> Path:
    """Write a ROS1 bag laid out like EuRoC's (record time = header stamp).

    imu_timestamps_ns (N,) int64, gyro [rad/s] and accel [m/s^2] (N, 3); ``stereo`` is a list
    of ``(timestamp_ns, left, right)`` uint8 (height, width) images (either may be None to
    leave that camera's frame out); ``groundtruth`` optionally ``(timestamps_ns, positions
    (M, 3) [m])`` written as PointStamped on the first ground-truth topic. Values are written
    as given, unvalidated, so tests can build flawed bags. Refuses to overwrite.
    """
    _, Writer, ts = _rosbags()
    path, topics = Path(path), topics or BagTopics()
    if path.exists():
        raise DatasetError("already exists; not overwriting", path)
    T = ts.types
    seq: Counter[str] = Counter()

    def header(stamp: int, frame: str):
        seq[frame] += 1
        stamp_msg = T["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9)
        return T["std_msgs/msg/Header"](seq=seq[frame], stamp=stamp_msg, frame_id=frame)

    def vector(v, kind: str = "Vector3"):
        return T[f"geometry_msgs/msg/{kind}"](x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def imu(stamp: int, g, a):
        no_orientation = np.zeros(9)
        no_orientation[0] = -1.0  # ROS convention: orientation not estimated
        return T[IMU](header=header(stamp, "imu0"),
                      orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
                      orientation_covariance=no_orientation, angular_velocity=vector(g),
                      angular_velocity_covariance=np.zeros(9), linear_acceleration=vector(a),
                      linear_acceleration_covariance=np.zeros(9))

    def image(stamp: int, frame: str, pixels):
        pixels = np.asarray(pixels)
        if pixels.ndim != 2 or pixels.dtype != np.uint8:
            raise DatasetError(f"{frame} images must be 2-D uint8, got {pixels.dtype} {pixels.shape}", path)
        h, w = pixels.shape
        return T[IMAGE](header=header(stamp, frame), height=h, width=w, encoding="mono8", is_bigendian=0,
                        step=w, data=np.ascontiguousarray(pixels).ravel())

    records = [(t, topics.imu, IMU, imu(t, g, a))
               for t, g, a in zip(np.asarray(imu_timestamps_ns).tolist(), np.asarray(gyro), np.asarray(accel))]
    for t, left, right in stereo:
        for topic, frame, pixels in ((topics.cam0, "cam0", left), (topics.cam1, "cam1", right)):
            if pixels is not None:
                records.append((int(t), topic, IMAGE, image(int(t), frame, pixels)))
    if groundtruth is not None:
        for t, p in zip(np.asarray(groundtruth[0]).tolist(), np.asarray(groundtruth[1])):
            records.append((t, topics.groundtruth[0], POINT,
                            T[POINT](header=header(t, "world"), point=vector(p, "Point"))))
    records.sort(key=lambda r: r[0])
    try:
        with Writer(path) as writer:
            conns = {}
            for stamp, topic, msgtype, msg in records:
                if topic not in conns:
                    conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
                writer.write(conns[topic], stamp, ts.serialize_ros1(msg, msgtype))
    except Exception as exc:
        path.unlink(missing_ok=True)
        raise DatasetError(f"cannot write ROS bag: {exc}", path) from exc
    return path
