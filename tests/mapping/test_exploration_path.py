"""Robot-radius inflation and the 26-connected Dijkstra against Python references."""
import heapq
import itertools
import math

import numpy as np
import pytest

from mapping.errors import MappingError
from mapping.exploration.path_cost import EUCLIDEAN_BOUND, ball_offsets, path_costs, traversable_mask
from mapping.occupancy import FREE, OCCUPIED, UNKNOWN

NEIGHBOURS = [d for d in itertools.product((-1, 0, 1), repeat=3) if any(d)]


def dijkstra_reference(trav, start, res):
    dist = np.full(trav.shape, np.inf)
    dist[start] = 0.0
    heap = [(0.0, start)]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for step in NEIGHBOURS:
            v = tuple(a + b for a, b in zip(u, step))
            if all(0 <= v[i] < trav.shape[i] for i in range(3)) and trav[v]:
                nd = d + res * math.sqrt(sum(abs(s) for s in step))
                if nd < dist[v]:
                    dist[v] = nd
                    heapq.heappush(heap, (nd, v))
    return dist


def traversable_reference(classes, res, radius, robot_cell=None):
    free = classes == FREE
    shape = classes.shape
    if robot_cell is not None:
        for idx in itertools.product(*map(range, shape)):
            if np.linalg.norm(np.subtract(idx, robot_cell)) * res <= radius and classes[idx] == UNKNOWN:
                free[idx] = True
    out = np.zeros(shape, bool)
    r = int(radius / res) + 1
    for idx in itertools.product(*map(range, shape)):
        ok = free[idx]
        for off in itertools.product(range(-r, r + 1), repeat=3):
            n = tuple(i + o for i, o in zip(idx, off))
            if np.linalg.norm(off) * res <= radius and all(0 <= n[a] < shape[a] for a in range(3)) and not free[n]:
                ok = False
        out[idx] = ok
    return out


@pytest.mark.parametrize("seed", range(3))
def test_dijkstra_matches_python_reference(seed):
    rng = np.random.default_rng(seed)
    trav = rng.random((9, 8, 6)) < 0.6
    start = (4, 3, 2)
    res = 0.25
    got = path_costs(trav, start, res)
    ref = dijkstra_reference(trav, start, res)
    np.testing.assert_array_equal(np.isfinite(got.dist_m), np.isfinite(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got.dist_m[fin], ref[fin], rtol=1e-12, atol=1e-12)
    assert got.settled == np.count_nonzero(fin)
    # a reconstructed path steps between traversable 26-neighbours and has the reported length
    far = tuple(np.argwhere(fin)[np.argmax(ref[fin])])
    path = got.path(far)
    assert tuple(path[0]) == start and tuple(path[-1]) == far
    steps = np.diff(path, axis=0)
    assert np.abs(steps).max() <= 1 and np.all(np.abs(steps).sum(axis=1) >= 1)
    assert trav[tuple(path[1:].T)].all()
    assert math.isclose(res * np.sqrt(np.abs(steps).sum(axis=1)).sum(), got.dist_m[far], rel_tol=1e-12)


def test_unreachable_goal_and_bad_start():
    trav = np.zeros((4, 4, 4), bool)
    costs = path_costs(trav, (1, 1, 1), 0.1)
    assert costs.dist_m[1, 1, 1] == 0 and np.isinf(costs.dist_m).sum() == 63
    with pytest.raises(MappingError):
        costs.path((2, 2, 2))
    with pytest.raises(MappingError):
        path_costs(trav, (4, 0, 0), 0.1)


def test_empty_grid_cost_is_the_26_connected_distance_and_bounds_euclid():
    shape, start, res = (11, 9, 7), (2, 7, 3), 0.2
    costs = path_costs(np.ones(shape, bool), start, res)
    idx = np.argwhere(np.ones(shape, bool))
    d = np.sort(np.abs(idx - start), axis=1)[:, ::-1]  # a >= b >= c
    a, b, c = d.T
    expected = res * ((a - b) + math.sqrt(2) * (b - c) + math.sqrt(3) * c)
    np.testing.assert_allclose(costs.dist_m[tuple(idx.T)], expected, rtol=1e-12)
    euclid = res * np.linalg.norm(idx - start, axis=1)
    got = costs.dist_m[tuple(idx.T)]
    assert np.all(got >= euclid - 1e-12)
    assert np.all(got <= EUCLIDEAN_BOUND * euclid + 1e-12)
    # the bound is tight: the worst direction comes within 2 % of it on this grid
    ratio = got[euclid > 0] / euclid[euclid > 0]
    assert ratio.max() > EUCLIDEAN_BOUND - 0.02


@pytest.mark.parametrize("radius", [0.0, 0.25, 0.3, 0.5])
def test_traversable_mask_matches_brute_force(radius):
    rng = np.random.default_rng(7)
    classes = rng.choice(np.array([UNKNOWN, FREE, OCCUPIED], np.int8), size=(8, 7, 6), p=[0.05, 0.9, 0.05])
    res = 0.2
    np.testing.assert_array_equal(traversable_mask(classes, res, radius), traversable_reference(classes, res, radius))
    np.testing.assert_array_equal(traversable_mask(classes, res, radius, (3, 3, 3)),
                                  traversable_reference(classes, res, radius, (3, 3, 3)))


def test_ball_offsets():
    off = ball_offsets(0.3, 0.2)  # |o| <= 1.5 cells: centre, 6 faces, 12 edges
    assert len(off) == 19
    assert len(ball_offsets(0.19, 0.2)) == 1
