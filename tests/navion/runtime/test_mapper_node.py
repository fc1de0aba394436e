"""The mapper node equals the library's build_map on the same frames and poses."""
from __future__ import annotations

import json

import numpy as np
import pytest

from accel_model.report import stage_group
from accel_model.workload import Workload
from datasets.euroc import open_euroc
from mapping.occupancy import OccupancyGrid3D
from mapping.occupancy.integrate import MapBuildConfig, build_map
from navion.evaluation import PoseSeries
from navion.runtime.errors import LaunchError
from navion.runtime.launch import load_launch
from navion.runtime.messages import NAVSTATE_TOPIC, NavStateMessage
from navion.runtime.node import Node, Port, register
from navion.runtime.nodes.mapper import MAP_STAGE
from navion.runtime.run import run_launch

MAP = {"every_n_frames": 4, "occupancy": {"resolution_m": 0.2, "max_range_m": 7.0, "storage": "dense",
                                          "bounds_min_m": [-10.0, -7.0, -1.0], "bounds_max_m": [10.0, 7.0, 6.0]}}


@register
class NavStateLog(Node):
    """Keeps the NavStates it receives; its summary lists their stamps and poses (JSON floats
    round-trip exactly)."""

    type_name = "test_navstate_log"
    inputs = {"navstate": Port(NavStateMessage, NAVSTATE_TOPIC, 100)}

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.states = []

    def on_navstate(self, message) -> None:
        self.states.append(message.state)

    def summary(self) -> dict:
        return {"stamps": [s.timestamp_ns for s in self.states], "T": [s.T_world_body.tolist() for s in self.states]}


def _launch(tmp_path, sequence, poses: str, extra: str = ""):
    text = (f"nodes:\n  - {{name: player, type: player, params: {{path: '{sequence}'}}}}\n{extra}"
            f"  - {{name: mapper, type: mapper, params: {{poses: {poses}, map: {json.dumps(MAP)}}}}}\n"
            "  - {name: recorder, type: recorder, params: {evaluate: false}}\n")
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return run_launch(load_launch(path), tmp_path / "run")


def _mapping_records(run_dir) -> list[dict]:
    records = []
    for line in (run_dir / "workloads.jsonl").read_text().splitlines():
        record = json.loads(line)
        records += [(record["timestamp_ns"], s) for s in record["stages"] if s["stage"] == MAP_STAGE]
    return records


def _check_equal(run_dir, build) -> None:
    grid = OccupancyGrid3D.load(run_dir / "map.npz")
    np.testing.assert_array_equal(grid.origin_m, build.grid.origin_m)
    np.testing.assert_array_equal(grid.log_odds, build.grid.log_odds)
    assert build.grid.counts()["occupied"] > 50
    records = _mapping_records(run_dir)
    assert [t for t, _ in records] == build.timestamps_ns.tolist()
    for (_, mine), theirs in zip(records, build.workloads):  # the same work, under the energy report's stage name
        assert Workload.from_dict({**mine, "stage": theirs.stage}) == theirs
    assert stage_group(MAP_STAGE) == "mapping"
    for name in ("map.ply", "map_slice.png"):
        assert (run_dir / name).stat().st_size > 0


def test_mapper_on_ground_truth_equals_build_map(short_sequence, tmp_path):
    result = _launch(tmp_path, short_sequence, "groundtruth")
    assert result.status == "completed", result.error
    with open_euroc(short_sequence) as seq:
        build = build_map(seq, None, MapBuildConfig.from_dict(MAP))
    _check_equal(tmp_path / "run", build)
    figures = result.summary["nodes"]["mapper"]
    assert figures["frames_integrated"] == len(build.timestamps_ns) == 9  # frames 0, 4, ..., 32
    assert figures["occupied_voxels"] == build.grid.counts()["occupied"]


def test_mapper_on_vio_states_equals_build_map(short_sequence, tmp_path):
    extra = "  - {name: vio, type: vio}\n  - {name: log, type: test_navstate_log}\n"
    result = _launch(tmp_path, short_sequence, "vio", extra)
    assert result.status == "completed", result.error
    logged = result.summary["nodes"]["log"]
    T = np.array(logged["T"])
    poses = PoseSeries(np.array(logged["stamps"], np.int64), T[:, :3, 3], T[:, :3, :3])
    with open_euroc(short_sequence) as seq:
        build = build_map(seq, poses, MapBuildConfig.from_dict(MAP))
    _check_equal(tmp_path / "run", build)
    figures = result.summary["nodes"]["mapper"]
    # the VIO initialises after 1 s at rest: the frames before have no state
    assert figures["frames_skipped_no_pose"] == build.frames_selected - len(build.timestamps_ns) > 0


def test_mapper_needs_bounds(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("nodes:\n  - name: mapper\n    type: mapper\n    params:\n      poses: vio\n")
    with pytest.raises(LaunchError, match=r"bad.yaml:4: .*bounds_min_m"):
        load_launch(path)
