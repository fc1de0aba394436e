"""Timestamp association of a reference and an estimated trajectory, as evo does it.

evo's ``sync.associate_trajectories(traj_ref, traj_est, max_diff)`` takes the
trajectory with fewer poses (the estimate when both have as many), pairs each of its
stamps with the nearest stamp of the other one, and keeps the pair when the two stamps
differ by at most ``max_diff``. The pairing is not one-to-one: two stamps of the
shorter trajectory may share their nearest neighbour. On equal distances the earlier
stamp wins. evo compares float seconds; this compares int64 nanoseconds exactly.
"""
from __future__ import annotations

import numpy as np

from .errors import EvaluationError


def _nearest(stamps_ns: np.ndarray, sorted_ns: np.ndarray) -> np.ndarray:
    """Index into ``sorted_ns`` (strictly increasing, non-empty) of each stamp's nearest
    neighbour; the earlier one on a tie."""
    if len(sorted_ns) == 1:
        return np.zeros(len(stamps_ns), dtype=np.int64)
    right = np.clip(np.searchsorted(sorted_ns, stamps_ns, side="left"), 1, len(sorted_ns) - 1)
    left = right - 1
    take_left = np.abs(stamps_ns - sorted_ns[left]) <= np.abs(sorted_ns[right] - stamps_ns)
    return np.where(take_left, left, right).astype(np.int64)


def associate(ref_timestamps_ns: np.ndarray, est_timestamps_ns: np.ndarray,
              max_diff_ns: int = 10_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(i_ref, i_est)`` of matched poses, in the shorter trajectory's order.

    Both stamp arrays are int64 [ns], strictly increasing. Raises EvaluationError when
    nothing matches within ``max_diff_ns``.
    """
    ref = np.asarray(ref_timestamps_ns, dtype=np.int64)
    est = np.asarray(est_timestamps_ns, dtype=np.int64)
    matched = (np.empty(0, dtype=np.int64),) * 2
    if len(ref) and len(est):
        est_is_short = len(ref) >= len(est)
        short, long = (est, ref) if est_is_short else (ref, est)
        i_long = _nearest(short, long)
        i_short = np.flatnonzero(np.abs(long[i_long] - short) <= max_diff_ns)
        i_long = i_long[i_short]
        matched = (i_long, i_short) if est_is_short else (i_short, i_long)
    if len(matched[0]) == 0:
        raise EvaluationError(f"no poses matched within {max_diff_ns * 1e-9:g} s: reference has "
                              f"{_span(ref)}, estimate has {_span(est)}")
    return matched


def _span(stamps_ns: np.ndarray) -> str:
    """'N poses, t0 .. t1 s' for error messages."""
    if len(stamps_ns) == 0:
        return "no poses"
    return f"{len(stamps_ns)} poses, {stamps_ns[0] * 1e-9:.3f} .. {stamps_ns[-1] * 1e-9:.3f} s"
