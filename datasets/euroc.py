"""EuRoC MAV reader (ASL folder layout or the sequence's zip, read in place).

Frames (Burri et al., IJRR 2016): EuRoC's body frame B is the IMU frame; each
sensor.yaml ``T_BS`` is ``T_body_sensor``. Ground truth ``p_RS_R``, ``q_RS`` are the
body position and orientation in the world frame R: ``p_world_body``,
``q_world_body_wxyz``. All stamps are int64 nanoseconds.
"""
from __future__ import annotations

import threading
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Iterator, Optional, Union

import cv2
import numpy as np

from .calibration import load_yaml_text, parse_camera_yaml, parse_imu_yaml
from .errors import DatasetError, WarningCounter
from .euroc_csv import read_image_index, read_numeric_csv
from .messages import CameraFrame, GroundTruthState
from .stream import CAMERAS, StereoInertialSequence

REQUIRED = ("cam0/sensor.yaml", "cam1/sensor.yaml", "imu0/sensor.yaml",
            "cam0/data.csv", "cam1/data.csv", "imu0/data.csv")
GROUNDTRUTH_CSV = "state_groundtruth_estimate0/data.csv"


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


class _FolderSource:
    """Files below a ``mav0`` folder, addressed by paths relative to it."""

    def __init__(self, mav0: Path):
        self.mav0 = mav0
        self.root = str(mav0)

    def where(self, rel: str) -> str:
        return str(self.mav0 / rel)

    def exists(self, rel: str) -> bool:
        return (self.mav0 / rel).is_file()

    def listdir(self, rel: str) -> set[str]:
        folder = self.mav0 / rel
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()

    def read_bytes(self, rel: str) -> bytes:
        try:
            return (self.mav0 / rel).read_bytes()
        except OSError as exc:
            raise DatasetError(f"cannot read: {exc.strerror}", self.where(rel)) from None

    def close(self) -> None:
        pass


class _ZipSource:
    """Members below the ``mav0/`` folder of a zip (possibly under a top-level folder).

    The archive is opened on first read and every read holds a lock, so frames may
    be loaded from several threads.
    """

    def __init__(self, path: Path):
        self.path = path
        self.root = str(path)
        self._lock = threading.Lock()
        self._zip: Optional[zipfile.ZipFile] = None
        with self._lock:
            names = self._archive().namelist()
        prefixes = {"/".join(parts[:i + 1]) + "/" for parts in (n.split("/") for n in names)
                    for i, part in enumerate(parts[:-1]) if part == "mav0"}
        if not prefixes:
            raise DatasetError("zip has no mav0/ folder", path)
        self.prefix = min(prefixes, key=lambda p: (p.count("/"), p))
        self._names = {n[len(self.prefix):] for n in names if n.startswith(self.prefix)}

    def _archive(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (OSError, zipfile.BadZipFile) as exc:
                raise DatasetError(f"cannot open zip: {exc}", self.path) from None
        return self._zip

    def where(self, rel: str) -> str:
        return f"{self.path}:{self.prefix}{rel}"

    def exists(self, rel: str) -> bool:
        return rel in self._names

    def listdir(self, rel: str) -> set[str]:
        head = rel.rstrip("/") + "/"
        return {n[len(head):] for n in self._names if n.startswith(head) and "/" not in n[len(head):]}

    def read_bytes(self, rel: str) -> bytes:
        if rel not in self._names:
            raise DatasetError(f"zip lacks member '{self.prefix}{rel}'", self.path)
        with self._lock:
            try:
                return self._archive().read(self.prefix + rel)
            except (OSError, zipfile.BadZipFile, EOFError) as exc:
                raise DatasetError(f"cannot read: {exc}", self.where(rel)) from None

    def close(self) -> None:
        with self._lock:
            if self._zip is not None:
                self._zip.close()
                self._zip = None


_Source = Union[_FolderSource, _ZipSource]


@dataclass(frozen=True)
class GroundTruth:
    """Ground-truth body states, read-only arrays of length M.

    p_world_body [m] (M,3); q_world_body_wxyz Hamilton, w first (M,4); v_world [m/s],
    gyro_bias [rad/s], accel_bias [m/s^2] (M,3) or None when the csv has 8 columns.
    """

    timestamps_ns: np.ndarray
    p_world_body: np.ndarray
    q_world_body_wxyz: np.ndarray
    v_world: Optional[np.ndarray] = None
    gyro_bias: Optional[np.ndarray] = None
    accel_bias: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.timestamps_ns)

    def states(self) -> Iterator[GroundTruthState]:
        for i, t in enumerate(self.timestamps_ns):
            extra = [None if a is None else a[i] for a in (self.v_world, self.gyro_bias, self.accel_bias)]
            yield GroundTruthState(int(t), self.p_world_body[i], self.q_world_body_wxyz[i], *extra)


def _decode_gray8(data: bytes, where: str) -> np.ndarray:
    """Decode an image file's bytes to uint8 (height, width); colour is converted to gray."""
    if not data:
        raise DatasetError("empty image file", where)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError("cannot decode image", where)
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype != np.uint8:
        raise DatasetError(f"expected an 8-bit image, got {image.dtype}", where)
    return image


class EurocSequence(StereoInertialSequence):
    """One EuRoC sequence: calibration, IMU, stereo frames (lazy images) and optional ground truth.

    Build it with :func:`open_euroc`. Tolerated input problems are dropped and counted
    in :attr:`warnings`. Use as a context manager (or call :meth:`close`) to release
    an open zip.
    """

    def __init__(self, source: _Source, warnings: WarningCounter):
        self._source = source
        self.root = source.root
        self.warnings = warnings
        self.cam0, self.cam1 = (parse_camera_yaml(self._text(f"{cam}/sensor.yaml"),
                                                  source.where(f"{cam}/sensor.yaml"), cam) for cam in CAMERAS)
        self.imu = parse_imu_yaml(self._text("imu0/sensor.yaml"), source.where("imu0/sensor.yaml"), "imu0")
        self.body_yaml = (load_yaml_text(self._text("body.yaml"), source.where("body.yaml"))
                          if source.exists("body.yaml") else None)
        self._files = {cam: self._read_camera(cam) for cam in CAMERAS}
        self._camera_ns = {cam: _readonly(np.fromiter(files, np.int64, len(files)))
                           for cam, files in self._files.items()}
        t0, t1 = self._camera_ns["cam0"], self._camera_ns["cam1"]
        self.stereo_timestamps_ns = _readonly(np.intersect1d(t0, t1, assume_unique=True))
        unpaired = len(t0) + len(t1) - 2 * len(self.stereo_timestamps_ns)
        self.warnings.warn("unpaired_frame", f"{self.root}: frames without a partner of the same "
                           "timestamp in the other camera are excluded from stereo pairs", unpaired)
        stamps, values = read_numeric_csv(self._text("imu0/data.csv"), source.where("imu0/data.csv"),
                                          (7,), warnings)
        self.imu_timestamps_ns = _readonly(stamps)
        self.imu_gyro = _readonly(values[:, 0:3])
        self.imu_accel = _readonly(values[:, 3:6])
        self.groundtruth = self._read_groundtruth() if source.exists(GROUNDTRUTH_CSV) else None

    def _text(self, rel: str) -> str:
        return self._source.read_bytes(rel).decode("utf-8", errors="replace")

    def _read_camera(self, cam: str) -> dict[int, str]:
        """Valid frames of ``cam``: {timestamp_ns: filename}, in time order."""
        stamps, names = read_image_index(self._text(f"{cam}/data.csv"), self._source.where(f"{cam}/data.csv"),
                                         self.warnings)
        on_disk = self._source.listdir(f"{cam}/data")
        present = np.array([n in on_disk for n in names], dtype=bool)
        last = int(np.flatnonzero(present)[-1]) + 1 if present.any() else 0
        where = self._source.where(f"{cam}/data")
        self.warnings.warn("missing_image", f"{where}: image listed in data.csv is missing; frame skipped",
                           int((~present[:last]).sum()))
        self.warnings.warn("index_beyond_files", f"{where}: data.csv lists frames after the last image "
                           "file; those rows skipped", int((~present[last:]).sum()))
        return {int(t): n for t, n, ok in zip(stamps, names, present) if ok}

    def _read_groundtruth(self) -> GroundTruth:
        stamps, v = read_numeric_csv(self._text(GROUNDTRUTH_CSV), self._source.where(GROUNDTRUTH_CSV),
                                     (8, 17), self.warnings)
        full = v.shape[1] == 16
        return GroundTruth(_readonly(stamps), _readonly(v[:, 0:3]), _readonly(v[:, 3:7]),
                           *(_readonly(v[:, a:a + 3]) if full else None for a in (7, 10, 13)))

    # -- images ---------------------------------------------------------------------------------


    def _load(self, rel: str) -> np.ndarray:
        where = self._source.where(rel)
        image = _decode_gray8(self._source.read_bytes(rel), where)
        cal = self.cam0 if rel.startswith("cam0/") else self.cam1
        if image.shape != (cal.height, cal.width):
            raise DatasetError(f"image is {image.shape[1]}x{image.shape[0]} but the {cal.name} calibration "
                               f"says {cal.width}x{cal.height}", where)
        return image

    def _frame(self, camera: str, timestamp_ns: int) -> CameraFrame:
        rel = f"{camera}/data/{self._files[camera][timestamp_ns]}"
        return CameraFrame(timestamp_ns, camera, self._source.where(rel), loader=partial(self._load, rel))

    def load_image(self, camera: str, timestamp_ns: int) -> np.ndarray:
        """uint8 (height, width) image of ``camera`` at a valid frame stamp; DatasetError if unreadable."""
        self._check_camera(camera)
        name = self._files[camera].get(int(timestamp_ns))
        if name is None:
            raise DatasetError(f"{camera} has no valid frame at {int(timestamp_ns)} ns", self.root)
        return self._load(f"{camera}/data/{name}")


    # -- streams ----------------------------------------------------------------------------------





    def _groundtruth_count(self) -> int:
        return 0 if self.groundtruth is None else len(self.groundtruth)

    def groundtruth_states(self) -> Iterator[GroundTruthState]:
        return iter(()) if self.groundtruth is None else self.groundtruth.states()


    # -- bookkeeping ------------------------------------------------------------------------------


    def close(self) -> None:
        """Release the zip file handle (it reopens if images are loaded later)."""
        self._source.close()






def open_euroc(path: Union[str, Path], quiet: bool = False) -> EurocSequence:
    """Open a EuRoC sequence from its ``mav0`` folder, the folder above it, or its ``.zip``.

    Raises DatasetError for a missing or malformed input; ``quiet`` silences the
    one-line warnings about tolerated problems (they are still counted).
    """
    path = Path(path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DatasetError("not a zip file (expected a EuRoC .zip, mav0 folder or sequence folder)", path)
        source: _Source = _ZipSource(path)
    elif path.is_dir():
        source = _FolderSource(path / "mav0" if (path / "mav0").is_dir() else path)
    else:
        raise DatasetError("no such file or folder", path)
    try:
        for rel in REQUIRED:
            if not source.exists(rel):
                if isinstance(source, _ZipSource):
                    raise DatasetError(f"zip lacks required member '{source.prefix}{rel}'", path)
                raise DatasetError("missing required file of a EuRoC mav0 folder", source.where(rel))
        return EurocSequence(source, WarningCounter(quiet=quiet))
    except DatasetError:
        source.close()
        raise
