"""Synthetic trajectories and IMU: analytic derivatives against finite differences, the
twin fit against real EuRoC ground truth, dead reckoning of the noise-free IMU with an
independent 4th-order integrator, and the noise statistics."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from datasets.calibration import euroc_cameras, euroc_imu
from datasets.synth.imu import ImuSimConfig, simulate_imu
from datasets.synth.trajectory import default_trajectory, trajectory_from_tum
from datasets.tum import read_tum, write_tum

MH01 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "euroc_groundtruth" / "MH_01_easy.txt"
needs_mh01 = pytest.mark.skipif(not MH01.exists(), reason=f"real EuRoC ground truth not found at {MH01}")
TWIN_OFFSET_S = 50.0  # MH_01 rests on the ground until ~43 s; it flies from here on
GRAVITY = np.array([0.0, 0.0, -9.81])


def vee(M: np.ndarray) -> np.ndarray:
    """Vector of the skew-symmetric part of (N, 3, 3) matrices."""
    return 0.5 * np.stack([M[:, 2, 1] - M[:, 1, 2], M[:, 0, 2] - M[:, 2, 0], M[:, 1, 0] - M[:, 0, 1]], axis=1)


def skew(w: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def rotation_angle(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    """Angle [rad] of Ra^T Rb for (N, 3, 3) stacks (accurate near zero, unlike arccos)."""
    return Rotation.from_matrix(np.einsum("nji,njk->nik", Ra, Rb)).magnitude()


@pytest.fixture(scope="module")
def default():
    return default_trajectory()


@pytest.fixture(scope="module")
def twin():
    if not MH01.exists():
        pytest.skip(f"real EuRoC ground truth not found at {MH01}")
    return trajectory_from_tum(MH01, duration_s=12.0, start_offset_s=TWIN_OFFSET_S)


# ------------------------------------------------------------------ trajectories


def assert_derivatives_match(traj, t, h, tol_v, tol_a, tol_w):
    s, sp, sm = traj.evaluate(t), traj.evaluate(t + h), traj.evaluate(t - h)
    np.testing.assert_allclose((sp.p_world_body - sm.p_world_body) / (2 * h), s.v_world, atol=tol_v)
    np.testing.assert_allclose((sp.v_world - sm.v_world) / (2 * h), s.a_world, atol=tol_a)
    R_dot = (sp.R_world_body - sm.R_world_body) / (2 * h)
    omega_fd = vee(np.einsum("nji,njk->nik", s.R_world_body, R_dot))  # R^T dR/dt = skew(omega_body)
    np.testing.assert_allclose(omega_fd, s.omega_body, atol=tol_w)
    assert np.abs(s.omega_body).max() > 0.1 and np.abs(s.a_world).max() > 0.1  # the check is not vacuous


def test_default_derivatives_match_finite_differences(default):
    t = np.r_[np.linspace(1.9, 5.1, 300), np.linspace(5.0, 59.9, 700)]  # rest end, ramp, cruise
    assert_derivatives_match(default, t, 1e-4, 1e-7, 1e-7, 1e-7)


def test_twin_derivatives_match_finite_differences(twin):
    t = np.linspace(0.01, twin.duration_s - 0.01, 1500)
    assert_derivatives_match(twin, t, 1e-5, 1e-6, 1e-5, 1e-5)
    # The frame matters: the world-frame rate R omega differs by far more than the tolerance.
    s = twin.evaluate(t)
    omega_world = np.einsum("nij,nj->ni", s.R_world_body, s.omega_body)
    assert np.abs(omega_world - s.omega_body).max() > 0.1


def test_default_rests_exactly_then_ramps_in_smoothly():
    traj = default_trajectory(duration_s=20.0, rest_s=2.0)
    s = traj.evaluate(np.linspace(0.0, 2.0, 401))
    for arr in (s.v_world, s.a_world, s.omega_body):
        assert np.abs(arr).max() <= 1e-12
    assert np.abs(s.p_world_body - s.p_world_body[0]).max() <= 1e-12
    assert np.abs(s.R_world_body - s.R_world_body[0]).max() <= 1e-12
    for t_join in (2.0, 5.0):  # both ends of the 3 s ramp: v, a, omega continuous
        a, b = traj.evaluate(np.array([t_join - 1e-7])), traj.evaluate(np.array([t_join + 1e-7]))
        for name in ("v_world", "a_world", "omega_body"):
            assert np.abs(getattr(a, name) - getattr(b, name)).max() < 1e-5, (t_join, name)
    assert np.linalg.norm(traj.evaluate(np.array([8.0])).v_world) > 0.3


def test_default_stays_in_the_hall_and_moves_like_a_mav(default):
    lo, hi = default.position_bounds()
    assert np.all(lo >= [-6.0, -3.5, 0.8]) and np.all(hi <= [6.0, 3.5, 2.5]), (lo, hi)
    assert np.all(hi - lo > [8.0, 5.0, 0.8])  # and uses the room
    s = default.evaluate(default.sample_times(0.01))
    cruise = default.sample_times(0.01) > 5.0
    speed = np.linalg.norm(s.v_world, axis=1)[cruise]
    assert 0.2 < speed.min() and 0.6 < np.median(speed) < 1.0 and speed.max() < 1.3
    assert 0.3 < np.abs(s.omega_body).max() < 0.6
    # Quadrotor-like: body x (EuRoC "up") within a few degrees of world up.
    tilt = np.degrees(np.arccos(s.R_world_body[:, 2, 0]))
    assert 0.5 < tilt.max() < 5.0
    for cam in euroc_cameras():
        R_world_cam = s.R_world_body @ cam.T_body_cam[:3, :3]
        elevation = np.degrees(np.arcsin(R_world_cam[:, 2, 2]))  # optical axis cam z
        assert np.abs(elevation).max() < 5.0, cam.name
        assert (-R_world_cam[:, 2, 1]).min() > 0.99, cam.name  # image up (-cam y) = world up
    heading = np.unwrap(np.arctan2(R_world_cam[:, 1, 2], R_world_cam[:, 0, 2]))
    assert np.ptp(heading) > 2 * np.pi - np.radians(75)  # with a ~79 deg field of view: every wall


def test_evaluate_rejects_times_outside_the_trajectory(default):
    with pytest.raises(ValueError, match="t_s must lie"):
        default.evaluate(np.array([0.0, default.duration_s + 1e-3]))
    with pytest.raises(ValueError, match="rest_s"):
        default_trajectory(duration_s=5.0, rest_s=6.0)


@needs_mh01
def test_twin_follows_real_ground_truth(twin):
    gt = read_tum(MH01)
    t_rel = (gt.timestamps_ns - twin.start_ns) * 1e-9
    inside = (t_rel >= 0) & (t_rel <= twin.duration_s)
    s = twin.evaluate(t_rel[inside])
    pos_err = np.linalg.norm(s.p_world_body - gt.p_world_body[inside], axis=1)
    rot_err = np.degrees(rotation_angle(s.R_world_body, gt.R_world_body[inside]))
    assert np.sqrt(np.mean(pos_err**2)) < 2e-3 and pos_err.max() < 1e-2
    assert np.sqrt(np.mean(rot_err**2)) < 0.1 and rot_err.max() < 0.5
    assert np.linalg.norm(s.v_world, axis=1).max() > 0.5  # a window with real flight


@needs_mh01
def test_twin_time_base_is_exact():
    traj = trajectory_from_tum(MH01)
    assert traj.start_ns == 1_403_636_580_838_560_000  # "1403636580.83856", no float rounding
    assert traj.duration_s == pytest.approx(181.905, abs=1e-9)
    clipped = trajectory_from_tum(MH01, duration_s=500.0, start_offset_s=180.0)
    assert clipped.start_ns == traj.start_ns + 180_000_000_000
    assert clipped.duration_s == pytest.approx(1.905, abs=1e-9)


@needs_mh01
def test_twin_ignores_quaternion_signs(tmp_path):
    gt = read_tum(MH01)
    rows = slice(10_000, 11_000)
    q = gt.q_world_body_xyzw[rows].copy()
    plain = write_tum(tmp_path / "plain.txt", gt.timestamps_ns[rows], gt.p_world_body[rows], q)
    q[1::2] *= -1.0
    flipped = write_tum(tmp_path / "flipped.txt", gt.timestamps_ns[rows], gt.p_world_body[rows], q)
    t = np.linspace(0.0, 4.9, 200)
    a, b = trajectory_from_tum(plain).evaluate(t), trajectory_from_tum(flipped).evaluate(t)
    np.testing.assert_allclose(a.R_world_body, b.R_world_body, atol=1e-12)
    np.testing.assert_allclose(a.omega_body, b.omega_body, atol=1e-9)


# ------------------------------------------------------------------ IMU


def half_step_values(f: np.ndarray) -> np.ndarray:
    """Cubic (4-point Lagrange) interpolation of samples f (N, 3) at the interval midpoints;
    the two end intervals use the one-sided quadratic through three samples."""
    mid = np.empty((len(f) - 1, 3))
    mid[1:-1] = (-f[:-3] + 9 * f[1:-2] + 9 * f[2:-1] - f[3:]) / 16
    mid[0] = (3 * f[0] + 6 * f[1] - f[2]) / 8
    mid[-1] = (3 * f[-1] + 6 * f[-2] - f[-3]) / 8
    return mid


def dead_reckon(imu, dt: float, R0, v0, p0):
    """Classical RK4 on (R, v, p) with dR/dt = R skew(gyro), dv/dt = R accel + g, dp/dt = v
    (Forster et al., T-RO 2017, Sec. IV). Reference integrator: slow and plain."""
    gyro_mid, accel_mid = half_step_values(imu.gyro), half_step_values(imu.accel)

    def deriv(R, v, w, f):
        return R @ skew(w), R @ f + GRAVITY, v

    R, v, p = R0.copy(), v0.copy(), p0.copy()
    Rs, ps = [R], [p]
    for k in range(len(imu.gyro) - 1):
        w0, wm, w1 = imu.gyro[k], gyro_mid[k], imu.gyro[k + 1]
        f0, fm, f1 = imu.accel[k], accel_mid[k], imu.accel[k + 1]
        k1 = deriv(R, v, w0, f0)
        k2 = deriv(R + 0.5 * dt * k1[0], v + 0.5 * dt * k1[1], wm, fm)
        k3 = deriv(R + 0.5 * dt * k2[0], v + 0.5 * dt * k2[1], wm, fm)
        k4 = deriv(R + dt * k3[0], v + dt * k3[1], w1, f1)
        R, v, p = (x + dt / 6 * (a + 2 * b + 2 * c + d) for x, a, b, c, d in zip((R, v, p), k1, k2, k3, k4))
        u, _, vt = np.linalg.svd(R)  # keep R on SO(3); RK4 drifts off it only at O(dt^5)
        R = u @ vt
        Rs.append(R)
        ps.append(p)
    return np.array(Rs), np.array(ps)


def dead_reckoning_errors(traj):
    imu = simulate_imu(traj, euroc_imu(), ImuSimConfig(noise_scale=0.0), seed=0)
    truth = traj.evaluate((imu.timestamps_ns - traj.start_ns) * 1e-9)
    R, p = dead_reckon(imu, 5e-3, truth.R_world_body[0], truth.v_world[0], truth.p_world_body[0])
    pos_err = np.linalg.norm(p - truth.p_world_body, axis=1).max()
    rot_err = np.degrees(rotation_angle(R, truth.R_world_body)).max()
    travelled = np.linalg.norm(np.diff(truth.p_world_body, axis=0), axis=1).sum()
    return pos_err, rot_err, travelled


def test_noise_free_imu_dead_reckons_the_default_trajectory():
    pos_err, rot_err, travelled = dead_reckoning_errors(default_trajectory(duration_s=10.0))
    print(f"default 10 s: {travelled:.2f} m travelled, max position error {pos_err * 1e6:.3f} um, "
          f"max orientation error {rot_err:.2e} deg")
    assert travelled > 4.0
    assert pos_err < 0.01 and rot_err < 0.1


@needs_mh01
def test_noise_free_imu_dead_reckons_the_mh01_twin():
    traj = trajectory_from_tum(MH01, duration_s=10.0, start_offset_s=TWIN_OFFSET_S)
    pos_err, rot_err, travelled = dead_reckoning_errors(traj)
    print(f"MH_01 twin 10 s: {travelled:.2f} m travelled, max position error {pos_err * 1e6:.3f} um, "
          f"max orientation error {rot_err:.2e} deg")
    assert travelled > 5.0
    assert pos_err < 0.01 and rot_err < 0.1


def test_imu_stamps_are_exact_and_cover_the_trajectory():
    traj = default_trajectory(duration_s=3.0, start_ns=1_403_636_580_838_560_000)
    imu = simulate_imu(traj, euroc_imu(), ImuSimConfig(), seed=1)
    assert imu.timestamps_ns.dtype == np.int64 and len(imu.timestamps_ns) == 601
    assert imu.timestamps_ns[0] == traj.start_ns
    assert np.all(np.diff(imu.timestamps_ns) == 5_000_000)
    assert imu.timestamps_ns[-1] == traj.start_ns + 3_000_000_000


def test_imu_at_rest_reads_gravity_along_body_x_and_zero_rate():
    traj = default_trajectory(duration_s=1.0, rest_s=1.0)
    cfg = ImuSimConfig(noise_scale=0.0, initial_gyro_bias=(0.01, -0.02, 0.03), initial_accel_bias=(0.1, 0.2, -0.3))
    imu = simulate_imu(traj, euroc_imu(), cfg, seed=0)
    np.testing.assert_allclose(imu.gyro, np.tile([0.01, -0.02, 0.03], (len(imu.gyro), 1)), atol=1e-12)
    np.testing.assert_allclose(imu.accel, np.tile([9.91, 0.2, -0.3], (len(imu.accel), 1)), atol=1e-12)
    assert np.all(imu.gyro_bias == [0.01, -0.02, 0.03]) and np.all(imu.accel_bias == [0.1, 0.2, -0.3])


def test_white_noise_matches_the_calibrated_density():
    traj = default_trajectory(duration_s=25.0, rest_s=25.0)
    cal = euroc_imu()
    imu = simulate_imu(traj, cal, ImuSimConfig(), seed=7)
    s = traj.evaluate(np.zeros(1))
    specific_force = s.R_world_body[0].T @ -GRAVITY
    gyro_noise = imu.gyro - imu.gyro_bias  # the body is at rest: omega = 0
    accel_noise = imu.accel - imu.accel_bias - specific_force
    dt = 5e-3
    for noise, density in ((gyro_noise, cal.gyro_noise_density), (accel_noise, cal.accel_noise_density)):
        assert np.std(noise, axis=0) == pytest.approx(np.full(3, density / np.sqrt(dt)), rel=0.05)
        assert np.abs(noise.mean(axis=0)).max() < 0.05 * density / np.sqrt(dt)
    raw_std = np.std(imu.gyro, axis=0)  # raw samples at rest: noise dominates the slow bias drift
    assert raw_std == pytest.approx(np.full(3, cal.gyro_noise_density / np.sqrt(dt)), rel=0.05)


def test_bias_random_walk_variance_grows_linearly():
    traj = default_trajectory(duration_s=10.0, rest_s=10.0)
    cal = euroc_imu()
    paths = []
    for seed in range(100):
        imu = simulate_imu(traj, cal, ImuSimConfig(), seed=seed)
        paths.append((imu.gyro_bias - imu.gyro_bias[0]) / cal.gyro_random_walk)
        paths.append((imu.accel_bias - imu.accel_bias[0]) / cal.accel_random_walk)
    walks = np.concatenate(paths, axis=1)  # (N, 600) unit-density walks
    t = np.arange(len(walks)) * 5e-3
    var = np.mean(walks**2, axis=1)
    slope = np.sum(var * t) / np.sum(t * t)  # least squares var = slope * t
    assert slope == pytest.approx(1.0, rel=0.15)
    for t_check in (2.5, 5.0, 10.0):
        assert var[int(round(t_check / 5e-3))] == pytest.approx(t_check, rel=0.25)
    steps = np.diff(walks, axis=0)
    assert np.std(steps) == pytest.approx(np.sqrt(5e-3), rel=0.01)


def test_same_seed_same_series_other_seed_differs():
    traj = default_trajectory(duration_s=4.0)
    a, b, c = (simulate_imu(traj, euroc_imu(), ImuSimConfig(), seed=s) for s in (3, 3, 4))
    for field in dataclasses.fields(a):
        np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))
    assert not np.array_equal(a.gyro, c.gyro) and not np.array_equal(a.accel_bias, c.accel_bias)


def test_rotated_imu_mounting_and_lever_arm():
    traj = default_trajectory(duration_s=8.0)
    noise_free = ImuSimConfig(noise_scale=0.0)
    body = simulate_imu(traj, euroc_imu(), noise_free, seed=0)
    T = np.eye(4)
    T[:3, :3] = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]  # R_body_imu
    rotated = simulate_imu(traj, dataclasses.replace(euroc_imu(), T_body_imu=T), noise_free, seed=0)
    np.testing.assert_allclose(rotated.gyro @ T[:3, :3].T, body.gyro, atol=1e-12)
    np.testing.assert_allclose(rotated.accel @ T[:3, :3].T, body.accel, atol=1e-12)
    T[:3, 3] = [0.0, 0.05, 0.0]
    with pytest.raises(ValueError, match="lever arm"):
        simulate_imu(traj, dataclasses.replace(euroc_imu(), T_body_imu=T), ImuSimConfig(), seed=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"rate_hz": 0.0}, "rate_hz"),
    ({"rate_hz": float("nan")}, "rate_hz"),
    ({"noise_scale": -1.0}, "noise_scale"),
    ({"gravity_world": (0.0, -9.81)}, "gravity_world"),
    ({"initial_accel_bias": (0.0, float("inf"), 0.0)}, "initial_accel_bias"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImuSimConfig(**kwargs)


def test_config_from_yaml():
    cfg = ImuSimConfig.from_yaml_text("rate_hz: 400\nnoise_scale: 0.5\ngravity_world: [0, 0, -9.8]\n")
    assert cfg.step_ns == 2_500_000 and cfg.noise_scale == 0.5 and cfg.gravity_world == (0.0, 0.0, -9.8)
    with pytest.raises(ValueError, match="unknown option"):
        ImuSimConfig.from_dict({"rate": 200})
