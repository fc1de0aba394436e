"""Rotor-vibration model for synthetic IMUs, fitted to real EuRoC data (docs/imu_vibration.md).

The vibration is a stationary zero-mean Gaussian process per *regime* (``rotors_off``,
``ground`` = on the ground with rotors spinning, ``flight``), given by its one-sided
6x6 cross-spectral density matrix S(f) over the channels (gyro x, y, z [rad/s],
accel x, y, z [m/s^2]) in the IMU frame, on a frequency grid up to the Nyquist
frequency of the fitted sample rate. S is what the 200 Hz samples show, i.e. the
*aliased* rotor spectrum; the model is only valid at that rate. Synthesis shapes
complex white noise in the FFT domain: X_k = sqrt(N fs / 2) A(f_k) z_k with
A A^H = S(f_k) (Percival and Walden, "Spectral Analysis for Physical Applications",
1993, Sec. 8.3; the multichannel form keeps the measured cross-axis coherence).

Regimes follow from the body trajectory alone (:func:`regime_labels`): rest = speed
below ``rest_speed_mps`` for at least ``min_rest_s``; the longest motion interval is the
flight, the rests right before and after it are ``ground``, all else is ``rotors_off``
(handheld). Regimes are cross-faded over ``VibrationConfig.crossfade_s``. Every number in
the parameter file comes from ``scripts/fit_imu_vibration.py``.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..configuration import ConfigError, ConfigMixin
from ..errors import DatasetError

CHANNELS = ("gyro_x", "gyro_y", "gyro_z", "accel_x", "accel_y", "accel_z")
REGIMES = ("rotors_off", "ground", "flight")
SHIPPED_PARAMETERS = Path(__file__).with_name("vibration_euroc.json")
FORMAT = "navion-imu-vibration/1"
_STREAM_TAG = 0x5649_4252  # "VIBR": the vibration rng stream, independent of simulate_imu's


@dataclass(frozen=True)
class VibrationConfig(ConfigMixin):
    """Rotor-vibration options for :func:`datasets.synth.imu.simulate_imu`.

    enabled: add vibration to gyro and accel.
    parameters: path of a fitted parameter file (json); None = the shipped EuRoC fit.
    scale: multiplies the vibration amplitude (1 = as fitted; 0 = none).
    crossfade_s: width of the smooth transition between regimes [s].
    """

    enabled: bool = True
    parameters: str | None = None
    scale: float = 1.0
    crossfade_s: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"VibrationConfig: 'enabled' must be true or false, got {self.enabled!r}")
        if self.parameters is not None and (not isinstance(self.parameters, (str, Path))
                                            or not str(self.parameters).strip()):
            raise ConfigError(f"VibrationConfig: 'parameters' must be a file path or null, got {self.parameters!r}")
        if self.parameters is not None:
            object.__setattr__(self, "parameters", str(self.parameters))
        for name, upper in (("scale", 1e3), ("crossfade_s", 60.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"VibrationConfig: '{name}' must be a finite number, got {value!r}")
            if not 0 <= value <= upper:
                raise ConfigError(f"VibrationConfig: '{name}' must be in [0, {upper:g}], got {value!r}")
            object.__setattr__(self, name, float(value))


@dataclass(frozen=True)
class RegimeRule:
    """Trajectory-only regime rule (fitted; see :func:`regime_labels`).

    rest_speed_mps: speed below which the body is at rest [m/s].
    min_rest_s: shortest rest that splits motion intervals [s].
    takeoff_lead_s: the flight vibration starts this long before the detected take-off [s].
    landing_lag_s: and ends this long after the detected landing [s].
    """

    rest_speed_mps: float
    min_rest_s: float
    takeoff_lead_s: float
    landing_lag_s: float


@dataclass(frozen=True)
class VibrationModel:
    """Fitted vibration model.

    rate_hz: sample rate the spectra were measured at [Hz].
    frequencies_hz (F,): grid from 0 to rate_hz / 2 [Hz].
    csd (len(REGIMES), F, 6, 6) complex: one-sided cross-spectral densities
        [unit_i unit_j / Hz], Hermitian and positive semi-definite per bin.
    rule: the regime rule. provenance: where the numbers come from.
    """

    rate_hz: float
    frequencies_hz: np.ndarray
    csd: np.ndarray
    rule: RegimeRule
    provenance: dict

    def psd(self, regime: str) -> np.ndarray:
        """(F, 6) one-sided auto-spectral densities of ``regime`` [unit^2/Hz]."""
        return np.real(np.einsum("fii->fi", self.csd[REGIMES.index(regime)]))

    def std(self, regime: str, f_min_hz: float = 0.0) -> np.ndarray:
        """(6,) standard deviation of ``regime`` above ``f_min_hz`` (trapezoid over the grid)."""
        f = self.frequencies_hz
        p = np.where((f >= f_min_hz)[:, None], self.psd(regime), 0.0)
        return np.sqrt(np.trapezoid(p, f, axis=0))


def _error(message: str, path) -> DatasetError:
    return DatasetError(f"vibration parameters: {message}", path)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> VibrationModel:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(f"cannot read: {exc}", path) from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"vibration parameters: not valid json: {exc.msg}", path, exc.lineno) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _error(f"expected a json object with format '{FORMAT}'", path)
    try:
        rate = float(data["rate_hz"])
        f = np.asarray(data["frequencies_hz"], dtype=np.float64)
        if list(data["channels"]) != list(CHANNELS):
            raise _error(f"channels must be {list(CHANNELS)}", path)
        csd = np.zeros((len(REGIMES), f.size, 6, 6), dtype=np.complex128)
        iu = np.triu_indices(6)
        for r, name in enumerate(REGIMES):
            entry = data["regimes"][name]
            upper = np.asarray(entry["csd_real"], dtype=np.float64) + 1j * np.asarray(entry["csd_imag"], dtype=np.float64)
            if upper.shape != (f.size, len(iu[0])):
                raise _error(f"regime '{name}': csd must be ({f.size}, {len(iu[0])}), got {upper.shape}", path)
            csd[r][:, iu[0], iu[1]] = upper
            csd[r][:, iu[1], iu[0]] = np.conj(upper)
        rule = RegimeRule(**{k: float(v) for k, v in data["rule"].items() if k in RegimeRule.__dataclass_fields__})
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise _error(f"missing or malformed entry: {exc!r}", path) from None
    if not (rate > 0 and f.ndim == 1 and f.size >= 2 and np.all(np.diff(f) > 0)
            and f[0] == 0.0 and abs(f[-1] - rate / 2) < 1e-9 * rate):
        raise _error("frequencies_hz must increase from 0 to rate_hz / 2", path)
    if not np.all(np.isfinite(csd)) or np.linalg.eigvalsh(csd).min() < -1e-5 * max(1e-30, np.abs(csd).max()):
        raise _error("every csd matrix must be finite and positive semi-definite", path)
    return VibrationModel(rate, f, csd, rule, dict(data.get("provenance", {})))


def load_vibration_model(path: str | Path | None = None) -> VibrationModel:
    """The fitted model in ``path`` (json; None = the shipped EuRoC fit). DatasetError if bad."""
    p = Path(SHIPPED_PARAMETERS if path is None else path).resolve()
    if not p.is_file():
        raise _error("file not found", p)
    return _load_cached(str(p), p.stat().st_mtime_ns)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index runs where ``mask`` is True."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def regime_labels(speed_mps: np.ndarray, dt_s: float, rule: RegimeRule) -> np.ndarray:
    """Regime index (into REGIMES) per sample from the body speed [m/s] sampled every ``dt_s``.

    Rests: runs with speed < rest_speed_mps lasting >= min_rest_s. Motion intervals: the
    gaps between rests. The longest motion interval is the flight (extended by
    takeoff_lead_s before and landing_lag_s after, within the trajectory); the rests
    touching it are ``ground``; all else (e.g. EuRoC MH's handheld start and any rest
    before it) is ``rotors_off``. No rest at all: all flight; no motion: all ground.
    """
    n = speed_mps.size
    labels = np.zeros(n, dtype=np.int8)
    min_len = max(1, int(math.ceil(rule.min_rest_s / dt_s - 1e-9)))
    rests = [(a, b) for a, b in _runs(speed_mps < rule.rest_speed_mps) if b - a >= min_len]
    rest_mask = np.zeros(n, dtype=bool)
    for a, b in rests:
        rest_mask[a:b] = True
    motion = _runs(~rest_mask)
    if not motion:
        labels[:] = REGIMES.index("ground")
        return labels
    a, b = max(motion, key=lambda ab: ab[1] - ab[0])
    for ra, rb in rests:
        if rb == a or ra == b:
            labels[ra:rb] = REGIMES.index("ground")
    a = max(0, a - int(round(rule.takeoff_lead_s / dt_s))) if a > 0 else a
    b = min(n, b + int(round(rule.landing_lag_s / dt_s))) if b < n else b
    labels[a:b] = REGIMES.index("flight")
    return labels


def regime_weights(labels: np.ndarray, dt_s: float, crossfade_s: float) -> np.ndarray:
    """(N, len(REGIMES)) weights summing to 1: one-hot labels smoothed by a Hann window of
    total width ``crossfade_s`` (a smooth S-shaped transition centred on each switch)."""
    onehot = np.zeros((labels.size, len(REGIMES)))
    onehot[np.arange(labels.size), labels] = 1.0
    width = int(round(crossfade_s / dt_s))
    if width < 2:
        return onehot
    window = np.hanning(width + 2)[1:-1]
    window /= window.sum()
    half = width // 2
    padded = np.pad(onehot, ((half, width - 1 - half), (0, 0)), mode="edge")
    out = np.stack([np.convolve(padded[:, r], window, mode="valid") for r in range(len(REGIMES))], axis=1)
    return out / out.sum(axis=1, keepdims=True)


def spectral_factor(csd: np.ndarray) -> np.ndarray:
    """A (..., 6, 6) with A A^H = csd, via a Hermitian eigendecomposition (negative
    round-off eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh(csd)
    return v * np.sqrt(np.clip(w, 0.0, None))[..., None, :]


def synthesize_stationary(model: VibrationModel, regime: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 6) samples at ``model.rate_hz`` of one regime's stationary process.

    The csd is interpolated linearly onto the rfft grid of length n and factored per bin;
    the series is circular over n samples (exactly stationary).
    """
    fs = model.rate_hz
    f_grid = np.fft.rfftfreq(n, 1.0 / fs)
    S = model.csd[REGIMES.index(regime)]
    iu = np.triu_indices(6)
    upper = S[:, iu[0], iu[1]]
    interp = np.stack([np.interp(f_grid, model.frequencies_hz, upper[:, j].real)
                       + 1j * np.interp(f_grid, model.frequencies_hz, upper[:, j].imag)
                       for j in range(upper.shape[1])], axis=1)
    Sg = np.zeros((f_grid.size, 6, 6), dtype=np.complex128)
    Sg[:, iu[0], iu[1]] = interp
    Sg[:, iu[1], iu[0]] = np.conj(interp)
    A = spectral_factor(Sg)
    z = (rng.standard_normal((f_grid.size, 6)) + 1j * rng.standard_normal((f_grid.size, 6))) / math.sqrt(2.0)
    z[0] = rng.standard_normal(6)  # DC bin is real
    if n % 2 == 0:
        z[-1] = rng.standard_normal(6)  # so is the Nyquist bin of an even length
    X = math.sqrt(n * fs / 2.0) * np.einsum("fij,fj->fi", A, z)
    return np.fft.irfft(X, n=n, axis=0)


def simulate_vibration(speed_mps: np.ndarray, dt_s: float, config: VibrationConfig, seed: int) -> np.ndarray:
    """(N, 6) vibration (gyro [rad/s], accel [m/s^2], IMU frame) for N samples ``dt_s`` apart
    whose body speeds are ``speed_mps`` [m/s]. Deterministic in ``seed``; its rng stream
    is independent of every other draw in :func:`datasets.synth.imu.simulate_imu`."""
    speed = np.asarray(speed_mps, dtype=np.float64)
    out = np.zeros((speed.size, 6))
    if not config.enabled or config.scale == 0.0 or speed.size == 0:
        return out
    model = load_vibration_model(config.parameters)
    if abs(1.0 / dt_s - model.rate_hz) > 1e-6 * model.rate_hz:
        raise DatasetError(f"vibration parameters were fitted at {model.rate_hz:g} Hz (an aliased spectrum); "
                           f"they cannot be used at {1.0 / dt_s:g} Hz (set imu_vibration: {{enabled: false}} in the synth "
                           "config, or use --realism ideal)", config.parameters or SHIPPED_PARAMETERS)
    labels = regime_labels(speed, dt_s, model.rule)
    weights = regime_weights(labels, dt_s, config.crossfade_s)
    for r, name in enumerate(REGIMES):
        if not np.any(weights[:, r] > 0):
            continue
        rng = np.random.default_rng(np.random.SeedSequence([_STREAM_TAG, int(seed) & (2**63 - 1), r]))
        out += np.sqrt(weights[:, r])[:, None] * synthesize_stationary(model, name, speed.size, rng)
    return config.scale * out
