"""What every stereo-inertial sequence reader shares: the merged message stream and the summary.

A reader subclasses :class:`StereoInertialSequence` and provides ``cam0``, ``cam1``,
``imu_timestamps_ns``/``imu_gyro``/``imu_accel``, ``stereo_timestamps_ns``,
``_camera_ns`` (valid stamps per camera), ``warnings``, ``_frame(camera, t)`` (a lazy
CameraFrame), ``_groundtruth_count()`` and ``close()``.
"""
from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from .messages import ImuSample, StereoFrame

CAMERAS = ("cam0", "cam1")


def median_rate_hz(stamps_ns: np.ndarray) -> Optional[float]:
    """Median sample rate [Hz] of int64 ns stamps (None under two samples)."""
    return float(1e9 / np.median(np.diff(stamps_ns))) if len(stamps_ns) > 1 else None


class StereoInertialSequence:
    """Shared stream and bookkeeping methods of the EuRoC and ROS bag readers."""

    def _check_camera(self, camera: str) -> None:
        if camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; expected one of {CAMERAS}")

    def camera_timestamps_ns(self, camera: str = "cam0") -> np.ndarray:
        """int64 stamps of the valid frames of ``camera`` ('cam0' or 'cam1')."""
        self._check_camera(camera)
        return self._camera_ns[camera]

    def _stereo_frame(self, timestamp_ns: int) -> StereoFrame:
        return StereoFrame(timestamp_ns, self._frame("cam0", timestamp_ns), self._frame("cam1", timestamp_ns))

    def _imu_sample(self, k: int) -> ImuSample:
        return ImuSample(int(self.imu_timestamps_ns[k]), self.imu_gyro[k], self.imu_accel[k])

    def stereo_frames(self) -> Iterator[StereoFrame]:
        """Stereo pairs in time order; pixels load on first access."""
        return map(self._stereo_frame, self.stereo_timestamps_ns.tolist())

    def imu_samples(self) -> Iterator[ImuSample]:
        return map(self._imu_sample, range(len(self.imu_timestamps_ns)))

    def messages(self, start_ns: Optional[int] = None, end_ns: Optional[int] = None) -> Iterator:
        """IMU samples and stereo frames with start_ns <= t <= end_ns, in time order (IMU first on ties)."""
        imu_t, cam_t = self.imu_timestamps_ns, self.stereo_timestamps_ns
        lo = np.iinfo(np.int64).min if start_ns is None else int(start_ns)
        hi = np.iinfo(np.int64).max if end_ns is None else int(end_ns)
        i, i_end = int(np.searchsorted(imu_t, lo, "left")), int(np.searchsorted(imu_t, hi, "right"))
        frames_t = cam_t[np.searchsorted(cam_t, lo, "left"):np.searchsorted(cam_t, hi, "right")]
        imu_until = np.searchsorted(imu_t, frames_t, "right")  # IMU samples with t <= frame stamp
        for t, n in zip(frames_t.tolist(), imu_until.tolist()):
            if n > i:
                yield from map(self._imu_sample, range(i, n))
                i = n
            yield self._stereo_frame(t)
        yield from map(self._imu_sample, range(i, i_end))

    def summary(self) -> dict:
        """JSON-serialisable overview; duration_s spans all IMU and camera stamps, rates are medians."""
        stamps = [a for a in (self.imu_timestamps_ns, *self._camera_ns.values()) if len(a)]
        duration_ns = max(int(a[-1]) for a in stamps) - min(int(a[0]) for a in stamps) if stamps else 0
        return {
            "camera_frames": sum(len(a) for a in self._camera_ns.values()),
            "stereo_pairs": len(self.stereo_timestamps_ns),
            "imu_samples": len(self.imu_timestamps_ns),
            "duration_s": duration_ns * 1e-9,
            "imu_rate_hz": median_rate_hz(self.imu_timestamps_ns),
            "camera_rate_hz": median_rate_hz(self.stereo_timestamps_ns),
            "groundtruth_samples": self._groundtruth_count(),
            "warnings": self.warnings.as_dict(),
            "cam0": self.cam0.to_dict(),
            "cam1": self.cam1.to_dict(),
        }

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
