"""Frontier cells of a 3-D occupancy map and their clustering.

A frontier cell is a FREE cell with an UNKNOWN face neighbour (6-neighbourhood; cells
beyond the grid's edge are not unknown: nothing can be learnt there) (Yamauchi, CIRA
1997, in 3-D). Frontier cells are grouped into connected components (26-neighbourhood);
a component larger than a target cluster is split by k-means on cell positions into
``ceil(n / target)`` clusters, target ``(cluster_size_m / resolution_m)^2`` cells (a
frontier is a surface, so a cluster covers about ``cluster_size_m``^2). Clusters smaller
than ``min_cluster_cells`` are dropped (single unknown holes between sparse far rays).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..errors import MappingError
from ..occupancy import FREE, UNKNOWN

KMEANS_ITERATIONS = 20


def frontier_mask(classes: np.ndarray) -> np.ndarray:
    """(nx, ny, nz) bool: FREE cells of ``classes`` (int8 UNKNOWN/FREE/OCCUPIED) with an UNKNOWN face neighbour."""
    classes = np.asarray(classes)
    if classes.ndim != 3 or classes.dtype != np.int8:
        raise MappingError(f"classes must be an int8 3-D array, got {classes.dtype} {classes.shape}")
    unknown = classes == UNKNOWN
    near = np.zeros_like(unknown)
    for axis in range(3):
        lower = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis] = slice(None, -1)
        upper[axis] = slice(1, None)
        near[tuple(lower)] |= unknown[tuple(upper)]
        near[tuple(upper)] |= unknown[tuple(lower)]
    return (classes == FREE) & near


@dataclass(frozen=True)
class FrontierCluster:
    """One cluster of frontier cells: ``cells`` (K, 3) int64 grid indices and their mean
    cell centre ``centroid_m`` (3,) [m, world]."""

    cells: np.ndarray
    centroid_m: np.ndarray

    @property
    def size(self) -> int:
        return len(self.cells)


def kmeans(points: np.ndarray, k: int, iterations: int = KMEANS_ITERATIONS) -> np.ndarray:
    """Labels (N,) in 0..k-1 of points (N, D) by Lloyd's k-means, deterministic: the centres
    start at farthest-point samples beginning with the point nearest the mean."""
    points = np.asarray(points, dtype=np.float64)
    k = max(1, min(int(k), len(points)))
    first = int(np.argmin(np.linalg.norm(points - points.mean(axis=0), axis=1)))
    centres = [points[first]]
    d = np.linalg.norm(points - centres[0], axis=1)
    for _ in range(1, k):
        centres.append(points[int(np.argmax(d))])
        d = np.minimum(d, np.linalg.norm(points - centres[-1], axis=1))
    centres = np.array(centres)
    labels = np.full(len(points), -1, dtype=np.int64)
    for _ in range(iterations):
        new = cKDTree(centres).query(points)[1].astype(np.int64)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        used = counts > 0
        for axis in range(points.shape[1]):
            sums = np.bincount(labels, weights=points[:, axis], minlength=k)
            centres[used, axis] = sums[used] / counts[used]
    return labels


def cluster_frontiers(mask: np.ndarray, origin_m, resolution_m: float, cluster_size_m: float,
                      min_cluster_cells: int) -> list[FrontierCluster]:
    """Clusters of the frontier cells in ``mask`` (rule in the module docstring), largest first."""
    mask = np.asarray(mask)
    if mask.ndim != 3 or mask.dtype != np.bool_:
        raise MappingError(f"frontier mask must be a bool 3-D array, got {mask.dtype} {mask.shape}")
    origin = np.asarray(origin_m, dtype=np.float64)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    target = max(1.0, (cluster_size_m / resolution_m) ** 2)
    clusters = []
    if n == 0:
        return clusters
    cells_all = np.argwhere(labels > 0)
    comp = labels[tuple(cells_all.T)]
    order = np.argsort(comp, kind="stable")
    cells_all, comp = cells_all[order], comp[order]
    bounds = np.searchsorted(comp, np.arange(1, n + 2))
    for i in range(n):
        cells = cells_all[bounds[i]:bounds[i + 1]]
        if len(cells) < min_cluster_cells:
            continue
        k = math.ceil(len(cells) / target)
        parts = kmeans(cells.astype(np.float64), k) if k > 1 else np.zeros(len(cells), dtype=np.int64)
        for j in range(int(parts.max()) + 1):
            piece = cells[parts == j]
            if len(piece) >= min_cluster_cells:
                centroid = origin + (piece.mean(axis=0) + 0.5) * resolution_m
                clusters.append(FrontierCluster(piece.astype(np.int64), centroid))
    clusters.sort(key=lambda c: -c.size)
    return clusters
