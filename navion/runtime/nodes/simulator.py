"""``simulator``: a synthetic hall flown by a simulated drone, in closed loop with the stack.

Owns a :class:`datasets.synth.online.OnlineSensorSimulator`: the hall (``build_hall`` of
``hall`` and ``world_seed``, centred at x = y = 0 with its floor at z = 0), a
:class:`~datasets.synth.waypoints.WaypointTrajectory` starting at rest at the hall's centre
(``start_height_m`` above the floor, heading ``start_yaw_deg``) and the sensor noise of
``seed``. A timer at every IMU instant (200 Hz) advances the simulator to that instant and
publishes the IMU sample and, at the camera instants (every 10th at 20 Hz), the stereo pair:
the messages the ``player`` publishes, so the ``vio`` node runs unchanged.

Frames: the simulator's world frame ``sim`` is the hall's; every pose it publishes is
``T_sim_body``, the truth. The estimator has its own world frame (its origin and heading
at initialisation); nodes that act on the truth convert between the two (``controller``).

Ground truth: the ``setup`` message's ``groundtruth`` is a :class:`GroundTruthLog`, the
true states at every IMU instant produced so far. It grows as the simulator advances (it
is the one message content that changes after publication): a reader sees the truth up to
the current simulated time, and the recorder, reading it at the end, the whole flight.

Motion: :class:`MoveCommand` messages (``command``) append rest-to-rest minimum-jerk moves
through their waypoints to the trajectory; when the flight reaches the end of the last
commanded move the simulator publishes :class:`MoveDone` (``done``). With no move pending
it hovers, in ``idle_step_s`` pieces appended as needed (a command therefore starts at most
``idle_step_s`` late). The hall and start pose go out once on ``world`` (:class:`SimWorld`),
for nodes that score against the truth (the explorer's reachable space).

Recording: every ``record_every_n_frames``-th stereo pair and the whole IMU stream are
written as a EuRoC-format sequence into the run folder (``sim_sequence/``, replaced on each
run), and the setup names it as the ``sequence``: the energy report measures its frame codec
on the frames the simulator really rendered.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field

import numpy as np

from datasets.configuration import ConfigMixin
from datasets.euroc_writer import EurocWriter
from datasets.messages import StereoFrame
from datasets.synth.online import OnlineSensorSimulator
from datasets.synth.waypoints import MotionLimits, WaypointTrajectory
from datasets.synth.world import HallConfig, HallWorld, build_hall
from vio.lie import rot_to_quat_wxyz

from ..messages import IMU_TOPIC, SETUP_TOPIC, STEREO_TOPIC, ImuMessage, Message, SensorSetup, StereoMessage
from ..node import Node, Port, register

COMMAND_TOPIC = "sim/command"
DONE_TOPIC = "sim/done"
WORLD_TOPIC = "sim/world"
RENDERERS = ("boxes", "open3d")
IMU_RATE_HZ = 200.0
RECORD_FOLDER = "sim_sequence"


@dataclass(frozen=True)
class MoveCommand(Message):
    """Moves to append to the simulated flight, in the simulator's frame: waypoints
    ``p_sim_m`` (K, 3) [m] reached one after the other (each a rest-to-rest move) with
    headings ``yaw_sim_rad`` (K,) [rad] (level camera axis (cos yaw, sin yaw, 0)), within
    ``limits``."""

    p_sim_m: np.ndarray
    yaw_sim_rad: np.ndarray
    limits: MotionLimits


@dataclass(frozen=True)
class MoveDone(Message):
    """The flight reached the end of the moves of the command stamped ``command_stamp_ns``
    (``stamp_ns``: the first IMU instant at or after the end)."""

    command_stamp_ns: int


@dataclass(frozen=True)
class SimWorld(Message):
    """The simulated hall (``datasets.synth.world.HallWorld``, frame ``sim``) and the
    start pose ``T_sim_body_start`` (4, 4)."""

    world: HallWorld
    T_sim_body_start: np.ndarray


class GroundTruthLog:
    """True body states at the IMU instants simulated so far, with the attributes of
    ``datasets.euroc.GroundTruth`` (``timestamps_ns``, ``p_world_body``,
    ``q_world_body_wxyz``, ``v_world``; no biases), here in the simulator's frame. The
    attributes are read-only views of the states so far."""

    gyro_bias = None
    accel_bias = None

    def __init__(self) -> None:
        self._n = 0
        self._t = np.zeros(0, np.int64)
        self._T = np.zeros((0, 4, 4))
        self._q = np.zeros((0, 4))
        self._v = np.zeros((0, 3))

    def append(self, stamp_ns: int, T_sim_body: np.ndarray, v_sim: np.ndarray) -> None:
        if self._n and stamp_ns <= self._t[self._n - 1]:
            raise ValueError(f"ground truth stamps must increase: {stamp_ns} after {self._t[self._n - 1]}")
        if self._n == len(self._t):  # grow by doubling
            size = max(2 * self._n, 1024)
            self._t, self._T, self._q, self._v = (np.concatenate([a, np.zeros((size - self._n, *a.shape[1:]), a.dtype)])
                                                  for a in (self._t, self._T, self._q, self._v))
        i = self._n
        self._t[i], self._T[i], self._v[i] = stamp_ns, T_sim_body, v_sim
        self._q[i] = rot_to_quat_wxyz(np.ascontiguousarray(T_sim_body[:3, :3]))
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def _view(self, a: np.ndarray) -> np.ndarray:
        view = a[:self._n]
        view.flags.writeable = False
        return view

    @property
    def timestamps_ns(self) -> np.ndarray:
        return self._view(self._t)

    @property
    def p_world_body(self) -> np.ndarray:
        return self._view(self._T[:, :3, 3])

    @property
    def q_world_body_wxyz(self) -> np.ndarray:
        return self._view(self._q)

    @property
    def v_world(self) -> np.ndarray:
        return self._view(self._v)

    def pose_at(self, stamp_ns: int) -> np.ndarray:
        """T_sim_body (4, 4) at an IMU instant already simulated (KeyError otherwise)."""
        i = int(np.searchsorted(self._t[:self._n], stamp_ns))
        if i == self._n or self._t[i] != stamp_ns:
            raise KeyError(f"no ground truth at {stamp_ns} ns (simulated up to "
                           f"{self._t[self._n - 1] if self._n else None} ns)")
        return self._T[i].copy()


@dataclass(frozen=True)
class SimulatorParams(ConfigMixin):
    """hall: the hall's geometry and texture (``datasets.synth.world.HallConfig``);
    world_seed: its obstacle layout and texture; seed: sensor noise (IMU and image);
    start_ns: stamp of the first sample [ns]; start_height_m: start above the floor [m];
    start_yaw_deg: initial heading [deg]; camera_rate_hz: stereo frame rate, a divisor of the
    200 Hz IMU rate [Hz]; noise_scale: factor on EuRoC's IMU noise (0: none);
    image_noise_sigma: pixel noise [grey levels]; renderer: boxes or open3d;
    idle_step_s: hover piece appended while no move is pending [s];
    record_every_n_frames: stereo pairs kept in the recorded sequence (0: no recording);
    duration_s: stop simulating after this much time [s] (None: until a node stops the run)."""

    hall: HallConfig = field(default_factory=HallConfig)
    world_seed: int = 0
    seed: int = 0
    start_ns: int = 1_600_000_000_000_000_000
    start_height_m: float = 1.5
    start_yaw_deg: float = 0.0
    camera_rate_hz: float = 20.0
    noise_scale: float = 1.0
    image_noise_sigma: float = 1.0
    renderer: str = "boxes"
    idle_step_s: float = 0.1
    record_every_n_frames: int = 40
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start_ns < 2**62:
            raise ValueError(f"'start_ns' must be a non-negative stamp below 2^62 ns, got {self.start_ns}")
        if not 0 < self.start_height_m < self.hall.size_m[2]:
            raise ValueError(f"'start_height_m' must lie inside the hall (0, {self.hall.size_m[2]}) m, "
                             f"got {self.start_height_m}")
        ratio = IMU_RATE_HZ / self.camera_rate_hz if self.camera_rate_hz > 0 else 0.0
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"'camera_rate_hz' must divide the IMU rate {IMU_RATE_HZ:g} Hz, got {self.camera_rate_hz}")
        if self.noise_scale < 0 or self.image_noise_sigma < 0:
            raise ValueError(f"'noise_scale' and 'image_noise_sigma' must be >= 0, got {self.noise_scale}, "
                             f"{self.image_noise_sigma}")
        if self.renderer not in RENDERERS:
            raise ValueError(f"'renderer' must be one of {', '.join(RENDERERS)}, got {self.renderer!r}")
        if not self.idle_step_s > 0:
            raise ValueError(f"'idle_step_s' must be > 0, got {self.idle_step_s}")
        if self.record_every_n_frames < 0:
            raise ValueError(f"'record_every_n_frames' must be >= 0, got {self.record_every_n_frames}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"'duration_s' must be > 0, got {self.duration_s}")


@register
class Simulator(Node):
    """See the module docstring."""

    type_name = "simulator"
    Params = SimulatorParams
    inputs = {"command": Port(MoveCommand, COMMAND_TOPIC, 100)}
    outputs = {"setup": Port(SensorSetup, SETUP_TOPIC), "imu": Port(ImuMessage, IMU_TOPIC),
               "stereo": Port(StereoMessage, STEREO_TOPIC), "world": Port(SimWorld, WORLD_TOPIC),
               "done": Port(MoveDone, DONE_TOPIC)}

    def __init__(self, name, params: SimulatorParams, context):
        super().__init__(name, params, context)
        self.world = build_hall(params.hall, seed=params.world_seed, fit_to_trajectory=False)
        lo, hi = self.world.bounds_min, self.world.bounds_max
        p0 = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2] + params.start_height_m])
        self.trajectory = WaypointTrajectory(params.start_ns, p0, math.radians(params.start_yaw_deg),
                                             hover_s=params.idle_step_s)
        self.sim = OnlineSensorSimulator(self.world, self.trajectory, seed=params.seed, imu_rate_hz=IMU_RATE_HZ,
                                         camera_rate_hz=params.camera_rate_hz,
                                         noise_scale=params.noise_scale,
                                         image_noise_sigma=params.image_noise_sigma, renderer=params.renderer)
        self.truth = GroundTruthLog()
        self.end_ns = None if params.duration_s is None else params.start_ns + round(params.duration_s * 1e9)
        self.description = (f"simulated hall {'x'.join(f'{s:g}' for s in params.hall.size_m)} m, "
                            f"world_seed {params.world_seed}, seed {params.seed}")
        self.record = context.run_dir / RECORD_FOLDER if params.record_every_n_frames else None
        self.sequence = self.description if self.record is None else str(self.record)
        self.writer: EurocWriter | None = None
        self._imu_log: list = []
        self.frames = self.imu_samples = self.commands = self.moves = 0
        self._pending: int | None = None  # stamp of the command whose end has not been reached
        self._moves_end_ns = params.start_ns
        self._last_ns: int | None = None

    def _trajectory_end_ns(self) -> int:
        return self.trajectory.start_ns + int(self.trajectory.duration_s * 1e9)

    def start(self) -> None:
        if self.record is not None:
            shutil.rmtree(self.record, ignore_errors=True)
            self.writer = EurocWriter(self.record, *self.sim.cameras, self.sim.imu_calibration)
        self.schedule(self.params.start_ns, self._step)

    def on_command(self, message: MoveCommand) -> None:
        p = np.asarray(message.p_sim_m, dtype=np.float64).reshape(-1, 3)
        yaws = np.asarray(message.yaw_sim_rad, dtype=np.float64).reshape(-1)
        if len(p) == 0 or len(p) != len(yaws):
            raise ValueError(f"a move command needs K >= 1 waypoints and as many yaws, got {len(p)} and {len(yaws)}")
        for point, yaw in zip(p, yaws):
            self.trajectory.move_to(point, float(yaw), message.limits)
        self.commands += 1
        self.moves += len(p)
        self._pending = message.stamp_ns
        self._moves_end_ns = self._trajectory_end_ns()

    def _step(self) -> None:
        t = self.sim.time_ns  # the next IMU instant (now, unless a blocking queue held the simulator back)
        while self._trajectory_end_ns() < t + self.sim.step_ns:  # keep a step ahead: hover while idle
            self.trajectory.hover(self.params.idle_step_s)
        for message in self.sim.advance(t):
            if isinstance(message, StereoFrame):
                if self.writer is not None and self.frames % self.params.record_every_n_frames == 0:
                    self.writer.add_stereo(t, message.left.image, message.right.image)
                self.frames += 1
                self.publish("stereo", StereoMessage(message.timestamp_ns, message))
                continue
            truth = self.sim.last_truth
            self.truth.append(truth.timestamp_ns, truth.T_world_body, truth.v_world)
            if self._last_ns is None:
                self.publish("setup", SensorSetup(t, *self.sim.cameras, self.sim.imu_calibration, self.sequence,
                                                  self.truth))
                self.publish("world", SimWorld(t, self.world, truth.T_world_body))
            self.imu_samples += 1
            if self.writer is not None:
                self._imu_log.append((t, message.gyro, message.accel))
            self._last_ns = t
            self.publish("imu", ImuMessage(t, message))
        if self._pending is not None and t >= self._moves_end_ns:
            self.publish("done", MoveDone(t, self._pending))
            self._pending = None
        following = t + self.sim.step_ns
        if self.end_ns is None or following <= self.end_ns:
            self.schedule(following, self._step)

    def close(self) -> None:
        if self.writer is None:
            return
        stamps = np.array([t for t, _, _ in self._imu_log], dtype=np.int64)
        self.writer.write_imu(stamps, np.array([g for _, g, _ in self._imu_log]).reshape(-1, 3),
                              np.array([a for _, _, a in self._imu_log]).reshape(-1, 3))
        self.writer.close()

    def progress(self) -> tuple[int, int, float]:
        every = self.sim.frame_every * self.sim.step_ns
        total = 0 if self.end_ns is None else (self.end_ns - self.params.start_ns) // every + 1
        span = 0.0 if self._last_ns is None else (self._last_ns - self.params.start_ns) * 1e-9
        return self.frames, int(total), span

    def summary(self) -> dict:
        return {"sequence": self.sequence, "world": self.description, "frames": self.frames,
                "imu_samples": self.imu_samples, "commands": self.commands, "moves": self.moves,
                "hall_bounds_m": [self.world.bounds_min.tolist(), self.world.bounds_max.tolist()],
                "obstacles": int(len(self.world.obstacle_boxes)),
                "flight_s": None if self._last_ns is None else (self._last_ns - self.params.start_ns) * 1e-9}
