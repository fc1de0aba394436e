"""DDA traversal against the fine-stepping reference, its tie rules, and the njit entry points."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from numba import njit

import raycast_reference as ref
from mapping.errors import MappingError
from mapping.occupancy import ray_cells, traverse_ray, traverse_ray_2d
from mapping.occupancy.raycast import max_ray_cells


def _dda(origin, direction, max_t, origin_m, res, shape):
    return [tuple(int(v) for v in c) for c in ray_cells(origin, direction, max_t, origin_m, res, shape)]


def _check(origin, direction, max_t, origin_m, res, shape):
    got = _dda(origin, direction, max_t, origin_m, res, shape)
    want = ref.ray_cells(origin, direction, max_t, origin_m, res, shape)
    assert got == want, (origin, direction, max_t)
    return got


def test_random_rays_match_the_reference():
    """Random rays at 0.1 m, starting inside, outside or far away, all lengths."""
    rng = np.random.default_rng(1)
    origin_m = np.array([-1.03, 0.27, -0.55])
    shape = (24, 17, 11)
    visited = 0
    for _ in range(300):
        origin = origin_m + rng.uniform(-0.6, 3.0, 3)
        direction = rng.normal(size=3)
        visited += len(_check(origin, direction, rng.uniform(0, 4), origin_m, 0.1, shape))
    assert visited > 500  # the rays really cross the grid


def test_axis_aligned_rays_and_rays_in_boundary_planes():
    """Axis-aligned rays (both signs) from cell centres, faces, edges and corners: dyadic, exact."""
    rng = np.random.default_rng(2)
    origin_m = np.array([0.5, -1.0, 0.25])
    shape = (9, 8, 7)
    for _ in range(150):
        u = rng.integers(-1, 10, 3) + rng.choice([0.0, 0.25, 0.5], 3)  # on boundaries a third of the time
        direction = np.zeros(3)
        direction[rng.integers(3)] = rng.choice([-1.0, 1.0]) * rng.choice([0.25, 1.0, 3.0])
        _check(origin_m + 0.5 * u, direction, rng.choice([0.5, 1.0, 2.75, 4.0]), origin_m, 0.5, shape)
    # a ray lying in the plane between iz = 2 and iz = 3 runs in iz = 3 (the positive side)
    cells = _check(origin_m + 0.5 * np.array([0.25, 1.5, 3.0]), [1.0, 0, 0], 2.0, origin_m, 0.5, shape)
    assert cells == [(0, 1, 3), (1, 1, 3), (2, 1, 3), (3, 1, 3), (4, 1, 3)]


def test_exact_corner_crossings_go_straight_to_the_diagonal_cell():
    """Diagonals through cell corners step every tied axis at once: no side cells."""
    shape = (6, 6, 6)
    zero = np.zeros(3)
    # through the corners of the main diagonal from the centre of cell (0, 0, 0)
    cells = _check([0.5, 0.5, 0.5], [1, 1, 1], 3.0, zero, 1.0, shape)
    assert cells == [(0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 3, 3)]
    # a 2-axis diagonal crossing edges, going down in y
    cells = _check([0.5, 4.5, 2.25], [1, -1, 0], 2.0, zero, 1.0, shape)
    assert cells == [(0, 4, 2), (1, 3, 2), (2, 2, 2)]
    # every sign combination of exact diagonals, from centres, corners and faces, at 0.25 m
    for signs in itertools.product([-1, 1], repeat=3):
        for start in ([2.5, 2.5, 2.5], [3.0, 3.0, 3.0], [3.0, 2.5, 3.0], [2.0, 3.0, 2.5]):
            for mask in ([1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]):
                direction = 0.25 * np.array(signs) * mask
                _check(0.25 * np.array(start), direction, 9.0, zero, 0.25, shape)


def test_rays_starting_on_boundaries_in_every_direction():
    """Starts on faces, edges and corners (dyadic), random directions and lengths."""
    rng = np.random.default_rng(3)
    shape = (8, 8, 8)
    origin_m = np.array([-2.0, -2.0, -2.0])
    for _ in range(200):
        u = rng.integers(0, 9, 3).astype(float)
        u[rng.random(3) < 0.4] += 0.5  # some axes off the boundary
        direction = rng.normal(size=3)
        direction[rng.random(3) < 0.2] = 0.0
        _check(origin_m + 0.5 * u, direction, rng.uniform(0, 3), origin_m, 0.5, shape)


def test_rays_from_outside_and_degenerate_lengths():
    zero = np.zeros(3)
    shape = (4, 4, 4)
    # enters through a face, leaves through another
    assert _check([-1.5, 1.5, 1.5], [1, 0, 0], 7.0, zero, 1.0, shape) == [(i, 1, 1) for i in range(4)]
    # moving away, or missing the grid altogether: nothing
    assert _check([-1.5, 1.5, 1.5], [-1, 0, 0], 5.0, zero, 1.0, shape) == []
    assert _check([-1.5, 5.5, 1.5], [1, 0, 0], 9.0, zero, 1.0, shape) == []
    # max_t = 0 or a zero direction visits the start cell only; a crossing exactly at max_t is not taken
    assert _check([1.5, 1.5, 1.5], [1, 0, 0], 0.0, zero, 1.0, shape) == [(1, 1, 1)]
    assert _check([1.5, 1.5, 1.5], [0, 0, 0], 2.0, zero, 1.0, shape) == [(1, 1, 1)]
    assert _check([1.5, 1.5, 1.5], [1, 0, 0], 0.5, zero, 1.0, shape) == [(1, 1, 1)]
    # starting exactly on the boundary at x = 2 moving down starts in cell 1
    assert _check([2.0, 1.5, 1.5], [-1, 0, 0], 1.5, zero, 1.0, shape) == [(1, 1, 1), (0, 1, 1)]


def test_2d_traversal_matches_the_reference():
    rng = np.random.default_rng(4)
    origin_m = np.array([0.3, -0.7])
    shape = (30, 20)
    for _ in range(200):
        origin = origin_m + rng.uniform(-0.5, 3.5, 2)
        _check(origin, rng.normal(size=2), rng.uniform(0, 4), origin_m, 0.1, shape)
    for signs in itertools.product([-1, 1], repeat=2):
        _check([1.0, 1.0], 0.5 * np.array(signs, float), 6.0, np.zeros(2), 0.5, (4, 4))
    assert _check([0.25, 0.25], [0.5, 0.5], 3.0, np.zeros(2), 0.5, (4, 4)) == [(0, 0), (1, 1), (2, 2), (3, 3)]


@njit(cache=True)
def _beam_lengths(origins, directions, max_t, origin_m, res, shape, out):
    """How another package's njit code uses traverse_ray: count the cells of many beams."""
    counts = np.empty(origins.shape[0], np.int64)
    for k in range(origins.shape[0]):
        counts[k] = traverse_ray(origins[k], directions[k], max_t, origin_m, res, shape, out)
    return counts


@njit(cache=True)
def _beam_lengths_2d(origins, directions, max_t, origin_m, res, shape, out):
    counts = np.empty(origins.shape[0], np.int64)
    for k in range(origins.shape[0]):
        counts[k] = traverse_ray_2d(origins[k], directions[k], max_t, origin_m, res, shape, out)
    return counts


def test_njit_entry_points_and_the_capacity_bound():
    rng = np.random.default_rng(5)
    for n_dim, kernel in ((3, _beam_lengths), (2, _beam_lengths_2d)):
        origin_m = np.zeros(n_dim)
        shape = np.full(n_dim, 40, np.int64)
        origins = rng.uniform(0.5, 3.5, (50, n_dim))
        directions = rng.normal(size=(50, n_dim))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        bound = max_ray_cells(np.ones(n_dim), 3.0, 0.1)
        counts = kernel(origins, directions, 3.0, origin_m, 0.1, shape, np.empty((bound, n_dim), np.int64))
        want = [len(ref.ray_cells(o, d, 3.0, origin_m, 0.1, shape)) for o, d in zip(origins, directions)]
        assert counts.tolist() == want
        assert max(want) < bound
        # a too small buffer truncates instead of overrunning
        small = kernel(origins[:1], directions[:1], 3.0, origin_m, 0.1, shape, np.empty((3, n_dim), np.int64))
        assert small[0] == 3


def test_bad_ray_inputs():
    with pytest.raises(MappingError, match="resolution_m"):
        ray_cells([0, 0, 0], [1, 0, 0], 1.0, [0, 0, 0], -0.1, (4, 4, 4))
    with pytest.raises(MappingError, match="origin"):
        ray_cells([0, np.nan, 0], [1, 0, 0], 1.0, [0, 0, 0], 0.1, (4, 4, 4))
    with pytest.raises(MappingError, match="shape"):
        ray_cells([0, 0, 0], [1, 0, 0], 1.0, [0, 0, 0], 0.1, (4, 0, 4))
