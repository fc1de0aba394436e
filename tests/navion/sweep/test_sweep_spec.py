"""Sweep spec: grid expansion against itertools.product, knob paths, file:line errors."""
from __future__ import annotations

import itertools
import textwrap

import pytest

from accel_model.hardware import HardwareConfig, load_preset
from datasets.config_paths import apply_overrides, leaf_paths, unknown_path_message
from datasets.configuration import ConfigError
from datasets.errors import DatasetError
from navion.sweep.spec import load_spec
from vio.frontend import FrontendConfig
from vio.pipeline import PipelineConfig


@pytest.fixture
def folder(tmp_path):
    for name in ("seqA", "seqB"):
        (tmp_path / name / "mav0").mkdir(parents=True)
    return tmp_path


def write(folder, text: str):
    path = folder / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def expect_error(path, line: int, *needles):
    with pytest.raises(DatasetError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    for needle in needles:
        assert needle in message, message
    return message


def test_grid_expands_to_the_product_with_each_config_built(folder):
    path = write(folder, """
        sequences: [seqA, seqB/mav0]
        max_frames: 50
        seeds: [3, 4]
        grid:
          vio.frontend.max_features: [100, 150, 200]
          vio.window.capacity: 6
          hw.codec_near: [0, 2]
          hw.backend.max_bits: [32, 16]
          hw.frontend.number_format: float
    """)
    spec = load_spec(path)
    assert spec.sequence_names == ("seqA", "seqB") and spec.max_frames == 50
    assert spec.knob_paths == ["vio.frontend.max_features", "vio.window.capacity", "vio.frontend.ransac_seed",
                               "hw.codec_near", "hw.backend.max_bits", "hw.frontend.number_format"]
    algorithms = list(itertools.product([100, 150, 200], [6], [3, 4]))
    hardware = list(itertools.product([0, 2], [32, 16], ["float"]))
    points = spec.points()
    assert len(points) == 2 * len(algorithms) * len(hardware)
    seen = set()
    base_hw = load_preset("navion65")
    for p in points:
        values = spec.knob_values(p)
        key = (p.sequence, *values.values())
        assert key not in seen
        seen.add(key)
        pipeline = spec.algorithms[p.algorithm][1]
        hw = spec.hardware[p.hardware][1]
        assert (pipeline.frontend.max_features, pipeline.window.capacity, pipeline.frontend.ransac_seed) \
            == algorithms[p.algorithm]
        assert (hw.codec_near, hw.backend.max_bits, hw.frontend.number_format) == hardware[p.hardware]
        assert p.config == p.algorithm * len(hardware) + p.hardware
        # everything not swept keeps the base values
        assert pipeline.frontend.klt_window_px == FrontendConfig().klt_window_px
        assert hw.onchip_budget_bytes == base_hw.onchip_budget_bytes and hw.name == base_hw.name
    assert [p.sequence for p in points] == sorted(p.sequence for p in points)


def test_no_grid_is_one_point_per_sequence_and_base_files_are_relative(folder):
    (folder / "hw.yaml").write_text("name: tiny\nonchip_budget_bytes: 1024\n")
    (folder / "vio.yaml").write_text("frontend:\n  max_features: 77\n")
    spec = load_spec(write(folder, "sequences: [seqA]\nhardware: hw.yaml\npipeline: vio.yaml\n"))
    assert len(spec.points()) == 1 and spec.knob_paths == []
    assert spec.hardware[0][1].onchip_budget_bytes == 1024
    assert spec.algorithms[0][1].frontend.max_features == 77


def test_knob_paths_and_overrides_on_nested_configs():
    paths = leaf_paths(PipelineConfig())
    assert "frontend.max_features" in paths and "window.loss.kind" in paths and "static_init.max_gyro_std" in paths
    assert "frontend" not in paths
    config = apply_overrides(PipelineConfig(), {"window.loss.scale": 2, "static_init.min_duration_s": 0.7,
                                                "frontend.pyramid_levels": 4})
    assert config.window.loss.scale == 2.0 and isinstance(config.window.loss.scale, float)
    assert config.static_init.min_duration_s == 0.7 and config.frontend.pyramid_levels == 4
    assert config.window.capacity == PipelineConfig().window.capacity
    hw = apply_overrides(HardwareConfig(onchip_budget_bytes=1), {"mi.max_bits": 8})
    assert hw.mi.max_bits == 8 and hw.onchip_budget_bytes == 1
    message = unknown_path_message(PipelineConfig(), "frontend.max_feature", "vio.")
    assert "'vio.frontend.max_feature'" in message and "vio.frontend.max_features" in message
    assert "vio.window.capacity" not in message  # only the reached section's knobs
    assert "is a section" in unknown_path_message(PipelineConfig(), "window.loss", "vio.")
    assert "is an option" in unknown_path_message(PipelineConfig(), "window.capacity.x", "vio.")


def test_unknown_top_level_key(folder):
    expect_error(write(folder, "sequences: [seqA]\nmax_frame: 3\n"), 2, "unknown option 'max_frame'", "max_frames")


def test_unknown_knob_lists_the_valid_ones(folder):
    path = write(folder, """
        sequences: [seqA]
        grid:
          vio.frontend.max_features: [10, 20]
          hw.codec_nea: [0, 1]
    """)
    message = expect_error(path, 4, "unknown knob 'hw.codec_nea'", "hw.codec_near", "hw.onchip_budget_bytes")
    assert "hw.backend.max_bits" in message


def test_knob_without_prefix(folder):
    expect_error(write(folder, "sequences: [seqA]\ngrid:\n  frontend.max_features: [1]\n"), 3, "must start with")


def test_bad_value_points_at_its_list_item(folder):
    path = write(folder, """
        sequences: [seqA]
        grid:
          vio.frontend.klt_window_px:
            - 15
            - 20
    """)
    expect_error(path, 5, "vio.frontend.klt_window_px = 20", "odd")


def test_wrong_type_and_duplicates(folder):
    expect_error(write(folder, "sequences: [seqA]\ngrid:\n  hw.codec: [true, maybe]\n"), 3, "true or false")
    expect_error(write(folder, "sequences: [seqA]\ngrid:\n  hw.codec_near: [1, 1]\n"), 3, "twice")
    expect_error(write(folder, "sequences: [seqA]\ngrid:\n  hw.codec_near: []\n"), 3, "at least one value")


def test_invalid_combination_is_reported(folder):
    path = write(folder, """
        sequences: [seqA]
        grid:
          vio.frontend.min_disparity_px: [0.5, 50.0]
          vio.frontend.max_disparity_px: [40.0, 120.0]
    """)
    expect_error(path, 2, "min_disparity_px=50.0", "max_disparity_px=40.0")


def test_sequences_hardware_and_seeds_errors(folder):
    expect_error(write(folder, "sequences:\n  - seqA\n  - nowhere\n"), 3, "'nowhere'", "no such")
    expect_error(write(folder, "sequences: [seqA, seqA]\n"), 1, "twice")
    expect_error(write(folder, "sequences: []\n"), 1, "at least one sequence")
    expect_error(write(folder, "sequences: [seqA]\nhardware: nonesuch\n"), 2, "navion65")
    expect_error(write(folder, "sequences: [seqA]\nmax_frames: 0\n"), 2, "max_frames")
    path = write(folder, "sequences: [seqA]\nseeds: [1]\ngrid:\n  vio.frontend.ransac_seed: [2]\n")
    expect_error(path, 4, "not both")


def test_errors_inside_base_files_name_those_files(folder):
    (folder / "vio.yaml").write_text("frontend:\n  max_features: lots\n")
    path = write(folder, "sequences: [seqA]\npipeline: vio.yaml\n")
    with pytest.raises(ConfigError, match=r"vio\.yaml:2: .*max_features"):
        load_spec(path)


def test_malformed_yaml(folder):
    expect_error(write(folder, "sequences: [seqA\ngrid: {}\n"), 2, "malformed yaml")
