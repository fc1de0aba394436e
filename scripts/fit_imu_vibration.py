"""Fit the rotor-vibration IMU model (datasets/synth/vibration.py) to real EuRoC data.

Writes datasets/synth/vibration_euroc.json (or --out): per regime the one-sided 6x6
cross-spectral density of what the real 200 Hz IMU shows beyond the twin's ideal readings
and the datasheet white noise, the regime rule, detected (aliased) harmonics and the
provenance. Method (docs/imu_vibration.md):

* residual = real IMU - ideal readings of the smooth ground-truth twin at the real stamps
  (``trajectory_from_tum``), or the raw IMU where the body is static and the GT absent;
* Welch cross-spectra (Hann, 256 samples, 50 % overlap, linear detrend per segment);
* minus the datasheet white noise 2 sigma_c^2 on the diagonal (simulate_imu adds that);
* zero below 1 / (2 POSITION_KNOT_SPACING_S) (the twin spline's own motion bandwidth);
* projected to positive semi-definite (eigenvalues clipped at 0).

Usage: .venv/bin/python scripts/fit_imu_vibration.py [--data ../shared/data] [--out PATH]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasets.calibration import parse_imu_yaml, read_yaml_file  # noqa: E402
from datasets.synth.imu import ideal_readings  # noqa: E402
from datasets.synth.trajectory import POSITION_KNOT_SPACING_S, trajectory_from_tum  # noqa: E402
from datasets.synth.vibration import (CHANNELS, FORMAT, REGIMES, SHIPPED_PARAMETERS, RegimeRule,  # noqa: E402
                                      regime_labels, spectral_factor)

NPERSEG = 256
HP_CUTOFF_HZ = 20.0  # the measurement band of the brief's tables (4th-order Butterworth)
V101_IMU = "euroc_v101_micro/mav0/imu0/data.csv"
V101_IMU_YAML = "euroc_v101_micro/mav0/imu0/sensor.yaml"
V101_GT = "euroc_groundtruth/V1_01_easy.txt"
MH01_IMU = "euroc_mh01_moving/mav0/imu0/data.csv"
MH01_GT = "euroc_groundtruth/MH_01_easy.txt"
# Labelled spans [s after the file's first IMU stamp], read off the data (docs/imu_vibration.md):
SPANS = {
    # V1_01 on the ground, rotors spinning, before take-off; from the ground-truth start (1.04 s),
    # where every twin starts: the second before it is a spin-up transient 2-4 times stronger
    # (gyro x 0.042 rad/s high-pass std against 0.009-0.020 rad/s from 1 to 4 s)
    "ground": (V101_IMU, 1.04, 4.0),
    "flight": (V101_IMU, 10.0, 140.0),  # V1_01 airborne
    "rotors_off": (MH01_IMU, 0.0, 10.5),  # MH_01 carried by hand (the whole 10.5 s file)
}
MH01_REST_GT_S = (20.0, 40.0)  # MH_01 static on the ground [s after its first GT stamp]
MH01_FLIGHT_GT_S = (50.0, 175.0)


def read_imu_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """EuRoC imu0/data.csv: int64 stamps [ns] and (N, 6) gyro [rad/s], accel [m/s^2]."""
    stamps, values = [], []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split(",")
        stamps.append(int(fields[0]))
        values.append([float(v) for v in fields[1:7]])
    return np.asarray(stamps, dtype=np.int64), np.asarray(values)


def welch_csd(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided cross-spectral density (F, C, C), S_ij = E[X_i X_j^*] scaled to unit^2/Hz.

    Hann window, NPERSEG samples, 50 % overlap, linear detrend per segment (Welch 1967).
    The Nyquist bin is doubled like the others, so S is one continuous one-sided density.
    """
    step = NPERSEG // 2
    starts = range(0, x.shape[0] - NPERSEG + 1, step)
    win = signal.get_window("hann", NPERSEG)
    segs = np.stack([signal.detrend(x[s:s + NPERSEG], axis=0, type="linear") for s in starts])
    X = np.fft.rfft(segs * win[None, :, None], axis=1)
    S = np.einsum("kfi,kfj->fij", X, np.conj(X)) / len(segs) * 2.0 / (fs * np.sum(win ** 2))
    S[0] /= 2.0
    return np.fft.rfftfreq(NPERSEG, 1.0 / fs), S


def highpass_std(x: np.ndarray, fs: float) -> np.ndarray:
    sos = signal.butter(4, HP_CUTOFF_HZ, "highpass", fs=fs, output="sos")
    return signal.sosfiltfilt(sos, x, axis=0).std(axis=0)


def twin_ideal(traj, stamps_ns: np.ndarray, gravity=(0.0, 0.0, -9.81)) -> tuple[np.ndarray, np.ndarray]:
    """Ideal twin readings (N, 6) at the stamps inside the twin, and the mask of those stamps."""
    t = (stamps_ns - traj.start_ns) * 1e-9
    inside = (t >= 0) & (t <= traj.duration_s)
    gyro, accel = ideal_readings(traj.evaluate(t[inside]), np.eye(3), gravity)
    return np.hstack([gyro, accel]), inside


def highpass_gain2(f: np.ndarray, fs: float) -> np.ndarray:
    """|H(f)|^2 of the zero-phase (forward-backward) 20 Hz Butterworth used by highpass_std."""
    sos = signal.butter(4, HP_CUTOFF_HZ, "highpass", fs=fs, output="sos")
    _, h = signal.sosfreqz(sos, worN=f, fs=fs)
    return np.abs(h) ** 4


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vibration_progress(x: np.ndarray, fs: float, t: np.ndarray, ground: tuple, flight: tuple,
                       window_s: float = 0.5) -> np.ndarray:
    """Per-sample progress from the ground (0) to the flight (1) vibration level: the mean over
    the accel axes of log(level / ground level) / log(flight level / ground level), with the
    level the 20 Hz high-pass std over a moving ``window_s`` window."""
    sos = signal.butter(4, HP_CUTOFF_HZ, "highpass", fs=fs, output="sos")
    h = signal.sosfiltfilt(sos, x[:, 3:], axis=0)
    w = int(round(window_s * fs))
    level = np.sqrt(np.stack([np.convolve(h[:, i] ** 2, np.ones(w) / w, mode="same") for i in range(3)], axis=1))
    g = np.median(level[(t >= ground[0]) & (t < ground[1])], axis=0)
    f = np.median(level[(t >= flight[0]) & (t < flight[1])], axis=0)
    return np.mean(np.log(level / g) / np.log(f / g), axis=1)


def harmonics(f: np.ndarray, psd: np.ndarray, f_min: float) -> list[dict]:
    """Peaks of the summed normalised spectrum: frequency, -3 dB width, per-channel rms."""
    band = f >= f_min
    floor = np.median(psd[band], axis=0)
    score = np.where(band, (psd / np.maximum(floor, 1e-300)).sum(axis=1) / psd.shape[1], 0.0)
    peaks, props = signal.find_peaks(score, prominence=1.0)
    if peaks.size == 0:
        return []
    widths, _, left, right = signal.peak_widths(score, peaks, rel_height=0.5)
    df = f[1] - f[0]
    out = []
    for p, w, lo, hi, prom in zip(peaks, widths, left, right, props["prominences"]):
        sel = slice(int(math.floor(lo)), int(math.ceil(hi)) + 1)
        rms = np.sqrt(np.sum(psd[sel], axis=0) * df)
        out.append({"frequency_hz": round(float(f[p]), 3), "width_hz": round(float(w * df), 3),
                    "prominence": round(float(prom), 2),
                    "rms": {c: float(f"{v:.4g}") for c, v in zip(CHANNELS, rms)}})
    out.sort(key=lambda h: -h["prominence"])
    return out[:8]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=SHIPPED_PARAMETERS)
    args = parser.parse_args(argv)
    data = args.data.resolve()

    imu_cal = parse_imu_yaml(read_yaml_file(data / V101_IMU_YAML), str(data / V101_IMU_YAML))
    noise_psd = np.r_[[2 * imu_cal.gyro_noise_density ** 2] * 3, [2 * imu_cal.accel_noise_density ** 2] * 3]
    twins = {V101_IMU: trajectory_from_tum(data / V101_GT), MH01_IMU: trajectory_from_tum(data / MH01_GT)}
    streams = {name: read_imu_csv(data / name) for name in (V101_IMU, MH01_IMU)}

    fs = None
    f_motion = 1.0 / (2.0 * POSITION_KNOT_SPACING_S)
    csds, measured, provenance_spans = {}, {}, {}
    for regime in REGIMES:
        name, t0, t1 = SPANS[regime]
        stamps, values = streams[name]
        step = np.median(np.diff(stamps)) * 1e-9
        fs = 1.0 / step if fs is None else fs
        t = (stamps - stamps[0]) * 1e-9
        span = (t >= t0) & (t < t1)
        ideal, inside = twin_ideal(twins[name], stamps)
        residual = values.copy()
        residual[inside] -= ideal
        covered = span & inside
        if regime == "ground":  # static: ideal readings are constant, removed by the detrend;
            x = values[span]    # the GT starts ~1 s after the IMU, so use the raw span
        else:
            x = residual[covered]
        f, S = welch_csd(x, fs)
        S[:, range(6), range(6)] -= noise_psd
        S[f < f_motion] = 0.0
        A = spectral_factor(0.5 * (S + np.conj(np.swapaxes(S, 1, 2))))
        S = A @ np.conj(np.swapaxes(A, 1, 2))
        csds[regime] = (f, S)
        measured[regime] = highpass_std(values[span], fs)
        provenance_spans[regime] = {"file": name, "t_s": [t0, t1], "samples": int(x.shape[0]),
                                    "input": "raw IMU (static)" if regime == "ground" else "IMU - twin ideal"}

    # ---- regime rule from the twins' speeds over labelled phases
    def twin_speed(name, t_imu0, t_imu1):
        stamps, _ = streams[name]
        traj = twins[name]
        t = (stamps[0] - traj.start_ns) * 1e-9 + np.arange(t_imu0, t_imu1, 1 / fs)
        t = t[(t >= 0) & (t <= traj.duration_s)]
        return np.linalg.norm(traj.evaluate(t).v_world, axis=1)

    mh_traj = twins[MH01_IMU]
    mh_speed = lambda a, b: np.linalg.norm(mh_traj.evaluate(np.arange(a, b, 1 / fs)).v_world, axis=1)  # noqa: E731
    rest_speeds = np.r_[twin_speed(V101_IMU, *SPANS["ground"][1:]), mh_speed(*MH01_REST_GT_S)]
    flight_speeds = [twin_speed(V101_IMU, *SPANS["flight"][1:]), mh_speed(*MH01_FLIGHT_GT_S)]
    rest_speed = math.sqrt(np.percentile(rest_speeds, 99) * np.median(np.concatenate(flight_speeds)))
    longest_pause = max((b - a for fs_ in flight_speeds
                         for a, b in _runs(fs_ < rest_speed)), default=1) / fs
    v_stamps = streams[V101_IMU][0]
    v_traj = twins[V101_IMU]
    shortest_rest = SPANS["ground"][2] - max(SPANS["ground"][1], (v_traj.start_ns - v_stamps[0]) * 1e-9)
    min_rest = math.sqrt(longest_pause * shortest_rest)

    # take-off / landing: rule on the twin vs the real vibration onset/end in the IMU
    dt = 1.0 / fs
    n = int(v_traj.duration_s * fs) + 1
    t_tw = np.arange(n) * dt
    labels = regime_labels(np.linalg.norm(v_traj.evaluate(t_tw).v_world, axis=1), dt,
                           RegimeRule(rest_speed, min_rest, 0.0, 0.0))
    fl = np.flatnonzero(labels == REGIMES.index("flight"))
    offset = (v_traj.start_ns - v_stamps[0]) * 1e-9
    rule_takeoff, rule_landing = offset + t_tw[fl[0]], offset + t_tw[fl[-1]] + dt
    t_imu = (v_stamps - v_stamps[0]) * 1e-9
    progress = vibration_progress(streams[V101_IMU][1], fs, t_imu, SPANS["ground"][1:], SPANS["flight"][1:])
    above = progress > 0.5  # half-way (in log level) between the ground and the flight vibration
    long_runs = [(a, b) for a, b in _runs(above) if (b - a) * dt >= shortest_rest]
    real_onset, real_end = t_imu[long_runs[0][0]], t_imu[long_runs[-1][1] - 1] + dt
    rule = {"rest_speed_mps": round(float(rest_speed), 5), "min_rest_s": round(float(min_rest), 3),
            "takeoff_lead_s": round(float(max(0.0, rule_takeoff - real_onset)), 3),
            "landing_lag_s": round(float(max(0.0, real_end - rule_landing)), 3)}

    # ---- write
    iu = np.triu_indices(6)
    f = csds["flight"][0]
    regimes_out, model_std, harmonic_out = {}, {}, {}
    for regime in REGIMES:
        S = csds[regime][1]
        upper = S[:, iu[0], iu[1]]
        psd = np.real(np.einsum("fii->fi", S))
        model_std[regime] = np.sqrt(np.trapezoid(psd * highpass_gain2(f, fs)[:, None], f, axis=0))
        harmonic_out[regime] = harmonics(f, psd, f_motion)
        regimes_out[regime] = {
            "span": provenance_spans[regime],
            "measured_highpass_std": {c: float(f"{v:.4g}") for c, v in zip(CHANNELS, measured[regime])},
            "model_highpass_std": {c: float(f"{v:.4g}") for c, v in zip(CHANNELS, model_std[regime])},
            "floor_psd_median": {c: float(f"{v:.4g}") for c, v in
                                 zip(CHANNELS, np.median(psd[f >= f_motion], axis=0))},
            "harmonics": harmonic_out[regime],
            "csd_real": [[float(f"{v:.6g}") for v in row] for row in upper.real],
            "csd_imag": [[float(f"{v:.6g}") for v in row] for row in upper.imag],
        }
    out = {
        "format": FORMAT,
        "description": "Rotor vibration of the EuRoC MAV IMU (ADIS16448) as seen at 200 Hz (aliased), "
                       "fitted by scripts/fit_imu_vibration.py; see docs/imu_vibration.md. Cite Burri et al., "
                       "The EuRoC micro aerial vehicle datasets, IJRR 35(10) 2016.",
        "rate_hz": fs,
        "channels": list(CHANNELS),
        "units": "csd: one-sided cross-spectral density, (rad/s)^2/Hz, (m/s^2)^2/Hz and mixed; "
                 "upper triangle (numpy triu_indices(6) order) per frequency",
        "frequencies_hz": [float(v) for v in f],
        "rule": rule,
        "provenance": {
            "date": datetime.date.today().isoformat(),
            "script": "scripts/fit_imu_vibration.py",
            "files": {p: sha256(data / p) for p in (V101_IMU, V101_IMU_YAML, V101_GT, MH01_IMU, MH01_GT)},
            "spans_s_after_first_imu_stamp": {r: provenance_spans[r] for r in REGIMES},
            "welch": {"nperseg": NPERSEG, "overlap": NPERSEG // 2, "window": "hann", "detrend": "linear"},
            "datasheet_noise_removed": {"gyro_noise_density": imu_cal.gyro_noise_density,
                                        "accel_noise_density": imu_cal.accel_noise_density},
            "zeroed_below_hz": f_motion,
            "rule_fit": {"rest_speed_99pct_in_rests_mps": float(np.percentile(rest_speeds, 99)),
                         "median_flight_speed_mps": float(np.median(np.concatenate(flight_speeds))),
                         "longest_flight_pause_s": longest_pause, "shortest_rest_s": shortest_rest,
                         "v101_rule_takeoff_s": float(rule_takeoff), "v101_vibration_onset_s": float(real_onset),
                         "v101_rule_landing_s": float(rule_landing), "v101_vibration_end_s": float(real_end),
                         "times": "s after the first V1_01 IMU stamp"},
        },
        "regimes": regimes_out,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")

    print(f"wrote {args.out}")
    print(f"rule: {rule}")
    print(f"V1_01 take-off: rule {rule_takeoff:.2f} s, vibration onset {real_onset:.2f} s; "
          f"landing: rule {rule_landing:.2f} s, vibration end {real_end:.2f} s")
    print(f"{'regime':11s} {'':7s} " + " ".join(f"{c:>8s}" for c in CHANNELS))
    for regime in REGIMES:
        print(f"{regime:11s} real    " + " ".join(f"{v:8.4f}" for v in measured[regime]))
        print(f"{'':11s} model   " + " ".join(f"{v:8.4f}" for v in model_std[regime]))
        for h in harmonic_out[regime][:5]:
            print(f"{'':11s} peak {h['frequency_hz']:6.2f} Hz width {h['width_hz']:5.2f} Hz prom {h['prominence']}")
    return 0


def _runs(mask):
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


if __name__ == "__main__":
    sys.exit(main())
