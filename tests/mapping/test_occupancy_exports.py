"""Exports (ply, slice png, workloads) and the scan workload counts."""
from __future__ import annotations

import json

import cv2
import numpy as np
import open3d as o3d

from accel_model.workload import NULL_WORKLOAD, Workload
from mapping.occupancy import ChunkedOccupancyGrid3D, OccupancyConfig, OccupancyGrid3D
from mapping.occupancy.exports import SLICE_SIZE_PX, write_ply, write_slice_png, write_workloads
from mapping.occupancy.integrate import match_poses


def _room_grid(cls=OccupancyGrid3D):
    """A 4 m x 3 m x 2 m grid after one scan of a wall at x = 3.05 m."""
    config = OccupancyConfig(resolution_m=0.1, max_range_m=5.0, chunk_cells=8)
    grid = cls([0.0, 0.0, 0.0], 0.1, (40, 30, 20), config)
    y, z = np.meshgrid(np.arange(0.55, 2.5, 0.1), np.arange(0.25, 1.8, 0.1), indexing="ij")
    wall = np.column_stack([np.full(y.size, 3.05), y.ravel(), z.ravel()])
    grid.integrate_scan([0.55, 1.5, 1.0], wall)
    return grid, wall


def test_ply_holds_the_occupied_voxel_centres(tmp_path):
    grid, wall = _room_grid()
    write_ply(grid, tmp_path / "map.ply")
    cloud = o3d.io.read_point_cloud(str(tmp_path / "map.ply"))
    points = np.asarray(cloud.points)
    np.testing.assert_allclose(np.sort(points, axis=0), np.sort(grid.occupied_centers(), axis=0), atol=1e-6)
    # every wall point's own voxel is occupied: the centres are the wall points (they sit at centres)
    np.testing.assert_allclose(np.sort(points, axis=0), np.sort(wall, axis=0), atol=1e-6)
    assert cloud.has_colors()


def test_slice_png_shows_three_classes(tmp_path):
    grid, _ = _room_grid()
    write_slice_png(grid, tmp_path / "slice.png", 1.05, np.array([[0.55, 1.5], [0.6, 1.6]]))
    image = cv2.imread(str(tmp_path / "slice.png"))
    assert image.shape == (SLICE_SIZE_PX[1], SLICE_SIZE_PX[0], 3)
    colours = {tuple(c) for c in image.reshape(-1, 3)[::7].tolist()}
    # BGR of the legend colours: unknown grey, free white, occupied near-black
    assert {(158, 158, 158), (255, 255, 255), (17, 17, 17)} <= colours


def test_workload_counts_of_one_ray():
    """One ray along +x through cells 0..3 of row (y, z) = (1, 1): 3 DDA steps, 4 cells, 3 misses, 1 hit."""
    config = OccupancyConfig(resolution_m=1.0, max_range_m=10.0)
    for cls in (OccupancyGrid3D, ChunkedOccupancyGrid3D):
        grid = cls([0, 0, 0], 1.0, (8, 4, 4), config)
        workload = Workload("mapping.integrate")
        scan = grid.integrate_scan([0.5, 1.5, 1.5], [[3.5, 1.5, 1.5]], workload, banks=4)
        assert (scan.dda_steps, scan.cells_visited, scan.free_updates, scan.occupied_updates) == (3, 4, 3, 1)
        # banks (ix + iy + iz) mod 4 of cells x = 0..3 at y = z = 1: 2, 3, 0, 1 -> one cell each
        for bank in range(4):
            traffic = workload.buffers[f"map_tiles.bank{bank}"]
            assert (traffic.reads_words, traffic.writes_words, traffic.word_bits) == (1, 1, 32)
            assert traffic.peak_bytes == -(-grid.memory_bytes // 4)
        assert workload.buffers["scan_marks"].reads_words == 4
        # per step 2D compares in float64, plus (D + 1) per ray; per cell 2D bounds compares, per update 2
        assert workload.ops[("compare", 64)] == 3 * 6 + 4
        assert workload.ops[("compare", 32)] == 4 * 6 + 4 * 2
        assert workload.ops[("sqrt", 64)] == 1
        assert ("chunk_table" in workload.buffers) == (cls is ChunkedOccupancyGrid3D)
        # counting off: the same update, nothing recorded
        other = cls([0, 0, 0], 1.0, (8, 4, 4), config)
        other.integrate_scan([0.5, 1.5, 1.5], [[3.5, 1.5, 1.5]], NULL_WORKLOAD)
        np.testing.assert_array_equal(other.log_odds, grid.log_odds)


def test_workloads_jsonl_round_trips(tmp_path):
    grid, wall = _room_grid()
    records = []
    for _ in range(2):
        records.append(Workload("mapping.integrate"))
        grid.integrate_scan([0.55, 1.5, 1.0], wall, records[-1])
    write_workloads(tmp_path / "map_workloads.jsonl", np.array([5, 7]), records)
    lines = [json.loads(line) for line in (tmp_path / "map_workloads.jsonl").read_text().splitlines()]
    assert [line["timestamp_ns"] for line in lines] == [5, 7]
    assert Workload.from_dict(lines[1]["stages"][0]) == records[1]


def test_match_poses_nearest_within_tolerance():
    poses = np.array([100, 200, 300, 1000], dtype=np.int64)
    frames = np.array([90, 149, 151, 260, 600, 1003, 2000], dtype=np.int64)
    np.testing.assert_array_equal(match_poses(frames, poses, 50), [0, 0, 1, 2, -1, 3, -1])
    np.testing.assert_array_equal(match_poses(frames, poses[:0], 50), [-1] * 7)
