"""Absolute and relative trajectory errors, with evo's definitions.

ATE (evo_ape, pose relation "translation part"): ``e_i = ||p_ref_i - p_est_i||`` [m]
after alignment. RPE (evo_rpe; Sturm et al., IROS 2012, eq. 2): for a pose pair
(i, j), ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)`` with Q the reference and P the aligned
estimate; the translation error is ``||t(E)||`` [m], the rotation error the angle of
``R(E)`` [deg].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ErrorStats:
    """Summary of error samples, as evo prints it (std is the population std)."""

    KEYS = ("rmse", "mean", "median", "std", "min", "max")

    rmse: float
    mean: float
    median: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, errors: np.ndarray) -> ErrorStats:
        e = np.asarray(errors, dtype=np.float64)
        return cls(math.sqrt(float(np.mean(e * e))), float(np.mean(e)), float(np.median(e)),
                   float(np.std(e)), float(np.min(e)), float(np.max(e)))


def ate_errors(p_ref: np.ndarray, p_est_aligned: np.ndarray) -> np.ndarray:
    """(N,) position errors [m] of matched, aligned poses."""
    return np.linalg.norm(np.asarray(p_ref) - np.asarray(p_est_aligned), axis=1)


def pairs_by_path(p: np.ndarray, delta_m: float) -> np.ndarray:
    """(K, 2) index pairs of consecutive poses ``delta_m`` apart along the path [m].

    evo's (1.38) ``filter_pairs_by_path`` without ``all_pairs``: pose 0 is kept; walking
    on, the step lengths are summed, and each time the sum reaches ``delta_m`` that pose
    is kept and the sum restarts. Consecutive kept poses form the pairs, so a pair spans
    at least ``delta_m`` of path. ``delta_m`` must be positive.
    """
    steps = np.linalg.norm(np.diff(np.asarray(p), axis=0), axis=1)
    kept, travelled = [0], 0.0
    for i, step in enumerate(steps.tolist(), start=1):
        travelled += step
        if travelled >= delta_m:
            kept.append(i)
            travelled = 0.0
    ids = np.array(kept, dtype=np.int64)
    return np.column_stack([ids[:-1], ids[1:]]) if len(ids) > 1 else np.empty((0, 2), dtype=np.int64)


def _rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    """(K,) angles [deg] of rotation matrices (K, 3, 3), accurate near 0 and 180 deg."""
    sin = 0.5 * np.linalg.norm(np.stack([R[:, 2, 1] - R[:, 1, 2], R[:, 0, 2] - R[:, 2, 0],
                                         R[:, 1, 0] - R[:, 0, 1]], axis=1), axis=1)
    cos = 0.5 * (np.trace(R, axis1=1, axis2=2) - 1.0)
    return np.degrees(np.arctan2(sin, cos))


def relative_errors(p_ref, R_ref, p_est, R_est, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Translation [m] and rotation [deg] RPE of each pair (i, j) of matched poses."""
    i, j = pairs[:, 0], pairs[:, 1]

    def relative(p, R):
        """R_i^T R_j and R_i^T (p_j - p_i): pose j in the frame of pose i."""
        Ri_T = np.transpose(R[i], (0, 2, 1))
        return Ri_T @ R[j], np.einsum("kab,kb->ka", Ri_T, p[j] - p[i])

    R_q, t_q = relative(np.asarray(p_ref), np.asarray(R_ref))
    R_p, t_p = relative(np.asarray(p_est), np.asarray(R_est))
    R_q_T = np.transpose(R_q, (0, 2, 1))
    t_err = np.einsum("kab,kb->ka", R_q_T, t_p - t_q)
    return np.linalg.norm(t_err, axis=1), _rotation_angle_deg(R_q_T @ R_p)
