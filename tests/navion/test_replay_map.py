"""navion replay --map on a tiny synthetic sequence, and its one-line errors."""
from __future__ import annotations

import json

import cv2
import numpy as np
import open3d as o3d
import pytest

from accel_model.workload import Workload
from cli_runner import expect_one_line_error, run
from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from mapping.occupancy import OccupancyGrid3D
from datasets.tum import write_tum
from mapping.occupancy.exports import SLICE_SIZE_PX
from mapping.occupancy.integrate import MapBuildConfig
from navion.replay import replay_map


@pytest.fixture(scope="module")
def tiny_sequence(tmp_path_factory):
    out = tmp_path_factory.mktemp("map_seq")
    generate_sequence(out, SynthConfig(realism="ideal", duration_s=2.5, seed=5))
    return out


def test_replay_map_writes_the_map_files(capsys, tiny_sequence, tmp_path):
    # the sequence rests 4 m or more from the walls it faces: a longer range than the default 4 m
    options = tmp_path / "map.yaml"
    options.write_text("every_n_frames: 3\noccupancy:\n  max_range_m: 7.0\n  resolution_m: 0.05\n")
    code, out, err = run(capsys, "replay", tiny_sequence, "--out", tmp_path, "--map", "--map-every", "10",
                         "--map-resolution-m", "0.2", "--map-z-m", "1.5", "--map-config", options)
    assert code == 0, err
    assert "map:" in out and "occupied" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    figures = summary["map"]
    assert figures["poses"] == "vio" and figures["resolution_m"] == 0.2 and figures["slice_z_m"] == 1.5
    # frames 0, 10, 20, ...; frame 0 comes before the VIO's static initialisation
    assert figures["frames_integrated"] + figures["frames_skipped_no_pose"] == len(range(0, summary["frames"], 10))
    assert figures["frames_skipped_no_pose"] >= 1 and figures["frames_integrated"] >= 3
    assert figures["occupied_voxels"] > 100 and figures["free_voxels"] > figures["occupied_voxels"]
    assert figures["wall_time_s"] > 0
    grid = OccupancyGrid3D.load(tmp_path / "map.npz")
    assert grid.resolution_m == 0.2 and grid.counts()["occupied"] == figures["occupied_voxels"]
    cloud = o3d.io.read_point_cloud(str(tmp_path / "map.ply"))
    np.testing.assert_allclose(np.sort(np.asarray(cloud.points), axis=0), np.sort(grid.occupied_centers(), axis=0),
                               atol=1e-6)
    assert cv2.imread(str(tmp_path / "map_slice.png")).shape == (SLICE_SIZE_PX[1], SLICE_SIZE_PX[0], 3)
    lines = [json.loads(line) for line in (tmp_path / "map_workloads.jsonl").read_text().splitlines()]
    assert len(lines) == figures["frames_integrated"]
    stamps = [line["timestamp_ns"] for line in lines]
    assert stamps == sorted(stamps)
    workload = Workload.from_dict(lines[0]["stages"][0])
    assert workload.total_ops("compare") > 0 and "map_tiles.bank0" in workload.buffers
    # the energy report prices the map's work as the mapping stage
    code, out, err = run(capsys, "energy", tmp_path, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["stages"]["mapping"]["energy_per_frame_uj"] > 0


def test_replay_map_without_estimates_uses_the_ground_truth(tiny_sequence, tmp_path):
    """A run whose VIO estimated nothing: the map step falls back to the sequence's ground truth."""
    write_tum(tmp_path / "trajectory.tum", np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 4)))
    (tmp_path / "summary.json").write_text(json.dumps({"frames": 0}))
    config = MapBuildConfig.from_dict({"every_n_frames": 25, "occupancy": {"max_range_m": 7.0}})
    figures = replay_map(open_euroc(tiny_sequence, quiet=True), tmp_path, config)
    assert figures["poses"] == "groundtruth" and figures["frames_integrated"] == 3  # frames 0, 25, 50
    assert json.loads((tmp_path / "summary.json").read_text())["map"]["occupied_voxels"] == figures["occupied_voxels"]


def test_replay_map_bad_options(capsys, tmp_path):
    expect_one_line_error(capsys, ["replay", tmp_path, "--map", "--map-resolution-m", "-0.1"], "resolution_m",
                          "positive")
    expect_one_line_error(capsys, ["replay", tmp_path, "--map", "--map-every", "0"], "every_n_frames")
    expect_one_line_error(capsys, ["replay", tmp_path, "--map-every", "3"], "--map-every needs --map")
    options = tmp_path / "map.yaml"
    options.write_text("every_n_frames: 3\noccupancy:\n  storage: octree\n")
    expect_one_line_error(capsys, ["replay", tmp_path, "--map", "--map-config", options], "map.yaml:3", "storage")
