"""Energy tables (Horowitz ISSCC 2014 values, interpolation, SRAM fit, node scaling) and presets."""
from __future__ import annotations

import pytest

from accel_model.energy import (
    HOROWITZ_45NM_PJ,
    EnergyModelError,
    basic_op_pj,
    node_scale,
    op_pj,
    sram_access_pj,
)
from accel_model.hardware import HardwareConfig, load_preset, preset_names
from datasets.configuration import ConfigError


def test_published_values_are_returned_exactly():
    for (kind, fmt, bits), pj in HOROWITZ_45NM_PJ.items():
        assert basic_op_pj(kind, fmt, bits) == pj
    assert op_pj("add", "float", 32) == 0.9 and op_pj("mul", "float", 32) == 3.7
    assert op_pj("add", "fixed", 32) == 0.1 and op_pj("mul", "fixed", 8) == 0.2


def test_interpolation_rule_linear_adders_quadratic_multipliers():
    assert basic_op_pj("mul", "fixed", 16) == pytest.approx(3.1 / 4)  # nearest anchor 32 bit
    assert basic_op_pj("add", "float", 64) == pytest.approx(1.8)
    assert basic_op_pj("mul", "float", 64) == pytest.approx(14.8)
    assert basic_op_pj("add", "fixed", 12) == pytest.approx(0.05 * 12 / 16)
    assert basic_op_pj("mul", "float", 8) == basic_op_pj("mul", "fixed", 8)  # no narrow float listed


def test_derived_operations_are_multiples_of_add_and_mul():
    assert op_pj("compare", "fixed", 32) == pytest.approx(0.1)
    assert op_pj("div", "float", 32) == pytest.approx(6 * 3.7)
    assert op_pj("sqrt", "float", 64) == pytest.approx(6 * 14.8)
    assert op_pj("sin", "float", 32) == pytest.approx(10 * 0.9 + 10 * 3.7)
    with pytest.raises(EnergyModelError):
        op_pj("fma", "float", 32)
    with pytest.raises(EnergyModelError):
        op_pj("add", "posit", 32)


def test_sram_fit_passes_horowitz_points():
    assert sram_access_pj(8 * 1024, 64) == pytest.approx(10.0)
    assert sram_access_pj(32 * 1024, 64) == pytest.approx(20.0)
    assert sram_access_pj(1024 * 1024, 64) == pytest.approx(100.0, rel=0.15)
    assert sram_access_pj(8 * 1024, 8) == pytest.approx(10.0 / 8)
    assert sram_access_pj(10, 64) == sram_access_pj(1024, 64)  # floor


def test_node_scaling():
    assert node_scale(45) == pytest.approx(1.0)
    assert node_scale(65, 1.0) == pytest.approx(65 / 45 / 0.81)
    assert node_scale(28) < 1.0 < node_scale(65)
    with pytest.raises(EnergyModelError):
        node_scale(0)


def test_presets_load_and_differ():
    assert {"navion65", "cpu"} <= set(preset_names())
    navion, cpu = load_preset("navion65"), load_preset("cpu")
    assert not navion.is_cpu and navion.codec and navion.h_storage == "sparse_symmetric" and navion.node_nm == 65
    assert cpu.is_cpu and cpu.instruction_overhead_pj == 70 and not cpu.codec


def test_template_loads_and_comments_every_field():
    from importlib import resources

    path = resources.files("accel_model") / "presets" / "template.yaml"
    text = path.read_text()
    HardwareConfig.from_yaml_text(text)
    for field in HardwareConfig.__dataclass_fields__:
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{field}:"))
        assert "#" in line, field


def test_bad_preset_names_file_and_line(tmp_path):
    bad = tmp_path / "hw.yaml"
    bad.write_text("name: x\nonchip_budget_bytes: 1000\nh_storage: triangular\n")
    with pytest.raises(ConfigError, match=r"hw.yaml:3: .*h_storage"):
        load_preset(bad)
    bad.write_text("name: x\nclock_ghz: 1\n")
    with pytest.raises(ConfigError, match=r"hw.yaml:2: .*unknown option 'clock_ghz'"):
        load_preset(bad)
    with pytest.raises(EnergyModelError, match="neither a hardware preset"):
        load_preset("no_such_preset")
