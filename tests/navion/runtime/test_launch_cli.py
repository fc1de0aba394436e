"""navion launch end to end on a short synthetic sequence: the same trajectory as navion
replay, deterministic runs, queue counters, node failures, Ctrl-C and the report page."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cli_runner import run
from test_runtime_bus import _reference_queue

from accel_model.hardware import load_preset
from accel_model.report import build_report
from datasets.euroc import open_euroc
from navion.runtime.report_html import write_report

REPO = Path(__file__).resolve().parents[3]
LAUNCH = REPO / "launch" / "euroc_replay.yaml"
FRAMES = 30
sys.path.insert(0, str(REPO / "scripts"))
import check_report  # noqa: E402  (after the path insertion)


@pytest.fixture(scope="module")
def runs(short_sequence, tmp_path_factory):
    """Two launch runs and one replay of the first FRAMES frames."""
    from navion.cli import main

    base = tmp_path_factory.mktemp("launch_runs")

    codes = {}
    for name in ("a", "b"):
        codes[name] = main(["launch", str(LAUNCH), "--set", f"player.path={short_sequence}",
                            "--set", f"player.max_frames={FRAMES}", "--set", "energy_monitor.status_period_s=0.5",
                            "--out", str(base / name)])
    codes["replay"] = main(["replay", str(short_sequence), "--max-frames", str(FRAMES), "--out", str(base / "replay")])
    assert codes == {"a": 0, "b": 0, "replay": 0}
    return base


def _stable(summary: dict) -> dict:
    """A summary without the figures that depend on the wall clock."""
    drop = {"fps", "wall_time_s", "process_cpu_time_s", "realtime_factor", "clock"}
    out = {k: v for k, v in summary.items() if k not in drop}
    out["nodes"] = {name: {k: v for k, v in s.items() if k not in ("frontend_ms_mean", "backend_ms_mean")}
                    for name, s in summary["nodes"].items()}
    return out


def test_trajectory_and_workloads_equal_navion_replay(runs):
    traj = (runs / "a" / "trajectory.tum").read_bytes()
    assert traj == (runs / "replay" / "trajectory.tum").read_bytes()
    assert len([ln for ln in traj.decode().splitlines() if not ln.startswith("#")]) >= 10
    assert (runs / "a" / "workloads.jsonl").read_bytes() == (runs / "replay" / "workloads.jsonl").read_bytes()


def test_two_runs_are_identical_apart_from_timings(runs):
    a, b = runs / "a", runs / "b"
    for name in ("trajectory.tum", "workloads.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert _stable(sa) == _stable(sb)
    assert sa["clock"]["events"] == sb["clock"]["events"] > FRAMES
    ea, eb = (json.loads((d / "energy.json").read_text()) for d in (a, b))
    for key in ("accelerator", "cpu", "stages", "memory", "codec"):
        assert ea[key] == eb[key]
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    assert ra["launch"] == rb["launch"]
    assert ra["seeds"] == rb["seeds"] == {"player.sequence": 7, "vio.pipeline.frontend.ransac_seed": 0}
    assert set(ra["versions"]) == {"numpy", "numba", "opencv", "open3d", "navion-sim"} and ra["versions"]["numpy"]


def test_summary_counters_and_energy_report_schema(runs, capsys):
    summary = json.loads((runs / "a" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["frames"] == FRAMES
    queues = {(q["node"], q["input"]): q for q in summary["queues"]}
    stereo = queues[("vio", "stereo")]
    assert stereo["received"] == stereo["processed"] == FRAMES and stereo["dropped"] == 0
    imu = queues[("vio", "imu")]
    assert imu["received"] == imu["processed"] == summary["topics"]["sensors/imu"]["published"] > 10 * FRAMES
    replay = json.loads((runs / "replay" / "summary.json").read_text())
    recorder, vio = summary["nodes"]["recorder"], summary["nodes"]["vio"]
    assert recorder["ate_rmse_m"] == replay["ate_rmse_m"] and vio["resets"] == replay["resets"]
    assert vio["init_time_s"] == replay["init_time_s"]
    for key in ("realtime_factor", "cpu_percent", "events_per_s"):
        assert summary["clock"][key] > 0
    # energy.json is what `navion energy RUN_DIR` writes for the same run folder.
    code, _, err = run(capsys, "energy", runs / "a", "--out", runs / "cli_energy.json")
    assert code == 0, err
    ours, cli = (json.loads(p.read_text()) for p in (runs / "a" / "energy.json", runs / "cli_energy.json"))
    assert set(ours) == set(cli)
    for key in ("schema_version", "run", "accelerator", "cpu", "stages", "memory", "codec", "published"):
        assert ours[key] == cli[key], key
    monitor = summary["nodes"]["energy_monitor"]
    assert monitor["final"]["power_mw"] == ours["accelerator"]["power_mw"]


def test_energy_statuses_price_the_frames_so_far(runs, short_sequence, tmp_path):
    """Frames come every 50 ms: with a 0.5 s period, statuses at frames 11 and 21."""
    summary = json.loads((runs / "a" / "summary.json").read_text())
    monitor = summary["nodes"]["energy_monitor"]
    assert monitor["statuses"] == summary["topics"]["energy/status"]["published"] == 2
    last = monitor["last_status"]
    assert last["frames"] == 21
    lines = (runs / "a" / "workloads.jsonl").read_text().splitlines(keepends=True)[:21]
    (tmp_path / "workloads.jsonl").write_text("".join(lines))
    (tmp_path / "summary.json").write_text(json.dumps({"sequence": str(short_sequence / "mav0")}))
    report = build_report(tmp_path, load_preset("navion65"))
    assert last["power_mw"] == report["accelerator"]["power_mw"] > 0
    assert last["cpu_energy_per_frame_uj"] == report["cpu"]["energy_per_frame_uj"]
    assert last["stamp_ns"] == json.loads(lines[-1])["timestamp_ns"]


def test_slow_consumer_drops_are_counted_in_summary(capsys, short_sequence, tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(f"nodes:\n  - name: player\n    type: player\n    params: {{path: {short_sequence}, prefetch: 0}}\n"
                    "  - name: sink\n    type: test_sink\n    queues:\n"
                    "      stereo: {size: 2, policy: drop_oldest, cost_ms: 123.4}\n")
    code, _, err = run(capsys, "launch", path, "--out", tmp_path / "run")
    assert code == 0, err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    stamps = [int(t) for t in open_euroc(short_sequence, quiet=True).stereo_timestamps_ns]
    expected, dropped = _reference_queue(stamps, 123_400_000, 2, "drop_oldest")
    sink = next(q for q in summary["queues"] if q["node"] == "sink")
    assert (sink["received"], sink["processed"], sink["dropped"]) == (len(stamps), len(expected), dropped)
    assert dropped > 0 and summary["nodes"]["sink"]["stamps"] == expected


def _with_raiser(tmp_path: Path, at_frame: int, error: str) -> Path:
    path = tmp_path / f"raise_{error}.yaml"
    path.write_text(f"include: [{LAUNCH}]\nnodes:\n  - name: boom\n    type: test_raiser\n"
                    f"    params: {{at_frame: {at_frame}, error: {error}}}\n")
    return path


def _rows(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


@pytest.mark.parametrize("error,at_frame,exit_code,status", [("value", 26, 1, "failed"),
                                                              ("interrupt", 23, 130, "interrupted")])
def test_failure_and_ctrl_c_still_write_outputs(capsys, runs, short_sequence, tmp_path, error, at_frame, exit_code,
                                                status):
    out = tmp_path / "run"
    code, _, err = run(capsys, "launch", _with_raiser(tmp_path, at_frame, error), "--set",
                            f"player.path={short_sequence}", "--out", out)
    assert code == exit_code and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("navion:")]
    assert len(lines) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == status
    if error == "value":
        assert "node 'boom' failed: ValueError: injected failure" in lines[0]
        assert summary["error"] == {"node": "boom", "message": "ValueError: injected failure"}
        assert "ValueError" in (out / "error.log").read_text()
    # The run stops as the raiser gets frame k, after the vio handled it but before the recorder
    # got the vio's outputs for it (published later): the outputs hold frames 1..k-1 exactly,
    # a prefix of the full run.
    stamp = int(open_euroc(short_sequence, quiet=True).stereo_timestamps_ns[at_frame - 1])
    full = _rows(runs / "a" / "trajectory.tum")
    expected = [r for r in full if int(r.split()[0].replace(".", "")) < stamp]
    assert _rows(out / "trajectory.tum") == expected and 0 < len(expected) < len(full)
    assert len((out / "workloads.jsonl").read_text().splitlines()) == at_frame - 1
    assert json.loads((out / "energy.json").read_text())["run"]["frames"] == at_frame - 1
    assert (out / "report.html").is_file() and (out / "run.json").is_file()


def _chromium_or_skip():
    if check_report.find_chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (scripts/check_syslibs.sh installs it)")
        pytest.skip("chromium not installed (apt-get install chromium) - report.html not rendered")


def test_report_renders_in_chromium(runs, tmp_path):
    _chromium_or_skip()
    shot = tmp_path / "report.png"
    assert check_report.check(runs / "a" / "report.html", shot) == []
    assert shot.stat().st_size > 50_000
    html = (runs / "a" / "report.html").read_text()
    assert "src='http" not in html and "href=" not in html  # self-contained
    assert "id='map'" not in html  # map and coverage appear only with their images
    with_map = tmp_path / "with_map"
    shutil.copytree(runs / "a", with_map)
    for name in ("map_slice.png", "coverage.png"):
        shutil.copy(with_map / "energy.png", with_map / name)
    report = write_report(with_map)
    assert check_report.check(report, sections=(*check_report.SECTIONS, "map", "coverage")) == []


def test_report_check_catches_a_broken_page(runs, tmp_path):
    _chromium_or_skip()
    html = (runs / "a" / "report.html").read_text()
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
                      .replace("<section id='clock'>", "<section id='clocks'>"))
    problems = check_report.check(broken)
    assert any("images failed" in p for p in problems) and any("'clock' missing" in p for p in problems)
