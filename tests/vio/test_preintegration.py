"""IMU preintegration: numba kernel against a slow dense NumPy reference, closed-form
deltas, Monte-Carlo covariance, bias Jacobians by finite differences, bias handling,
merging, prediction against the synthetic trajectory, and the operation-count hook."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from accel_model.workload import Workload
from datasets.calibration import euroc_imu
from datasets.synth.imu import ImuSimConfig, simulate_imu
from datasets.synth.trajectory import default_trajectory
from vio.preintegration import ADD_PER_SAMPLE, MUL_PER_SAMPLE, ImuBias, ImuParams, ImuPreintegration

EUROC = ImuParams.from_calibration(euroc_imu())
BIAS = ImuBias(gyro=[0.01, -0.02, 0.015], accel=[0.1, 0.05, -0.08])


def exp(phi):
    return Rotation.from_rotvec(phi).as_matrix()


def log(R):
    return Rotation.from_matrix(R).as_rotvec()


def skew(w):
    return np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])


def right_jacobian(phi):
    t = np.linalg.norm(phi)
    K = skew(phi)
    return np.eye(3) - (1 - np.cos(t)) / t**2 * K + (t - np.sin(t)) / t**3 * K @ K


def reference_preintegration(dt, gyro, accel, bias, params):
    """Forster et al. T-RO 2017, Sec. V-A and App. A-B, written out with dense 9x9 matrices."""
    dR, dv, dp = np.eye(3), np.zeros(3), np.zeros(3)
    cov, jac = np.zeros((9, 9)), np.zeros((9, 6))
    for h, w_m, a_m in zip(dt, gyro, accel):
        w, a = w_m - bias.gyro, a_m - bias.accel
        E, Jr = exp(w * h), right_jacobian(w * h)
        A = np.eye(9)
        A[0:3, 0:3] = E.T
        A[3:6, 0:3] = -dR @ skew(a) * h
        A[6:9, 0:3] = -0.5 * dR @ skew(a) * h**2
        A[6:9, 3:6] = np.eye(3) * h
        B_gyro = np.vstack([Jr * h, np.zeros((6, 3))])
        B_accel = np.vstack([np.zeros((3, 3)), dR * h, 0.5 * dR * h**2])
        cov = (A @ cov @ A.T + B_gyro @ (params.gyro_noise_density**2 / h * np.eye(3)) @ B_gyro.T
               + B_accel @ (params.accel_noise_density**2 / h * np.eye(3)) @ B_accel.T)
        jac = A @ jac - np.hstack([B_gyro, B_accel])
        dp = dp + dv * h + 0.5 * dR @ a * h**2
        dv = dv + dR @ a * h
        dR = dR @ E
    return dR, dv, dp, cov, jac


def random_motion(n, seed, dt_s=0.005):
    """Smoothly varying body rates and specific forces (sinusoids), dt_s [s] per sample."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) * dt_s
    freq, phase = rng.uniform(0.5, 2.0, (2, 3)), rng.uniform(0, 2 * np.pi, (2, 3))
    gyro = rng.uniform(0.2, 1.5, 3) * np.sin(freq[0] * t[:, None] + phase[0])
    accel = np.array([0.0, 0.0, 9.81]) + rng.uniform(0.5, 3.0, 3) * np.sin(freq[1] * t[:, None] + phase[1])
    return np.full(n, dt_s), gyro, accel


def integrated(params, bias, dt, gyro, accel):
    pim = ImuPreintegration(params, bias)
    pim.integrate_batch(dt, gyro, accel)
    return pim


# ------------------------------------------------------------------ kernel vs reference

def test_kernel_matches_dense_reference():
    dt, gyro, accel = random_motion(300, seed=1)
    dt = dt * np.random.default_rng(2).uniform(0.8, 1.2, dt.size)  # uneven sample spacing
    pim = integrated(EUROC, BIAS, dt, gyro, accel)
    dR, dv, dp, cov, jac = reference_preintegration(dt, gyro, accel, BIAS, EUROC)
    np.testing.assert_allclose(pim.delta_R, dR, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pim.delta_v, dv, rtol=0, atol=1e-12 * np.abs(dv).max())
    np.testing.assert_allclose(pim.delta_p, dp, rtol=0, atol=1e-12 * np.abs(dp).max())
    np.testing.assert_allclose(pim.covariance, cov, rtol=0, atol=1e-12 * np.abs(cov).max())
    np.testing.assert_allclose(pim.jacobian_bias, jac, rtol=0, atol=1e-12 * np.abs(jac).max())
    assert pim.dt_s == pytest.approx(dt.sum(), abs=1e-15) and pim.num_samples == 300


def test_sample_by_sample_equals_batch():
    dt, gyro, accel = random_motion(50, seed=3)
    batch = integrated(EUROC, BIAS, dt, gyro, accel)
    single = ImuPreintegration(EUROC, BIAS)
    for h, w, a in zip(dt, gyro, accel):
        single.integrate(h, w, a)
    arrays = ImuPreintegration(EUROC, BIAS)
    arrays.integrate(dt, gyro, accel)  # integrate() with a 1-D dt_s is a batch
    for name in ("delta_R", "delta_v", "delta_p", "covariance", "jacobian_bias"):
        np.testing.assert_array_equal(getattr(single, name), getattr(batch, name))
        np.testing.assert_array_equal(getattr(arrays, name), getattr(batch, name))


# ------------------------------------------------------------------ closed-form deltas

def test_constant_rate_without_force_is_exact():
    """Constant angular velocity, zero specific force: dR = Exp(omega T), dv = dp = 0."""
    omega = np.array([0.7, -1.1, 0.4])
    n, h = 400, 0.005
    pim = integrated(EUROC, ImuBias.zero(), np.full(n, h), np.tile(omega, (n, 1)), np.zeros((n, 3)))
    np.testing.assert_allclose(pim.delta_R, exp(omega * n * h), rtol=0, atol=1e-9)
    assert np.abs(pim.delta_v).max() == 0.0 and np.abs(pim.delta_p).max() == 0.0


def test_constant_force_without_rotation_is_exact():
    """Zero angular velocity, constant specific force a: dv = a T, dp = a T^2 / 2 (exact in the
    held-sample model, which is exact for a constant force)."""
    a = np.array([0.3, -2.0, 9.81])
    n, h = 400, 0.005
    pim = integrated(EUROC, ImuBias.zero(), np.full(n, h), np.zeros((n, 3)), np.tile(a, (n, 1)))
    T = n * h
    np.testing.assert_array_equal(pim.delta_R, np.eye(3))
    np.testing.assert_allclose(pim.delta_v, a * T, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pim.delta_p, 0.5 * a * T**2, rtol=0, atol=1e-9)


def test_constant_rate_and_force_match_held_sample_closed_form():
    """Constant omega and constant body-frame specific force a together.

    The held-sample (Euler on the manifold) deltas are dR_k = Exp(omega k dt),
    dv_N = dt sum_{k<N} R^k a and dp_N = dt^2 sum_{k<N} (N - 1 - k) R^k a + dt^2/2 sum_{k<N} R^k a
    with R = Exp(omega dt). Splitting a into its part along the rotation axis n (fixed by R)
    and its part in the plane normal to n (where R^k multiplies by z^k, z = exp(i |omega| dt)),
    the sums are geometric series with closed forms: sum z^k = (1 - z^N) / (1 - z),
    sum k z^k = z (1 - N z^(N-1) + (N - 1) z^N) / (1 - z)^2. These are not the continuous
    integrals (which differ by O(dt)); they are what the discrete model must give, to 1e-9.
    """
    omega, a = np.array([0.4, 0.9, -0.6]), np.array([1.5, -0.7, 9.81])
    n, h = 400, 0.005
    pim = integrated(EUROC, ImuBias.zero(), np.full(n, h), np.tile(omega, (n, 1)), np.tile(a, (n, 1)))

    axis = omega / np.linalg.norm(omega)
    a_par = (a @ axis) * axis
    a_perp = a - a_par
    u = a_perp / np.linalg.norm(a_perp)
    w = np.cross(axis, u)
    z = np.exp(1j * np.linalg.norm(omega) * h)
    s0 = (1 - z**n) / (1 - z)
    s1 = z * (1 - n * z ** (n - 1) + (n - 1) * z**n) / (1 - z) ** 2

    def in_plane(c):  # complex amplitude of u -> 3-vector
        return np.linalg.norm(a_perp) * (c.real * u + c.imag * w)

    dv = h * (n * a_par + in_plane(s0))
    dp = h**2 * (n * (n - 1) / 2 * a_par + in_plane((n - 1) * s0 - s1)) + 0.5 * h * dv
    np.testing.assert_allclose(pim.delta_R, exp(omega * n * h), rtol=0, atol=1e-9)
    np.testing.assert_allclose(pim.delta_v, dv, rtol=0, atol=1e-9)
    np.testing.assert_allclose(pim.delta_p, dp, rtol=0, atol=1e-9)


# ------------------------------------------------------------------ covariance

def integrate_many(dt, gyro, accel):
    """Vectorised held-sample integration of M runs: gyro, accel (M, N, 3)."""
    m = gyro.shape[0]
    R, v, p = np.tile(np.eye(3), (m, 1, 1)), np.zeros((m, 3)), np.zeros((m, 3))
    for k, h in enumerate(dt):
        Ra = np.einsum("mij,mj->mi", R, accel[:, k])
        p += v * h + 0.5 * Ra * h * h
        v += Ra * h
        R = R @ Rotation.from_rotvec(gyro[:, k] * h).as_matrix()
    return R, v, p


def test_covariance_matches_monte_carlo():
    """1000 noisy runs (white noise of variance density^2 / dt per sample) around a noise-free
    run; the spread of [Log(dR^T dR_noisy), dv_noisy - dv, dp_noisy - dp] against the
    propagated covariance: every standard deviation within 10 %, every strong correlation
    (|rho| > 0.3) within 0.1."""
    params = dataclasses.replace(EUROC, gyro_noise_density=5e-3, accel_noise_density=1e-2)
    dt, gyro, accel = random_motion(200, seed=4)
    pim = integrated(params, ImuBias.zero(), dt, gyro, accel)
    rng = np.random.default_rng(5)
    runs = 1000
    noise_g = params.gyro_noise_density / np.sqrt(dt)[None, :, None] * rng.standard_normal((runs, dt.size, 3))
    noise_a = params.accel_noise_density / np.sqrt(dt)[None, :, None] * rng.standard_normal((runs, dt.size, 3))
    R, v, p = integrate_many(dt, gyro + noise_g, accel + noise_a)
    errors = np.hstack([Rotation.from_matrix(np.einsum("ji,mjk->mik", pim.delta_R, R)).as_rotvec(),
                        v - pim.delta_v, p - pim.delta_p])
    sample = np.cov(errors, rowvar=False)
    std_mc, std_model = np.sqrt(np.diag(sample)), np.sqrt(np.diag(pim.covariance))
    assert np.max(np.abs(std_mc / std_model - 1)) < 0.10
    rho_mc = sample / np.outer(std_mc, std_mc)
    rho_model = pim.covariance / np.outer(std_model, std_model)
    strong = np.abs(rho_model) > 0.3
    assert strong.sum() > 9 + 24  # beyond the diagonal: rot-vel, rot-pos and vel-pos couplings
    assert np.max(np.abs(rho_mc - rho_model)[strong]) < 0.1


# ------------------------------------------------------------------ bias Jacobians, correction

def test_bias_jacobians_match_central_differences():
    dt, gyro, accel = random_motion(200, seed=6)
    pim = integrated(EUROC, BIAS, dt, gyro, accel)
    step = 1e-6
    numeric = np.zeros((9, 6))
    for c in range(6):
        e = np.zeros(6)
        e[c] = step
        plus, minus = (integrated(EUROC, ImuBias(BIAS.gyro + s * e[:3], BIAS.accel + s * e[3:]), dt, gyro, accel)
                       for s in (1.0, -1.0))
        numeric[0:3, c] = (log(pim.delta_R.T @ plus.delta_R) - log(pim.delta_R.T @ minus.delta_R)) / (2 * step)
        numeric[3:6, c] = (plus.delta_v - minus.delta_v) / (2 * step)
        numeric[6:9, c] = (plus.delta_p - minus.delta_p) / (2 * step)
    error = np.abs(numeric - pim.jacobian_bias).max() / np.abs(pim.jacobian_bias).max()
    assert error < 1e-6
    np.testing.assert_array_equal(pim.jacobian_bias[0:3, 3:6], 0.0)  # rotation does not see b_a


def test_first_order_bias_correction():
    """corrected_deltas (eq. 44) against re-integration: the error is second order in db."""
    dt, gyro, accel = random_motion(200, seed=7)
    pim = integrated(EUROC, BIAS, dt, gyro, accel)
    direction = ImuBias(gyro=[0.3, -0.2, 0.5], accel=[2.0, -1.0, 1.5])
    errors = []
    for scale in (1e-2, 1e-3):
        new = ImuBias(BIAS.gyro + scale * direction.gyro, BIAS.accel + scale * direction.accel)
        exact = integrated(EUROC, new, dt, gyro, accel)
        dR, dv, dp = pim.corrected_deltas(new)
        err = max(np.linalg.norm(log(exact.delta_R.T @ dR)), np.linalg.norm(exact.delta_v - dv),
                  np.linalg.norm(exact.delta_p - dp))
        uncorrected = np.linalg.norm(exact.delta_p - pim.delta_p)
        errors.append(err)
        assert err < 0.01 * uncorrected
    assert errors[1] < 0.02 * errors[0]  # 10x smaller db -> ~100x smaller error


def test_reintegration_and_its_threshold():
    dt, gyro, accel = random_motion(120, seed=8)
    pim = ImuPreintegration(EUROC, BIAS)
    pim.integrate_batch(dt[:70], gyro[:70], accel[:70])
    pim.integrate_batch(dt[70:], gyro[70:], accel[70:])
    small = ImuBias(BIAS.gyro + 0.001, BIAS.accel)
    large = ImuBias(BIAS.gyro, BIAS.accel + [0.2, 0.0, 0.0])
    assert not pim.needs_reintegration(small) and pim.needs_reintegration(large)
    assert pim.needs_reintegration(small, threshold=(1e-4, 1.0))
    pim.reintegrate(large)
    fresh = integrated(EUROC, large, dt, gyro, accel)
    assert pim.bias == large and pim.num_samples == 120
    for name in ("delta_R", "delta_v", "delta_p", "covariance", "jacobian_bias"):
        np.testing.assert_array_equal(getattr(pim, name), getattr(fresh, name))


def test_merge_equals_integrating_everything_and_copy_is_independent():
    dt, gyro, accel = random_motion(90, seed=9)
    first = integrated(EUROC, BIAS, dt[:40], gyro[:40], accel[:40])
    second = integrated(EUROC, ImuBias.zero(), dt[40:], gyro[40:], accel[40:])  # re-integrated at first's bias
    merged = first.merge(second)
    whole = integrated(EUROC, BIAS, dt, gyro, accel)
    for name in ("delta_R", "delta_v", "delta_p", "covariance", "jacobian_bias", "num_samples"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    assert merged.dt_s == pytest.approx(whole.dt_s, abs=1e-15)
    np.testing.assert_array_equal(merged.raw_samples()[1], gyro)
    assert first.num_samples == 40  # merge does not modify its inputs
    clone = first.copy()
    clone.integrate(0.005, [1.0, 0.0, 0.0], [0.0, 0.0, 9.81])
    assert first.num_samples == 40 and not np.array_equal(clone.delta_R, first.delta_R)
    with pytest.raises(ValueError, match="different ImuParams"):
        first.merge(ImuPreintegration(dataclasses.replace(EUROC, gravity=(0.0, 0.0, -9.8))))


# ------------------------------------------------------------------ prediction vs synthetic truth

@pytest.fixture(scope="module")
def synthetic():
    traj = default_trajectory(duration_s=12.0)
    series = {rate: simulate_imu(traj, euroc_imu(), ImuSimConfig(rate_hz=rate, noise_scale=0.0), seed=0)
              for rate in (200.0, 1000.0)}
    return traj, series


def prediction_errors(traj, imu, t0_s, window_s=0.5):
    """(position [m], velocity [m/s], rotation [rad]) errors of predict over the window."""
    t = (imu.timestamps_ns - traj.start_ns) * 1e-9
    i = int(np.searchsorted(t, t0_s))
    j = int(np.searchsorted(t, t0_s + window_s))
    pim = integrated(EUROC, ImuBias.zero(), np.diff(t[i:j + 1]), imu.gyro[i:j], imu.accel[i:j])
    truth = traj.evaluate(t[[i, j]])
    R, p, v = pim.predict(truth.R_world_body[0], truth.p_world_body[0], truth.v_world[0])
    return (np.linalg.norm(p - truth.p_world_body[1]), np.linalg.norm(v - truth.v_world[1]),
            np.linalg.norm(log(truth.R_world_body[1].T @ R)))


@pytest.mark.parametrize("t0_s", [1.0, 3.0, 5.0, 8.5, 11.0])
def test_predict_follows_noise_free_synthetic_imu(synthetic, t0_s):
    """Over 0.5 s at 200 Hz the held-sample model stays within 1 mm, 2 mm/s and 1 mrad of the
    analytic trajectory, and its error is first order in dt (1 kHz: about 5x smaller)."""
    traj, series = synthetic
    coarse = prediction_errors(traj, series[200.0], t0_s)
    assert coarse[0] < 1e-3 and coarse[1] < 2e-3 and coarse[2] < 1e-3
    fine = prediction_errors(traj, series[1000.0], t0_s)
    for c, f in zip(coarse, fine):
        assert f < 0.3 * c or c < 1e-12  # t0 = 1 s: still at rest, exact


def test_predict_with_bias_uses_the_correction():
    dt, gyro, accel = random_motion(100, seed=10)
    pim = integrated(EUROC, BIAS, dt, gyro, accel)
    R_i, p_i, v_i = exp([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5, 0.1])
    new = ImuBias(BIAS.gyro + 1e-4, BIAS.accel - 1e-3)
    dR, dv, dp = pim.corrected_deltas(new)
    R_j, p_j, v_j = pim.predict(R_i, p_i, v_i, bias=new)
    g, T = np.array(EUROC.gravity), pim.dt_s
    np.testing.assert_allclose(R_j, R_i @ dR, atol=1e-15)
    np.testing.assert_allclose(v_j, v_i + g * T + R_i @ dv, atol=1e-14)
    np.testing.assert_allclose(p_j, p_i + v_i * T + 0.5 * g * T**2 + R_i @ dp, atol=1e-14)


# ------------------------------------------------------------------ operation counts, validation

def test_workload_hook_counts_kernel_operations():
    """Counts per sample are the kernel's stage table (vio._kernels.PREINTEGRATION_STAGE_OPS)."""
    work = Workload("imu_preintegration")
    pim = ImuPreintegration(EUROC, ImuBias.zero(), workload=work)
    dt, gyro, accel = random_motion(30, seed=11)
    pim.integrate_batch(dt, gyro, accel)
    assert work.ops == {("mul", 64): 30 * MUL_PER_SAMPLE, ("add", 64): 30 * ADD_PER_SAMPLE, ("div", 64): 90,
                        ("sqrt", 64): 30, ("sin", 64): 60, ("compare", 64): 30}
    pim.integrate_batch(dt[:5], np.zeros((5, 3)), accel[:5])  # zero rate: the series branch
    assert work.total_ops("mul") == 30 * MUL_PER_SAMPLE + 5 * (MUL_PER_SAMPLE - 4 + 9)
    assert work.total_ops("add") == 30 * ADD_PER_SAMPLE + 5 * (ADD_PER_SAMPLE - 1 + 6)
    assert work.total_ops("div") == 90 and work.total_ops("sin") == 60 and work.total_ops("compare") == 35
    assert (MUL_PER_SAMPLE, ADD_PER_SAMPLE) == (906, 785)


def test_validation():
    with pytest.raises(ValueError, match="gyro_noise_density"):
        ImuParams(gyro_noise_density=-1.0, accel_noise_density=1.0, gyro_random_walk=1.0, accel_random_walk=1.0)
    with pytest.raises(ValueError, match="gravity"):
        dataclasses.replace(EUROC, gravity=(0.0, 9.81))
    with pytest.raises(ValueError, match="unknown option"):
        ImuParams.from_dict({"gyro_noise": 1.0})
    assert ImuParams.from_yaml_text("gyro_noise_density: 1.0e-4\naccel_noise_density: 1.0e-3\n"
                               "gyro_random_walk: 1.0e-5\naccel_random_walk: 1.0e-4\n").gyro_noise_density == 1e-4
    with pytest.raises(ValueError, match="accel"):
        ImuBias(gyro=np.zeros(3), accel=[0.0, np.nan, 0.0])
    pim = ImuPreintegration(EUROC)
    with pytest.raises(ValueError, match="positive"):
        pim.integrate(0.0, np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="gyro"):
        pim.integrate_batch(np.full(2, 0.005), np.zeros((3, 3)), np.zeros((2, 3)))
    assert pim.num_samples == 0
    with pytest.raises(ValueError):
        pim.delta_v[0] = 1.0  # read-only view
