"""Builds an occupancy map along a trajectory: stereo depth of every N-th frame, ray cast
from the rectified left camera into a 3-D grid.

Poses are ``T_world_body`` of the body at the frame stamps: a VIO estimate (any object with
``timestamps_ns``, ``p_world_body``, ``R_world_body``, e.g. a TUM trajectory or a
``PoseSeries``) or, by default, the sequence's ground truth. A frame takes the pose with
the nearest stamp within ``pose_tolerance_ms``; frames without one are skipped. Each
integrated frame's points ``p_world = T_world_body @ T_body_rect @ p_rect`` are cast from
the rectified camera centre ``T_world_body @ T_body_rect @ 0``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from accel_model.workload import NULL_WORKLOAD, Workload
from datasets.configuration import ConfigMixin

from ..errors import MappingError
from .chunked import ChunkedOccupancyGrid3D
from .config import OccupancyConfig
from .grid3d import Grid3D, OccupancyGrid3D, grid_from_bounds
from .stereo_depth import StereoDepth, StereoDepthConfig
from .workload import STAGE


@dataclass(frozen=True)
class MapBuildConfig(ConfigMixin):
    """Options of :func:`build_map` (sections ``occupancy`` and ``stereo``).

    every_n_frames: integrate stereo frames 0, N, 2N, ... of the sequence.
    pose_tolerance_ms: largest stamp difference between a frame and its pose [ms] (covers
        200 Hz ground truth; VIO estimates share the frame stamps).
    banks: memory banks the map cells are interleaved over in the workload records.
    count_workload: fill one Workload record per integrated frame.
    """

    every_n_frames: int = 5
    pose_tolerance_ms: float = 3.0
    banks: int = 8
    count_workload: bool = True
    occupancy: OccupancyConfig = field(default_factory=OccupancyConfig)
    stereo: StereoDepthConfig = field(default_factory=StereoDepthConfig)

    def __post_init__(self) -> None:
        for name in ("every_n_frames", "banks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise MappingError(f"map build config: '{name}' must be a positive integer, got {value!r}")
        if not (isinstance(self.pose_tolerance_ms, (int, float)) and 0 <= self.pose_tolerance_ms < np.inf):
            raise MappingError(f"map build config: 'pose_tolerance_ms' must be >= 0, got {self.pose_tolerance_ms!r}")


@dataclass
class MapBuild:
    """A map built along a trajectory.

    grid: the occupancy grid; timestamps_ns (K,) and T_world_body (K, 4, 4): the integrated
    frames and their poses; workloads: one record per integrated frame (empty when not
    counting); frames_selected: every-N-th frames considered; skipped_frames: those without
    a pose; points: points integrated; wall_time_s: time of the whole build [s], of which
    depth_time_s in stereo depth (image decoding, rectification, SGBM, points) and
    integrate_time_s in ray casting and cell updates.
    """

    grid: Grid3D
    timestamps_ns: np.ndarray
    T_world_body: np.ndarray
    camera_positions_m: np.ndarray
    workloads: list[Workload]
    frames_selected: int
    skipped_frames: int
    points: int
    wall_time_s: float
    depth_time_s: float
    integrate_time_s: float

    def summary(self) -> dict:
        """JSON-safe figures of the build."""
        counts = self.grid.counts()
        return {
            "resolution_m": self.grid.resolution_m,
            "storage": self.grid.config.storage,
            "frames_integrated": int(len(self.timestamps_ns)),
            "frames_skipped_no_pose": int(self.skipped_frames),
            "points_integrated": int(self.points),
            "occupied_voxels": counts["occupied"],
            "free_voxels": counts["free"],
            "unknown_voxels": counts["unknown"],
            "map_bytes": int(self.grid.memory_bytes),
            "wall_time_s": float(self.wall_time_s),
            "depth_time_s": float(self.depth_time_s),
            "integrate_time_s": float(self.integrate_time_s),
            "ms_per_frame": 1e3 * self.wall_time_s / max(len(self.timestamps_ns), 1),
        }


def _pose_arrays(poses) -> tuple[np.ndarray, np.ndarray]:
    """(stamps (M,) int64, T_world_body (M, 4, 4)) of a pose series."""
    try:
        stamps = np.asarray(poses.timestamps_ns, dtype=np.int64)
        p = np.asarray(poses.p_world_body, dtype=np.float64).reshape(-1, 3)
        R = np.asarray(poses.R_world_body, dtype=np.float64).reshape(-1, 3, 3)
    except AttributeError:
        raise MappingError("poses need timestamps_ns, p_world_body and R_world_body") from None
    if not (len(stamps) == len(p) == len(R)) or np.any(np.diff(stamps) <= 0):
        raise MappingError("poses must have one position and rotation per strictly increasing stamp")
    T = np.tile(np.eye(4), (len(stamps), 1, 1))
    T[:, :3, :3], T[:, :3, 3] = R, p
    return stamps, T


def groundtruth_poses(sequence) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, T_world_body) of the sequence's ground truth; MappingError if it has none."""
    gt = getattr(sequence, "groundtruth", None)
    if gt is None or len(gt.timestamps_ns) == 0:
        raise MappingError(f"{getattr(sequence, 'root', 'the sequence')}: no ground truth and no poses given")
    T = np.tile(np.eye(4), (len(gt.timestamps_ns), 1, 1))
    T[:, :3, :3] = Rotation.from_quat(gt.q_world_body_wxyz[:, [1, 2, 3, 0]]).as_matrix()
    T[:, :3, 3] = gt.p_world_body
    return np.asarray(gt.timestamps_ns, dtype=np.int64), T


def match_poses(frame_ns: np.ndarray, pose_ns: np.ndarray, tolerance_ns: int) -> np.ndarray:
    """Index (F,) of the pose nearest to each frame stamp, -1 where none is within tolerance_ns."""
    out = np.full(len(frame_ns), -1, dtype=np.int64)
    if len(pose_ns) == 0:
        return out
    right = np.clip(np.searchsorted(pose_ns, frame_ns), 0, len(pose_ns) - 1)
    left = np.clip(right - 1, 0, len(pose_ns) - 1)
    nearest = np.where(np.abs(pose_ns[left] - frame_ns) <= np.abs(pose_ns[right] - frame_ns), left, right)
    ok = np.abs(pose_ns[nearest] - frame_ns) <= tolerance_ns
    out[ok] = nearest[ok]
    return out


def make_grid(config: OccupancyConfig, camera_positions_m: np.ndarray) -> Grid3D:
    """The grid of the config's storage over its bounds, or over the camera positions plus
    max range (every cell a scan can reach) when the config gives none."""
    if config.bounds_min_m is not None:
        lo, hi = np.asarray(config.bounds_min_m), np.asarray(config.bounds_max_m)
    else:
        reach = config.max_range_m + 2 * config.resolution_m
        lo, hi = camera_positions_m.min(axis=0) - reach, camera_positions_m.max(axis=0) + reach
    origin, shape = grid_from_bounds(lo, hi, config.resolution_m)
    cls = OccupancyGrid3D if config.storage == "dense" else ChunkedOccupancyGrid3D
    return cls(origin, config.resolution_m, shape, config)


def build_map(sequence, poses=None, config: MapBuildConfig = MapBuildConfig(),
              progress: Callable[[int, int], None] | None = None) -> MapBuild:
    """Integrates every ``config.every_n_frames``-th stereo frame of ``sequence`` (an opened
    EuRoC-style sequence) at ``poses`` (None: the sequence's ground truth).

    ``progress(done, total)`` is called after each integrated frame.
    """
    start = time.perf_counter()
    pose_ns, T_all = groundtruth_poses(sequence) if poses is None else _pose_arrays(poses)
    frame_ns = np.asarray(sequence.stereo_timestamps_ns, dtype=np.int64)
    selected = np.arange(0, len(frame_ns), config.every_n_frames)
    match = match_poses(frame_ns[selected], pose_ns, int(round(config.pose_tolerance_ms * 1e6)))
    use = selected[match >= 0]
    T_use = T_all[match[match >= 0]]
    if len(use) == 0:
        raise MappingError(f"none of the {len(selected)} selected frames has a pose within "
                           f"{config.pose_tolerance_ms} ms")
    stereo = StereoDepth(sequence.cam0, sequence.cam1, config.stereo)
    T_world_rect = T_use @ stereo.T_body_rect
    cameras = T_world_rect[:, :3, 3]
    grid = make_grid(config.occupancy, cameras)
    wanted = dict(zip(use.tolist(), range(len(use))))
    workloads, n_points, done, depth_s, integrate_s = [], 0, 0, 0.0, 0.0
    for index, frame in enumerate(sequence.stereo_frames()):
        k = wanted.get(index)
        if k is None:
            continue
        t0 = time.perf_counter()
        points_rect = stereo.points_rect(frame.left.image, frame.right.image)
        t1 = time.perf_counter()
        points = points_rect @ T_world_rect[k, :3, :3].T + cameras[k]
        workload = Workload(STAGE) if config.count_workload else NULL_WORKLOAD
        grid.integrate_scan(cameras[k], points, workload, config.banks)
        depth_s, integrate_s = depth_s + t1 - t0, integrate_s + time.perf_counter() - t1
        if config.count_workload:
            workloads.append(workload)
        n_points += len(points)
        done += 1
        if progress is not None:
            progress(done, len(use))
        if done == len(use):
            break
    return MapBuild(grid, frame_ns[use], T_use, cameras, workloads, len(selected), len(selected) - len(use),
                    n_points, time.perf_counter() - start, depth_s, integrate_s)
