"""Track bookkeeping (ids, ages, first-seen stamps) and the per-frame output record."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_model.workload import Workload


@dataclass(frozen=True)
class FeatureTracks:
    """The front-end's output for one stereo frame (N features).

    ids (N,) int64: track ids, monotonic, never reused after a reset of the front-end.
    uv_left_px (N, 2): raw (distorted) cam0 pixels.
    uv_left (N, 2): undistorted pinhole pixels in cam0's K.
    uv_right (N, 2): undistorted pinhole pixels in cam1's K, NaN without a stereo match.
    has_right (N,) bool; age (N,) int64: frames tracked since detection (0 = new);
    first_seen_ns (N,) int64: stamp of the frame that detected the feature.
    Stats: n_tracked (features carried over from the previous frame), n_new (detected),
    n_stereo (with a right match), n_ransac_outliers, mean_parallax_px (to the last
    keyframe, rotation-compensated when a gyro prediction was given).
    workloads: operations and memory traffic of this frame: the record of stage "frontend"
    and those of its alternative dataflows (stages "frontend[...]"); empty when counting is off.
    """

    timestamp_ns: int
    ids: np.ndarray
    uv_left_px: np.ndarray
    uv_left: np.ndarray
    uv_right: np.ndarray
    has_right: np.ndarray
    age: np.ndarray
    first_seen_ns: np.ndarray
    is_keyframe: bool
    n_tracked: int
    n_new: int
    n_stereo: int
    n_ransac_outliers: int
    mean_parallax_px: float
    workloads: tuple[Workload, ...]

    def __len__(self) -> int:
        return len(self.ids)


class TrackTable:
    """Live tracks of the left camera: parallel arrays, filtered and appended per frame.

    uv (N, 2) raw left px; xy (N, 2) normalized left coordinates; uv_right (N, 2) raw
    right px (NaN if unmatched; seeds the next stereo search); age, first_seen_ns, ids.
    """

    def __init__(self) -> None:
        self.next_id = 0
        self.clear()

    def clear(self) -> None:
        """Drops all tracks (ids keep counting up)."""
        self.ids = np.zeros(0, dtype=np.int64)
        self.uv = np.zeros((0, 2))
        self.xy = np.zeros((0, 2))
        self.uv_right = np.zeros((0, 2))
        self.age = np.zeros(0, dtype=np.int64)
        self.first_seen_ns = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def keep(self, mask: np.ndarray) -> None:
        """Keeps the tracks where ``mask`` (N,) is True."""
        for name in ("ids", "uv", "xy", "uv_right", "age", "first_seen_ns"):
            setattr(self, name, getattr(self, name)[mask])

    def add(self, uv: np.ndarray, xy: np.ndarray, timestamp_ns: int) -> None:
        """Appends new tracks (age 0) at raw pixels uv (M, 2) / normalized xy (M, 2)."""
        m = len(uv)
        self.ids = np.concatenate([self.ids, np.arange(self.next_id, self.next_id + m, dtype=np.int64)])
        self.next_id += m
        self.uv = np.concatenate([self.uv, uv])
        self.xy = np.concatenate([self.xy, xy])
        self.uv_right = np.concatenate([self.uv_right, np.full((m, 2), np.nan)])
        self.age = np.concatenate([self.age, np.zeros(m, dtype=np.int64)])
        self.first_seen_ns = np.concatenate([self.first_seen_ns, np.full(m, timestamp_ns, dtype=np.int64)])
