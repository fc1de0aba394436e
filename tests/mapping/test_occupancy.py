"""Occupancy grids: scan updates against OctoMap's rule in Python, clamping, dense vs chunked,
2-D grid, geometry, files and configuration errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

import raycast_reference as ref
from datasets.configuration import ConfigError
from mapping.errors import MappingError
from mapping.occupancy import (FREE, OCCUPIED, UNKNOWN, ChunkedOccupancyGrid3D, OccupancyConfig, OccupancyGrid2D,
                               OccupancyGrid3D)


def _random_scan(rng, origin_m, size_m, n, n_dim=3):
    """A sensor inside the box and points around it: some beyond max range, some outside the box."""
    sensor = origin_m + rng.uniform(0.2, 0.8, n_dim) * size_m
    points = sensor + rng.normal(size=(n, n_dim)) * rng.uniform(0.05, 2.0, (n, 1))
    return sensor, points


def _reference(grid, sensor, points, before):
    c = grid.config
    return ref.scan_update_reference(before, grid.origin_m, grid.resolution_m, sensor, points, c.max_range_m,
                                     c.l_hit, c.l_miss, c.l_min, c.l_max)


def test_3d_scans_follow_octomaps_rule():
    """Several scans (with points beyond max range and outside the grid) against the Python reference."""
    rng = np.random.default_rng(0)
    config = OccupancyConfig(resolution_m=0.1, max_range_m=1.5)
    grid = OccupancyGrid3D([-0.55, 0.3, 0.0], 0.1, (22, 18, 12), config)
    size = np.array(grid.shape) * 0.1
    want = grid.log_odds.copy()
    for _ in range(4):
        sensor, points = _random_scan(rng, grid.origin_m, size, 60)
        want = _reference(grid, sensor, points, want)
        scan = grid.integrate_scan(sensor, points)
        np.testing.assert_array_equal(grid.log_odds, want)
        assert scan.rays == 60 and 0 < scan.hit_rays < 60
    cls = grid.classify()
    assert {UNKNOWN, FREE, OCCUPIED} <= set(np.unique(cls).tolist())


def test_one_scan_is_order_independent_and_updates_each_cell_once():
    config = OccupancyConfig(resolution_m=1.0, max_range_m=10.0)
    a = OccupancyGrid3D([0, 0, 0], 1.0, (8, 4, 4), config)
    b = OccupancyGrid3D([0, 0, 0], 1.0, (8, 4, 4), config)
    sensor = np.array([0.5, 1.5, 1.5])
    # ray 0 ends in cell (3, 1, 1), which ray 1 crosses; both cross (1, 1, 1) and (2, 1, 1)
    points = np.array([[3.5, 1.5, 1.5], [6.5, 1.5, 1.5], [6.5, 1.6, 1.5]])
    a.integrate_scan(sensor, points)
    b.integrate_scan(sensor, points[::-1])
    np.testing.assert_array_equal(a.log_odds, b.log_odds)
    l_hit, l_miss = config.l_hit, config.l_miss
    line = a.log_odds[:, 1, 1]
    np.testing.assert_array_equal(line[:3], [l_miss] * 3)  # one miss, although three rays crossed
    assert line[3] == l_hit  # hit by ray 0 wins over the misses of rays 1 and 2
    np.testing.assert_array_equal(line[4:7], [l_miss, l_miss, l_hit])
    assert line[7] == 0  # beyond every end point: unknown
    assert a.classify()[7, 1, 1] == UNKNOWN and a.classify()[3, 1, 1] == OCCUPIED


def test_max_range_clears_without_a_hit():
    config = OccupancyConfig(resolution_m=1.0, max_range_m=3.0)
    grid = OccupancyGrid3D([0, 0, 0], 1.0, (10, 3, 3), config)
    grid.integrate_scan([0.5, 1.5, 1.5], [[8.5, 1.5, 1.5]])
    line = grid.log_odds[:, 1, 1]
    # the ray stops at x = 3.5: cells 0..3 free, nothing occupied, the rest unknown
    np.testing.assert_array_equal(line[:4], [config.l_miss] * 4)
    assert np.all(line[4:] == 0) and grid.counts() == {"unknown": 86, "free": 4, "occupied": 0}


def test_log_odds_clamp_at_the_configured_probabilities():
    config = OccupancyConfig(resolution_m=1.0, max_range_m=10.0)
    grid = OccupancyGrid3D([0, 0, 0], 1.0, (5, 1, 1), config)
    for _ in range(20):
        grid.integrate_scan([0.5, 0.5, 0.5], [[3.5, 0.5, 0.5]])
    lo = grid.log_odds[:, 0, 0]
    assert lo[3] == np.float32(math.log(0.97 / 0.03)) and lo[0] == np.float32(math.log(0.12 / 0.88))
    p = grid.probability()[:, 0, 0]
    np.testing.assert_allclose(p[[0, 3, 4]], [0.12, 0.97, 0.5], rtol=1e-6)
    # from the clamp, the first misses lower a cell at once (no hidden accumulation beyond it)
    grid.integrate_scan([0.5, 0.5, 0.5], [[4.5, 0.5, 0.5]])
    assert grid.log_odds[3, 0, 0] == np.float32(np.float32(math.log(0.97 / 0.03)) + config.l_miss)


def test_dense_and_chunked_grids_are_identical():
    rng = np.random.default_rng(7)
    config = OccupancyConfig(resolution_m=0.1, max_range_m=2.0, chunk_cells=8)
    shape = (61, 29, 13)  # not multiples of the chunk edge
    dense = OccupancyGrid3D([-1.0, 2.0, 0.3], 0.1, shape, config)
    chunked = ChunkedOccupancyGrid3D([-1.0, 2.0, 0.3], 0.1, shape, config)
    size = np.array([2.0, 2.9, 1.3])  # sensors in the first third: far chunks stay unallocated
    for _ in range(6):
        sensor, points = _random_scan(rng, dense.origin_m, size, 300)
        sd = dense.integrate_scan(sensor, points)
        sc = chunked.integrate_scan(sensor, points)
        np.testing.assert_array_equal(sd.cells, sc.cells)
    np.testing.assert_array_equal(chunked.log_odds, dense.log_odds)
    np.testing.assert_array_equal(chunked.classify(), dense.classify())
    np.testing.assert_array_equal(chunked.probability(), dense.probability())
    np.testing.assert_array_equal(chunked.occupied_centers(), dense.occupied_centers())
    assert chunked.counts() == dense.counts()
    for z in (0.31, 0.9, 1.59):
        np.testing.assert_array_equal(chunked.slice_2d(z), dense.slice_2d(z))
    cells = np.argwhere(np.ones(shape, bool))[::7]
    np.testing.assert_array_equal(chunked.values_at(cells), dense.values_at(cells))
    total_chunks = np.prod(np.ceil(np.array(shape) / 8))
    assert 0 < chunked.n_chunks < total_chunks and chunked.memory_bytes < dense.memory_bytes


def test_save_and_load_round_trip_across_storages(tmp_path):
    rng = np.random.default_rng(8)
    config = OccupancyConfig(resolution_m=0.1, max_range_m=1.0, chunk_cells=4, p_hit=0.8)
    dense = OccupancyGrid3D([0.0, 0.0, 0.0], 0.1, (30, 30, 10), config)
    chunked = ChunkedOccupancyGrid3D([0.0, 0.0, 0.0], 0.1, (30, 30, 10), config)
    sensor, points = np.array([0.7, 0.8, 0.5]), rng.uniform(0.2, 1.3, (100, 3)) * [1, 1, 0.6]
    dense.integrate_scan(sensor, points)
    chunked.integrate_scan(sensor, points)
    with np.load(dense.save(tmp_path / "dense.npz")) as data:
        assert {"log_odds", "origin_m", "resolution_m", "config"} <= set(data.files)
        assert data["log_odds"].shape == (30, 30, 10)
    with np.load(chunked.save(tmp_path / "chunked.npz")) as data:
        block = data["log_odds"]
        corner = data["origin_m"]
        assert block.size < 30 * 30 * 10  # only the box of the allocated chunks
    # the block alone is a consistent grid: its cell centres carry the same values
    lo = dense.world_to_index(corner[None] + 0.05)[0]
    np.testing.assert_array_equal(block, dense.log_odds[lo[0]:lo[0] + block.shape[0], lo[1]:lo[1] + block.shape[1],
                                                         lo[2]:lo[2] + block.shape[2]])
    for cls in (OccupancyGrid3D, ChunkedOccupancyGrid3D):
        for name in ("dense.npz", "chunked.npz"):
            back = cls.load(tmp_path / name)
            assert back.config == config and back.shape == dense.shape
            np.testing.assert_array_equal(back.origin_m, dense.origin_m)
            np.testing.assert_array_equal(back.log_odds, dense.log_odds)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(MappingError, match="junk.npz"):
        OccupancyGrid3D.load(tmp_path / "junk.npz")


def test_2d_grid_follows_the_same_rule():
    rng = np.random.default_rng(9)
    config = OccupancyConfig(resolution_m=0.05, max_range_m=1.0)
    grid = OccupancyGrid2D([-0.5, -0.25], 0.05, (40, 30), config)
    want = grid.log_odds.copy()
    for _ in range(5):
        sensor, points = _random_scan(rng, grid.origin_m, np.array([2.0, 1.5]), 80, n_dim=2)
        want = _reference(grid, sensor, points, want)
        grid.integrate_scan(sensor, points)
    np.testing.assert_array_equal(grid.log_odds, want)
    assert grid.probability().shape == (40, 30) and grid.counts()["occupied"] > 0


def test_2d_grid_files_are_fsmi_maps(tmp_path):
    from mapping.mi_map import load_grid2d

    grid = OccupancyGrid2D([-0.5, -0.25], 0.05, (40, 30), OccupancyConfig(resolution_m=0.05, max_range_m=1.0))
    grid.integrate_scan([0.3, 0.4], [[1.0, 0.9], [0.2, 0.9], [-0.3, 0.0]])
    path = grid.save(tmp_path / "map2d.npz")
    probability, origin, res = load_grid2d(path)
    assert probability.shape == (30, 40) and res == 0.05  # [iy, ix]
    np.testing.assert_allclose(probability, grid.probability().T, rtol=1e-6)
    np.testing.assert_array_equal(origin, [-0.5, -0.25])
    back = OccupancyGrid2D.load(path, grid.config)
    np.testing.assert_allclose(back.log_odds, grid.log_odds, atol=1e-5)
    np.testing.assert_array_equal(back.classify(), grid.classify())  # unknown cells stay exactly 0


def test_geometry_helpers():
    grid = OccupancyGrid3D([1.0, -2.0, 0.5], 0.25, (8, 8, 4))
    points = np.array([[1.0, -2.0, 0.5], [1.24, -1.76, 0.74], [2.99, -0.01, 1.49], [0.99, -2.0, 0.5]])
    idx = grid.world_to_index(points)
    np.testing.assert_array_equal(idx, [[0, 0, 0], [0, 0, 0], [7, 7, 3], [-1, 0, 0]])
    np.testing.assert_array_equal(grid.in_bounds(idx), [True, True, True, False])
    np.testing.assert_allclose(grid.index_to_world([[0, 0, 0], [7, 7, 3]]), [[1.125, -1.875, 0.625],
                                                                            [2.875, -0.125, 1.375]])
    np.testing.assert_allclose(grid.bounds_max_m, [3.0, 0.0, 1.5])
    assert grid.z_index(0.5) == 0 and grid.z_index(1.49) == 3
    with pytest.raises(MappingError, match="outside the map's z range"):
        grid.slice_2d(1.5)
    with pytest.raises(MappingError, match=r"\(N, 3\)"):
        grid.world_to_index([1.0, 2.0, 3.0])
    with pytest.raises(MappingError, match="finite"):
        grid.integrate_scan([1.5, -1.5, 1.0], [[np.inf, 0, 1]])


def test_bad_configuration_is_a_clear_error():
    with pytest.raises(MappingError, match="'resolution_m' must be a positive number"):
        OccupancyConfig(resolution_m=-0.1)
    with pytest.raises(ConfigError, match="resolution_m"):
        OccupancyConfig.from_dict({"resolution_m": -0.1})
    with pytest.raises(MappingError, match="p_hit"):
        OccupancyConfig(p_hit=0.4)
    with pytest.raises(MappingError, match="p_min < 0.5 < p_max"):
        OccupancyConfig(p_max=0.5)
    with pytest.raises(MappingError, match="both"):
        OccupancyConfig(bounds_min_m=(0, 0, 0))
    with pytest.raises(MappingError, match="exceed"):
        OccupancyConfig(bounds_min_m=(0, 0, 0), bounds_max_m=(1, 0, 1))
    with pytest.raises(MappingError, match="storage"):
        OccupancyConfig(storage="octree")
    with pytest.raises(MappingError, match="resolution_m must be a positive"):
        OccupancyGrid3D([0, 0, 0], 0.0, (2, 2, 2))
    with pytest.raises(MappingError, match="differs from config"):
        OccupancyGrid3D([0, 0, 0], 0.2, (2, 2, 2), OccupancyConfig())
    grid = OccupancyGrid3D.from_config(OccupancyConfig(bounds_min_m=(-0.05, 0, 0), bounds_max_m=(1.0, 0.5, 0.31)))
    np.testing.assert_allclose(grid.origin_m, [-0.1, 0, 0])
    assert grid.shape == (11, 5, 4)
