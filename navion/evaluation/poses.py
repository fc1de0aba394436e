"""Timed body poses and the trajectory file readers used by the evaluator.

A ``PoseSeries`` holds ``T_world_body`` at int64 nanosecond stamps: the position
``p_world_body`` [m] and the rotation ``R_world_body`` (body vectors into the world
frame). The world frame is the file's own; ground truth and estimate worlds are
related by the alignment (``alignment.Sim3``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from datasets.errors import DatasetError, WarningCounter
from datasets.euroc_csv import read_numeric_csv
from datasets.tum import read_tum

from .errors import EvaluationError



@dataclass(frozen=True)
class PoseSeries:
    """Poses ``T_world_body`` at strictly increasing stamps.

    timestamps_ns: int64 (N,); p_world_body: float64 (N, 3) [m];
    R_world_body: float64 (N, 3, 3), body -> world.
    """

    timestamps_ns: np.ndarray
    p_world_body: np.ndarray
    R_world_body: np.ndarray

    def __post_init__(self):
        t = np.asarray(self.timestamps_ns)
        if t.ndim != 1 or (t.size and t.dtype.kind not in "iu"):
            raise EvaluationError(f"timestamps_ns must be a 1-D integer array, got {t.dtype} {t.shape}")
        t = t.astype(np.int64)
        p = np.asarray(self.p_world_body, dtype=np.float64).reshape(-1, 3)
        R = np.asarray(self.R_world_body, dtype=np.float64).reshape(-1, 3, 3)
        if len(p) != len(t) or len(R) != len(t):
            raise EvaluationError(f"{len(t)} stamps but {len(p)} positions and {len(R)} rotations")
        if np.any(np.diff(t) <= 0):
            raise EvaluationError("pose stamps must be strictly increasing")
        if not (np.isfinite(p).all() and np.isfinite(R).all()):
            raise EvaluationError("poses must be finite")
        for name, value in (("timestamps_ns", t), ("p_world_body", p), ("R_world_body", R)):
            object.__setattr__(self, name, value)

    @classmethod
    def from_quaternions(cls, timestamps_ns, p_world_body, q_world_body_xyzw) -> PoseSeries:
        """From Hamilton quaternions in x, y, z, w order (normalised here)."""
        q = np.asarray(q_world_body_xyzw, dtype=np.float64).reshape(-1, 4)
        return cls(timestamps_ns, p_world_body, Rotation.from_quat(q).as_matrix() if len(q) else np.zeros((0, 3, 3)))

    @classmethod
    def from_groundtruth(cls, gt) -> PoseSeries:
        """From a EuRoC reader's ``groundtruth`` (quaternions w first)."""
        return cls.from_quaternions(gt.timestamps_ns, gt.p_world_body, gt.q_world_body_wxyz[:, [1, 2, 3, 0]])

    @classmethod
    def from_states(cls, states) -> PoseSeries:
        """From estimator outputs carrying ``timestamp_ns``, ``p_world_body``, ``R_world_body``."""
        return cls(np.array([s.timestamp_ns for s in states], dtype=np.int64),
                   np.array([s.p_world_body for s in states]).reshape(-1, 3),
                   np.array([s.R_world_body for s in states]).reshape(-1, 3, 3))

    def __len__(self) -> int:
        return len(self.timestamps_ns)


def _looks_like_csv(path: Path) -> bool:
    """A ``.csv`` name, or a first data line with commas (EuRoC), rather than TUM."""
    if path.suffix.lower() == ".csv":
        return True
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                text = line.strip()
                if text and not text.startswith("#"):
                    return "," in text
    except OSError as exc:
        raise DatasetError(f"cannot read: {exc.strerror or exc}", path) from None
    return False


def load_poses(path: str | Path, quiet: bool = False) -> PoseSeries:
    """Read poses from a TUM file, a EuRoC ground-truth csv
    (``state_groundtruth_estimate0/data.csv``: ns, p xyz, q wxyz, ...), or a EuRoC
    sequence (``mav0`` folder, the folder above it, or its ``.zip``).

    Malformed files raise DatasetError naming file and line; ``quiet`` silences the
    warnings about tolerated csv problems.
    """
    path = Path(path)
    if not path.exists():
        raise EvaluationError(f"{path}: no such file or folder")
    if path.is_dir() or path.suffix.lower() == ".zip":
        from datasets.euroc import open_euroc  # imports OpenCV: only when needed

        with open_euroc(path, quiet=quiet) as seq:
            gt = seq.groundtruth
        if gt is None:
            raise EvaluationError(f"{path}: the sequence has no state_groundtruth_estimate0/data.csv")
        return PoseSeries.from_groundtruth(gt)
    if _looks_like_csv(path):
        text = path.read_text(encoding="utf-8", errors="replace")
        stamps, values = read_numeric_csv(text, str(path), (8, 17), WarningCounter(quiet=quiet))
        return PoseSeries.from_quaternions(stamps, values[:, 0:3], values[:, [4, 5, 6, 3]])
    traj = read_tum(path)
    return PoseSeries.from_quaternions(traj.timestamps_ns, traj.p_world_body, traj.q_world_body_xyzw)
