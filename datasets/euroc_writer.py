"""Writes sequences in the EuRoC MAV ASL folder layout (Burri et al., IJRR 2016).

Layout under ``<out>/mav0``: ``cam0``/``cam1`` (``data/<stamp_ns>.png``, ``data.csv``,
``sensor.yaml``), ``imu0`` (``data.csv``, ``sensor.yaml``),
``state_groundtruth_estimate0`` (``data.csv`` with p, q (w first), v, b_w, b_a) and
``body.yaml``. Floats are written with ``repr`` so they read back bit-exactly.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from .calibration import CameraCalibration, ImuCalibration, camera_yaml, imu_yaml
from .errors import DatasetError

IMU_HEADER = ("#timestamp [ns],w_RS_S_x [rad s^-1],w_RS_S_y [rad s^-1],w_RS_S_z [rad s^-1],"
              "a_RS_S_x [m s^-2],a_RS_S_y [m s^-2],a_RS_S_z [m s^-2]")
GT_HEADER = ("#timestamp, p_RS_R_x [m], p_RS_R_y [m], p_RS_R_z [m], q_RS_w [], q_RS_x [], q_RS_y [], "
             "q_RS_z [], v_RS_R_x [m s^-1], v_RS_R_y [m s^-1], v_RS_R_z [m s^-1], "
             "b_w_RS_S_x [rad s^-1], b_w_RS_S_y [rad s^-1], b_w_RS_S_z [rad s^-1], "
             "b_a_RS_S_x [m s^-2], b_a_RS_S_y [m s^-2], b_a_RS_S_z [m s^-2]")
GT_YAML = ("%YAML:1.0\nsensor_type: visual-inertial\n"
           "comment: exact ground truth of the navion-sim synthetic trajectory\n\n"
           "T_BS:\n  cols: 4\n  rows: 4\n  data: [1.0, 0.0, 0.0, 0.0,\n         0.0, 1.0, 0.0, 0.0,\n"
           "         0.0, 0.0, 1.0, 0.0,\n         0.0, 0.0, 0.0, 1.0]\n")


def _rows(stamps_ns: np.ndarray, values: np.ndarray) -> str:
    """CSV text: one int64 stamp then the float64 columns, each written with repr."""
    lines = [",".join([str(int(t))] + [repr(float(v)) for v in row]) for t, row in zip(stamps_ns, values)]
    return "\n".join(lines) + ("\n" if lines else "")


def _write_text(path: Path, text: str) -> None:
    """Writes through a temporary file and renames, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class EurocWriter:
    """Streams a stereo-inertial sequence to disk in the EuRoC layout.

    Images are PNG-encoded on a small thread pool (OpenCV releases the GIL), so
    encoding overlaps with the caller's rendering. Call :meth:`close` (or use the
    writer as a context manager) to flush the images and write the index files.
    """

    def __init__(self, out_dir: str | Path, cam0: CameraCalibration, cam1: CameraCalibration,
                 imu: ImuCalibration, png_compression: int = 1, workers: int = 2,
                 overwrite: bool = False):
        self.mav0 = Path(out_dir) / "mav0"
        if self.mav0.exists() and not overwrite:
            raise DatasetError("output already holds a sequence (pass overwrite to replace it)", self.mav0)
        self._cams = (cam0, cam1)
        self._imu = imu
        self._png = [cv2.IMWRITE_PNG_COMPRESSION, int(png_compression)]
        self._stamps: list[int] = []
        self._pending: list[Future] = []
        self._pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for cam in ("cam0", "cam1"):
                (self.mav0 / cam / "data").mkdir(parents=True, exist_ok=True)
            (self.mav0 / "imu0").mkdir(parents=True, exist_ok=True)
            (self.mav0 / "state_groundtruth_estimate0").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"cannot create output folder: {exc.strerror}", self.mav0) from None

    def __enter__(self) -> "EurocWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _encode(self, path: Path, image: np.ndarray) -> None:
        ok, buf = cv2.imencode(".png", image, self._png)
        if not ok:
            raise DatasetError("PNG encoding failed", path)
        path.write_bytes(buf.tobytes())

    def add_stereo(self, timestamp_ns: int, left: np.ndarray, right: np.ndarray) -> None:
        """Queues one stereo pair (uint8, height x width) stamped ``timestamp_ns``."""
        if self._stamps and timestamp_ns <= self._stamps[-1]:
            raise ValueError(f"stereo stamps must increase: {timestamp_ns} after {self._stamps[-1]}")
        self._stamps.append(int(timestamp_ns))
        for cam, image in (("cam0", left), ("cam1", right)):
            path = self.mav0 / cam / "data" / f"{int(timestamp_ns)}.png"
            self._pending.append(self._pool.submit(self._encode, path, image))
        if len(self._pending) > 16:
            self._drain(keep=8)

    def _drain(self, keep: int = 0) -> None:
        while len(self._pending) > keep:
            self._pending.pop(0).result()

    def write_imu(self, timestamps_ns: np.ndarray, gyro: np.ndarray, accel: np.ndarray) -> None:
        """imu0/data.csv: gyro [rad/s] and accel [m/s^2] in the IMU frame."""
        _write_text(self.mav0 / "imu0" / "data.csv",
                    IMU_HEADER + "\n" + _rows(timestamps_ns, np.hstack([gyro, accel])))

    def write_groundtruth(self, timestamps_ns: np.ndarray, p_world_body: np.ndarray,
                          q_world_body_wxyz: np.ndarray, v_world: np.ndarray,
                          gyro_bias: np.ndarray, accel_bias: np.ndarray) -> None:
        """state_groundtruth_estimate0/data.csv with EuRoC's 17 columns."""
        values = np.hstack([p_world_body, q_world_body_wxyz, v_world, gyro_bias, accel_bias])
        folder = self.mav0 / "state_groundtruth_estimate0"
        _write_text(folder / "data.csv", GT_HEADER + "\n" + _rows(timestamps_ns, values))
        _write_text(folder / "sensor.yaml", GT_YAML)

    def close(self) -> None:
        """Waits for the queued images, then writes the camera indexes and yaml files."""
        try:
            self._drain()
        finally:
            self._pool.shutdown(wait=True)
        for cam, cal in zip(("cam0", "cam1"), self._cams):
            index = "".join(f"{t},{t}.png\n" for t in self._stamps)
            _write_text(self.mav0 / cam / "data.csv", "#timestamp [ns],filename\n" + index)
            _write_text(self.mav0 / cam / "sensor.yaml", camera_yaml(cal))
        _write_text(self.mav0 / "imu0" / "sensor.yaml", imu_yaml(self._imu))
        _write_text(self.mav0 / "body.yaml", "%YAML:1.0\ncomment: navion-sim synthetic MAV\n")
