"""IMU statistics: spectra, high-frequency content at rest and in motion, residual to the ideal IMU.

- PSD: Welch's method per axis (``scipy.signal.welch``, Hann windows of ``WELCH_SEGMENT``
  samples, 50 % overlap, mean removed), in (rad/s)^2/Hz and (m/s^2)^2/Hz.
- High-pass std: 4th-order Butterworth high-pass at ``HIGHPASS_HZ`` (second-order sections),
  run forwards and backwards (``sosfiltfilt``: zero phase, so samples keep their rest/motion
  label; the magnitude response is squared), then the std per axis of the samples of each
  class; ``EDGE_S`` at both ends of the stream are dropped (filter transients).
- Rest or motion (the rule): from the ground-truth spline at each IMU stamp, a sample is
  *at rest* when |v_world| < ``REST_SPEED_MPS`` and |omega_body| < ``REST_RATE_RADPS``, else *in
  motion*. Samples outside the ground truth's span are not classified.
- Ideal IMU: the ground truth is fitted by the twin generator's own spline
  (:func:`datasets.synth.trajectory.trajectory_from_tum`: a least-squares quintic B-spline of
  the positions with knots every 0.1 s, and a rotation spline through the attitudes every
  0.05 s) and differentiated analytically: ``gyro = omega_body``,
  ``accel = R_world_body^T (a_world - g_world)``, g_world = (0, 0, -9.81) m/s^2. The residual
  (measured minus ideal, each axis minus its median: the bias) is reported as std per axis,
  only where the ground truth is sampled at >= ``MIN_GT_RATE_HZ``.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

HIGHPASS_HZ = 20.0
HIGHPASS_ORDER = 4
WELCH_SEGMENT = 256
EDGE_S = 0.5
REST_SPEED_MPS = 0.05
REST_RATE_RADPS = 0.1
MIN_GT_RATE_HZ = 100.0
GRAVITY_WORLD = np.array([0.0, 0.0, -9.81])
AXES = ("x", "y", "z")


def rate_hz(stamps_ns: np.ndarray) -> float:
    """Median sample rate [Hz] of int64 ns stamps."""
    return float(1e9 / np.median(np.diff(np.asarray(stamps_ns, dtype=np.int64))))


def psd(x: np.ndarray, fs_hz: float, nperseg: int = WELCH_SEGMENT) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of each column of ``x`` (N, k): frequencies [Hz] (F,) and power (F, k)."""
    x = np.asarray(x, dtype=np.float64)
    f, p = signal.welch(x, fs=fs_hz, nperseg=min(nperseg, len(x)), axis=0, detrend="constant")
    return f, p


def highpass(x: np.ndarray, fs_hz: float, cutoff_hz: float = HIGHPASS_HZ, order: int = HIGHPASS_ORDER) -> np.ndarray:
    """Zero-phase Butterworth high-pass of each column of ``x`` (N, k) sampled at ``fs_hz``."""
    if not 0 < cutoff_hz < fs_hz / 2:
        raise ValueError(f"the high-pass cutoff {cutoff_hz} Hz must lie below Nyquist ({fs_hz / 2} Hz)")
    sos = signal.butter(order, cutoff_hz, btype="highpass", fs=fs_hz, output="sos")
    return signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=0)


def classify_motion(speed_mps: np.ndarray, rate_radps: np.ndarray) -> np.ndarray:
    """True where the body is at rest (see the module rule)."""
    return (np.asarray(speed_mps) < REST_SPEED_MPS) & (np.asarray(rate_radps) < REST_RATE_RADPS)


def highpass_std(x: np.ndarray, fs_hz: float, masks: dict[str, np.ndarray]) -> dict[str, list | None]:
    """Std per axis of the high-passed ``x`` over the samples of each mask (None under 1 s of them)."""
    hp = highpass(x, fs_hz)
    edge = np.zeros(len(x), dtype=bool)
    n_edge = int(round(EDGE_S * fs_hz))
    edge[n_edge:len(x) - n_edge] = True
    out = {}
    for name, mask in masks.items():
        sel = mask & edge
        out[name] = hp[sel].std(axis=0).tolist() if sel.sum() >= fs_hz else None
    return out


def ideal_imu(trajectory, stamps_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ideal gyro [rad/s] and accel [m/s^2] (N, 3) of a BodyTrajectory at ``stamps_ns``, with
    the speed [m/s] and angular rate [rad/s] (N,)."""
    sample = trajectory.evaluate((np.asarray(stamps_ns, dtype=np.int64) - trajectory.start_ns) * 1e-9)
    accel = np.einsum("nji,nj->ni", sample.R_world_body, sample.a_world - GRAVITY_WORLD)
    return (sample.omega_body, accel, np.linalg.norm(sample.v_world, axis=1),
            np.linalg.norm(sample.omega_body, axis=1))


def imu_measures(stamps_ns: np.ndarray, gyro: np.ndarray, accel: np.ndarray, trajectory,
                 dense_groundtruth: bool) -> dict:
    """All IMU measures of one stream over the trajectory's span (stamps outside are dropped).

    ``trajectory``: the ground-truth BodyTrajectory; ``dense_groundtruth``: its source is
    sampled at >= MIN_GT_RATE_HZ (else no residual is reported)."""
    stamps_ns = np.asarray(stamps_ns, dtype=np.int64)
    t_s = (stamps_ns - trajectory.start_ns) * 1e-9
    inside = (t_s >= 0) & (t_s <= trajectory.duration_s)
    stamps_ns, gyro, accel = stamps_ns[inside], np.asarray(gyro)[inside], np.asarray(accel)[inside]
    if len(stamps_ns) < WELCH_SEGMENT:
        return {"samples": int(len(stamps_ns)), "error": f"under {WELCH_SEGMENT} IMU samples in the span"}
    fs = rate_hz(stamps_ns)
    gyro_ideal, accel_ideal, speed, rate = ideal_imu(trajectory, stamps_ns)
    rest = classify_motion(speed, rate)
    masks = {"rest": rest, "motion": ~rest}
    f, p_gyro = psd(gyro, fs)
    _, p_accel = psd(accel, fs)
    out = {
        "samples": int(len(stamps_ns)),
        "rate_hz": fs,
        "span_ns": [int(stamps_ns[0]), int(stamps_ns[-1])],
        "rest_samples": int(rest.sum()),
        "motion_samples": int((~rest).sum()),
        "psd_frequency_hz": f.tolist(),
        "psd_gyro": p_gyro.T.tolist(),
        "psd_accel": p_accel.T.tolist(),
        "gyro_highpass_std": highpass_std(gyro, fs, masks),
        "accel_highpass_std": highpass_std(accel, fs, masks),
        "gyro_residual_std": None,
        "accel_residual_std": None,
    }
    if dense_groundtruth:
        for name, meas, ideal in (("gyro", gyro, gyro_ideal), ("accel", accel, accel_ideal)):
            r = meas - ideal
            out[f"{name}_residual_std"] = (r - np.median(r, axis=0)).std(axis=0).tolist()
    return out
