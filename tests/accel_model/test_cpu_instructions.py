"""instructions_per_op: executed instructions per modelled operation/access on a programmable core.

A tiny synthetic run folder priced on the CPU preset is compared with a hand computation
from Horowitz's published values (45 nm, 0.9 V: node scale 1); the callgrind/perf helpers
are tested on canned tool output (no valgrind run here)."""
from __future__ import annotations

import dataclasses
import json

import pytest

from accel_model import measured
from accel_model.hardware import ArithmeticConfig, HardwareConfig, load_preset
from accel_model.measured import count_instructions, parse_callgrind_instructions
from accel_model.report import build_report
from datasets.configuration import ConfigError

OVERHEAD_PJ = 70.0  # Horowitz: instruction overhead of a 45 nm core
L1_64BIT_PJ = 20.0  # Horowitz: 64-bit access of a 32 KB SRAM (the CPU preset's L1)
FRONTEND = {"stage": "frontend",
            "ops": [{"kind": "add", "bits": 16, "count": 1000}, {"kind": "mul", "bits": 32, "count": 200}],
            "buffers": {"klt_patch": {"reads_words": 400, "writes_words": 100, "word_bits": 16, "peak_bytes": 1000}}}
BACKEND = {"stage": "vio.backend.solve",
           "ops": [{"kind": "add", "bits": 32, "count": 300}, {"kind": "mul", "bits": 32, "count": 100}],
           "buffers": {"scratch": {"reads_words": 30, "writes_words": 10, "word_bits": 64, "peak_bytes": 2048}}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("tiny_run")
    (run / "summary.json").write_text(json.dumps({"sequence": None}))
    lines = [json.dumps({"timestamp_ns": t, "stages": [FRONTEND, BACKEND]}) for t in (0, 50_000_000)]  # 20 fps
    (run / "workloads.jsonl").write_text("\n".join(lines) + "\n")
    return run


def _cpu(frontend_ipo: float, backend_ipo: float) -> HardwareConfig:
    cpu = load_preset("cpu")
    return dataclasses.replace(cpu, frontend=dataclasses.replace(cpu.frontend, instructions_per_op=frontend_ipo),
                               backend=dataclasses.replace(cpu.backend, instructions_per_op=backend_ipo))


def _hand(a: float, b: float) -> dict:
    """Energies [pJ per frame] of the tiny run: front-end fixed point (Horowitz int add 16 bit
    0.05 pJ, mul 32 bit 3.1 pJ), back-end float32 (add 0.9, mul 3.7 pJ); every access reads or
    writes a whole 64-bit L1 word, 20 pJ; every modelled instruction stands for a (front-end)
    or b (back-end)."""
    return {"frontend_compute": 1000 * (0.05 + a * OVERHEAD_PJ) + 200 * (3.1 + a * OVERHEAD_PJ),
            "frontend_onchip": 500 * (L1_64BIT_PJ + a * OVERHEAD_PJ),
            "backend_compute": 300 * (0.9 + b * OVERHEAD_PJ) + 100 * (3.7 + b * OVERHEAD_PJ),
            "backend_onchip": 40 * (L1_64BIT_PJ + b * OVERHEAD_PJ),
            "instructions": a * (1200 + 500) + b * (400 + 40)}


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (3.5, 12.0), (0.25, 1.0)])
def test_factor_scales_the_cpu_overhead_as_computed_by_hand(run_dir, a, b):
    cpu = _cpu(a, b)
    assert (cpu.node_nm, cpu.vdd_v) == (45, 0.9)  # node scale 1: the hand values are the 45 nm table
    section = build_report(run_dir, load_preset("navion65"), cpu=cpu)["cpu"]
    hand = _hand(a, b)
    for group in ("frontend", "backend"):
        stage = section["stages"][group]
        assert stage["compute_uj"] == pytest.approx(hand[f"{group}_compute"] * 1e-6, rel=1e-12)
        assert stage["onchip_memory_uj"] == pytest.approx(hand[f"{group}_onchip"] * 1e-6, rel=1e-12)
        assert stage["offchip_memory_uj"] == 0
    assert section["instructions_per_frame"] == pytest.approx(hand["instructions"], rel=1e-12)
    assert section["utilisation"] == pytest.approx(hand["instructions"] * 20 / 3e9, rel=1e-9)
    assert section["energy_per_instruction_pj"] == pytest.approx(
        section["energy_per_frame_uj"] * 1e6 / hand["instructions"], rel=1e-12)


def test_only_the_overhead_part_grows_and_leakage_is_unchanged(run_dir):
    one, many = (build_report(run_dir, load_preset("navion65"), cpu=_cpu(k, k))["cpu"] for k in (1.0, 5.0))
    ops = {"frontend": 1200, "backend": 400}
    accesses = {"frontend": 500, "backend": 40}
    for group in ("frontend", "backend"):
        extra = many["stages"][group]["compute_uj"] - one["stages"][group]["compute_uj"]
        assert extra == pytest.approx(4 * ops[group] * OVERHEAD_PJ * 1e-6, rel=1e-9)
        extra = many["stages"][group]["onchip_memory_uj"] - one["stages"][group]["onchip_memory_uj"]
        assert extra == pytest.approx(4 * accesses[group] * OVERHEAD_PJ * 1e-6, rel=1e-9)
        assert many["stages"][group]["leakage_uj"] == one["stages"][group]["leakage_uj"] > 0


def test_accelerator_without_overhead_is_unaffected(run_dir):
    navion = load_preset("navion65")
    groups = {g: dataclasses.replace(navion.arithmetic(g), instructions_per_op=7.0)
              for g in ("frontend", "backend", "mapping", "mi")}
    base = build_report(run_dir, navion)["accelerator"]
    scaled = build_report(run_dir, dataclasses.replace(navion, **groups))["accelerator"]
    assert navion.instruction_overhead_pj == 0
    for key in ("energy_per_frame_uj", "categories", "stages", "utilisation", "ops_per_frame"):
        assert scaled[key] == base[key], key


def test_cpu_preset_carries_measured_factors_above_one():
    cpu = load_preset("cpu")
    assert cpu.frontend.instructions_per_op > 1 and cpu.backend.instructions_per_op > 1
    assert load_preset("navion65").frontend.instructions_per_op == 1.0
    assert ArithmeticConfig().instructions_per_op == 1.0


@pytest.mark.parametrize("value, needle", [("0", "instructions_per_op must be in"),
                                           ("-2.5", "instructions_per_op must be in"),
                                           ("2.0e+6", "instructions_per_op must be in"),
                                           (".nan", "'instructions_per_op' must be finite"),
                                           ("many", "'instructions_per_op' must be a number")])
def test_bad_factor_names_file_and_line(tmp_path, value, needle):
    bad = tmp_path / "hw.yaml"
    bad.write_text("name: x\ncaches: [{name: L1, size_bytes: 32768, line_bytes: 64}]\n"
                   f"backend:\n  number_format: float\n  instructions_per_op: {value}\n")
    with pytest.raises(ConfigError, match=rf"hw.yaml:5: .*{needle}"):
        load_preset(bad)


def test_template_documents_the_factor():
    from importlib import resources

    text = (resources.files("accel_model") / "presets" / "template.yaml").read_text()
    lines = [ln for ln in text.splitlines() if ln.strip().startswith("instructions_per_op:")]
    assert len(lines) == 4 and "#" in lines[0]
    assert HardwareConfig.from_yaml_text(text).mi.instructions_per_op == 1.0


def test_callgrind_summaries_are_parsed():
    assert parse_callgrind_instructions("events: Ir\nfn=main\n5 12\nsummary: 4968068718\n") == 4968068718
    assert parse_callgrind_instructions("events: Ir\ntotals: 1234 99\n") == 1234
    assert parse_callgrind_instructions("==4242== Collected : 77\n==4242==\n==4242== I   refs:      4,968,068,718\n") \
        == 4968068718
    assert parse_callgrind_instructions("==4242== error: no such file\n") is None


def test_count_instructions_prefers_perf_and_falls_back_on_callgrind(monkeypatch):
    calls = []
    monkeypatch.setattr(measured, "perf_instructions", lambda cmd, *a: calls.append("perf") or None)
    monkeypatch.setattr(measured, "callgrind_instructions", lambda cmd, *a: calls.append("callgrind") or 42)
    assert count_instructions(["true"]) == (42, "callgrind") and calls == ["perf", "callgrind"]
    monkeypatch.setattr(measured, "perf_instructions", lambda cmd, *a: 7)
    assert count_instructions(["true"]) == (7, "perf")
    monkeypatch.setattr(measured, "perf_instructions", lambda cmd, *a: None)
    monkeypatch.setattr(measured, "callgrind_instructions", lambda cmd, *a: None)
    assert count_instructions(["true"]) is None
