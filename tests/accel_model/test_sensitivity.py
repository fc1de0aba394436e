"""Sensitivity to uncertain settings: against full reports of each variant, corners, bad ranges files."""
from __future__ import annotations

import json

import pytest

from accel_model.hardware import load_preset
from accel_model.report import build_report
from accel_model.sensitivity import load_ranges, plot_sensitivity, sensitivity, shipped_ranges
from datasets.config_paths import apply_overrides
from datasets.configuration import ConfigError
from datasets.errors import DatasetError


@pytest.fixture(scope="module")
def result(micro_run):
    hw = load_preset("navion65")
    calls = []
    section = sensitivity(micro_run, hw, load_ranges(shipped_ranges("navion65"), hw),
                          progress=lambda done, total: calls.append((done, total)))
    return section, calls


def test_every_alternative_equals_the_full_report_of_that_design(micro_run, result):
    section, _ = result
    hw = load_preset("navion65")
    base = build_report(micro_run, hw)
    assert section["base"]["energy_per_frame_uj"] == pytest.approx(base["accelerator"]["energy_per_frame_uj"])
    assert section["base"]["ratio_cpu_over_accelerator"] == pytest.approx(base["ratio_cpu_over_accelerator"])
    assert section["base"]["power_over_navion"] == pytest.approx(base["published"]["power_over_navion"])
    checked = 0
    for field in section["fields"]:
        for alt in field["alternatives"]:
            report = build_report(micro_run, apply_overrides(hw, {field["field"]: alt["value"]}))
            assert alt["energy_per_frame_uj"] == pytest.approx(report["accelerator"]["energy_per_frame_uj"])
            assert alt["ratio_cpu_over_accelerator"] == pytest.approx(report["ratio_cpu_over_accelerator"])
            memory = report["memory"]
            assert alt["spilled_bytes"] == memory["total_bytes"] - memory["peak_onchip_bytes"]
            checked += 1
    assert checked == sum(len(r.values) for r in load_ranges(shipped_ranges("navion65"), hw))


def test_fields_are_ordered_by_swing_and_name_their_extremes(result):
    section, _ = result
    base = section["base"]["energy_per_frame_uj"]
    swings = [f["swing_uj"] for f in section["fields"]]
    assert swings == sorted(swings, reverse=True) and swings[0] > 0
    for f in section["fields"]:
        energy = {json.dumps(a["value"]): a["energy_per_frame_uj"] for a in f["alternatives"]}
        energy[json.dumps(f["design_value"])] = base
        assert f["swing_uj"] == pytest.approx(max(energy.values()) - min(energy.values()))
        assert energy[json.dumps(f["lowest"])] == min(energy.values())
        assert energy[json.dumps(f["highest"])] == max(energy.values())


def test_corners_bound_each_single_change(micro_run, result):
    section, _ = result
    low, high = section["corners"]["lowest"], section["corners"]["highest"]
    singles = [a["energy_per_frame_uj"] for f in section["fields"] for a in f["alternatives"]]
    assert low["energy_per_frame_uj"] <= min(singles + [section["base"]["energy_per_frame_uj"]])
    assert high["energy_per_frame_uj"] >= max(singles)
    design = apply_overrides(load_preset("navion65"), high["settings"])
    assert high["energy_per_frame_uj"] == pytest.approx(
        build_report(micro_run, design)["accelerator"]["energy_per_frame_uj"])


def test_progress_counts_every_pricing(result):
    section, calls = result
    total = 2 + sum(len(f["alternatives"]) for f in section["fields"]) + 2
    assert calls[-1] == (total, total) and len(calls) == total - 1  # the CPU baseline: no call
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_tornado_chart(result, tmp_path):
    plot_sensitivity(result[0], tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 5000


def test_shipped_ranges_load():
    for preset in ("navion65", "cpu"):
        assert load_ranges(shipped_ranges(preset), load_preset(preset))
    assert shipped_ranges("template") is None


@pytest.mark.parametrize("text, line, needle", [
    ("", None, "a ranges file maps hardware fields"),
    ("vdd: {values: [1.0], source: s}\n", 1, "unknown hardware field 'vdd'"),
    ("backend: {values: [1], source: s}\n", 1, "section, not an option"),
    ("vdd_v: [0.9, 1.2]\n", 1, "give 'values'"),
    ("vdd_v: {values: [0.9], sources: s}\n", 1, "give 'values'"),
    ("vdd_v: {values: [0.9]}\n", 1, "'source' must say"),
    ("vdd_v:\n  values: []\n  source: s\n", 2, "non-empty list"),
    ("vdd_v:\n  values:\n    - 0.9\n    - 99\n  source: s\n", 4, "vdd_v = 99: vdd_v must be at most 10"),
    ("pyramid:\n  values: [streamed, nope]\n  source: s\n", 2, "pyramid must be one of"),
    ("vdd_v:\n  values:\n    - 0.9\n    - 0.9\n  source: s\n", 4, "lists 0.9 twice"),
])
def test_bad_ranges_files_name_file_and_line(tmp_path, text, line, needle):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle) as info:
        load_ranges(path, load_preset("navion65"))
    assert info.value.line == line and info.value.path == str(path)


def test_unreadable_ranges_files(tmp_path):
    with pytest.raises(ConfigError, match="no such ranges file"):
        load_ranges(tmp_path / "missing.yaml", load_preset("navion65"))
    (tmp_path / "r.yaml").write_text("vdd_v: {values: [0.9\n")
    with pytest.raises(DatasetError, match="r.yaml:"):
        load_ranges(tmp_path / "r.yaml", load_preset("navion65"))


def test_a_section_valued_field_is_reported_as_plain_json(micro_run, tmp_path):
    path = tmp_path / "caches.yaml"
    path.write_text("caches:\n  values:\n    - [{name: L1, size_bytes: 65536, line_bytes: 64}]\n"
                    "  source: one larger cache level\n")
    cpu = load_preset("cpu")
    section = sensitivity(micro_run, cpu, load_ranges(path, cpu))
    field = json.loads(json.dumps(section))["fields"][0]
    assert field["design_value"][0] == {"name": "L1", "size_bytes": 32768, "line_bytes": 64}
    assert field["alternatives"][0]["value"] == [{"name": "L1", "size_bytes": 65536, "line_bytes": 64}]
    assert field["alternatives"][0]["energy_per_frame_uj"] != section["base"]["energy_per_frame_uj"]
