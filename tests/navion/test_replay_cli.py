"""navion replay: outputs on the real fragment and one-line errors for bad input."""
from __future__ import annotations

import json

from cli_runner import expect_one_line_error, run


def test_replay_writes_the_run_folder(capsys, euroc_micro, tmp_path):
    code, out, err = run(capsys, "replay", str(euroc_micro), "--out", str(tmp_path), "--max-frames", "40")
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    for key in ("frames", "resets", "fps", "realtime_factor", "init_time_s", "frontend_ms_mean",
                "backend_ms_mean", "ate_rmse_m", "rpe"):
        assert key in summary
    assert summary["frames"] == 40 and summary["resets"] == 0
    assert summary["ate_rmse_m"] is not None and summary["ate_rmse_m"] < 0.05
    lines = (tmp_path / "trajectory.tum").read_text().splitlines()
    data = [ln for ln in lines if not ln.startswith("#")]
    assert len(data) == summary["estimated_frames"] and len(data[0].split()) == 8
    stamp = data[0].split()[0]
    assert len(stamp.split(".")[1]) == 9  # exact ns decimals
    workloads = (tmp_path / "workloads.jsonl").read_text().splitlines()
    assert len(workloads) == 40 and json.loads(workloads[-1])["stages"]
    for png in ("trajectory.png", "errors.png"):
        assert (tmp_path / png).stat().st_size > 10_000
    assert "ATE RMSE" in out


def test_replay_bad_inputs(capsys, tmp_path):
    expect_one_line_error(capsys, ["replay", str(tmp_path / "missing")], "missing")
    (tmp_path / "notaseq").mkdir()
    expect_one_line_error(capsys, ["replay", str(tmp_path / "notaseq")], "notaseq")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("frontend:\n  max_features: 150\nsolver:\n  max_iteration: 3\n")
    expect_one_line_error(capsys, ["replay", str(tmp_path), "--config", str(cfg)], "cfg.yaml:4", "max_iteration")
    cfg.write_text("max_jump_m: far\n")
    expect_one_line_error(capsys, ["replay", str(tmp_path), "--config", str(cfg)], "cfg.yaml:1", "max_jump_m")
    cfg.write_text("frontend:\n  max_features: ten\n")
    expect_one_line_error(capsys, ["replay", str(tmp_path), "--config", str(cfg)], "max_features")
