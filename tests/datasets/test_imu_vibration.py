"""Rotor-vibration IMU model (datasets/synth/vibration.py): spectra, integration, config, real data."""
import math

import numpy as np
import pytest
from scipy import signal

from data_paths import shared_data
from datasets.calibration import euroc_imu
from datasets.errors import DatasetError
from datasets.synth.imu import ImuSimConfig, _random_walk, ideal_readings, imu_rotation, simulate_imu
from datasets.synth.trajectory import default_trajectory, trajectory_from_tum
from datasets.synth.vibration import (REGIMES, RegimeRule, VibrationConfig, load_vibration_model,
                                      regime_labels, regime_weights, simulate_vibration,
                                      synthesize_stationary)


@pytest.fixture(scope="module")
def model():
    return load_vibration_model()


@pytest.mark.parametrize("regime", ["ground", "flight"])
def test_synthesised_psd_matches_model(model, regime):
    n = 2 ** 16
    x = synthesize_stationary(model, regime, n, np.random.default_rng(1))
    f, p = signal.welch(x, fs=model.rate_hz, nperseg=256, axis=0)
    assert np.allclose(f, model.frequencies_hz)
    target = model.psd(regime)
    p[-1] *= 2.0  # scipy leaves the Nyquist bin single-sided; the model's density is continuous
    band = 8  # compare 6.25 Hz band averages (Welch variance and window leakage at sharp peaks)
    for c in range(6):
        est = p[1:121, c].reshape(-1, band).mean(axis=1)
        ref = target[1:121, c].reshape(-1, band).mean(axis=1)
        big = ref > 0.05 * ref.max()
        assert big.sum() >= 3
        np.testing.assert_allclose(est[big], ref[big], rtol=0.2, err_msg=f"{regime} channel {c}")
        # the variance too (the FFT scaling), within 5 %
        assert math.isclose(x[:, c].var(), np.trapezoid(target[:, c], f), rel_tol=0.05)
    # cross-axis coherence is reproduced: accel x-z cross-spectrum (flight has strong coherence)
    _, pxz = signal.csd(x[:, 3], x[:, 5], fs=model.rate_hz, nperseg=256)
    sxz = model.csd[REGIMES.index(regime)][:, 5, 3]  # E[X_z X_x^*] matches scipy's conj(X_x) X_z
    sel = slice(8, 120)
    rel = np.abs(pxz[sel].sum() - sxz[sel].sum()) / np.abs(sxz[sel]).sum()
    assert rel < 0.1


def test_regime_rule_and_crossfade():
    rule = RegimeRule(rest_speed_mps=0.05, min_rest_s=1.0, takeoff_lead_s=0.5, landing_lag_s=0.0)
    dt = 0.01
    speed = np.r_[np.full(200, 0.0),   # 0-2 s: still (before handheld) -> rotors_off
                  np.full(300, 0.5),   # 2-5 s: handheld -> rotors_off
                  np.full(300, 0.0),   # 5-8 s: on the ground -> ground (until the lead)
                  np.full(1000, 0.8),  # 8-18 s: the longest motion -> flight
                  np.full(50, 0.0),    # 18-18.5 s: short pause stays flight
                  np.full(500, 0.8),
                  np.full(200, 0.0)]   # landed -> ground
    labels = regime_labels(speed, dt, rule)
    names = np.array(REGIMES)[labels]
    assert set(names[:500]) == {"rotors_off"}
    assert set(names[500:750]) == {"ground"} and set(names[750:2350]) == {"flight"}
    assert set(names[2350:]) == {"ground"}
    w = regime_weights(labels, dt, 0.5)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(np.abs(np.diff(w, axis=0)) < 0.05)  # smooth: no jump between samples
    ramp = np.flatnonzero((w[:1500, 2] > 0.01) & (w[:1500, 2] < 0.99))
    assert 0.3 <= ramp.size * dt <= 0.5


def _old_simulate_imu(traj, imu, config, seed):
    """simulate_imu as it was before the vibration model (the reference for bit-identity)."""
    R_imu_body = imu_rotation(imu)
    step_ns = config.step_ns
    n = int(round(traj.duration_s * 1e9)) // step_ns + 1
    k = np.arange(n, dtype=np.int64)
    gyro, accel = ideal_readings(traj.evaluate(k * step_ns * 1e-9), R_imu_body, config.gravity_world)
    dt = step_ns * 1e-9
    s = config.noise_scale
    rng = np.random.default_rng(seed)
    gb = _random_walk(config.initial_gyro_bias, s * imu.gyro_random_walk * math.sqrt(dt), n, rng)
    ab = _random_walk(config.initial_accel_bias, s * imu.accel_random_walk * math.sqrt(dt), n, rng)
    gn = s * imu.gyro_noise_density / math.sqrt(dt) * rng.standard_normal((n, 3))
    an = s * imu.accel_noise_density / math.sqrt(dt) * rng.standard_normal((n, 3))
    return gyro + gb + gn, accel + ab + an, gb, ab


def test_vibration_off_is_bit_identical_and_on_leaves_noise_draws_alone():
    traj = default_trajectory(duration_s=6.0)
    imu = euroc_imu()
    assert ImuSimConfig().vibration == VibrationConfig(enabled=False)
    off = simulate_imu(traj, imu, ImuSimConfig(), seed=3)
    for got, want in zip((off.gyro, off.accel, off.gyro_bias, off.accel_bias),
                         _old_simulate_imu(traj, imu, ImuSimConfig(), 3)):
        assert np.array_equal(got, want)
    on_cfg = ImuSimConfig(vibration=VibrationConfig())
    on = simulate_imu(traj, imu, on_cfg, seed=3)
    assert np.array_equal(on.gyro_bias, off.gyro_bias) and np.array_equal(on.accel_bias, off.accel_bias)
    speed = np.linalg.norm(traj.evaluate((on.timestamps_ns - traj.start_ns) * 1e-9).v_world, axis=1)
    vib = simulate_vibration(speed, on_cfg.step_ns * 1e-9, on_cfg.vibration, 3)
    np.testing.assert_allclose(on.accel - off.accel, vib[:, 3:], atol=1e-12)
    np.testing.assert_allclose(on.gyro - off.gyro, vib[:, :3], atol=1e-12)
    assert np.array_equal(simulate_imu(traj, imu, on_cfg, seed=3).accel, on.accel)  # deterministic
    assert not np.array_equal(simulate_imu(traj, imu, on_cfg, seed=4).accel, on.accel)
    half = simulate_imu(traj, imu, ImuSimConfig(vibration=VibrationConfig(scale=0.5)), seed=3)
    np.testing.assert_allclose(half.accel - off.accel, 0.5 * vib[:, 3:], atol=1e-12)


@pytest.mark.parametrize("options", [
    {"scale": -1.0}, {"scale": float("nan")}, {"scale": True}, {"enabled": "yes"}, {"parameters": ""},
    {"parameters": 3}, {"crossfade_s": -0.1}, {"crossfade_s": float("inf")},
])
def test_bad_vibration_config_raises(options):
    with pytest.raises(DatasetError):
        VibrationConfig(**options)


def test_bad_vibration_config_from_dict_and_files(tmp_path):
    with pytest.raises(DatasetError):
        VibrationConfig.from_dict({"amplitude": 2.0})
    with pytest.raises(DatasetError):
        ImuSimConfig.from_dict({"vibration": {"scale": -2.0}})
    with pytest.raises(DatasetError):
        ImuSimConfig(vibration="on")
    assert ImuSimConfig.from_dict({"vibration": {"scale": 2.0}}).vibration == VibrationConfig(scale=2.0)
    traj = default_trajectory(duration_s=2.0)
    with pytest.raises(DatasetError, match="not found"):
        simulate_imu(traj, euroc_imu(), ImuSimConfig(vibration=VibrationConfig(parameters=str(tmp_path / "x.json"))), 0)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(DatasetError, match="format"):
        load_vibration_model(bad)
    with pytest.raises(DatasetError, match="200 Hz"):
        simulate_imu(traj, euroc_imu(), ImuSimConfig(rate_hz=100.0, vibration=VibrationConfig()), 0)


def _read_imu_csv(path):
    rows = [line.split(",") for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return np.array([int(r[0]) for r in rows], dtype=np.int64), np.array([[float(v) for v in r[1:7]] for r in rows])


def _highpass(x, fs=200.0):
    sos = signal.butter(4, 20.0, "highpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0)


def test_v101_twin_matches_real_highpass_std():
    imu_csv = shared_data("euroc_v101_micro/mav0/imu0/data.csv")
    gt = shared_data("euroc_groundtruth/V1_01_easy.txt")
    stamps, real = _read_imu_csv(imu_csv)
    traj = trajectory_from_tum(gt)
    assert traj.start_ns - stamps[0] > 0.9e9  # the GT starts ~1 s after the IMU
    twin = simulate_imu(traj, euroc_imu(), ImuSimConfig(vibration=VibrationConfig()), seed=0)
    real_hp = _highpass(real)
    twin_hp = _highpass(np.hstack([twin.gyro, twin.accel]))
    for name, (t0, t1) in {"ground": (0.0, 4.0), "flight": (30.0, 100.0)}.items():
        lo, hi = stamps[0] + int(t0 * 1e9), stamps[0] + int(t1 * 1e9)  # real-stream time -> stamps
        lo = max(lo, traj.start_ns)  # both over the twin's span (the real spin-up before it is not modelled)
        r = real_hp[(stamps >= lo) & (stamps < hi)].std(axis=0)
        sel = (twin.timestamps_ns >= lo) & (twin.timestamps_ns < hi)
        assert sel.sum() > 0.7 * (t1 - t0 - 1.1) * 200
        s = twin_hp[sel].std(axis=0)
        ratio = s / r
        assert np.all((ratio > 1 / 1.5) & (ratio < 1.5)), f"{name}: real {r}, twin {s}"
