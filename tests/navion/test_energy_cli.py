"""navion energy: report files, compare, direction checks and one-line errors."""
from __future__ import annotations

import json

import pytest
from cli_runner import expect_one_line_error, run

from navion.cli import main


@pytest.fixture(scope="module")
def runs(euroc_micro, tmp_path_factory):
    """Two 30-frame replays of the real fragment with 100 and 200 features."""
    out = {}
    for n in (100, 200):
        folder = tmp_path_factory.mktemp(f"features{n}")
        config = folder / "pipeline.yaml"
        config.write_text(f"frontend:\n  max_features: {n}\n")
        assert main(["replay", str(euroc_micro), "--out", str(folder / "run"), "--max-frames", "30",
                     "--config", str(config)]) == 0
        out[n] = folder / "run"
    return out


def test_energy_writes_report_and_chart(capsys, runs):
    code, out, err = run(capsys, "energy", runs[100])
    assert code == 0, err
    assert "navion65" in out and (runs[100] / "energy.png").is_file()
    report = json.loads((runs[100] / "energy.json").read_text())
    for key in ("accelerator", "cpu"):
        assert {"energy_per_frame_uj", "power_mw"} <= set(report[key])
    assert report["ratio_cpu_over_accelerator"] > 1 and "codec" in report
    code, out, _ = run(capsys, "energy", runs[100], "--hw", "cpu", "--json", "--out", runs[100] / "cpu.json")
    assert code == 0 and json.loads(out)["accelerator"]["name"] == "cpu"
    assert (runs[100] / "cpu.png").is_file()


def test_compare_shows_more_frontend_energy_with_more_features(capsys, runs, tmp_path):
    for n in (100, 200):
        assert run(capsys, "energy", runs[n], "--out", runs[n] / "energy.json")[0] == 0
    a, b = runs[100] / "energy.json", runs[200] / "energy.json"
    code, out, err = run(capsys, "energy", "compare", a, b, "--json", "--plot", tmp_path / "cmp.png")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert rows["frontend [uJ]"][1] > rows["frontend [uJ]"][0]
    assert (tmp_path / "cmp.png").stat().st_size > 1000
    code, out, _ = run(capsys, "energy", "compare", a, b)
    assert code == 0 and "frontend" in out


def test_smaller_budget_preset_increases_offchip_energy(capsys, runs, tmp_path):
    from importlib import resources

    small = tmp_path / "small.yaml"
    navion = (resources.files("accel_model") / "presets" / "navion65.yaml").read_text()
    small.write_text(navion.replace("onchip_budget_bytes: 874496", "onchip_budget_bytes: 262144"))
    reports = {}
    for name, hw in (("navion", "navion65"), ("small", small)):
        assert run(capsys, "energy", runs[200], "--hw", hw, "--out", tmp_path / f"{name}.json")[0] == 0
        reports[name] = json.loads((tmp_path / f"{name}.json").read_text())
    offchip = {k: r["accelerator"]["categories"]["offchip_memory_uj"] for k, r in reports.items()}
    assert offchip["small"] > offchip["navion"]


def test_bad_input_is_one_line(capsys, runs, tmp_path):
    old = tmp_path / "old.json"
    old.write_text('{"schema_version": 0}')
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    good = tmp_path / "good.json"
    assert run(capsys, "energy", runs[100], "--out", good)[0] == 0
    expect_one_line_error(capsys, ["energy", "compare", good, old], "old.json", "schema 0")
    expect_one_line_error(capsys, ["energy", "compare", good, bad], "bad.json", "malformed JSON")
    expect_one_line_error(capsys, ["energy", "compare", good], "at least two")
    expect_one_line_error(capsys, ["energy", tmp_path / "missing"], "no such run folder")
    expect_one_line_error(capsys, ["energy", tmp_path], "not a run folder")
    expect_one_line_error(capsys, ["energy", runs[100], "--hw", "nope"], "nope", "preset")
    hw = tmp_path / "hw.yaml"
    hw.write_text("name: x\nonchip_budget_bytes: -1\n")
    expect_one_line_error(capsys, ["energy", runs[100], "--hw", hw], "hw.yaml:2")


def test_utilisation_line_flags_a_design_too_slow_for_the_frame_rate(capsys, runs, tmp_path):
    code, out, err = run(capsys, "energy", runs[100], "--json", "--out", tmp_path / "r.json")
    report = json.loads(out)
    acc = report["accelerator"]
    assert acc["utilisation"] == pytest.approx(acc["ops_per_frame"] * report["run"]["fps"] / (64 * 62.5e6))
    slow = tmp_path / "slow.yaml"
    slow.write_text("name: slow\nclock_mhz: 1\nonchip_budget_bytes: 874496\n")
    code, out, err = run(capsys, "energy", runs[100], "--hw", slow, "--out", tmp_path / "slow.json")
    assert code == 0, err
    text = " ".join(out.split())  # rich wraps long lines
    line = text[text.index("utilisation"):]
    assert line.split(";")[0].startswith("utilisation (issued per cycle / capacity): slow")
    assert "cannot sustain the frame rate" in line.split(";")[0]


def test_sensitivity_adds_a_section_a_table_and_a_tornado_chart(capsys, runs, tmp_path):
    code, out, err = run(capsys, "energy", runs[100], "--sensitivity", "--out", tmp_path / "s.json")
    assert code == 0, err
    report = json.loads((tmp_path / "s.json").read_text())
    section = report["sensitivity"]
    assert section["base"]["energy_per_frame_uj"] == pytest.approx(report["accelerator"]["energy_per_frame_uj"])
    assert {f["field"] for f in section["fields"]} >= {"onchip_budget_bytes", "dram_pj_per_bit"}
    assert "all at highest" in out and "Horowitz ISSCC 2014" in " ".join(out.split())
    assert (tmp_path / "s_sensitivity.png").stat().st_size > 5000
    ranges = tmp_path / "r.yaml"
    ranges.write_text("dram_pj_per_bit:\n  values: [60]\n  source: a slower DRAM\n")
    code, out, err = run(capsys, "energy", runs[100], "--hw", "cpu", "--sensitivity", ranges, "--json",
                         "--out", tmp_path / "c.json")
    assert code == 0, err
    fields = json.loads(out)["sensitivity"]["fields"]
    assert [f["field"] for f in fields] == ["dram_pj_per_bit"] and fields[0]["source"] == "a slower DRAM"


def test_sensitivity_bad_input_is_one_line(capsys, runs, tmp_path):
    hw = tmp_path / "hw.yaml"
    hw.write_text("name: x\nonchip_budget_bytes: 874496\n")
    expect_one_line_error(capsys, ["energy", runs[100], "--hw", hw, "--sensitivity"],
                          "no ranges are shipped for --hw", "--sensitivity RANGES.yaml")
    ranges = tmp_path / "r.yaml"
    ranges.write_text("dram_pj_per_bit:\n  values: [-1]\n  source: s\n")
    expect_one_line_error(capsys, ["energy", runs[100], "--sensitivity", ranges], "r.yaml:2", "must be >= 0")
    assert not (runs[100] / "energy_sensitivity.png").exists()
