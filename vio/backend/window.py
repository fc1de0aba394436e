"""The sliding window: keyframe states, IMU preintegrations, landmarks, observations, priors.

Keyframes carry increasing integer ids; ``pims[k]`` preintegrates the IMU from keyframe k
to k+1. A landmark's anchor is its first (oldest) observing keyframe in the window; with
the default inverse-depth parameterisation it stores the cam0 bearing of that
observation and rho [1/m], with world points the position [m].

Window management (Qin et al., VINS-Mono, T-RO 2018, Sec. VI-D):

- :meth:`SlidingWindow.add_keyframe` appends a keyframe; when the window already holds
  ``capacity`` keyframes, the oldest is first marginalised into a :class:`LinearPrior`
  with its IMU factor, its priors and the landmarks it anchors
  (:mod:`vio.backend.marginalization`).
- :meth:`SlidingWindow.drop_non_keyframe` removes a frame that turned out not to be a
  keyframe: its observations are discarded, its IMU data merged into the next factor.

Gauge: VIO cannot observe global position and yaw. The first keyframe gets a
:class:`GaugePrior` at its initial estimate; once it is marginalised, that information
lives on in the marginalisation prior, which then fixes the gauge.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datasets.configuration import ConfigMixin

from ..factors.prior import GaugePrior, LinearPrior
from ..factors.reprojection import (
    LANDMARK_PARAMS,
    RobustLoss,
    bearings,
    rig_arrays,
    triangulate_cam0,
)
from ..preintegration import ImuPreintegration
from ..state import KeyframeState


@dataclass(frozen=True)
class WindowConfig(ConfigMixin):
    """capacity: keyframes kept (>= 2); landmark_param: "inverse_depth" or "world_point";
    pixel_sigma: observation noise std [px]; loss: robust loss of the reprojection
    residuals (whitened by pixel_sigma); gauge_sigma_pos_m [m] / gauge_sigma_yaw_rad
    [rad]: stiffness of the gauge prior on the first keyframe."""

    capacity: int = 10
    landmark_param: str = "inverse_depth"
    pixel_sigma: float = 1.0
    gauge_sigma_pos_m: float = 1e-3
    gauge_sigma_yaw_rad: float = 1e-3
    loss: RobustLoss = field(default_factory=RobustLoss)

    def __post_init__(self) -> None:
        if not isinstance(self.loss, RobustLoss):
            raise ValueError(f"WindowConfig: loss must be a RobustLoss, got {self.loss!r}")
        if not isinstance(self.capacity, int) or self.capacity < 2:
            raise ValueError(f"WindowConfig: capacity must be an integer >= 2, got {self.capacity!r}")
        if self.landmark_param not in LANDMARK_PARAMS:
            raise ValueError(f"WindowConfig: landmark_param must be one of {sorted(LANDMARK_PARAMS)}, "
                             f"got {self.landmark_param!r}")
        for name in ("pixel_sigma", "gauge_sigma_pos_m", "gauge_sigma_yaw_rad"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"WindowConfig: {name} must be positive and finite, got {value!r}")


@dataclass
class WindowArrays:
    """The window packed into arrays for the kernels (indices are window positions)."""

    R: np.ndarray
    p: np.ndarray
    v: np.ndarray
    bg: np.ndarray
    ba: np.ndarray
    param: int
    lm: np.ndarray
    bearing: np.ndarray
    anchor: np.ndarray
    obs_kf: np.ndarray
    obs_lm: np.ndarray
    obs_uv: np.ndarray
    R_bc: np.ndarray
    t_bc: np.ndarray
    K: np.ndarray
    inv_sigma: float
    loss: RobustLoss
    imu: tuple  # (pairs, dR, dv, dp, dt, Jb, bg_lin, ba_lin, sqrt_info, gravity)
    priors: list = field(default_factory=list)  # (kf, R0, x0, J, r0) per prior
    gauge: tuple | None = None  # (kf, R_ref, p_ref, w_pos, w_yaw)

    @property
    def n_keyframes(self) -> int:
        return len(self.R)

    @property
    def landmark_dim(self) -> int:
        return 1 if self.param == LANDMARK_PARAMS["inverse_depth"] else 3

    def copy_estimate(self) -> "WindowArrays":
        """Shallow copy with its own state and landmark arrays (for trial steps)."""
        out = WindowArrays(**self.__dict__)
        for name in ("R", "p", "v", "bg", "ba", "lm"):
            setattr(out, name, getattr(self, name).copy())
        return out


def imu_sqrt_information(pim: ImuPreintegration) -> np.ndarray:
    """L^-1 (15x15) for the covariance L L^T of :meth:`vio.factors.ImuFactor.covariance`."""
    from ..factors.imu import ImuFactor

    return np.linalg.inv(np.linalg.cholesky(ImuFactor(pim, 0, 1).covariance()))


def pack_imu(pims: list[ImuPreintegration], cache: dict | None = None) -> tuple:
    """Arrays of the IMU factors k -> k+1: (pairs, dR, dv, dp, dt, Jb, bg_lin, ba_lin,
    sqrt_info, gravity) with sqrt_info from :func:`imu_sqrt_information`.

    ``cache``: optional dict kept by the caller, id(pim) -> (pim, revision, sqrt_info); a
    preintegration's square-root information is recomputed only when it is new or its
    :attr:`~vio.preintegration.ImuPreintegration.revision` changed. Entries of
    preintegrations not in ``pims`` are dropped.
    """
    n = len(pims)
    pairs = np.column_stack([np.arange(n), np.arange(1, n + 1)]).astype(np.int64)
    sqrt_info = np.empty((n, 15, 15))
    fresh = {}
    for k, pim in enumerate(pims):
        hit = None if cache is None else cache.get(id(pim))
        if hit is None or hit[0] is not pim or hit[1] != pim.revision:
            hit = (pim, pim.revision, imu_sqrt_information(pim))
        fresh[id(pim)] = hit
        sqrt_info[k] = hit[2]
    if cache is not None:
        cache.clear()
        cache.update(fresh)
    gravity = np.asarray(pims[0].params.gravity, float) if n else np.array([0.0, 0.0, -9.81])

    def stack(get, shape):
        return np.stack([get(q) for q in pims]) if n else np.zeros((0,) + shape)

    return (pairs, stack(lambda q: q.delta_R, (3, 3)), stack(lambda q: q.delta_v, (3,)),
            stack(lambda q: q.delta_p, (3,)), np.array([q.dt_s for q in pims], dtype=float),
            stack(lambda q: q.jacobian_bias, (9, 6)), stack(lambda q: q.bias.gyro, (3,)),
            stack(lambda q: q.bias.accel, (3,)), sqrt_info, gravity)


class SlidingWindow:
    """Keyframes, IMU factors, landmarks, observations and priors of the back-end."""

    def __init__(self, rig, config: WindowConfig | None = None):
        self.rig = rig
        self.config = WindowConfig() if config is None else config
        self.param = LANDMARK_PARAMS[self.config.landmark_param]
        self.keyframe_ids: list[int] = []
        self.timestamps_ns: list[int] = []
        self.states: list[KeyframeState] = []
        self.pims: list[ImuPreintegration] = []
        self.landmark_ids = np.zeros(0, dtype=np.int64)  # external track ids
        self.anchor_ids = np.zeros(0, dtype=np.int64)  # keyframe id of each landmark's anchor
        self.bearing = np.zeros((0, 3))
        self.landmark_values = np.zeros((0, 3))  # [rho, 0, 0] or the world point
        self.obs_keyframe_ids = np.zeros(0, dtype=np.int64)
        self.obs_landmark = np.zeros(0, dtype=np.int64)  # index into the landmark arrays
        self.obs_uv = np.zeros((0, 4))
        self.priors: list[LinearPrior] = []
        self.gauge: GaugePrior | None = None
        self._next_id = 0
        self._imu_cache: tuple | None = None
        self._sqrt_info_cache: dict = {}

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self.states)

    @property
    def is_full(self) -> bool:
        return len(self) >= self.config.capacity

    @property
    def n_landmarks(self) -> int:
        return len(self.landmark_ids)

    def positions(self, keyframe_ids) -> np.ndarray:
        """Window positions (int64) of an array of keyframe ids (ids increase along the window)."""
        ids = np.asarray(keyframe_ids, dtype=np.int64)
        window_ids = np.asarray(self.keyframe_ids, dtype=np.int64)
        pos = np.searchsorted(window_ids, ids)
        if ids.size and (pos.max() >= len(window_ids) or np.any(window_ids[pos] != ids)):
            raise ValueError("positions: keyframe id not in the window")
        return pos

    def landmark_points(self) -> np.ndarray:
        """(L,3) world positions [m] of the landmarks at the current estimate."""
        if self.param == LANDMARK_PARAMS["world_point"]:
            return self.landmark_values.copy()
        R_bc, t_bc, _ = rig_arrays(self.rig)
        idx = self.positions(self.anchor_ids)
        R = np.stack([s.R for s in self.states])[idx] if len(idx) else np.zeros((0, 3, 3))
        p = np.stack([s.p for s in self.states])[idx] if len(idx) else np.zeros((0, 3))
        m = (self.bearing / self.landmark_values[:, :1]) @ R_bc[0].T + t_bc[0]
        return np.einsum("lij,lj->li", R, m) + p

    # ------------------------------------------------------------------ building

    def add_keyframe(self, timestamp_ns: int, state: KeyframeState, pim: ImuPreintegration | None = None,
                     landmark_ids=(), uv_left=None, uv_right=None, counters=None) -> int:
        """Append a keyframe (marginalising the oldest first if the window is full).

        ``pim``: IMU preintegration from the previous keyframe (required unless the window
        is empty); ``landmark_ids`` (k,) track ids with stereo pixels ``uv_left``/``uv_right``
        (k,2). New landmarks are anchored here, initialised by stereo triangulation.
        ``counters``: a ``KernelCounters`` that receives the marginalisation's work.
        Returns the keyframe id.
        """
        if len(self) and pim is None:
            raise ValueError("add_keyframe: the IMU preintegration from the previous keyframe is required")
        if self.is_full:
            self.marginalize_oldest(counters)
        kf_id = self._next_id
        self._next_id += 1
        self.keyframe_ids.append(kf_id)
        self.timestamps_ns.append(int(timestamp_ns))
        self.states.append(state.copy())
        if pim is not None and len(self) > 1:
            self.pims.append(pim)
            self._imu_cache = None
        if self.gauge is None and not self.priors:
            self.gauge = GaugePrior.at(kf_id, state, sigma_pos_m=self.config.gauge_sigma_pos_m,
                                       sigma_yaw_rad=self.config.gauge_sigma_yaw_rad)
        ids = np.asarray(landmark_ids, dtype=np.int64).reshape(-1)
        if len(ids):
            uv = np.hstack([np.asarray(uv_left, float).reshape(-1, 2), np.asarray(uv_right, float).reshape(-1, 2)])
            if uv.shape != (len(ids), 4) or not np.all(np.isfinite(uv)):
                raise ValueError("add_keyframe: need finite uv_left and uv_right of shape (k, 2) per landmark id")
            self._add_observations(kf_id, state, ids, uv)
        return kf_id

    def _add_observations(self, kf_id: int, state: KeyframeState, ids: np.ndarray, uv: np.ndarray) -> None:
        order = np.argsort(self.landmark_ids, kind="stable")
        known = self.landmark_ids[order]
        at = np.minimum(np.searchsorted(known, ids), max(len(known) - 1, 0))
        new = ~(known[at] == ids) if len(known) else np.ones(len(ids), dtype=bool)
        index = np.empty(len(ids), dtype=np.int64)
        index[~new] = order[at[~new]]
        if new.any():
            p_cam0 = triangulate_cam0(self.rig, uv[new, :2], uv[new, 2:])
            if self.param == LANDMARK_PARAMS["inverse_depth"]:
                values = np.zeros((int(new.sum()), 3))
                values[:, 0] = 1.0 / np.maximum(p_cam0[:, 2], 1e-3)
            else:
                R_bc, t_bc, _ = rig_arrays(self.rig)
                values = (p_cam0 @ R_bc[0].T + t_bc[0]) @ state.R.T + state.p
            index[new] = self.n_landmarks + np.arange(int(new.sum()))
            self.landmark_ids = np.concatenate([self.landmark_ids, ids[new]])
            self.anchor_ids = np.concatenate([self.anchor_ids, np.full(int(new.sum()), kf_id, dtype=np.int64)])
            self.bearing = np.vstack([self.bearing, bearings(self.rig, uv[new, :2])])
            self.landmark_values = np.vstack([self.landmark_values, values])
        self.obs_keyframe_ids = np.concatenate([self.obs_keyframe_ids, np.full(len(ids), kf_id, dtype=np.int64)])
        self.obs_landmark = np.concatenate([self.obs_landmark, index])
        self.obs_uv = np.vstack([self.obs_uv, uv])

    @classmethod
    def from_problem(cls, problem, states: list[KeyframeState] | None = None, pims: list | None = None,
                     config: WindowConfig | None = None, gauge_state: KeyframeState | None = None) -> "SlidingWindow":
        """A window holding a :class:`vio.backend.problem.WindowProblem` (initial ``states``,
        default the truth; ``pims`` default ``problem.preintegrations()``). The gauge is
        fixed at ``gauge_state`` (default: the initial first state)."""
        if config is None:
            config = WindowConfig(capacity=max(2, len(problem.states_true)),
                                  pixel_sigma=problem.pixel_sigma if problem.pixel_sigma > 0 else 1.0)
        states = problem.states_true if states is None else states
        pims = problem.preintegrations() if pims is None else pims
        window = cls(problem.rig, config)
        obs = problem.observations
        for k, state in enumerate(states):
            sel = np.flatnonzero(obs.keyframe == k)
            window.add_keyframe(int(problem.timestamps_ns[k]), state, pims[k - 1] if k else None,
                                obs.landmark[sel], obs.uv_left[sel], obs.uv_right[sel])
        if gauge_state is not None:
            window.gauge = GaugePrior.at(window.keyframe_ids[0], gauge_state, sigma_pos_m=config.gauge_sigma_pos_m,
                                         sigma_yaw_rad=config.gauge_sigma_yaw_rad)
        return window

    # ------------------------------------------------------------------ packing

    def pack(self) -> WindowArrays:
        """Arrays for the solver kernels (IMU arrays are cached until the factors change)."""
        if self._imu_cache is None:
            self._imu_cache = pack_imu(self.pims, self._sqrt_info_cache)
        R_bc, t_bc, K = rig_arrays(self.rig)
        priors = []
        for prior in self.priors:
            pos = self.positions(prior.keyframes)
            order = np.argsort(pos)
            cols = np.concatenate([np.arange(15 * i, 15 * i + 15) for i in order])
            priors.append((pos[order],
                           np.ascontiguousarray(prior.R0[order]), np.ascontiguousarray(prior.x0_vec[order]),
                           np.ascontiguousarray(prior.J[:, cols]), prior.r0))
        gauge = None
        if self.gauge is not None:
            g = self.gauge
            gauge = (int(self.positions([g.keyframe])[0]), g.R_ref, g.p_ref, 1.0 / g.sigma_pos_m, 1.0 / g.sigma_yaw_rad)
        stack = (lambda name: np.stack([getattr(s, name) for s in self.states]))
        return WindowArrays(
            R=stack("R"), p=stack("p"), v=stack("v"), bg=stack("bg"), ba=stack("ba"), param=self.param,
            lm=self.landmark_values.copy(), bearing=self.bearing, anchor=self.positions(self.anchor_ids),
            obs_kf=self.positions(self.obs_keyframe_ids), obs_lm=self.obs_landmark,
            obs_uv=self.obs_uv, R_bc=R_bc, t_bc=t_bc, K=K, inv_sigma=1.0 / self.config.pixel_sigma, loss=self.config.loss,
            imu=self._imu_cache, priors=priors, gauge=gauge)

    def unpack(self, arrays: WindowArrays) -> None:
        """Take the estimate (states and landmarks) from solved arrays."""
        self.states = [KeyframeState(arrays.R[k], arrays.p[k], arrays.v[k], arrays.bg[k], arrays.ba[k])
                       for k in range(arrays.n_keyframes)]
        self.landmark_values = arrays.lm.copy()

    # ------------------------------------------------------------------ removal

    def _remove_keyframe(self, position: int) -> None:
        kf_id = self.keyframe_ids[position]
        for name in ("keyframe_ids", "timestamps_ns", "states"):
            del getattr(self, name)[position]
        keep = self.obs_keyframe_ids != kf_id
        self.obs_keyframe_ids, self.obs_landmark, self.obs_uv = (
            self.obs_keyframe_ids[keep], self.obs_landmark[keep], self.obs_uv[keep])
        self._imu_cache = None

    def _remove_landmarks(self, drop: np.ndarray) -> None:
        """Delete landmarks (bool mask) with their observations and re-index the rest."""
        keep_obs = ~drop[self.obs_landmark]
        new_index = np.cumsum(~drop) - 1
        self.obs_keyframe_ids, self.obs_uv = self.obs_keyframe_ids[keep_obs], self.obs_uv[keep_obs]
        self.obs_landmark = new_index[self.obs_landmark[keep_obs]]
        for name in ("landmark_ids", "anchor_ids", "bearing", "landmark_values"):
            setattr(self, name, getattr(self, name)[~drop])

    def _reanchor(self, landmarks: np.ndarray, points: np.ndarray) -> None:
        """Move the anchor of ``landmarks`` (indices) to their oldest remaining observation,
        keeping their world ``points``; landmarks without observations go."""
        landmarks = np.asarray(landmarks, dtype=np.int64)
        obs = np.flatnonzero(np.isin(self.obs_landmark, landmarks))
        lm = self.obs_landmark[obs]
        # first observation of each landmark by window position (ties: the earlier observation)
        order = np.lexsort((obs, self.positions(self.obs_keyframe_ids[obs]), lm))
        obs, lm = obs[order], lm[order]
        head = np.ones(len(obs), dtype=bool)
        head[1:] = lm[1:] != lm[:-1]
        first, moved = obs[head], lm[head]
        self.anchor_ids[moved] = self.obs_keyframe_ids[first]
        if self.param == LANDMARK_PARAMS["inverse_depth"] and len(moved):
            R_bc, t_bc, _ = rig_arrays(self.rig)
            pos = self.positions(self.anchor_ids[moved])
            R = np.stack([s.R for s in self.states])[pos]
            p = np.stack([s.p for s in self.states])[pos]
            p_body = np.einsum("lji,lj->li", R, points[moved] - p)  # R^T (x - p) per landmark
            depth = ((p_body - t_bc[0]) @ R_bc[0])[:, 2]  # z of R_bc^T (p_body - t_bc)
            self.bearing[moved] = bearings(self.rig, self.obs_uv[first, :2])
            self.landmark_values[moved] = 0.0
            self.landmark_values[moved, 0] = 1.0 / np.maximum(depth, 1e-3)
        drop = np.zeros(self.n_landmarks, dtype=bool)
        drop[landmarks] = True
        drop[moved] = False
        if drop.any():
            self._remove_landmarks(drop)

    def drop_non_keyframe(self, position: int = -2) -> None:
        """Remove the frame at ``position`` (default the second newest, as VINS-Mono does for
        a non-keyframe): its observations are discarded, its IMU preintegration merged into
        the one towards the next keyframe (:meth:`ImuPreintegration.merge`), a prior that
        involves it has it marginalised out, landmarks it anchored move their anchor to their
        next observation (or go if none is left). The oldest keyframe cannot be dropped."""
        n = len(self)
        position = position + n if position < 0 else position
        if not 0 < position < n:
            raise ValueError(f"drop_non_keyframe: position must select a keyframe other than the oldest, "
                             f"got {position} of {n}")
        kf_id = self.keyframe_ids[position]
        if position < n - 1:
            self.pims[position - 1] = self.pims[position - 1].merge(self.pims[position])
            del self.pims[position]
        else:
            del self.pims[position - 1]
        self.priors = [q for q in (p.marginalize(kf_id) if kf_id in p.keyframes else p for p in self.priors)
                       if q is not None]
        anchored = np.flatnonzero(self.anchor_ids == kf_id)
        points = self.landmark_points()
        self._remove_keyframe(position)
        self._reanchor(anchored, points)

    def marginalize_oldest(self, counters=None) -> LinearPrior | None:
        """Marginalise the oldest keyframe (see :mod:`vio.backend.marginalization`); its
        work is added to ``counters`` (a ``KernelCounters``) when given."""
        from .marginalization import marginalize_oldest

        return marginalize_oldest(self, counters)
