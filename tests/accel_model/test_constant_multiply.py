"""Constant filter taps: a design prices either the multiplications or their shift-add form."""
from __future__ import annotations

import dataclasses
import json

import pytest

from accel_model.energy import basic_op_pj, node_scale
from accel_model.hardware import load_preset
from accel_model.report import build_report
from datasets.configuration import ConfigError

CMUL, CMUL_ADD, MUL = 5000, 1200, 300  # per frame, 16-bit
FRONTEND = {"stage": "frontend", "buffers": {},
            "ops": [{"kind": "cmul", "bits": 16, "count": CMUL}, {"kind": "cmul_add", "bits": 16, "count": CMUL_ADD},
                    {"kind": "mul", "bits": 16, "count": MUL}]}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("taps")
    (run / "summary.json").write_text(json.dumps({"sequence": None}))
    lines = [json.dumps({"timestamp_ns": t, "stages": [FRONTEND]}) for t in (0, 50_000_000)]
    (run / "workloads.jsonl").write_text("\n".join(lines) + "\n")
    return run


@pytest.mark.parametrize("mode", ["multiplier", "shift_add"])
def test_each_design_prices_one_form_of_the_taps(run_dir, mode):
    hw = dataclasses.replace(load_preset("navion65"), constant_multiply=mode)
    report = build_report(run_dir, hw, cpu=load_preset("cpu"))
    mul, add = basic_op_pj("mul", "fixed", 16), basic_op_pj("add", "fixed", 16)
    taps = CMUL * mul if mode == "multiplier" else CMUL_ADD * add
    expected_uj = (taps + MUL * mul) * node_scale(65, 1.0) * 1e-6
    assert report["stages"]["frontend"]["compute_uj"] == pytest.approx(expected_uj, rel=1e-12)
    assert report["accelerator"]["ops_per_frame"] == MUL + (CMUL if mode == "multiplier" else CMUL_ADD)


def test_presets_and_validation(tmp_path):
    assert load_preset("navion65").constant_multiply == "shift_add"
    assert load_preset("cpu").constant_multiply == "multiplier"
    bad = tmp_path / "hw.yaml"
    bad.write_text("name: x\nonchip_budget_bytes: 1024\nconstant_multiply: lookup\n")
    with pytest.raises((ConfigError, ValueError), match="hw.yaml:3"):
        load_preset(bad)
