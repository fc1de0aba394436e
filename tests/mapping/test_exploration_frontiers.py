"""Frontier cells and clusters against brute force."""
import itertools

import numpy as np
import pytest

from mapping.errors import MappingError
from mapping.exploration.frontiers import cluster_frontiers, frontier_mask, kmeans
from mapping.occupancy import FREE, OCCUPIED, UNKNOWN


def frontier_reference(classes):
    out = np.zeros(classes.shape, bool)
    for idx in itertools.product(*map(range, classes.shape)):
        if classes[idx] != FREE:
            continue
        for axis, step in itertools.product(range(3), (-1, 1)):
            n = list(idx)
            n[axis] += step
            if 0 <= n[axis] < classes.shape[axis] and classes[tuple(n)] == UNKNOWN:
                out[idx] = True
    return out


@pytest.mark.parametrize("seed", range(4))
def test_frontier_mask_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    classes = rng.choice(np.array([UNKNOWN, FREE, OCCUPIED], dtype=np.int8), size=(7, 6, 5), p=[0.3, 0.5, 0.2])
    got = frontier_mask(classes)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, frontier_reference(classes))


def test_frontier_mask_ignores_grid_edge_and_diagonals():
    classes = np.full((3, 3, 3), FREE, dtype=np.int8)
    assert not frontier_mask(classes).any()  # free up to the grid's edge: nothing to explore
    classes[0, 0, 0] = UNKNOWN  # corner: face neighbours (1,0,0), (0,1,0), (0,0,1) only
    expected = {(1, 0, 0), (0, 1, 0), (0, 0, 1)}
    assert set(map(tuple, np.argwhere(frontier_mask(classes)))) == expected


def test_frontier_mask_rejects_bad_input():
    with pytest.raises(MappingError):
        frontier_mask(np.zeros((3, 3), np.int8))
    with pytest.raises(MappingError):
        frontier_mask(np.zeros((3, 3, 3), np.float32))


def test_clusters_are_components_split_by_size():
    mask = np.zeros((40, 10, 4), bool)
    mask[1, 1, 1] = True                      # 1 cell: below min size, dropped
    mask[10:12, 5, 0:1] = True                # 2 cells ...
    mask[12, 6, 1] = True                     # ... and a diagonal neighbour: one 3-cell component (26-nbhd)
    mask[20:40, 0:1, 3] = True                # a 20-cell strip: split into ceil(20 / 4) = 5 pieces
    res, origin = 0.5, np.array([1.0, -2.0, 0.0])
    clusters = cluster_frontiers(mask, origin, res, cluster_size_m=1.0, min_cluster_cells=2)
    cells = np.vstack([c.cells for c in clusters])
    # every kept cell is a frontier cell, each appears once, the single cell is gone
    assert len({tuple(c) for c in cells}) == len(cells)
    assert mask[tuple(cells.T)].all()
    assert not any((c.cells[:, 0] < 5).any() for c in clusters)
    block = [c for c in clusters if (c.cells[:, 0] < 15).all()]
    assert len(block) == 1 and block[0].size == 3
    strip = [c for c in clusters if (c.cells[:, 0] >= 20).all()]
    assert len(strip) == 5 and sum(c.size for c in strip) == 20
    for c in strip:  # k-means pieces of a straight strip are contiguous runs
        x = np.sort(c.cells[:, 0])
        assert np.all(np.diff(x) == 1)
    for c in clusters:
        np.testing.assert_allclose(c.centroid_m, origin + (c.cells.mean(axis=0) + 0.5) * res)
    assert [c.size for c in clusters] == sorted((c.size for c in clusters), reverse=True)


def test_kmeans_separates_obvious_groups():
    rng = np.random.default_rng(3)
    centres = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 5]], float)
    pts = np.vstack([c + rng.normal(0, 0.5, size=(30, 3)) for c in centres])
    labels = kmeans(pts, 3)
    for g in range(3):
        assert len(set(labels[30 * g:30 * (g + 1)])) == 1
    assert len(set(labels)) == 3
    np.testing.assert_array_equal(kmeans(pts, 3), labels)  # deterministic
