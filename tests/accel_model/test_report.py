"""Energy report on a short real replay: keys, consistency, bad reports, measured lines."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from accel_model.energy import EnergyModelError
from accel_model.hardware import load_preset
from accel_model.measured import EnergyMeter, measured_lines, parse_perf_instructions
from accel_model.report import (
    SCHEMA_VERSION,
    build_report,
    load_report,
    plot_report,
    load_run,
    stage_group,
)


@pytest.fixture(scope="module")
def report(micro_run):
    return build_report(micro_run, load_preset("navion65"))


def test_report_has_the_documented_keys(report):
    assert report["schema_version"] == SCHEMA_VERSION
    for section in ("accelerator", "cpu"):
        assert report[section]["energy_per_frame_uj"] > 0 and report[section]["power_mw"] > 0
    assert report["memory"]["peak_onchip_bytes"] > 0 and report["memory"]["reduction_factor"] > 1
    assert set(report["stages"]) == {"frontend", "backend", "mapping", "mi"}
    assert report["stages"]["mapping"]["energy_per_frame_uj"] == 0
    json.dumps(report)


def test_figures_are_consistent(report):
    acc = report["accelerator"]
    assert report["run"]["fps"] == pytest.approx(20, rel=0.01)
    assert acc["power_mw"] == pytest.approx(acc["energy_per_frame_uj"] * report["run"]["fps"] * 1e-3)
    assert sum(s["energy_per_frame_uj"] for s in acc["stages"].values()) == pytest.approx(acc["energy_per_frame_uj"])
    assert sum(acc["categories"].values()) == pytest.approx(acc["energy_per_frame_uj"])
    assert report["ratio_cpu_over_accelerator"] == pytest.approx(
        report["cpu"]["energy_per_frame_uj"] / acc["energy_per_frame_uj"])
    assert report["ratio_cpu_over_accelerator"] > 10
    assert report["memory"]["peak_onchip_bytes"] <= report["memory"]["budget_bytes"]
    assert report["measured"]["cpu_time"]["power_mw"] > report["cpu"]["power_mw"] / 100


def test_codec_ratio_enters_the_frame_buffer(report):
    if report["codec"]["ratio"] is None:
        pytest.skip(report["codec"]["note"])
    frame = next(b for b in report["memory"]["buffers"] if b["name"] == "frame_pyramid/1")
    assert frame["naive_bytes"] / frame["bytes"] == pytest.approx(report["codec"]["ratio"])


def test_smaller_budget_raises_offchip_energy(micro_run, report):
    hw = load_preset("navion65")
    small = build_report(micro_run, dataclasses.replace(hw, onchip_budget_bytes=256 * 1024))
    assert small["memory"]["spilled"]
    assert (small["accelerator"]["categories"]["offchip_memory_uj"]
            > report["accelerator"]["categories"]["offchip_memory_uj"])


def test_plot_and_reload(report, tmp_path):
    plot_report(report, tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 1000
    (tmp_path / "e.json").write_text(json.dumps(report))
    assert load_report(tmp_path / "e.json")["accelerator"] == report["accelerator"]


@pytest.mark.parametrize("text, needle", [("{oops", "malformed JSON"), ('{"a": 1}', "no schema_version"),
                                          ('{"schema_version": 0}', "schema 0 is not supported"),
                                          ('{"schema_version": 1, "cpu": {}}', "malformed energy report")])
def test_bad_reports_raise_clear_errors(tmp_path, text, needle):
    (tmp_path / "r.json").write_text(text)
    with pytest.raises(EnergyModelError, match=needle):
        load_report(tmp_path / "r.json")


def test_bad_run_folders(tmp_path):
    with pytest.raises(EnergyModelError, match="not a run folder"):
        build_report(tmp_path, load_preset("navion65"))
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "workloads.jsonl").write_text('{"timestamp_ns": 1, "stages": [{"stage": "x"}]}\n')
    with pytest.raises(EnergyModelError, match="workloads.jsonl:1: malformed"):
        build_report(tmp_path, load_preset("navion65"))
    with pytest.raises(EnergyModelError, match="no report group"):
        stage_group("planner")


def test_each_design_prices_its_own_gradient_dataflow(micro_run):
    """The common records plus the alternative a design selects, counted straight from the file."""
    records = [json.loads(line)["stages"] for line in (micro_run / "workloads.jsonl").read_text().splitlines()]
    run = load_run(micro_run)
    for mode in ("stored", "on_the_fly"):
        hw = dataclasses.replace(load_preset("navion65"), gradients=mode)
        work = run.for_design(hw)
        wanted = ("frontend", f"frontend[gradients={mode}]")
        cmul = sum(op["count"] for stages in records for st in stages if st["stage"] in wanted
                   for op in st["ops"] if (op["kind"], op["bits"]) == ("cmul", 16))
        assert work.ops["frontend"][("cmul", 16)] == pytest.approx(cmul / run.frames)
        writes = sum(st["buffers"].get("gradients", {}).get("writes_words", 0)
                     for stages in records for st in stages if st["stage"] in wanted)
        assert work.uses["frontend", "gradients"].writes_per_frame == pytest.approx(writes / run.frames)
    stored = run.for_design(dataclasses.replace(load_preset("navion65"), gradients="stored"))
    fly = run.for_design(load_preset("navion65"))
    assert ("frontend", "klt_tile") in fly.uses and ("frontend", "klt_tile") not in stored.uses
    assert fly.uses["frontend", "gradients"].peak_bytes < stored.uses["frontend", "gradients"].peak_bytes / 100


def test_old_or_unknown_variant_records_are_refused(tmp_path):
    (tmp_path / "summary.json").write_text("{}")
    old = {"stage": "frontend", "ops": [], "buffers": {"gradients": {
        "reads_words": 4, "writes_words": 8, "word_bits": 16, "peak_bytes": 16}}}
    (tmp_path / "workloads.jsonl").write_text(json.dumps({"timestamp_ns": 1, "stages": [old]}) + "\n")
    with pytest.raises(EnergyModelError, match="older navion-sim"):
        build_report(tmp_path, load_preset("navion65"))
    for stage, needle in (("frontend[cache=huge]", "hardware setting 'cache'"),
                          ("frontend[gradients=maybe]", "gradients must be one of"),
                          ("frontend[gradients", "malformed stage name")):
        record = {"stage": stage, "ops": [], "buffers": {}}
        (tmp_path / "workloads.jsonl").write_text(json.dumps({"timestamp_ns": 1, "stages": [record]}) + "\n")
        with pytest.raises(EnergyModelError, match=r"workloads.jsonl:1: malformed.*" + re.escape(needle)):
            build_report(tmp_path, load_preset("navion65"))


def test_measured_helpers():
    assert parse_perf_instructions("123456,,instructions:u,1000,100.00,,\n") == 123456
    assert parse_perf_instructions("<not supported>,,instructions,0,100.00,,\n") is None
    with EnergyMeter() as meter:
        sum(range(100000))
    assert meter.result()["process_cpu_time_s"] >= 0
    lines = measured_lines({"process_cpu_time_s": 2.0, "measured": {"instructions": 10**9}}, 10, 20.0, 10.0, 100.0)
    assert lines["cpu_time"]["energy_per_frame_uj"] == pytest.approx(2e6)
    assert lines["perf"]["energy_per_frame_uj"] == pytest.approx(1e4)
    assert lines["rapl"] is None
