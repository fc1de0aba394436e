"""Closed-loop sensor simulation: minimum-jerk waypoint flights and stepwise IMU/stereo output."""
from __future__ import annotations

import math

import numpy as np
import pytest

from datasets.messages import ImuSample, StereoFrame
from datasets.synth.online import OnlineSensorSimulator
from datasets.synth.waypoints import MotionLimits, WaypointTrajectory, move_duration_s
from datasets.synth.world import HallConfig, build_hall

START_NS = 1_000_000_000


def _flight() -> WaypointTrajectory:
    traj = WaypointTrajectory(START_NS, [0.0, 0.0, 1.5], yaw0=0.3, hover_s=1.0)
    traj.move_to([1.5, 0.5, 1.7], yaw=1.2)
    traj.hover(0.5)
    traj.move_to([0.5, -1.0, 1.4], yaw=-2.9)  # the shorter way round crosses +-pi
    return traj


def test_derivatives_match_finite_differences():
    traj, h = _flight(), 1e-5
    t = np.linspace(0.05, traj.duration_s - 0.05, 37)
    s, sp, sm = traj.evaluate(t), traj.evaluate(t + h), traj.evaluate(t - h)
    np.testing.assert_allclose(s.v_world, (sp.p_world_body - sm.p_world_body) / (2 * h), atol=1e-6)
    np.testing.assert_allclose(s.a_world, (sp.v_world - sm.v_world) / (2 * h), atol=1e-5)
    # omega_body: R^T dR/dt = skew(omega)
    dR = (sp.R_world_body - sm.R_world_body) / (2 * h)
    W = np.einsum("nji,njk->nik", s.R_world_body, dR)
    omega_fd = np.stack([W[:, 2, 1], W[:, 0, 2], W[:, 1, 0]], axis=1)
    np.testing.assert_allclose(s.omega_body, omega_fd, atol=1e-5)


def test_moves_rest_at_waypoints_and_respect_limits():
    limits = MotionLimits(max_speed_mps=0.5, max_accel_mps2=0.4, max_yaw_rate_rps=0.6)
    traj = WaypointTrajectory(START_NS, [0, 0, 1], yaw0=0.0, hover_s=0.5)
    length = traj.move_to([3.0, 0.0, 1.0], yaw=math.pi / 2, limits=limits)
    assert length == pytest.approx(move_duration_s(3.0, math.pi / 2, limits))
    t = np.linspace(0, traj.duration_s, 4001)
    s = traj.evaluate(t)
    assert np.linalg.norm(s.v_world, axis=1).max() <= 0.5 + 1e-9
    assert np.linalg.norm(s.a_world, axis=1).max() <= 0.4 + 1e-9
    np.testing.assert_allclose(s.p_world_body[-1], [3, 0, 1], atol=1e-12)
    np.testing.assert_allclose(s.v_world[[0, -1]], 0, atol=1e-12)
    yaw_end = math.atan2(s.R_world_body[-1][1, 2], s.R_world_body[-1][0, 2])  # camera axis = body z
    assert yaw_end == pytest.approx(math.pi / 2, abs=1e-9)


def _simulate(steps_ns: list[int]) -> list:
    traj = _flight()
    world = build_hall(HallConfig(), traj.positions(0.05), seed=0)
    sim = OnlineSensorSimulator(world, traj, seed=3)
    out = []
    for until in steps_ns:
        out += sim.advance(until)
    return out


def test_any_split_gives_the_same_messages():
    end = START_NS + 700_000_000
    one = _simulate([end])
    many = _simulate([START_NS + 123_000_000, START_NS + 400_000_000, end])
    assert [type(m) for m in one] == [type(m) for m in many]
    for a, b in zip(one, many):
        assert a.timestamp_ns == b.timestamp_ns
        if isinstance(a, ImuSample):
            np.testing.assert_array_equal(a.gyro, b.gyro)
            np.testing.assert_array_equal(a.accel, b.accel)
        else:
            np.testing.assert_array_equal(a.left.image, b.left.image)
    frames = [m for m in one if isinstance(m, StereoFrame)]
    imu = [m for m in one if isinstance(m, ImuSample)]
    assert len(imu) == 141 and len(frames) == 15  # 0..700 ms at 5 ms; frames every 50 ms
    assert frames[0].left.image.shape == (480, 752)


def test_noise_free_imu_measures_gravity_at_rest():
    traj = WaypointTrajectory(START_NS, [0, 0, 1.5], yaw0=0.0, hover_s=1.0)
    world = build_hall(HallConfig(), traj.positions(0.05), seed=0)
    sim = OnlineSensorSimulator(world, traj, noise_scale=0.0)
    imu = [m for m in sim.advance(START_NS + 200_000_000) if isinstance(m, ImuSample)]
    acc = np.array([m.accel for m in imu])
    np.testing.assert_allclose(np.linalg.norm(acc, axis=1), 9.81, atol=1e-9)
    np.testing.assert_allclose(np.array([m.gyro for m in imu]), 0, atol=1e-12)
