"""ConfigMixin: unknown keys and wrong types are one clear error naming file and line."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.configuration import ConfigError
from datasets.synth.config import SynthConfig
from datasets.synth.world import HallConfig


def test_round_trip_through_dict_and_yaml(tmp_path):
    cfg = SynthConfig(duration_s=12.5, seed=4, exposure_flicker=True, renderer="open3d", realism="ideal")
    assert SynthConfig.from_dict(cfg.to_dict()) == cfg
    hall = HallConfig(size_m=(10.0, 8.0, 4.0), n_boxes=3)
    path = tmp_path / "hall.yaml"
    path.write_text("size_m: [10, 8, 4]\nn_boxes: 3\n")
    assert HallConfig.from_yaml(path) == hall
    assert SynthConfig.from_yaml_text("") == SynthConfig()


@pytest.mark.parametrize("text, needle, line", [
    ("seed: 1\nduraton_s: 3\n", "unknown option 'duraton_s'", 2),
    ("seed: one\n", "'seed' must be an integer", 1),
    ("seed: 1\nimu_noise_scale: true\n", "'imu_noise_scale' must be a number", 2),
    ("exposure_flicker: 1\n", "'exposure_flicker' must be true or false", 1),
    ("duration_s: .inf\n", "must be finite", 1),
    ("\n\ndrop_frames: 1.5\n", "drop_frames", 3),
])
def test_bad_options_name_file_and_line(tmp_path, text, needle, line):
    path = tmp_path / "synth.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        SynthConfig.from_yaml(path)
    assert needle in str(exc.value)
    assert f"{path}:{line}:" in str(exc.value)


def test_tuple_lengths_and_mappings():
    with pytest.raises(ConfigError, match="3 elements"):
        HallConfig.from_dict({"size_m": [1, 2]})
    with pytest.raises(ConfigError, match="mapping"):
        HallConfig.from_dict([1, 2])
    assert SynthConfig.from_dict({"duration_s": None}).duration_s is None


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["seed", "duration_s", "renderer", "drop_frames", "exposure_flicker", "x"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                                 st.text(max_size=5), st.lists(st.integers(), max_size=3)), max_size=4))
def test_from_dict_raises_only_config_error(data):
    try:
        SynthConfig.from_dict(data)
    except ConfigError:
        pass


def test_nested_sections():
    from dataclasses import dataclass, field

    from datasets.configuration import ConfigMixin

    @dataclass(frozen=True)
    class Outer(ConfigMixin):
        hall: HallConfig = field(default_factory=HallConfig)
        name: str = "x"

    cfg = Outer.from_dict({"hall": {"n_boxes": 2}, "name": "y"})
    assert cfg.hall.n_boxes == 2 and Outer.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="Outer.hall: .*unknown option 'n_box'"):
        Outer.from_dict({"hall": {"n_box": 2}})
    with pytest.raises(ConfigError, match="mapping of HallConfig"):
        Outer.from_dict({"hall": 3})
