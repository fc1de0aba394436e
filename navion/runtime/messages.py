"""Messages of the node runtime: frozen dataclasses stamped with ``stamp_ns`` (int64 ns).

``stamp_ns`` is the time of the data a message carries (the sensor capture time of an
image, the frame a pose was estimated for), never the wall clock. Sensor messages wrap
the :mod:`datasets.messages` types; estimator and hardware-model messages wrap their
packages' own types. Frames follow ``docs/architecture.md`` (``T_a_b`` maps points from
frame b into frame a).

:data:`STANDARD_TOPICS` names the topics the shipped nodes use by default and their
message types; a launch file can remap any node's topics.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np

from accel_model.workload import Workload
from datasets.calibration import CameraCalibration, ImuCalibration
from datasets.messages import ImuSample, StereoFrame
from vio.navstate import NavState


@dataclass(frozen=True)
class Message:
    """Base of every message: ``stamp_ns`` is int64 nanoseconds of data time."""

    stamp_ns: int

    def __post_init__(self) -> None:
        if isinstance(self.stamp_ns, bool) or not isinstance(self.stamp_ns, Integral):
            raise TypeError(f"{type(self).__name__}.stamp_ns must be an integer [ns], got {self.stamp_ns!r}")
        object.__setattr__(self, "stamp_ns", int(self.stamp_ns))


@dataclass(frozen=True)
class SensorSetup(Message):
    """What a sensor source provides once, before its first sample (like ROS camera_info):
    the calibrations, where the data comes from (``sequence``: a path, or a description for
    a simulator) and its ground truth (``datasets.euroc.GroundTruth`` or None)."""

    cam0: CameraCalibration
    cam1: CameraCalibration
    imu: ImuCalibration
    sequence: str
    groundtruth: object = field(default=None, repr=False)


@dataclass(frozen=True)
class ImuMessage(Message):
    """One IMU sample (gyro [rad/s], accel [m/s^2] in the IMU frame)."""

    sample: ImuSample


@dataclass(frozen=True)
class StereoMessage(Message):
    """One synchronised stereo pair (images load lazily)."""

    frame: StereoFrame


@dataclass(frozen=True)
class NavStateMessage(Message):
    """The estimator's state for the frame at ``stamp_ns`` (``T_world_body``, velocity, biases)."""

    state: NavState


@dataclass(frozen=True)
class WorkloadMessage(Message):
    """The Workload records one stage family (``source``: "vio", "mapping", ...) performed for
    the camera frame at ``stamp_ns``; the energy model prices them (``accel_model``)."""

    source: str
    stages: tuple[Workload, ...]


@dataclass(frozen=True)
class EnergyStatus(Message):
    """Running energy figures over the frames seen so far, priced by ``accel_model.report``:
    per camera frame [uJ] and as power [mW] at the run's frame rate, for the design
    (``hardware``) and the CPU baseline; ``stages_uj`` is the design's energy per frame by
    stage group (frontend, backend, mapping, mi)."""

    frames: int
    hardware: str
    energy_per_frame_uj: float
    power_mw: float
    cpu_energy_per_frame_uj: float
    cpu_power_mw: float
    stages_uj: dict


@dataclass(frozen=True)
class MapUpdate(Message):
    """An occupancy map after integrating the data up to ``stamp_ns``: log-odds per voxel
    (float32, shape (nx, ny, nz)) on a grid with ``resolution_m`` whose cell (0, 0, 0)
    has its minimum corner at ``origin_world_m`` (3,) [m]; ``cells_updated`` counts the
    voxels this update touched."""

    resolution_m: float
    origin_world_m: np.ndarray
    log_odds: np.ndarray
    cells_updated: int


@dataclass(frozen=True)
class Goal(Message):
    """A next view chosen by an explorer: position ``p_world_goal`` (3,) [m] and heading
    ``yaw_rad`` in the world frame, with its score (e.g. mutual information [bits]);
    ``path_world_m`` (K, 3) [m]: waypoints from the current position to the goal through
    free space, when the planner gives a path (None: fly straight)."""

    p_world_goal: np.ndarray
    yaw_rad: float
    score: float
    path_world_m: np.ndarray | None = None


SETUP_TOPIC = "sensors/setup"
IMU_TOPIC = "sensors/imu"
STEREO_TOPIC = "sensors/stereo"
NAVSTATE_TOPIC = "vio/navstate"
WORKLOAD_TOPIC = "workloads"
ENERGY_TOPIC = "energy/status"
MAP_TOPIC = "map/update"
GOAL_TOPIC = "explore/goal"

STANDARD_TOPICS: dict[str, type[Message]] = {
    SETUP_TOPIC: SensorSetup,
    IMU_TOPIC: ImuMessage,
    STEREO_TOPIC: StereoMessage,
    NAVSTATE_TOPIC: NavStateMessage,
    WORKLOAD_TOPIC: WorkloadMessage,
    ENERGY_TOPIC: EnergyStatus,
    MAP_TOPIC: MapUpdate,
    GOAL_TOPIC: Goal,
}
