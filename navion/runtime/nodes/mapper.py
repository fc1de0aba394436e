"""``mapper``: an occupancy map built online from stereo depth at the estimated poses.

Every ``map.every_n_frames``-th stereo frame (frames 0, N, 2N, ... of the stream) is
integrated into a 3-D occupancy grid (:mod:`mapping.occupancy`) at the pose of its stamp:

- ``poses: vio``: the estimator's NavState of that frame (same stamp; frames the estimator
  gives no state for, e.g. before its initialisation, are skipped);
- ``poses: groundtruth``: the nearest ground-truth state of the sensor setup within
  ``map.pose_tolerance_ms`` (a sequence's ground truth or a simulator's truth so far).

The work is :func:`mapping.occupancy.integrate.build_map`'s, frame by frame: semi-global
matching gives points in the rectified left camera, ``p_world = T_world_body @ T_body_rect
@ p_rect``, and the grid casts a ray from the rectified camera centre to each point. Fed the
same frames and poses, the node's map equals ``build_map``'s cell for cell.

Per integrated frame it publishes the map (``map``: a :class:`MapUpdate` with a copy of the
log-odds, when ``publish`` is on) and the ray casting's Workload record (``workloads``,
source ``"mapping"``, stage :data:`MAP_STAGE`, stamped with the frame so the recorder puts
it on the frame's ``workloads.jsonl`` line). At the end it writes ``map.npz``, ``map.ply``
and ``map_slice.png`` into the run folder (in the poses' world frame).

The grid covers ``map.occupancy.bounds_min_m``..``bounds_max_m`` (required: an online map
cannot be fitted to a trajectory not flown yet). ``chunked`` storage only allocates what
the scans touch, so generous bounds cost little; ``dense`` suits small maps published often.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from accel_model.workload import NULL_WORKLOAD, Workload
from datasets.configuration import ConfigMixin
from mapping.occupancy.exports import write_ply, write_slice_png
from mapping.occupancy.integrate import MapBuildConfig, groundtruth_poses, make_grid, match_poses
from mapping.occupancy.stereo_depth import StereoDepth
from mapping.occupancy.workload import STAGE as MAP_STAGE

from ..messages import (
    MAP_TOPIC,
    NAVSTATE_TOPIC,
    SETUP_TOPIC,
    STEREO_TOPIC,
    WORKLOAD_TOPIC,
    MapUpdate,
    NavStateMessage,
    SensorSetup,
    StereoMessage,
    WorkloadMessage,
)
from ..node import Node, Port, register

POSE_SOURCES = ("vio", "groundtruth")


@dataclass(frozen=True)
class MapperParams(ConfigMixin):
    """poses: vio (the estimator's states) or groundtruth (the setup's ground truth);
    map: the map build options (every_n_frames, pose_tolerance_ms, banks, count_workload,
    occupancy with the required bounds, stereo); publish: publish a MapUpdate per integrated
    frame; slice_z_m: height of map_slice.png [m] (None: the median camera height)."""

    poses: str = "vio"
    map: MapBuildConfig = field(default_factory=MapBuildConfig)
    publish: bool = True
    slice_z_m: float | None = None

    def __post_init__(self) -> None:
        if self.poses not in POSE_SOURCES:
            raise ValueError(f"'poses' must be one of {', '.join(POSE_SOURCES)}, got {self.poses!r}")
        if self.map.occupancy.bounds_min_m is None:
            raise ValueError("'bounds_min_m' and 'bounds_max_m' of map.occupancy are required: the box the "
                             "online map covers, in the poses' world frame [m]")


@register
class Mapper(Node):
    """See the module docstring."""

    type_name = "mapper"
    Params = MapperParams
    inputs = {"setup": Port(SensorSetup, SETUP_TOPIC, 10), "stereo": Port(StereoMessage, STEREO_TOPIC, 100),
              "navstate": Port(NavStateMessage, NAVSTATE_TOPIC, 100)}
    outputs = {"map": Port(MapUpdate, MAP_TOPIC), "workloads": Port(WorkloadMessage, WORKLOAD_TOPIC)}

    def __init__(self, name, params: MapperParams, context):
        super().__init__(name, params, context)
        self.config = params.map
        self.grid = make_grid(self.config.occupancy, np.zeros((1, 3)))  # the bounds decide the grid
        self.stereo: StereoDepth | None = None
        self.setup: SensorSetup | None = None
        self._waiting: dict[int, StereoMessage] = {}  # selected frames waiting for their VIO state
        self.frames_seen = self.frames_skipped = self.points = 0
        self.stamps: list[int] = []
        self.cameras: list[np.ndarray] = []
        self.depth_s = self.integrate_s = 0.0
        self._truth: tuple[np.ndarray, np.ndarray] | None = None

    def on_setup(self, message: SensorSetup) -> None:
        if self.stereo is not None:
            raise RuntimeError("a second sensor setup arrived; the mapper takes one stereo rig")
        self.setup = message
        self.stereo = StereoDepth(message.cam0, message.cam1, self.config.stereo)

    def on_stereo(self, message: StereoMessage) -> None:
        if self.stereo is None:
            raise RuntimeError("a stereo frame arrived before the sensor setup (calibration)")
        index = self.frames_seen
        self.frames_seen += 1
        if index % self.config.every_n_frames:
            return
        if self.params.poses == "vio":
            self._waiting[message.stamp_ns] = message
            return
        pose_ns, T_all = self._groundtruth()
        match = match_poses(np.array([message.stamp_ns], np.int64), pose_ns,
                            int(round(self.config.pose_tolerance_ms * 1e6)))[0]
        if match < 0:
            self.frames_skipped += 1
            return
        self._integrate(message, T_all[match])

    def _groundtruth(self) -> tuple[np.ndarray, np.ndarray]:
        """(stamps, T_world_body) of the setup's ground truth, converted again only when it grew
        (a simulator's truth grows as it flies)."""
        n = len(self.setup.groundtruth.timestamps_ns) if self.setup.groundtruth is not None else 0
        if self._truth is None or len(self._truth[0]) != n:
            self._truth = groundtruth_poses(self.setup)
        return self._truth

    def on_navstate(self, message: NavStateMessage) -> None:
        if self.params.poses != "vio":
            return
        for stamp in [s for s in self._waiting if s < message.stamp_ns]:  # the estimator gave them no state
            del self._waiting[stamp]
            self.frames_skipped += 1
        frame = self._waiting.pop(message.stamp_ns, None)
        if frame is not None:
            self._integrate(frame, message.state.T_world_body)

    def _integrate(self, message: StereoMessage, T_world_body: np.ndarray) -> None:
        """build_map's step for one frame: stereo points, world transform, scan update."""
        t0 = time.perf_counter()
        frame = message.frame
        points_rect = self.stereo.points_rect(frame.left.image, frame.right.image)
        t1 = time.perf_counter()
        T_world_rect = T_world_body @ self.stereo.T_body_rect
        camera = T_world_rect[:3, 3]
        points = points_rect @ T_world_rect[:3, :3].T + camera
        workload = Workload(MAP_STAGE) if self.config.count_workload else NULL_WORKLOAD
        scan = self.grid.integrate_scan(camera, points, workload, self.config.banks)
        self.depth_s += t1 - t0
        self.integrate_s += time.perf_counter() - t1
        self.points += len(points)
        self.stamps.append(message.stamp_ns)
        self.cameras.append(camera.copy())
        if workload.enabled:
            self.publish("workloads", WorkloadMessage(message.stamp_ns, "mapping", (workload,)))
        if self.params.publish:
            self.publish("map", MapUpdate(message.stamp_ns, self.grid.resolution_m, self.grid.origin_m.copy(),
                                          np.array(self.grid.log_odds, dtype=np.float32), int(len(scan.cells))))

    def close(self) -> None:
        self.frames_skipped += len(self._waiting)  # selected frames still without a state
        self._waiting.clear()
        if not self.stamps:
            return
        out = self.context.run_dir
        cameras = np.array(self.cameras)
        z_m = float(np.median(cameras[:, 2])) if self.params.slice_z_m is None else self.params.slice_z_m
        self.grid.save(out / "map.npz")
        write_ply(self.grid, out / "map.ply")
        write_slice_png(self.grid, out / "map_slice.png", z_m, cameras[:, :2])

    def summary(self) -> dict:
        counts = self.grid.counts()
        n = len(self.stamps)
        return {"poses": self.params.poses, "resolution_m": self.grid.resolution_m,
                "storage": self.grid.config.storage, "frames_integrated": n,
                "frames_skipped_no_pose": self.frames_skipped, "points_integrated": self.points,
                "occupied_voxels": counts["occupied"], "free_voxels": counts["free"],
                "unknown_voxels": counts["unknown"], "map_bytes": int(self.grid.memory_bytes),
                "depth_time_s": self.depth_s, "integrate_time_s": self.integrate_s,
                "ms_per_frame": 1e3 * (self.depth_s + self.integrate_s) / max(n, 1)}
