"""Candidate views near frontier clusters (and turns on the spot).

For each cluster, positions lie on a horizontal circle around the cluster's centroid
(``ring_positions`` evenly spaced angles, starting at +x; points in the same column
count once); its radius is the first of ``standoffs_m`` that gives the cluster any
position. A position
is moved to the cell of its (x, y) column that is reachable (finite path cost through
traversable space, see :mod:`mapping.exploration.path_cost`) and nearest in height to the
centroid, and the view stands at that cell's centre; a column with no such cell gives no
candidate. Each position gets ``yaws_per_position`` yaws spread evenly over
``+-yaw_spread`` around the bearing to the centroid. The camera is level (pitch 0).

``turn_yaws`` more candidates stay at the current position with yaws evenly spaced over
the full circle (cluster -1, path cost 0): looking around costs no travel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frontiers import FrontierCluster
from .path_cost import PathCosts

HERE = -1  # cluster id of the turn-on-the-spot candidates


@dataclass(frozen=True)
class CandidateSet:
    """Candidate views: positions_m (N, 3) [m, world], yaws_rad (N,) (camera axis
    (cos yaw, sin yaw, 0)), cluster (N,) int64 (index into the cluster list, HERE for the
    current position), cost_m (N,) path cost [m] from the current position."""

    positions_m: np.ndarray
    yaws_rad: np.ndarray
    cluster: np.ndarray
    cost_m: np.ndarray

    def __len__(self) -> int:
        return len(self.yaws_rad)


def wrap_angle(a):
    """Angle(s) wrapped into [-pi, pi)."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def generate_candidates(clusters: list[FrontierCluster], traversable: np.ndarray, costs: PathCosts,
                        origin_m, resolution_m: float, current_position_m, standoffs_m, ring_positions: int,
                        yaws_per_position: int, yaw_spread_rad: float, turn_yaws: int) -> CandidateSet:
    """Candidate views (rules in the module docstring)."""
    origin = np.asarray(origin_m, dtype=np.float64)
    nx, ny, nz = traversable.shape
    usable = traversable & np.isfinite(costs.dist_m)
    heights = origin[2] + (np.arange(nz) + 0.5) * resolution_m
    angles = 2 * np.pi * np.arange(ring_positions) / ring_positions
    offsets = (np.linspace(-yaw_spread_rad, yaw_spread_rad, yaws_per_position) if yaws_per_position > 1
               else np.zeros(1))
    pos, yaw, clu, cost = [], [], [], []
    for index, cluster in enumerate(clusters):
        c = cluster.centroid_m
        for radius in standoffs_m:
            xy = c[:2] + radius * np.column_stack([np.cos(angles), np.sin(angles)])
            ij = np.floor((xy - origin[:2]) / resolution_m).astype(np.int64)
            placed = 0
            for i, j in dict.fromkeys(map(tuple, ij)):
                if not (0 <= i < nx and 0 <= j < ny):
                    continue
                column = np.flatnonzero(usable[i, j])
                if len(column) == 0:
                    continue
                k = column[np.argmin(np.abs(heights[column] - c[2]))]
                p = origin + (np.array([i, j, k]) + 0.5) * resolution_m
                toward = np.arctan2(c[1] - p[1], c[0] - p[0])
                for off in offsets:
                    pos.append(p)
                    yaw.append(toward + off)
                    clu.append(index)
                    cost.append(costs.dist_m[i, j, k])
                placed += 1
            if placed:
                break
    here = np.asarray(current_position_m, dtype=np.float64)
    for m in range(turn_yaws):
        pos.append(here)
        yaw.append(2 * np.pi * m / turn_yaws)
        clu.append(HERE)
        cost.append(0.0)
    return CandidateSet(np.array(pos, dtype=np.float64).reshape(-1, 3), wrap_angle(np.array(yaw, dtype=np.float64)),
                        np.array(clu, dtype=np.int64), np.array(cost, dtype=np.float64))
