"""Stereo visual-inertial odometry end to end: front-end, initialisation, sliding window.

:class:`VioPipeline` consumes the dataset message stream (``ImuSample``, ``StereoFrame``
in time order) and emits one :class:`NavState` per camera frame once initialised.

Per frame (VINS-Mono style window management, Qin et al., T-RO 2018, Sec. VI-D):
1. the front-end tracks features, helped by the gyro's rotation since the last frame;
2. the IMU between the newest window frame and this one is preintegrated; if the
   newest window frame was not a keyframe it is dropped first and its IMU data merged
   into the new factor;
3. the frame is added to the window at the IMU prediction (the oldest keyframe is
   marginalised when the window is full) and the window is solved;
4. failure checks (too few stereo tracks, NaN, biases out of bounds, an implausible
   jump against the IMU prediction) trigger a reset: the window restarts from the
   last good state propagated by the IMU, or from a new static initialisation.

With ``backend_rate: keyframes`` only keyframes enter the window and are solved (as in
keyframe-based VIO back-ends, e.g. Leutenegger et al., OKVIS, IJRR 2015); a frame that
is not a keyframe gets the IMU prediction from the newest solved keyframe, and its IMU
samples are preintegrated once, into the factor towards the next keyframe.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from threadpoolctl import threadpool_limits

from accel_model.workload import NULL_WORKLOAD, Workload
from datasets.calibration import CameraCalibration, ImuCalibration
from datasets.configuration import ConfigMixin
from datasets.messages import ImuSample, StereoFrame

from .backend.normal_equations import KernelCounters
from .backend.problem import StereoRig
from .errors import VioError
from .backend.solver import SolverConfig, solve
from .backend.window import SlidingWindow, WindowConfig
from .factors.prior import LinearPrior
from .frontend import Frontend, FrontendConfig
from .imu_buffer import ImuBuffer
from .initialization import (InitializationError, StaticInitConfig, static_initialize,
                             visual_inertial_alignment)
from .lie import so3_exp
from .navstate import NavState
from .preintegration import ImuBias, ImuParams, ImuPreintegration
from .state import BA, BG, ROT, VEL, KeyframeState
from .stereo_odometry import StereoOdometry


BACKEND_RATES = ("every_frame", "keyframes")


@dataclass(frozen=True)
class PipelineConfig(ConfigMixin):
    """Options of the whole VIO pipeline (sections: frontend, window, solver, static_init).

    The solver stops after 4 linearisations or once a step lowers the cost by less than
    1e-5 relatively (measured on the MH_01 twin: the median decrease is 1.5e-2 at the first
    step, 8e-6 at the second, 7e-8 at the third; the window is solved again next frame).

    init_window_s: IMU history used by the static initialisation [s].
    dynamic_init_window_s: span of stereo odometry aligned with the IMU when the sequence
        starts (or resumes) in motion [s].
    max_keyframe_interval_s: a frame becomes a keyframe at the latest after this long [s].
    min_stereo_tracks: fewer stereo-matched tracks than this is a tracking failure.
    max_gyro_bias [rad/s], max_accel_bias [m/s^2]: larger bias estimates are a failure.
    max_speed_mps: a faster velocity estimate is a failure [m/s].
    max_jump_m: the solved position may differ from the IMU prediction by at most this [m].
    init_gyro_bias_sigma [rad/s], init_accel_bias_sigma [m/s^2]: prior std of the biases of
        a window's first keyframe (at rest the accel bias across gravity is unobservable).
    restart_rotation_sigma_rad, restart_velocity_sigma_mps: prior std of attitude and
        velocity when a window restarts from the IMU-propagated last good state.
    backend_rate: ``every_frame`` (each frame enters the window and the window is solved;
        a non-keyframe is dropped when the next frame arrives) or ``keyframes`` (only
        keyframes are added and solved; other frames are IMU predictions).
    count_workload: fill Workload records (off: no counting cost).
    """

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    solver: SolverConfig = field(default_factory=lambda: SolverConfig(max_iterations=4, function_tolerance=1e-5))
    static_init: StaticInitConfig = field(default_factory=StaticInitConfig)
    init_window_s: float = 1.0
    dynamic_init_window_s: float = 1.5
    max_keyframe_interval_s: float = 0.5
    min_stereo_tracks: int = 12
    max_gyro_bias: float = 0.5
    max_accel_bias: float = 2.0
    max_speed_mps: float = 15.0
    max_jump_m: float = 1.0
    init_gyro_bias_sigma: float = 0.01
    init_accel_bias_sigma: float = 0.1
    restart_rotation_sigma_rad: float = 0.02
    restart_velocity_sigma_mps: float = 0.2
    backend_rate: str = "every_frame"
    count_workload: bool = True

    def __post_init__(self) -> None:
        for name in ("init_window_s", "dynamic_init_window_s", "max_keyframe_interval_s", "max_gyro_bias", "max_accel_bias",
                     "max_speed_mps", "max_jump_m", "init_gyro_bias_sigma", "init_accel_bias_sigma",
                     "restart_rotation_sigma_rad", "restart_velocity_sigma_mps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"pipeline config: '{name}' must be > 0, got {getattr(self, name)!r}")
        if self.min_stereo_tracks < 3:
            raise ValueError(f"pipeline config: 'min_stereo_tracks' must be >= 3, got {self.min_stereo_tracks!r}")
        if self.backend_rate not in BACKEND_RATES:
            raise ValueError(f"pipeline config: 'backend_rate' must be one of {', '.join(BACKEND_RATES)}, "
                             f"got {self.backend_rate!r}")


@dataclass
class FrameRecord:
    """Bookkeeping of one processed camera frame (timings [s], counts, workloads)."""

    timestamp_ns: int
    frontend_s: float
    backend_s: float
    n_tracks: int
    n_stereo: int
    is_keyframe: bool
    status: str
    workloads: list[Workload]


def rig_from_calibration(cam0: CameraCalibration, cam1: CameraCalibration) -> StereoRig:
    """The back-end's pinhole rig (undistorted pixels) of a calibrated stereo pair."""
    return StereoRig(*cam0.intrinsics, *cam1.intrinsics, cam0.T_body_cam, cam1.T_body_cam, *cam0.resolution)


class VioPipeline:
    """Stereo VIO over a message stream; see the module docstring."""

    def __init__(self, cam0: CameraCalibration, cam1: CameraCalibration, imu: ImuCalibration,
                 config: PipelineConfig = PipelineConfig()):
        if not np.allclose(imu.T_body_imu, np.eye(4)):
            raise VioError(f"VioPipeline: the IMU '{imu.name}' must define the body frame (T_body_imu = identity)")
        self.config = config
        # The back-end's dense algebra is small (<= 150 x 150): BLAS threads only contend
        # with numba's and the front-end's (measured: eigh of 135 x 135 1.4 ms on one
        # thread, 8 ms with OpenBLAS's default two). Process-wide, as BLAS pools are.
        threadpool_limits(limits=1, user_api="blas")
        self.cam0, self.cam1 = cam0, cam1
        self.rig = rig_from_calibration(cam0, cam1)
        self.params = ImuParams.from_calibration(imu)
        self.frontend = Frontend(cam0, cam1, config.frontend)
        self.imu = ImuBuffer()
        self.records: list[FrameRecord] = []
        self.resets = 0
        self.reset_reasons: list[tuple[int, str]] = []
        self.first_frame_ns: int | None = None
        self.init_ns: int | None = None
        self._R_c0_b = cam0.T_body_cam[:3, :3].T
        self._window: SlidingWindow | None = None
        self._newest_is_keyframe = True
        self._last_keyframe_ns = 0
        self._pending: tuple[int, ImuPreintegration] | None = None  # keyframes rate: IMU since the newest keyframe
        self._last_frame_ns: int | None = None
        self._last_good: NavState | None = None
        self._reset_pending = False
        self._odometry = StereoOdometry(self.rig)
        # diagnostics of the last frame: the front-end's FeatureTracks and the solve (None without one)
        self.last_tracks = None
        self.last_solve = None

    # ------------------------------------------------------------------ stream

    @property
    def initialized(self) -> bool:
        return self._window is not None

    @property
    def window(self) -> SlidingWindow | None:
        """The back-end's sliding window (None before initialisation); read-only use."""
        return self._window

    def process(self, message) -> NavState | None:
        """Feeds one message; returns the NavState when ``message`` is a camera frame and
        the estimator is initialised, else None."""
        if isinstance(message, ImuSample):
            self.imu.add(message.timestamp_ns, message.gyro, message.accel)
            return None
        if isinstance(message, StereoFrame):
            return self.process_frame(message)
        raise TypeError(f"VioPipeline.process: unsupported message {type(message).__name__}")

    def run(self, messages):
        """Yields the NavState of every camera frame after initialisation."""
        for message in messages:
            state = self.process(message)
            if state is not None:
                yield state

    # ------------------------------------------------------------------ frames

    def _gyro_rotation(self, t0: int, t1: int, bias_g: np.ndarray) -> np.ndarray | None:
        """R_cam0prev_cam0cur predicted from the gyro between two frame stamps."""
        seg = self.imu.segment(t0, t1)
        if seg is None:
            return None
        R = np.eye(3)
        for dt, w in zip(seg[0], seg[1]):
            R = R @ so3_exp((w - bias_g) * dt)
        return self._R_c0_b @ R @ self._R_c0_b.T

    def process_frame(self, frame: StereoFrame) -> NavState | None:
        t = int(frame.timestamp_ns)
        if self._last_frame_ns is not None and t <= self._last_frame_ns:
            return None
        if self.first_frame_ns is None:
            self.first_frame_ns = t
        bias_g = self._window.states[-1].bg if self._window is not None else np.zeros(3)
        R_pred = None if self._last_frame_ns is None else self._gyro_rotation(self._last_frame_ns, t, bias_g)
        start = time.perf_counter()
        tracks = self.frontend.process(frame, R_pred)
        frontend_s = time.perf_counter() - start
        self.last_tracks, self.last_solve = tracks, None
        self._last_frame_ns = t

        start = time.perf_counter()
        workloads = list(tracks.workloads)
        if self._window is None:
            state = self._try_initialize(t, tracks)
        else:
            state = self._track(t, tracks, workloads)
        backend_s = time.perf_counter() - start
        self.records.append(FrameRecord(t, frontend_s, backend_s, len(tracks.ids), tracks.n_stereo,
                                        bool(tracks.is_keyframe), "init" if state is None else state.status,
                                        workloads))
        return state

    def _stereo(self, tracks):
        sel = tracks.has_right
        return tracks.ids[sel], tracks.uv_left[sel], tracks.uv_right[sel]

    def _start_window(self, t: int, state: KeyframeState, tracks, restart: bool = False) -> None:
        """A new window whose first keyframe carries a prior on its biases (and, on a
        restart, on attitude and velocity); position and yaw are the window's gauge."""
        c = self.config
        self._window = SlidingWindow(self.rig, c.window)
        ids, uv_l, uv_r = self._stereo(tracks)
        kf = self._window.add_keyframe(t, state, None, ids, uv_l, uv_r)
        sigma = np.full(15, np.inf)
        sigma[BG], sigma[BA] = c.init_gyro_bias_sigma, c.init_accel_bias_sigma
        if restart:
            sigma[ROT], sigma[VEL] = c.restart_rotation_sigma_rad, c.restart_velocity_sigma_mps
        rows = np.flatnonzero(np.isfinite(sigma))
        J = np.zeros((len(rows), 15))
        J[np.arange(len(rows)), rows] = 1.0 / sigma[rows]
        self._window.priors.append(LinearPrior([kf], [state], J, np.zeros(len(rows))))
        self._pending = None
        self._newest_is_keyframe = True
        self._last_keyframe_ns = t

    def _try_initialize(self, t: int, tracks) -> NavState | None:
        if self._reset_pending and self._last_good is not None and self._restart_from_last_good(t, tracks):
            return self._output(t, status="reset")
        window_ns = int(self.config.init_window_s * 1e9)
        stamps, gyro, accel = self.imu.window(t - window_ns, t)
        if len(stamps) < 2 or stamps[0] > t - window_ns + 20_000_000:
            return None
        try:
            init = static_initialize(stamps, gyro, accel, self.config.static_init)
        except InitializationError:
            return self._try_dynamic_initialize(t, tracks)
        if tracks.n_stereo < self.config.min_stereo_tracks:
            return None
        self.params = replace(self.params, gravity=(0.0, 0.0, -self.config.static_init.gravity_magnitude))
        state = KeyframeState(init.R_world_body, np.zeros(3), np.zeros(3), init.bias.gyro, init.bias.accel)
        if self._last_good is not None:  # keep the world frame of the earlier estimate
            state = KeyframeState(init.R_world_body, self._last_good.p_world_body.copy(), np.zeros(3),
                                  init.bias.gyro, init.bias.accel)
        self._start_window(t, state, tracks)
        if self.init_ns is None:
            self.init_ns = t
        status = "reset" if self._reset_pending else "tracking"
        self._reset_pending = False
        return self._output(t, status=status)

    def _try_dynamic_initialize(self, t: int, tracks) -> NavState | None:
        """Visual-inertial alignment of stereo odometry over the last
        ``dynamic_init_window_s`` (Qin et al., VINS-Mono, Sec. V-B, with metric scale)."""
        odo = self._odometry
        odo.add(t, tracks)
        span_ns = int(self.config.dynamic_init_window_s * 1e9)
        if len(odo) < 3 or odo.timestamps_ns[-1] - odo.timestamps_ns[0] < span_ns:
            return None
        first = int(np.searchsorted(odo.timestamps_ns, odo.timestamps_ns[-1] - span_ns, side="right")) - 1
        stamps, poses = odo.timestamps_ns[first:], odo.poses[first:]
        step = max(1, len(stamps) // 10)  # about ten keyframes over the window
        keep = list(range(0, len(stamps), step))
        keep[-1] = len(stamps) - 1
        pims = [self._preintegrate(stamps[a], stamps[b], ImuBias.zero()) for a, b in zip(keep, keep[1:])]
        if any(p is None for p in pims):
            return None
        try:
            states = visual_inertial_alignment(np.array([stamps[k] for k in keep]), [poses[k][:3, :3] for k in keep],
                                               [poses[k][:3, 3] for k in keep], pims,
                                               self.config.static_init.gravity_magnitude)
        except InitializationError:
            return None
        s = states[-1]
        if np.linalg.norm(s.bias.gyro) > self.config.max_gyro_bias or np.linalg.norm(s.v_world) > self.config.max_speed_mps:
            return None
        p0 = self._last_good.p_world_body if self._last_good is not None else np.zeros(3)
        state = KeyframeState(s.R_world_body, s.p_world_body + p0, s.v_world, s.bias.gyro, s.bias.accel)
        self._start_window(t, state, tracks, restart=True)
        odo.reset()
        if self.init_ns is None:
            self.init_ns = t
        status = "reset" if self._reset_pending else "tracking"
        self._reset_pending = False
        return self._output(t, status=status)

    def _restart_from_last_good(self, t: int, tracks) -> bool:
        """Restarts the window at the last good state propagated by the IMU (if recent)."""
        good = self._last_good
        if t - good.timestamp_ns > 1_000_000_000 or tracks.n_stereo < self.config.min_stereo_tracks:
            return False
        pim = self._preintegrate(good.timestamp_ns, t, ImuBias(good.gyro_bias, good.accel_bias))
        if pim is None:
            return False
        R, p, v = pim.predict(good.R_world_body, good.p_world_body, good.v_world)
        self._start_window(t, KeyframeState(R, p, v, good.gyro_bias, good.accel_bias), tracks, restart=True)
        self._reset_pending = False
        return True

    def _preintegrate(self, t0: int, t1: int, bias: ImuBias, workload=NULL_WORKLOAD) -> ImuPreintegration | None:
        seg = self.imu.segment(t0, t1)
        if seg is None:
            return None
        pim = ImuPreintegration(self.params, bias, workload=workload)
        pim.integrate_batch(*seg)
        return pim

    def _track(self, t: int, tracks, workloads: list[Workload]) -> NavState | None:
        window = self._window
        newest = window.states[-1]
        counting = self.config.count_workload
        imu_wl = Workload("preintegration") if counting else NULL_WORKLOAD
        if self.config.backend_rate == "keyframes":
            pim = self._extend_pending(t, ImuBias(newest.bg, newest.ba), imu_wl)
            if pim is not None and not self._keyframe_due(t, tracks):
                workloads += [imu_wl] if counting else []
                return self._predicted(t, pim)
            self._pending = None
        else:
            pim = self._preintegrate(window.timestamps_ns[-1], t, ImuBias(newest.bg, newest.ba), imu_wl)
        if pim is None:  # IMU gap: the window cannot bridge it
            return self._fail(t, tracks, "imu gap")
        if not self._newest_is_keyframe and len(window) >= 2:
            merged = window.pims[-1].merge(pim)
            window.drop_non_keyframe(-1)
            pim = merged
        base = window.states[-1]
        R, p, v = pim.predict(base.R, base.p, base.v)
        ids, uv_l, uv_r = self._stereo(tracks)
        if len(ids) < self.config.min_stereo_tracks:
            return self._fail(t, tracks, "too few stereo tracks")
        marg = KernelCounters() if counting else None
        window.add_keyframe(t, KeyframeState(R, p, v, base.bg, base.ba), pim, ids, uv_l, uv_r, counters=marg)
        diagnostics = solve(window, self.config.solver)
        self.last_solve = diagnostics
        workloads += [imu_wl, diagnostics.workload] if counting else []
        if counting and marg.ops.any():
            workloads.append(marg.to_workload("vio.backend.marginalize"))
        solved = window.states[-1]
        if not self._healthy(solved, p):
            return self._fail(t, tracks, "implausible state")
        self._newest_is_keyframe = self._keyframe_due(t, tracks) or self.config.backend_rate == "keyframes"
        if self._newest_is_keyframe:
            self._last_keyframe_ns = t
        self.imu.discard_before(window.timestamps_ns[0] - 2_000_000_000)
        return self._output(t)

    def _keyframe_due(self, t: int, tracks) -> bool:
        """The front-end chose this frame, or the last keyframe is ``max_keyframe_interval_s`` old."""
        return bool(tracks.is_keyframe) or t - self._last_keyframe_ns >= self.config.max_keyframe_interval_s * 1e9

    def _extend_pending(self, t: int, bias: ImuBias, workload) -> ImuPreintegration | None:
        """The preintegration from the newest keyframe to ``t``: the frames since then
        integrated only their new IMU samples, counted in this frame's ``workload``."""
        start, pim = self._pending or (self._window.timestamps_ns[-1], None)
        seg = self.imu.segment(start, t)
        if seg is None:
            return None
        if pim is None:
            pim = ImuPreintegration(self.params, bias)
        pim.workload = workload
        pim.integrate_batch(*seg)
        self._pending = (t, pim)
        return pim

    def _predicted(self, t: int, pim: ImuPreintegration) -> NavState:
        """A frame between keyframes: the IMU prediction from the newest solved keyframe."""
        s = self._window.states[-1]
        R, p, v = pim.predict(s.R, s.p, s.v)
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, p
        return NavState(t, T, v, s.bg.copy(), s.ba.copy(), "predicted")

    def _healthy(self, s: KeyframeState, p_pred: np.ndarray) -> bool:
        c = self.config
        values = np.concatenate([s.R.ravel(), s.p, s.v, s.bg, s.ba])
        return bool(np.isfinite(values).all() and np.linalg.norm(s.bg) <= c.max_gyro_bias
                    and np.linalg.norm(s.ba) <= c.max_accel_bias and np.linalg.norm(s.v) <= c.max_speed_mps
                    and np.linalg.norm(s.p - p_pred) <= c.max_jump_m)

    def _fail(self, t: int, tracks, reason: str) -> NavState | None:
        """Drops the window; the next frames re-initialise (see :meth:`_try_initialize`)."""
        self.resets += 1
        self.reset_reasons.append((t, reason))
        self._window = None
        self._reset_pending = True
        return self._try_initialize(t, tracks)

    def _output(self, t: int, status: str = "tracking") -> NavState:
        s = self._window.states[-1]
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = s.R, s.p
        state = NavState(t, T, s.v.copy(), s.bg.copy(), s.ba.copy(), status)
        self._last_good = state
        return state
