"""The closed loop: simulator -> vio -> mapper -> explorer -> controller -> simulator."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from navion.runtime.errors import LaunchError
from navion.runtime.launch import load_launch
from navion.runtime.nodes.controller import drift_transform, heading_in, plan_in_sim
from navion.runtime.nodes.explorer import shortcut_path
from navion.runtime.nodes.simulator import GroundTruthLog
from navion.runtime.run import run_launch

REPO = Path(__file__).resolve().parents[3]

TINY = """\
nodes:
  - name: simulator
    type: simulator
    params:
      hall: {size_m: [6.0, 5.0, 2.5], n_boxes: 2, n_pillars: 0}
      world_seed: 2
      start_height_m: 1.2
      camera_rate_hz: 10.0
  - name: vio
    type: vio
  - name: mapper
    type: mapper
    params:
      map:
        every_n_frames: 2
        occupancy: {resolution_m: 0.3, max_range_m: 3.5, storage: dense,
                    bounds_min_m: [-4.2, -4.2, -1.5], bounds_max_m: [4.2, 4.2, 1.6]}
  - name: explorer
    type: explorer
    params:
      coverage_target: 0.99
      time_budget_s: 7.0
      planner: {beams_h: 8, beams_v: 6, range_m: 3.5, robot_radius_m: 0.3, lambda_per_m: 1.0,
                min_cluster_cells: 4, standoffs_m: [1.5, 1.0]}
  - name: controller
    type: controller
    params:
      initial_hover_s: 1.5
      dwell_s: 0.2
      limits: {max_speed_mps: 1.0, max_accel_mps2: 1.0, max_yaw_rate_rps: 2.0, min_duration_s: 0.8}
  - name: recorder
    type: recorder
"""


def _rz(angle: float) -> np.ndarray:
    return Rotation.from_euler("z", angle).as_matrix()


def _pose(R: np.ndarray, p) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, p
    return T


def test_drift_transform_carries_goals_to_where_the_drone_truly_ends():
    # the truth: body at (2, 1, 1.5) turned 90 deg; the VIO believes (0.1, 0, 0) unturned
    T_true, T_est = _pose(_rz(math.pi / 2), [2.0, 1.0, 1.5]), _pose(np.eye(3), [0.1, 0.0, 0.0])
    T_sim_vio = drift_transform(T_true, T_est)
    np.testing.assert_allclose(T_sim_vio, _pose(_rz(math.pi / 2), [2.0, 0.9, 1.5]), atol=1e-12)  # by hand
    np.testing.assert_allclose(T_sim_vio @ T_est, T_true, atol=1e-12)
    # path from the believed position (first point) via (0.1, 1, 0) to the goal (1, 1, 0), goal heading +x
    path_vio = np.array([[0.1, 0.0, 0.0], [0.1, 1.0, 0.0], [1.0, 1.0, 0.0]])
    p_sim, yaws = plan_in_sim(T_sim_vio, path_vio, 0.0, start_yaw_sim_rad=0.3)
    np.testing.assert_allclose(p_sim, [[1.0, 1.0, 1.5], [1.0, 1.9, 1.5]], atol=1e-12)
    np.testing.assert_allclose(yaws, [math.pi, math.pi / 2], atol=1e-12)  # along -x, then the goal's +x -> +y
    # flown there, the drone's estimate (same drift) is exactly the planned goal
    T_arrived_true = _pose(_rz(yaws[-1]), p_sim[-1])
    np.testing.assert_allclose(np.linalg.inv(T_sim_vio) @ T_arrived_true[:, 3], [1.0, 1.0, 0.0, 1.0], atol=1e-12)
    # turning on the spot: one waypoint, the goal itself; a vertical segment keeps the start heading
    p_sim, yaws = plan_in_sim(T_sim_vio, path_vio[:1], math.pi / 2, 0.3)
    np.testing.assert_allclose(p_sim, [[2.0, 1.0, 1.5]], atol=1e-12)
    np.testing.assert_allclose(yaws, [math.pi], atol=1e-12)
    p_sim, yaws = plan_in_sim(T_sim_vio, [[0.1, 0.0, 0.0], [0.1, 0.0, 1.0], [0.1, 0.0, 1.5]], 0.0, 0.3)
    np.testing.assert_allclose(yaws, [0.3, math.pi / 2], atol=1e-12)


def test_heading_of_a_tilted_rotation_is_its_yaw():
    for yaw, pitch, roll in ((0.4, 0.1, -0.05), (-2.9, -0.2, 0.15), (3.0, 0.0, 0.3)):
        R = Rotation.from_euler("ZYX", [yaw, pitch, roll]).as_matrix()
        assert heading_in(R, 0.0) == pytest.approx(yaw, abs=1e-12)
        assert math.cos(heading_in(R, 0.5) - yaw - 0.5) == pytest.approx(1.0, abs=1e-3)  # small tilt: nearly additive


def test_ground_truth_log_matches_the_states_appended():
    log = GroundTruthLog()
    rng = np.random.default_rng(3)
    R = Rotation.random(2000, random_state=4).as_matrix()
    p = rng.normal(size=(2000, 3))
    for k in range(2000):
        log.append(1000 + 5 * k, _pose(R[k], p[k]), p[k] * 2)
    assert len(log) == 2000
    np.testing.assert_array_equal(log.timestamps_ns, 1000 + 5 * np.arange(2000))
    np.testing.assert_array_equal(log.p_world_body, p)
    np.testing.assert_array_equal(log.v_world, 2 * p)
    q = log.q_world_body_wxyz
    np.testing.assert_allclose(Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix(), R, atol=1e-12)
    np.testing.assert_array_equal(log.pose_at(1000 + 5 * 1234), _pose(R[1234], p[1234]))
    with pytest.raises(KeyError):
        log.pose_at(1001)
    with pytest.raises(ValueError):
        log.append(1000, np.eye(4), np.zeros(3))


def test_shortcut_keeps_the_path_inside_usable_cells():
    # a 12 x 12 x 1 grid of 1 m cells with a wall at x = 5, open above y >= 9
    usable = np.ones((12, 12, 1), dtype=bool)
    usable[5, :9, 0] = False
    cells = [(2, 2)] + [(2, y) for y in range(3, 10)] + [(3, 10), (4, 10), (5, 10), (6, 10), (7, 10)] + \
            [(8, y) for y in range(9, 1, -1)]
    path = np.array([[x + 0.5, y + 0.5, 0.5] for x, y in cells])
    short = shortcut_path(path, usable, np.zeros(3), 1.0)
    np.testing.assert_array_equal(short[0], path[0])
    np.testing.assert_array_equal(short[-1], path[-1])
    assert 2 < len(short) < 6
    assert all(any(np.array_equal(s, p) for p in path) for s in short)  # a subset of the planner's points
    for a, b in zip(short[:-1], short[1:]):  # brute force: fine samples of each segment stay usable
        samples = a + np.linspace(0, 1, 1001)[:, None] * (b - a)
        assert usable[tuple(np.floor(samples).astype(int).T)].all()
    free = shortcut_path(path, np.ones_like(usable), np.zeros(3), 1.0)
    np.testing.assert_array_equal(free, path[[0, -1]])


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("closed_loop")
    launch_file = folder / "tiny.yaml"
    launch_file.write_text(TINY)
    return [run_launch(load_launch(launch_file), folder / f"run{i}") for i in range(2)]


def test_short_closed_loop_is_deterministic_and_covers_more(tiny_runs):
    first, second = tiny_runs
    for result in tiny_runs:
        assert result.status == "stopped", result.error
        assert result.summary["stop_reason"].startswith("explorer: time budget")
    run = first.out_dir
    assert (run / "trajectory.tum").read_bytes() == (second.out_dir / "trajectory.tum").read_bytes()
    nodes = first.summary["nodes"]
    assert nodes["explorer"] == second.summary["nodes"]["explorer"] | {"decision_ms_mean":
                                                                           nodes["explorer"]["decision_ms_mean"]}
    assert 2 <= nodes["explorer"]["goals"] == nodes["controller"]["goals"] <= 4
    assert nodes["simulator"]["commands"] == nodes["controller"]["goals"]
    curve = np.array(nodes["explorer"]["coverage_curve"])
    assert nodes["explorer"]["coverage"] > curve[0, 1] + 0.1
    assert nodes["recorder"]["ate_rmse_m"] < 0.05
    assert nodes["mapper"]["frames_integrated"] > 10
    for name in ("coverage.png", "map_slice.png", "map.npz", "map.ply", "trajectory.tum", "report.html"):
        assert (run / name).stat().st_size > 0
    stages = {s["stage"] for line in (run / "workloads.jsonl").read_text().splitlines()
              for s in json.loads(line)["stages"]}
    assert {"mapping.integrate", "mi"} <= stages
    html = (run / "report.html").read_text()
    assert "id='coverage'" in html and "id='map'" in html


def test_shipped_closed_loop_launch_files_resolve():
    explore = {n.name: n for n in load_launch(REPO / "launch" / "explore_sim.yaml").nodes}
    assert explore["explorer"].params.coverage_target == 0.8 and explore["explorer"].params.time_budget_s > 0
    assert explore["mapper"].params.poses == "vio"
    assert explore["controller"].topics["command"] == explore["simulator"].topics["command"]
    assert explore["simulator"].topics["done"] == explore["controller"].topics["done"]
    assert explore["controller"].topics["reached"] == explore["explorer"].topics["reached"]
    replay = load_launch(REPO / "launch" / "euroc_replay_map.yaml", ["player.path=/some/seq"])
    assert [n.type_name for n in replay.nodes] == ["player", "vio", "energy_monitor", "recorder", "mapper"]


@pytest.mark.parametrize("node, params, needle, line", [
    ("simulator", "renderer: magic", "renderer", 5),
    ("simulator", "camera_rate_hz: 30.0", "camera_rate_hz", 5),
    ("simulator", "start_height_m: 6.0", "start_height_m", 5),  # above the default 5 m ceiling
    ("simulator", "hall: {n_boxes: -1}", "n_boxes", 4),  # HallConfig does not quote its keys: the params line
    ("simulator", "speed: 3", "speed", 5),
    ("mapper", "poses: lidar", "poses", 5),
    ("mapper", "map: {every_n_frames: 0, occupancy: {bounds_min_m: [0, 0, 0], bounds_max_m: [1, 1, 1]}}",
     "every_n_frames", 5),
    ("explorer", "coverage_target: 1.5", "coverage_target", 5),
    ("explorer", "planner: {fov_h_deg: 200.0}", "fov_h_deg", 5),
    ("controller", "limits: {max_speed_mps: -1.0}", "max_speed_mps", 5),
    ("controller", "dwell_s: -0.5", "dwell_s", 5),
])
def test_malformed_parameters_name_file_and_line(tmp_path, node, params, needle, line):
    text = f"nodes:\n  - name: {node}\n    type: {node}\n    params:\n      {params}\n"
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LaunchError) as info:
        load_launch(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and needle in message
