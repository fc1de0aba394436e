"""``controller``: flies the explorer's goals in the simulator, with the VIO in the loop.

The explorer plans in the estimator's world frame (``vio``); the drone flies in the
simulator's (``sim``). The controller models a perfect tracking controller that closes its
loop on the VIO estimate: it steers the body so that the *estimate* follows the plan. With
the drift transform at the moment a goal arrives,

    T_sim_vio = T_sim_body_true(t) @ inv(T_vio_body_est(t))     (t: the latest VIO state)

a planned point ``p_vio`` is flown to ``p_sim = T_sim_vio @ p_vio`` and a planned heading
(the level camera's axis ``(cos yaw, sin yaw, 0)`` in ``vio``) becomes the heading of
``R_sim_vio @ (cos yaw, sin yaw, 0)``. The drone thus ends where the VIO believes the goal
is, and is truly off by the VIO's drift, as a real vehicle would be. The drift is frozen
when the goal arrives; what it changes during the move itself is not corrected (a move
lasts seconds). The true pose comes from the simulator's ground truth (``setup``).

Trajectory: one rest-to-rest minimum-jerk move per waypoint of the goal's path after its
first point (the current position; a straight line when the goal has no path), within
``limits``; on the way the heading follows each segment's horizontal direction (the cameras
look where the drone goes; a vertical segment keeps the previous heading), and the last
move turns to the goal's heading. The moves go to the simulator as a :class:`MoveCommand`.

Reporting: :class:`GoalReached` on ``reached`` once the flight has been at rest at the
goal for ``dwell_s`` (the first VIO state at or after the simulator's :class:`MoveDone` plus
``dwell_s``, so the mapper has integrated the view). Before the first goal it waits
``initial_hover_s`` at rest (the VIO's static initialisation) and for a first VIO state,
then reports ready (``goal_stamp_ns`` None) so the explorer plans the first view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from datasets.configuration import ConfigMixin
from datasets.synth.waypoints import MotionLimits

from ..messages import GOAL_TOPIC, NAVSTATE_TOPIC, SETUP_TOPIC, Goal, Message, NavStateMessage, SensorSetup
from ..node import Node, Port, register
from .simulator import COMMAND_TOPIC, DONE_TOPIC, MoveCommand, MoveDone

REACHED_TOPIC = "control/reached"
CAMERA_AXIS_BODY = np.array([0.0, 0.0, 1.0])  # EuRoC's VI-sensor: the cameras look along body +z


@dataclass(frozen=True)
class GoalReached(Message):
    """The flight is at rest at the goal stamped ``goal_stamp_ns`` (None: at rest before any
    goal, ready for the first one); ``stamp_ns`` is the VIO state's stamp."""

    goal_stamp_ns: int | None


def heading_in(R_to_from: np.ndarray, yaw_rad: float) -> float:
    """Heading [rad] in frame ``to`` of the level axis ``(cos yaw, sin yaw, 0)`` of frame
    ``from`` (the axis rotated by ``R_to_from``, projected on the horizontal plane)."""
    d = R_to_from @ np.array([math.cos(yaw_rad), math.sin(yaw_rad), 0.0])
    return math.atan2(d[1], d[0])


def drift_transform(T_sim_body_true: np.ndarray, T_vio_body_est: np.ndarray) -> np.ndarray:
    """T_sim_vio = T_sim_body_true @ inv(T_vio_body_est) (4, 4): maps estimator-frame points
    to where the drone truly is when its estimate is there."""
    T_body_vio = np.eye(4)
    R = T_vio_body_est[:3, :3]
    T_body_vio[:3, :3] = R.T
    T_body_vio[:3, 3] = -R.T @ T_vio_body_est[:3, 3]
    return T_sim_body_true @ T_body_vio


def plan_in_sim(T_sim_vio: np.ndarray, path_vio_m: np.ndarray, goal_yaw_vio_rad: float,
                start_yaw_sim_rad: float) -> tuple[np.ndarray, np.ndarray]:
    """The moves of a goal in the simulator's frame. ``path_vio_m`` (K, 3) [m, vio] starts at the
    drone's position and ends at the goal. Returns the waypoints, ``T_sim_vio`` applied to
    ``path_vio_m[1:]`` (K - 1, 3) (to the goal alone when K = 1: a turn on the spot), and their
    headings [rad]: along each segment's horizontal direction (the previous heading, starting
    at ``start_yaw_sim_rad``, for segments under 1 mm horizontally), the last one the goal's
    heading ``goal_yaw_vio_rad`` carried into ``sim`` (:func:`heading_in`)."""
    path = np.asarray(path_vio_m, dtype=np.float64).reshape(-1, 3)
    p_sim = path @ T_sim_vio[:3, :3].T + T_sim_vio[:3, 3]
    yaws, yaw = [], start_yaw_sim_rad
    for a, b in zip(p_sim[:-1], p_sim[1:]):
        if np.linalg.norm(b[:2] - a[:2]) > 1e-3:
            yaw = math.atan2(b[1] - a[1], b[0] - a[0])
        yaws.append(yaw)
    yaws = np.array(yaws or [0.0])
    yaws[-1] = heading_in(T_sim_vio[:3, :3], goal_yaw_vio_rad)
    return (p_sim[1:] if len(p_sim) > 1 else p_sim), yaws


@dataclass(frozen=True)
class ControllerParams(ConfigMixin):
    """limits: speed [m/s], acceleration [m/s^2], yaw rate [rad/s] and shortest move [s];
    initial_hover_s: rest before the first move [s] (the VIO's static initialisation);
    dwell_s: rest at each goal before it counts as reached [s]."""

    limits: MotionLimits = field(default_factory=MotionLimits)
    initial_hover_s: float = 2.0
    dwell_s: float = 0.3

    def __post_init__(self) -> None:
        for name in ("initial_hover_s", "dwell_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"'{name}' must be >= 0, got {getattr(self, name)}")


@register
class Controller(Node):
    """See the module docstring."""

    type_name = "controller"
    Params = ControllerParams
    inputs = {"setup": Port(SensorSetup, SETUP_TOPIC, 10), "navstate": Port(NavStateMessage, NAVSTATE_TOPIC, 100),
              "goal": Port(Goal, GOAL_TOPIC, 10), "done": Port(MoveDone, DONE_TOPIC, 10)}
    outputs = {"command": Port(MoveCommand, COMMAND_TOPIC), "reached": Port(GoalReached, REACHED_TOPIC)}

    def __init__(self, name, params: ControllerParams, context):
        super().__init__(name, params, context)
        self.truth = None
        self.hover_end_ns: int | None = None
        self.state: NavStateMessage | None = None
        self.ready = False
        self.goal_stamp: int | None = None  # the goal being flown
        self.report_at_ns: int | None = None  # report the goal reached at the first state from then
        self.yaw_sim = 0.0
        self.goals = self.waypoints = 0
        self.T_sim_vio_first: np.ndarray | None = None
        self.drift_m: list[float] = []  # per goal: true position - first alignment of the estimate [m]

    def on_setup(self, message: SensorSetup) -> None:
        if not callable(getattr(message.groundtruth, "pose_at", None)):
            raise RuntimeError("the controller flies a simulator: its sensor setup must carry the simulator's "
                               "ground truth (pose_at)")
        self.truth = message.groundtruth
        self.hover_end_ns = message.stamp_ns + round(self.params.initial_hover_s * 1e9)
        axis = self.truth.pose_at(message.stamp_ns)[:3, :3] @ CAMERA_AXIS_BODY
        self.yaw_sim = math.atan2(axis[1], axis[0])

    def on_navstate(self, message: NavStateMessage) -> None:
        self.state = message
        if not self.ready:
            if self.hover_end_ns is not None and message.stamp_ns >= self.hover_end_ns:
                self.ready = True
                self.publish("reached", GoalReached(message.stamp_ns, None))
        elif self.report_at_ns is not None and message.stamp_ns >= self.report_at_ns:
            self.report_at_ns = None
            self.publish("reached", GoalReached(message.stamp_ns, self.goal_stamp))

    def on_goal(self, message: Goal) -> None:
        if not self.ready or self.state is None:
            raise RuntimeError("a goal arrived before the controller reported ready")
        T_sim_body = self.truth.pose_at(self.state.stamp_ns)
        T_sim_vio = drift_transform(T_sim_body, self.state.state.T_world_body)
        path = message.path_world_m
        if path is None:  # straight from where the VIO believes the drone is
            path = np.vstack([self.state.state.p_world_body, message.p_world_goal])
        p_sim, yaws = plan_in_sim(T_sim_vio, path, message.yaw_rad, self.yaw_sim)
        self.yaw_sim = float(yaws[-1])
        self.goal_stamp = message.stamp_ns
        self.goals += 1
        self.waypoints += len(p_sim)
        if self.T_sim_vio_first is None:
            self.T_sim_vio_first = T_sim_vio
        p_est = self.state.state.p_world_body
        self.drift_m.append(float(np.linalg.norm(T_sim_body[:3, 3] - self.T_sim_vio_first[:3, :3] @ p_est
                                                 - self.T_sim_vio_first[:3, 3])))
        self.publish("command", MoveCommand(self.now_ns, p_sim, yaws, self.params.limits))

    def on_done(self, message: MoveDone) -> None:
        self.report_at_ns = message.stamp_ns + round(self.params.dwell_s * 1e9)

    def summary(self) -> dict:
        return {"goals": self.goals, "waypoints": self.waypoints, "ready": self.ready,
                "drift_at_goals_m": self.drift_m, "drift_max_m": max(self.drift_m, default=None)}
