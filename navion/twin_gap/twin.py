"""The common time span of a real sequence and its twin, and the synthesis of that twin.

Span: the ground truth's span intersected with the real IMU stream's. The twin's trajectory
covers it (so its IMU stream can be compared over the same time, at rest and in motion),
starting on the real camera stamps' IMU grid (a whole number of IMU steps before the first
frame in the span). Its frames are captured at the real stereo stamps inside the span,
each snapped to that grid (EuRoC stamps the frames at IMU instants, so the snap moves them
by at most the real clock's jitter; the largest move is reported). The grid step is the
sensor.yaml IMU rate when the measured median step is within 0.1 % of it (EuRoC stamps are
quantised to 256 ns: V1_01 steps are 4999936 or 5000192 ns), else the measured median. The twin uses the real
sensor.yaml calibration, the real IMU rate and camera rate and the default SynthConfig
(``--synth-config`` and ``--seed`` override it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from datasets.euroc import GroundTruth

from .errors import TwinGapError

FRAME_MARGIN_S = 2.0  # with --max-frames: the span ends this long after the last frame used


@dataclass(frozen=True)
class Span:
    """Common span [start_ns, end_ns] (start on the IMU grid), the stereo stamps used (the
    real ones) and their twin capture stamps (snapped to the grid)."""

    start_ns: int
    end_ns: int
    step_ns: int
    real_frames_ns: np.ndarray
    twin_frames_ns: np.ndarray

    @property
    def max_snap_ns(self) -> int:
        return int(np.abs(self.real_frames_ns - self.twin_frames_ns).max()) if len(self.real_frames_ns) else 0


def load_groundtruth(seq, path: str | Path | None):
    """The ground truth poses (navion.evaluation.PoseSeries): ``path`` (TUM file or EuRoC csv)
    if given, else the sequence's own; TwinGapError when there is none."""
    from navion.evaluation import PoseSeries, load_poses

    if path is not None:
        return load_poses(path, quiet=True)
    gt = getattr(seq, "groundtruth", None)
    if gt is None or len(gt.timestamps_ns) < 3:
        raise TwinGapError(f"{seq.root}: the real sequence has no ground truth "
                           "(state_groundtruth_estimate0/data.csv); give one with --groundtruth FILE")
    return PoseSeries.from_groundtruth(gt)


def groundtruth_rate_hz(poses) -> float:
    return float(1e9 / np.median(np.diff(poses.timestamps_ns)))


def as_euroc_groundtruth(poses) -> GroundTruth:
    """A reader-style GroundTruth (p, q wxyz) of a PoseSeries, for the replay's evaluation."""
    q_xyzw = Rotation.from_matrix(poses.R_world_body).as_quat()
    return GroundTruth(poses.timestamps_ns, poses.p_world_body, q_xyzw[:, [3, 0, 1, 2]])


def common_span(seq, poses, max_frames: int | None = None) -> Span:
    """The span both sequences cover (see the module docstring); TwinGapError if the ground
    truth holds no real stereo frame."""
    imu_ns = np.asarray(seq.imu_timestamps_ns, dtype=np.int64)
    frames = np.asarray(seq.stereo_timestamps_ns, dtype=np.int64)
    if len(imu_ns) < 2 or len(frames) == 0:
        raise TwinGapError(f"{seq.root}: the real sequence needs IMU samples and stereo frames")
    step = int(round(float(np.median(np.diff(imu_ns)))))
    nominal = getattr(getattr(seq, "imu", None), "rate_hz", None)
    if nominal and abs(step * nominal * 1e-9 - 1.0) < 1e-3:  # clock quantisation (EuRoC: 256 ns): the nominal rate
        step = int(round(1e9 / nominal))
    lo = max(int(poses.timestamps_ns[0]), int(imu_ns[0]))
    hi = min(int(poses.timestamps_ns[-1]), int(imu_ns[-1]))
    inside = frames[(frames >= lo + step) & (frames <= hi - step)]
    if len(inside) < 2:
        raise TwinGapError(f"the ground truth ({poses.timestamps_ns[0]}..{poses.timestamps_ns[-1]} ns) covers "
                           f"{len(inside)} of the real stereo frames ({frames[0]}..{frames[-1]} ns); need >= 2")
    if max_frames is not None:
        inside = inside[:max_frames]
        hi = min(hi, int(inside[-1]) + int(FRAME_MARGIN_S * 1e9))
    first = int(inside[0])
    start = first - ((first - lo) // step) * step
    twin = start + np.round((inside - start) / step).astype(np.int64) * step
    keep = np.r_[True, np.diff(twin) > 0]
    end = start + ((hi - start) // step) * step
    return Span(start, end, step, inside[keep], twin[keep])


def write_groundtruth_tum(poses, path: Path, span: Span) -> Path:
    """TUM file of the whole ground truth (the twin is cut from it at the span; the whole
    file lets the IMU vibration model see whether the rotors spin, docs/imu_vibration.md)."""
    from datasets.tum import write_tum

    t = poses.timestamps_ns
    sel = np.ones(len(t), dtype=bool)
    q_xyzw = Rotation.from_matrix(poses.R_world_body[sel]).as_quat()
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tum(path, t[sel], poses.p_world_body[sel], q_xyzw)


def span_trajectory(tum_path: Path, span: Span):
    """The ground-truth BodyTrajectory (twin generator's spline) starting exactly at span.start_ns."""
    from datasets.synth.trajectory import trajectory_from_tum
    from datasets.tum import read_tum

    t0 = int(read_tum(tum_path).timestamps_ns[0])
    duration_s = (span.end_ns - span.start_ns) * 1e-9
    offset_ns = span.start_ns - t0
    offset_s = offset_ns * 1e-9
    for _ in range(4):  # float seconds may round the integer start by a nanosecond
        traj = trajectory_from_tum(tum_path, duration_s=duration_s, start_offset_s=offset_s)
        miss = traj.start_ns - span.start_ns
        if miss == 0:
            return traj
        offset_s -= miss * 1e-9
    raise TwinGapError(f"{tum_path}: cannot start the trajectory exactly at {span.start_ns} ns")


def synthesize_twin(seq, traj, span: Span, out_dir: Path, seed: int | None = None,
                    synth_config: str | Path | None = None,
                    progress: Callable[[int, int], None] | None = None, scene_hint: str | None = None) -> dict:
    """Renders the twin into ``out_dir`` (overwritten) and returns its metadata."""
    from dataclasses import replace

    from datasets.synth.config import SynthConfig
    from datasets.synth.generate import generate_sequence

    options = SynthConfig.from_yaml(synth_config).to_dict() if synth_config else {}
    if seed is not None:
        options["seed"] = seed
    imu_rate = round(1e9 / span.step_ns, 6)
    cam_rate = imu_rate / max(1, int(round(np.median(np.diff(span.real_frames_ns)) / span.step_ns))) \
        if len(span.real_frames_ns) > 1 else 20.0
    options.update(imu_rate_hz=imu_rate, camera_rate_hz=cam_rate)
    config = SynthConfig.from_dict(options, source=str(synth_config or "twin options"))
    config = replace(config, duration_s=None, start_offset_s=0.0)
    return generate_sequence(out_dir, config, overwrite=True, progress=progress, trajectory=traj,
                             cameras=(seq.cam0, seq.cam1), imu_calibration=seq.imu,
                             camera_stamps_ns=span.twin_frames_ns, scene_hint=scene_hint)


class SpanView:
    """A read-only view of an opened sequence restricted to a span: stereo frames at
    ``frames_ns`` only, IMU samples within [start_ns, end_ns], and ``groundtruth`` replaced
    (what ``navion.replay.replay`` reads)."""

    def __init__(self, seq, start_ns: int, end_ns: int, frames_ns: np.ndarray, groundtruth=None):
        self._seq = seq
        self.root = seq.root
        self.cam0, self.cam1, self.imu = seq.cam0, seq.cam1, seq.imu
        self.start_ns, self.end_ns = int(start_ns), int(end_ns)
        self.stereo_timestamps_ns = np.asarray(frames_ns, dtype=np.int64)
        self.groundtruth = seq.groundtruth if groundtruth is None else groundtruth
        t = np.asarray(seq.imu_timestamps_ns)
        sel = (t >= self.start_ns) & (t <= self.end_ns)
        self.imu_timestamps_ns, self.imu_gyro, self.imu_accel = t[sel], seq.imu_gyro[sel], seq.imu_accel[sel]

    def messages(self):
        from datasets.messages import StereoFrame

        wanted = set(self.stereo_timestamps_ns.tolist())
        for m in self._seq.messages(self.start_ns, self.end_ns):
            if not isinstance(m, StereoFrame) or m.timestamp_ns in wanted:
                yield m

    def load_image(self, camera: str, timestamp_ns: int) -> np.ndarray:
        return self._seq.load_image(camera, timestamp_ns)
