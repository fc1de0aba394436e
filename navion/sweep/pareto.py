"""Pareto ranks of points that minimise two objectives (here ATE and energy per frame).

Point a dominates b when a is no worse in both objectives and better in at least one.
Rank 1 is the non-dominated front; rank k the front of what remains after removing
ranks 1..k-1 (non-dominated sorting, Deb et al., NSGA-II, IEEE TEC 2002). Identical
points do not dominate each other, so they share a rank.
"""
from __future__ import annotations

import numpy as np


def _front(points: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The members of ``index`` that no other member dominates: sort by (x, y); a point is
    dominated exactly when an earlier, distinct point has y <= its y."""
    order = index[np.lexsort((points[index, 1], points[index, 0]))]
    keep, best_y, k = [], np.inf, 0
    while k < len(order):
        x, y = points[order[k]]
        group_end = k
        while group_end < len(order) and points[order[group_end], 0] == x and points[order[group_end], 1] == y:
            group_end += 1
        if y < best_y:
            keep.extend(order[k:group_end])
        best_y = min(best_y, y)
        k = group_end
    return np.array(keep, dtype=np.int64)


def pareto_ranks(points) -> np.ndarray:
    """Rank (1 = front) of each row of ``points`` (n, 2) for minimising both columns.
    Rows with a NaN get rank 0 (not ranked)."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    ranks = np.zeros(len(points), dtype=np.int64)
    remaining = np.flatnonzero(~np.isnan(points).any(axis=1))
    rank = 1
    while len(remaining):
        front = _front(points, remaining)
        ranks[front] = rank
        remaining = np.setdiff1d(remaining, front)
        rank += 1
    return ranks
