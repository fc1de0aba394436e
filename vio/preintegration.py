"""On-manifold IMU preintegration between two keyframes (discrete, held-sample model).

Forster, Carlone, Dellaert, Scaramuzza, "On-Manifold Preintegration for Real-Time
Visual-Inertial Odometry", IEEE T-RO 2017 (the scheme of GTSAM's ManifoldPreintegration):

- Model: sample k (gyro [rad/s], accel [m/s^2], body/IMU frame) is held constant over
  [t_k, t_k + dt_k). With bias b = (b_g, b_a), w = gyro - b_g, a = accel - b_a the
  preintegrated measurements (Sec. V-A, eqs. 33-38) follow the recursion
  ``dp += dv dt + dR a dt^2/2; dv += dR a dt; dR = dR Exp(w dt)``, starting at
  (I, 0, 0). They relate keyframes i and j (world frame, gravity g [m/s^2]) by
  ``R_j = R_i dR``, ``v_j = v_i + g T + R_i dv``, ``p_j = p_i + v_i T + g T^2/2 + R_i dp``.
- Covariance (Sec. V-B, App. A) of the deltas' errors [dtheta (right perturbation of dR), dv, dp]
  is propagated to first order; the discrete white noise of a held sample has variance
  ``sigma_d^2 = sigma_c^2 / dt`` for the continuous densities sigma_c of :class:`ImuParams`.
- Bias Jacobians (Sec. V-C, App. B) give the first-order bias correction of eq. (44):
  ``dR(b + db) = dR Exp(J_R_g db_g)``, ``dv(b + db) = dv + J_v_g db_g + J_v_a db_a``,
  and the same for dp. Raw samples are stored, so a large bias change can be
  re-integrated exactly (:meth:`ImuPreintegration.reintegrate`).

The per-sample loop is :func:`vio._kernels.preintegrate_imu` (numba).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from datasets.configuration import ConfigMixin

from ._kernels import (COEFF_OPS_GENERAL, COEFF_OPS_SERIES, PREINTEGRATION_STAGE_OPS,
                       nb_so3_exp, preintegrate_imu)

_STAGE_OPS = {"mul": sum(m for m, _ in PREINTEGRATION_STAGE_OPS.values()),
              "add": sum(a for _, a in PREINTEGRATION_STAGE_OPS.values()), "div": 0, "sqrt": 0, "sin": 0,
              "compare": 0}
MUL_PER_SAMPLE = _STAGE_OPS["mul"] + COEFF_OPS_GENERAL["mul"]  # 906: float multiplies per sample
ADD_PER_SAMPLE = _STAGE_OPS["add"] + COEFF_OPS_GENERAL["add"]  # 785: float adds/subtracts per sample


def _positive_float(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{owner}: '{name}' must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{owner}: '{name}' must be positive and finite, got {value!r}")
    return value


def _vector3(owner: str, name: str, value) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{owner}: '{name}' must be 3 finite numbers, got {value!r}")
    return array


@dataclass(frozen=True)
class ImuParams(ConfigMixin):
    """IMU noise model and gravity for preintegration (continuous-time densities, Kalibr units).

    gyro_noise_density [rad/s/sqrt(Hz)], accel_noise_density [m/s^2/sqrt(Hz)],
    gyro_random_walk [rad/s^2/sqrt(Hz)], accel_random_walk [m/s^3/sqrt(Hz)]: all > 0.
    gravity: world-frame gravity [m/s^2]. reintegrate_gyro_bias_change [rad/s] and
    reintegrate_accel_bias_change [m/s^2]: bias changes (Euclidean norms) beyond which
    the first-order correction is replaced by re-integration (VINS-Mono's 0.01 and 0.1).
    """

    gyro_noise_density: float
    accel_noise_density: float
    gyro_random_walk: float
    accel_random_walk: float
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)
    reintegrate_gyro_bias_change: float = 0.01
    reintegrate_accel_bias_change: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name != "gravity":
                object.__setattr__(self, f.name, _positive_float("ImuParams", f.name, getattr(self, f.name)))
        object.__setattr__(self, "gravity", tuple(float(g) for g in _vector3("ImuParams", "gravity", self.gravity)))

    @classmethod
    def from_calibration(cls, calibration, **overrides) -> "ImuParams":
        """From a :class:`datasets.calibration.ImuCalibration` (its four noise figures)."""
        return cls(gyro_noise_density=calibration.gyro_noise_density,
                   accel_noise_density=calibration.accel_noise_density,
                   gyro_random_walk=calibration.gyro_random_walk,
                   accel_random_walk=calibration.accel_random_walk, **overrides)



@dataclass(frozen=True)
class ImuBias:
    """IMU biases in the body frame: gyro [rad/s], accel [m/s^2] (read-only arrays)."""

    gyro: np.ndarray
    accel: np.ndarray

    def __post_init__(self) -> None:
        for name in ("gyro", "accel"):
            array = _vector3("ImuBias", name, getattr(self, name))
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @classmethod
    def zero(cls) -> "ImuBias":
        return cls(np.zeros(3), np.zeros(3))

    def __eq__(self, other) -> bool:
        return (isinstance(other, ImuBias) and np.array_equal(self.gyro, other.gyro)
                and np.array_equal(self.accel, other.accel))

    __hash__ = None


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class ImuPreintegration:
    """Preintegrated IMU measurements from keyframe i to keyframe j (see module docstring).

    ``workload``: optional object with ``add_ops(kind, count, bits)`` (an
    ``accel_model.workload.Workload``); every integrated sample adds the kernel's float
    operations (kinds "mul", "add", "div", "sqrt", "sin", "compare"; bits=64).
    """

    def __init__(self, params: ImuParams, bias: ImuBias | None = None, workload=None):
        if not isinstance(params, ImuParams):
            raise TypeError(f"ImuPreintegration: params must be ImuParams, got {type(params).__name__}")
        bias = ImuBias.zero() if bias is None else bias
        if not isinstance(bias, ImuBias):
            raise TypeError(f"ImuPreintegration: bias must be ImuBias, got {type(bias).__name__}")
        self.params = params
        self.workload = workload
        self._bias = bias
        self._raw: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._revision = 0
        self._reset()

    def _reset(self) -> None:
        self._delta_R = np.eye(3)
        self._delta_v = np.zeros(3)
        self._delta_p = np.zeros(3)
        self._cov = np.zeros((9, 9))
        self._jac = np.zeros((9, 6))
        self._dt_s = 0.0
        self._n = 0
        self._revision += 1

    # -- measurements -------------------------------------------------------------

    def integrate(self, dt_s, gyro, accel) -> None:
        """Add one sample held over ``dt_s`` [s]: gyro (3,) [rad/s], accel (3,) [m/s^2] (body
        frame). A 1-D ``dt_s`` means N samples, as in :meth:`integrate_batch`."""
        if np.ndim(dt_s) == 1:
            self.integrate_batch(dt_s, gyro, accel)
            return
        self.integrate_batch(np.array([dt_s], dtype=np.float64), np.reshape(gyro, (1, 3)), np.reshape(accel, (1, 3)))

    def integrate_batch(self, dt_s, gyro, accel) -> None:
        """Add N samples: dt_s (N,) [s] > 0, gyro (N, 3) [rad/s], accel (N, 3) [m/s^2]."""
        dt = np.ascontiguousarray(dt_s, dtype=np.float64)
        g = np.ascontiguousarray(gyro, dtype=np.float64)
        a = np.ascontiguousarray(accel, dtype=np.float64)
        if dt.ndim != 1 or g.shape != (dt.size, 3) or a.shape != (dt.size, 3):
            raise ValueError(f"integrate_batch: need dt_s (N,), gyro (N, 3), accel (N, 3); "
                             f"got {dt.shape}, {g.shape}, {a.shape}")
        if not (np.all(np.isfinite(dt)) and np.all(dt > 0.0)):
            raise ValueError("integrate_batch: dt_s must be positive and finite")
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(a))):
            raise ValueError("integrate_batch: gyro and accel must be finite")
        if dt.size == 0:
            return
        self._raw.append((dt.copy(), g.copy(), a.copy()))
        self._run(dt, g, a)

    def _run(self, dt: np.ndarray, g: np.ndarray, a: np.ndarray) -> None:
        p = self.params
        n_series = preintegrate_imu(dt, g, a, self._bias.gyro, self._bias.accel,
                                    p.gyro_noise_density ** 2, p.accel_noise_density ** 2,
                                    self._delta_R, self._delta_v, self._delta_p, self._cov, self._jac)
        self._dt_s += float(np.sum(dt))
        self._n += dt.size
        self._revision += 1
        if self.workload is not None:
            n_general = dt.size - n_series
            for kind, base in _STAGE_OPS.items():
                count = dt.size * base + n_general * COEFF_OPS_GENERAL[kind] + n_series * COEFF_OPS_SERIES[kind]
                if count:
                    self.workload.add_ops(kind, count, bits=64)

    def raw_samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All integrated samples as (dt_s (N,), gyro (N, 3), accel (N, 3)) copies."""
        if not self._raw:
            return np.empty(0), np.empty((0, 3)), np.empty((0, 3))
        if len(self._raw) > 1:
            self._raw = [tuple(np.concatenate(parts) for parts in zip(*self._raw))]
        return tuple(x.copy() for x in self._raw[0])

    # -- results ------------------------------------------------------------------

    @property
    def bias(self) -> ImuBias:
        """The linearisation bias the samples were integrated with."""
        return self._bias

    @property
    def delta_R(self) -> np.ndarray:
        """Preintegrated rotation dR = R_i^T R_j (3x3, read-only)."""
        return _read_only(self._delta_R)

    @property
    def delta_v(self) -> np.ndarray:
        """Preintegrated velocity [m/s], frame of keyframe i (read-only)."""
        return _read_only(self._delta_v)

    @property
    def delta_p(self) -> np.ndarray:
        """Preintegrated position [m], frame of keyframe i (read-only)."""
        return _read_only(self._delta_p)

    @property
    def dt_s(self) -> float:
        """Integrated time T [s]."""
        return self._dt_s

    @property
    def num_samples(self) -> int:
        return self._n

    @property
    def revision(self) -> int:
        """Increases whenever the preintegrated values change (a key for caches of derived values)."""
        return self._revision

    @property
    def covariance(self) -> np.ndarray:
        """9x9 covariance of [dtheta, dv, dp] (rad, m/s, m), read-only."""
        return _read_only(self._cov)

    @property
    def jacobian_bias(self) -> np.ndarray:
        """9x6 d[dtheta, dv, dp] / d[b_g, b_a] at the linearisation bias (read-only)."""
        return _read_only(self._jac)

    # -- bias handling ------------------------------------------------------------

    def corrected_deltas(self, new_bias: ImuBias) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(dR, dv, dp) at ``new_bias`` to first order (Forster eq. 44)."""
        db = np.concatenate([new_bias.gyro - self._bias.gyro, new_bias.accel - self._bias.accel])
        J = self._jac
        dR = self._delta_R @ nb_so3_exp(J[0:3, 0:3] @ db[0:3])
        return dR, self._delta_v + J[3:6] @ db, self._delta_p + J[6:9] @ db

    def needs_reintegration(self, new_bias: ImuBias, threshold: tuple[float, float] | None = None) -> bool:
        """True when |db_g| or |db_a| exceeds ``threshold`` = (gyro [rad/s], accel [m/s^2])
        (default: the params' reintegrate_*_bias_change)."""
        if threshold is None:
            threshold = (self.params.reintegrate_gyro_bias_change, self.params.reintegrate_accel_bias_change)
        return bool(np.linalg.norm(new_bias.gyro - self._bias.gyro) > threshold[0]
                    or np.linalg.norm(new_bias.accel - self._bias.accel) > threshold[1])

    def reintegrate(self, new_bias: ImuBias) -> None:
        """Re-integrate all stored samples at ``new_bias`` (which becomes the linearisation bias)."""
        if not isinstance(new_bias, ImuBias):
            raise TypeError(f"reintegrate: new_bias must be ImuBias, got {type(new_bias).__name__}")
        raw = self.raw_samples()
        self._bias = new_bias
        self._reset()
        if raw[0].size:
            self._run(*raw)

    # -- composition --------------------------------------------------------------

    def copy(self) -> "ImuPreintegration":
        """Independent copy (shares params, bias and workload)."""
        out = ImuPreintegration(self.params, self._bias, self.workload)
        out._delta_R, out._delta_v, out._delta_p = self._delta_R.copy(), self._delta_v.copy(), self._delta_p.copy()
        out._cov, out._jac = self._cov.copy(), self._jac.copy()
        out._dt_s, out._n = self._dt_s, self._n
        out._raw = list(self._raw)
        return out

    def merge(self, other: "ImuPreintegration") -> "ImuPreintegration":
        """Preintegration from this one's start to the end of ``other`` (which must follow it).

        ``other``'s raw samples are integrated on top of a copy of this one at this one's
        bias: exactly what integrating the concatenated samples gives. Used to drop a
        non-keyframe between two keyframes (VINS-Mono style).
        """
        if other.params != self.params:
            raise ValueError("merge: the two preintegrations have different ImuParams")
        out = self.copy()
        dt, g, a = other.raw_samples()
        if dt.size:
            out._raw.append((dt, g, a))
            out._run(dt, g, a)
        return out

    def predict(self, R_i, p_i, v_i, bias: ImuBias | None = None):
        """State at keyframe j from keyframe i's (R_world_body, p_world_body [m], v_world [m/s]).

        Uses the deltas corrected to ``bias`` (eq. 44) when given, else the integrated ones.
        """
        R_i = np.asarray(R_i, dtype=np.float64)
        p_i = np.asarray(p_i, dtype=np.float64)
        v_i = np.asarray(v_i, dtype=np.float64)
        dR, dv, dp = (self._delta_R, self._delta_v, self._delta_p) if bias is None else self.corrected_deltas(bias)
        g = np.asarray(self.params.gravity)
        T = self._dt_s
        return R_i @ dR, p_i + v_i * T + 0.5 * g * T * T + R_i @ dp, v_i + g * T + R_i @ dv
