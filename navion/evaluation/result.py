"""``evaluate``: associate, align, then ATE and RPE, as ``evo_ape``/``evo_rpe`` compute them.

``evaluate(gt, est, align="se3")`` gives what ``evo_ape tum GT EST -a`` prints (``-as``
for ``align="sim3"``, no flag for ``"none"``), and its RPE what ``evo_rpe tum GT EST
-a --delta D --delta_unit m`` prints: the reference is the ground truth, the estimate
is aligned onto it using all matched positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .alignment import Sim3, umeyama
from .association import associate
from .errors import EvaluationError
from .metrics import ErrorStats, ate_errors, pairs_by_path, relative_errors
from .poses import PoseSeries

ALIGNMENTS = ("se3", "sim3", "none")


@dataclass(frozen=True)
class RpeResult:
    """Relative errors over path-distance pairs of the aligned estimate.

    pairs: (K, 2) indices into the matched poses; translation_m [m], rotation_deg [deg]
    (K,) errors; stats None when the path is shorter than two ``delta_m`` steps.
    """

    delta_m: float
    pairs: np.ndarray
    translation_m: np.ndarray
    rotation_deg: np.ndarray

    @property
    def translation_stats(self) -> ErrorStats | None:
        return ErrorStats.of(self.translation_m) if len(self.pairs) else None

    @property
    def rotation_stats(self) -> ErrorStats | None:
        return ErrorStats.of(self.rotation_deg) if len(self.pairs) else None


@dataclass(frozen=True)
class EvalResult:
    """Outcome of one evaluation.

    gt_indices, est_indices: (M,) matched pose indices into the inputs; timestamps_ns:
    the estimate's matched stamps; ate_m: (M,) position errors [m]; est_aligned: the
    whole estimate mapped into the ground-truth world by ``sim3``.
    """

    alignment: str
    sim3: Sim3
    max_diff_s: float
    gt_indices: np.ndarray
    est_indices: np.ndarray
    timestamps_ns: np.ndarray
    ate_m: np.ndarray
    rpe: RpeResult
    est_aligned: PoseSeries

    @property
    def ate_stats(self) -> ErrorStats:
        return ErrorStats.of(self.ate_m)

    def to_dict(self) -> dict:
        """JSON-ready summary (``navion eval --json``); RPE statistics are null without pairs."""
        rpe = {"delta_m": self.rpe.delta_m, "pairs": len(self.rpe.pairs),
               **_stats_dict(self.rpe.translation_stats, "m"),
               **_stats_dict(self.rpe.rotation_stats, "deg", prefix="rot_")}
        return {"ate": _stats_dict(self.ate_stats, "m"), "rpe": rpe,
                "matched_poses": len(self.ate_m), "alignment": self.alignment,
                "scale": self.sim3.scale, "max_diff_s": self.max_diff_s}


def _stats_dict(stats: ErrorStats | None, unit: str, prefix: str = "") -> dict[str, float | None]:
    """``{"<prefix>rmse_<unit>": ..., ...}``, with None values when there are no samples."""
    return {f"{prefix}{key}_{unit}": None if stats is None else getattr(stats, key) for key in ErrorStats.KEYS}


def evaluate(gt: PoseSeries, est: PoseSeries, align: str = "se3", max_diff_s: float = 0.01,
             rpe_delta_m: float = 1.0) -> EvalResult:
    """Evaluate ``est`` against ``gt``.

    align: "se3" (rigid), "sim3" (rigid and scale, for monocular estimates) or "none";
    max_diff_s: association tolerance [s] (evo's ``--t_max_diff``); rpe_delta_m: RPE
    path distance [m]. Raises EvaluationError for invalid options, no matched stamps or
    fewer than 3 matched poses to align.
    """
    if align not in ALIGNMENTS:
        raise EvaluationError(f"unknown alignment {align!r} (choose se3, sim3 or none)")
    if not rpe_delta_m > 0:
        raise EvaluationError(f"the RPE delta must be a positive distance, got {rpe_delta_m} m")
    if not max_diff_s >= 0:
        raise EvaluationError(f"the association tolerance must not be negative, got {max_diff_s} s")
    i_gt, i_est = associate(gt.timestamps_ns, est.timestamps_ns, round(max_diff_s * 1e9))
    p_gt, p_est = gt.p_world_body[i_gt], est.p_world_body[i_est]
    if align == "none":
        sim3 = Sim3.identity()
    elif len(i_gt) < 3:
        raise EvaluationError(f"only {len(i_gt)} poses matched within {max_diff_s:g} s; "
                              f"{align} alignment needs at least 3")
    else:
        sim3 = umeyama(p_est, p_gt, with_scale=align == "sim3")
    est_aligned = sim3.apply_poses(est)
    p_est, R_est = est_aligned.p_world_body[i_est], est_aligned.R_world_body[i_est]
    pairs = pairs_by_path(p_est, rpe_delta_m)
    rpe_t, rpe_r = relative_errors(p_gt, gt.R_world_body[i_gt], p_est, R_est, pairs)
    return EvalResult(align, sim3, max_diff_s, i_gt, i_est, est.timestamps_ns[i_est],
                      ate_errors(p_gt, p_est), RpeResult(rpe_delta_m, pairs, rpe_t, rpe_r), est_aligned)
