"""A tiny real sweep (2 algorithm x 2 hardware configs, one 40-frame synthetic sequence):
the local executor, Ray (same results), the cache (resume, no work on a rerun), the CLI."""
from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from dataclasses import replace

import pytest

from accel_model.hardware import load_preset
from accel_model.report import build_report
from datasets.euroc import open_euroc
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from navion.cli import main
from navion.replay import replay
from navion.sweep.errors import SweepError
from navion.sweep.executors import run_local
from navion.sweep.runner import run_sweep
from navion.sweep.spec import load_spec
from navion.sweep.worker import TIMING_METRICS
from vio.frontend import FrontendConfig
from vio.pipeline import PipelineConfig

MAX_FRAMES = 40


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    generate_sequence(folder / "seq", SynthConfig(realism="ideal", duration_s=2.5, seed=7))
    path = folder / "spec.yaml"
    path.write_text(f"sequences: [seq]\nmax_frames: {MAX_FRAMES}\n"
                    "grid:\n  vio.frontend.max_features: [60, 120]\n  hw.codec_near: [0, 2]\n")
    return load_spec(path)


@pytest.fixture(scope="module")
def local(spec, tmp_path_factory):
    """The sweep with the local executor, inline (the process pool is tested apart: spawning
    workers that load the estimator costs more than this whole sweep)."""
    return run_sweep(spec, tmp_path_factory.mktemp("local"), executor="local", jobs=1)


def test_process_pool_yields_every_result():
    assert sorted(run_local(abs, [-3, -1, -2, -5], jobs=2)) == [1, 2, 3, 5]
    assert list(run_local(abs, [-4], jobs=2)) == [4]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_local_sweep_writes_every_point(spec, local):
    assert (local.points, local.points_from_cache, local.vio_runs, local.vio_runs_reused) == (4, 0, 2, 0)
    rows = read_csv(local.out_dir / "results.csv")
    assert [(r["vio.frontend.max_features"], r["hw.codec_near"]) for r in rows] == \
        [("60", "0"), ("60", "2"), ("120", "0"), ("120", "2")]
    for r in rows:
        assert r["sequence"] == "seq" and r["frames"] == str(MAX_FRAMES)
        assert float(r["ate_rmse_m"]) < 0.05 and int(r["estimated_frames"]) >= 3
        assert float(r["energy_per_frame_uj"]) > 0 and float(r["power_mw"]) > 0 and float(r["fps"]) > 0
        assert int(r["pareto_rank"]) >= 1
    # hardware points share their VIO run: same ATE and fps, different price
    for a, b in ((0, 1), (2, 3)):
        assert rows[a]["ate_rmse_m"] == rows[b]["ate_rmse_m"] and rows[a]["fps"] == rows[b]["fps"]
        assert rows[a]["codec_ratio"] != rows[b]["codec_ratio"]
    assert rows[0]["ate_rmse_m"] != rows[2]["ate_rmse_m"]
    assert (local.out_dir / "pareto.png").stat().st_size > 10_000
    ranked = (local.out_dir / "ranked.md").read_text()
    assert sum(line.startswith("| ") for line in ranked.splitlines()) == 1 + 4
    assert json.loads((local.out_dir / "sweep.json").read_text())["points"] == 4


def test_point_equals_a_replay_and_report_made_by_hand(spec, local, tmp_path):
    """The sweep's knobs reach the configs: point 4 = max_features 120 priced with NEAR 2."""
    config = PipelineConfig(frontend=FrontendConfig(max_features=120))
    with open_euroc(spec.sequences[0], quiet=True) as seq:
        summary = replay(seq, tmp_path / "run", config, max_frames=MAX_FRAMES)
    report = build_report(tmp_path / "run", replace(load_preset("navion65"), codec_near=2), sequence=spec.sequences[0])
    row = read_csv(local.out_dir / "results.csv")[3]
    assert float(row["ate_rmse_m"]) == summary["ate_rmse_m"]
    assert float(row["energy_per_frame_uj"]) == report["accelerator"]["energy_per_frame_uj"]
    assert float(row["peak_onchip_bytes"]) == report["memory"]["peak_onchip_bytes"]
    assert float(row["power_mw"]) == report["accelerator"]["power_mw"]


def _forbid(monkeypatch, pricing: bool = True):
    """Makes any VIO run (and, with ``pricing``, any pricing) fail the test."""
    def fail(*args, **kwargs):
        raise AssertionError("the sweep did work that the cache holds")
    monkeypatch.setattr("navion.replay.replay", fail)
    if pricing:
        monkeypatch.setattr("accel_model.report.build_report", fail)


def test_rerun_does_no_work_and_an_interrupted_sweep_resumes(spec, local, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(local.out_dir / "cache", cache)
    expected = (local.out_dir / "results.csv").read_text()
    _forbid(monkeypatch)
    again = run_sweep(spec, tmp_path / "again", jobs=1, cache_dir=cache)
    assert (again.points_from_cache, again.vio_runs_reused) == (4, 2)
    assert (tmp_path / "again" / "results.csv").read_text() == expected
    # one point lost (interrupted while pricing): only it is priced, on the cached VIO run
    points = sorted((cache / "points").glob("*.json"))
    points[0].unlink()
    monkeypatch.undo()
    _forbid(monkeypatch, pricing=False)
    resumed = run_sweep(spec, tmp_path / "resumed", jobs=1, cache_dir=cache)
    assert (resumed.points_from_cache, resumed.vio_runs_reused) == (3, 2)
    assert (tmp_path / "resumed" / "results.csv").read_text() == expected


def test_cache_misses_when_the_sequence_changes(spec, local, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    shutil.copytree(local.out_dir / "cache", cache)
    csv_file = spec.sequences[0] / "mav0" / "imu0" / "data.csv"
    stat = csv_file.stat()
    _forbid(monkeypatch)
    try:
        os.utime(csv_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        with pytest.raises(AssertionError, match="cache holds"):
            run_sweep(spec, tmp_path / "out", jobs=1, cache_dir=cache)
    finally:
        os.utime(csv_file, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.fixture(scope="module")
def ray_module():
    """One local Ray instance (2 CPUs) for this module; the executor reuses it."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed; CI installs it with the test extra (pip install -e '.[test]')")
        pytest.skip("ray is not installed (optional extra: pip install 'navion-sim[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


def test_ray_executor_gives_the_same_results(spec, local, ray_module, tmp_path):
    result = run_sweep(spec, tmp_path / "ray", executor="ray")
    assert (result.points_from_cache, result.vio_runs_reused) == (0, 0)
    ours, theirs = read_csv(tmp_path / "ray" / "results.csv"), read_csv(local.out_dir / "results.csv")
    assert list(ours[0]) == list(theirs[0])
    for a, b in zip(ours, theirs, strict=True):
        for column in a:
            if column not in TIMING_METRICS:
                assert a[column] == b[column], column


def test_missing_ray_is_one_clear_error(spec, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(SweepError, match=r"navion-sim\[ray\]"):
        run_sweep(spec, tmp_path / "out", executor="ray", cache_dir=tmp_path / "empty")


def test_cli_prints_the_ranked_table_and_reports_mistakes_in_one_line(spec, local, capsys, tmp_path):
    code = main(["sweep", str(spec.path), "--out", str(local.out_dir), "--jobs", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "max_features" in out and "4 points (4 from the cache)" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"sequences: [{spec.sequences[0]}]\ngrid:\n  vio.frontend.max_feature: [1]\n")
    for argv, needle in (([str(bad)], f"{bad}:3:"),
                         ([str(spec.path), "--ray-address", "x:1"], "--executor ray"),
                         ([str(spec.path), "--jobs", "0"], "--jobs")):
        assert main(["sweep", *argv, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("navion: error:")]
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
