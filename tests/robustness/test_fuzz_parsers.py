"""Fuzzing every parser of user files: each input either parses to valid values or raises the
package's own error type (DatasetError, ConfigError, EnergyModelError), never anything else.

Bounded example counts keep this fast; the TUM reader and the codec's decoder have their own
fuzz tests beside their unit tests (tests/datasets/test_tum.py, tests/accel_model/test_codec.py).
"""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accel_model.energy import EnergyModelError
from accel_model.hardware import HardwareConfig, load_preset
from accel_model.report import (
    REPORT_NUMBERS,
    build_report,
    compare_rows,
    load_report,
    load_run,
    print_comparison,
)
from datasets.calibration import camera_yaml, euroc_cameras, euroc_imu, imu_yaml, parse_camera_yaml, parse_imu_yaml
from datasets.configuration import ConfigError
from datasets.errors import DatasetError, WarningCounter
from datasets.euroc_csv import read_image_index, read_numeric_csv
from datasets.perturb import PerturbConfig
from datasets.synth.config import SynthConfig
from datasets.tum import Trajectory, write_tum
from navion.evaluation import EvaluationError, PoseSeries, evaluate, load_poses
from vio.pipeline import PipelineConfig

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
SOURCE = "fuzz/data.csv"

# Field values that have broken parsers before, plus arbitrary numbers and text.
_SPECIAL = ["", " ", "nan", "NaN", "inf", "-inf", "1e308", "1e309", "-1e400", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809", "99999999999999999999999", "1_0", "0x10", "1.5",
            "-0", "+5", "\u0661\u0662", "1e5", ".", "#", "\x00", "\ufffd", "1403636580838560000", "\t3",
            "infinity", "1.0d5", "1e", "--1", "١.٥"]
_FIELD = st.one_of(st.sampled_from(_SPECIAL), st.integers().map(str), st.floats().map(repr), st.text(max_size=6))


def _csv_texts(n_columns: int):
    """Random rows, valid rows with one field replaced, and raw text or bytes."""
    valid_row = st.builds(lambda t, vals: ",".join([str(t), *map(repr, vals)]),
                          st.integers(0, 2**62), st.lists(st.floats(-1e3, 1e3), min_size=n_columns - 1,
                                                           max_size=n_columns - 1))

    @st.composite
    def mutated(draw):
        rows = draw(st.lists(valid_row, min_size=1, max_size=8))
        i = draw(st.integers(0, len(rows) - 1))
        fields = rows[i].split(",")
        fields[draw(st.integers(0, len(fields) - 1))] = draw(_FIELD)
        rows[i] = ",".join(fields)
        return "#header\n" + "\n".join(rows)

    random_rows = st.lists(st.lists(_FIELD, min_size=1, max_size=n_columns + 2).map(",".join),
                           max_size=8).map("\n".join)
    raw = st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")))
    return st.one_of(mutated(), random_rows, raw)


def _expect_dataset_error(exc: DatasetError, source: str, line: bool = False) -> None:
    assert str(exc).startswith(source), str(exc)
    assert exc.line is not None or not line, f"no line number: {exc}"


@pytest.mark.parametrize("columns", [(7,), (8, 17)], ids=["imu", "groundtruth"])
@FUZZ
@given(data=st.data())
def test_numeric_csv(columns, data):
    text = data.draw(_csv_texts(columns[0]))
    try:
        stamps, values = read_numeric_csv(text, SOURCE, columns, WarningCounter(quiet=True))
    except DatasetError as exc:
        _expect_dataset_error(exc, SOURCE, line=True)
        return
    assert stamps.dtype == np.int64 and values.dtype == np.float64
    assert np.all(stamps >= 0) and np.all(np.diff(stamps) > 0)
    assert values.shape == (len(stamps), values.shape[1]) and values.shape[1] + 1 in columns
    assert np.isfinite(values).all()


@FUZZ
@given(text=_csv_texts(2))
def test_image_index(text):
    try:
        stamps, names = read_image_index(text, SOURCE, WarningCounter(quiet=True))
    except DatasetError as exc:
        _expect_dataset_error(exc, SOURCE, line=True)
        return
    assert stamps.dtype == np.int64 and np.all(stamps >= 0) and np.all(np.diff(stamps) > 0)
    assert len(names) == len(stamps) and all(isinstance(n, str) and n for n in names)


# -- yaml: sensor calibration and config files ------------------------------------------------------

_YAML_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
_YAML_SCALAR_TEXT = st.one_of(st.sampled_from(["1e-3", "1.0e+308", ".inf", ".nan", "~", "[1, 2", "{a: 1}", "!!binary x",
                                               "&a [*a]", "99999999999999999999999", "'x'", "- 1", ":", "\x00"]),
                              _YAML_VALUE.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()))


@st.composite
def _mutated_yaml(draw, text: str):
    """``text`` with the value of one of its ``key: value`` lines replaced (or a line cut)."""
    lines = text.splitlines()
    keyed = [i for i, ln in enumerate(lines) if ":" in ln and not ln.startswith("%")]
    i = draw(st.sampled_from(keyed))
    if draw(st.booleans()):
        lines[i] = lines[i].split(":", 1)[0] + ": " + draw(_YAML_SCALAR_TEXT)
    else:
        lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return "\n".join(lines) + "\n"


_CAMERA_YAML = camera_yaml(euroc_cameras()[0])
_IMU_YAML = imu_yaml(euroc_imu())


@FUZZ
@given(text=st.one_of(_mutated_yaml(_CAMERA_YAML), st.text(max_size=100)))
def test_camera_yaml(text):
    try:
        cal = parse_camera_yaml(text, "fuzz/sensor.yaml", "cam0")
    except DatasetError as exc:
        _expect_dataset_error(exc, "fuzz/sensor.yaml")
        return
    assert all(math.isfinite(v) for v in (*cal.intrinsics, *cal.distortion_coefficients, cal.rate_hz))
    assert min(cal.resolution) >= 1 and np.isfinite(cal.T_body_cam).all()


@FUZZ
@given(text=st.one_of(_mutated_yaml(_IMU_YAML), st.text(max_size=100)))
def test_imu_yaml(text):
    try:
        cal = parse_imu_yaml(text, "fuzz/sensor.yaml")
    except DatasetError as exc:
        _expect_dataset_error(exc, "fuzz/sensor.yaml")
        return
    noise = (cal.gyro_noise_density, cal.gyro_random_walk, cal.accel_noise_density, cal.accel_random_walk)
    assert cal.rate_hz > 0 and all(math.isfinite(v) and v >= 0 for v in noise)


_CONFIGS = {"synth": SynthConfig, "pipeline": PipelineConfig, "perturb": PerturbConfig, "hardware": HardwareConfig}
_OPTION_NAMES = sorted({name for cls in _CONFIGS.values() for name in cls.__dataclass_fields__}
                       | {"max_features", "klt_window_px", "capacity", "number_format", "max_bits"})


@st.composite
def _config_yaml(draw):
    """A yaml mapping of known option names (some nested) to arbitrary values, or raw text."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=80))
    data = draw(st.dictionaries(st.sampled_from(_OPTION_NAMES), _YAML_VALUE, max_size=4))
    if draw(st.booleans()):
        data[draw(st.sampled_from(["frontend", "window", "solver", "backend"]))] = draw(
            st.dictionaries(st.sampled_from(_OPTION_NAMES), _YAML_VALUE, max_size=3))
    return yaml.safe_dump(data, allow_unicode=True)


@pytest.mark.parametrize("name", sorted(_CONFIGS))
@FUZZ
@given(text=_config_yaml())
def test_config_from_yaml_text(name, text):
    cls = _CONFIGS[name]
    try:
        config = cls.from_yaml_text(text, source="fuzz.yaml")
    except ConfigError as exc:
        _expect_dataset_error(exc, "fuzz.yaml")
        return
    except DatasetError as exc:  # malformed yaml (raised before any option is looked at)
        _expect_dataset_error(exc, "fuzz.yaml")
        return
    assert cls.from_dict(config.to_dict()) == config


@FUZZ
@given(items=st.lists(st.one_of(st.builds("{}={}".format, st.sampled_from(_OPTION_NAMES), _YAML_SCALAR_TEXT),
                                st.text(max_size=10)), min_size=1, max_size=4))
def test_perturb_cli_items(items, tmp_path):
    try:
        PerturbConfig.from_cli(items)
    except DatasetError:
        pass


@FUZZ
@given(text=_config_yaml())
def test_hardware_preset_file(tmp_path, text):
    path = tmp_path / "hw.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        hw = load_preset(path)
    except (EnergyModelError, DatasetError) as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(hw, HardwareConfig)


# -- energy reports and run folders -----------------------------------------------------------------

def _workload_line(t_ns: int, scale: int) -> str:
    stages = [{"stage": "frontend", "ops": [{"kind": "add", "bits": 16, "count": 1000 * scale},
                                            {"kind": "mul", "bits": 32, "count": 200 * scale}],
               "buffers": {"frame_pyramid": {"reads_words": 5000, "writes_words": 4000, "word_bits": 8,
                                             "peak_bytes": 360960}}},
              {"stage": "vio.backend", "ops": [{"kind": "mul", "bits": 64, "count": 3000 * scale}],
               "buffers": {}}]
    return json.dumps({"timestamp_ns": t_ns, "stages": stages})


@pytest.fixture(scope="module")
def valid_report(tmp_path_factory) -> dict:
    """A report of a small hand-made run folder (no sequence: no codec measurement)."""
    run = tmp_path_factory.mktemp("run")
    (run / "summary.json").write_text(json.dumps({"process_cpu_time_s": 1.0}))
    (run / "workloads.jsonl").write_text("\n".join(_workload_line(10**18 + k * 50_000_000, k + 1)
                                                   for k in range(3)) + "\n")
    return build_report(run, load_preset("navion65"))


_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6))
_JSON = st.recursive(_JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                     max_leaves=10)


@st.composite
def _mutated_report(draw, report: dict) -> str:
    """The report with one of the fields compare reads replaced or deleted, or its schema changed."""
    data = json.loads(json.dumps(report))
    keys = draw(st.sampled_from(REPORT_NUMBERS))
    parent = data
    cut = draw(st.integers(1, len(keys)))
    for key in keys[:cut - 1]:
        parent = parent[key]
    if draw(st.integers(0, 3)) == 0:
        del parent[keys[cut - 1]]
    else:
        parent[keys[cut - 1]] = draw(_JSON)
    if draw(st.integers(0, 5)) == 0:
        data["schema_version"] = draw(_JSON)
    return json.dumps(data)


@FUZZ
@given(data=st.data())
def test_energy_report_loader(tmp_path, valid_report, data):
    text = data.draw(st.one_of(_mutated_report(valid_report), _JSON.map(json.dumps), st.text(max_size=50)))
    path = tmp_path / "energy.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        report = load_report(path)
    except EnergyModelError as exc:
        assert str(path) in str(exc)
        return
    rows = compare_rows([("a", report), ("b", report)])
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for _, values in rows for v in values)
    from rich.console import Console

    print_comparison([("a", report), ("b", report)], console=Console(file=io.StringIO()))


@FUZZ
@given(data=st.data())
def test_run_folder_loader(tmp_path, data):
    lines = [_workload_line(10**18 + k * 50_000_000, 1) for k in range(2)]
    i = data.draw(st.integers(0, 1))
    record = json.loads(lines[i])
    target = data.draw(st.sampled_from(["timestamp_ns", "count", "bits", "reads_words", "peak_bytes", "stage"]))
    value = data.draw(_JSON)
    if target == "timestamp_ns":
        record["timestamp_ns"] = value
    elif target in ("count", "bits"):
        record["stages"][0]["ops"][0][target] = value
    elif target == "stage":
        record["stages"][1]["stage"] = value
    else:
        record["stages"][0]["buffers"]["frame_pyramid"][target] = value
    lines[i] = json.dumps(record)
    summary = data.draw(st.one_of(st.just({"process_cpu_time_s": 1.0}), _JSON))
    (tmp_path / "workloads.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    try:
        build_report(tmp_path, load_preset("navion65"))
    except EnergyModelError as exc:
        assert str(tmp_path) in str(exc)
    else:
        assert load_run(tmp_path).frames == 2


# -- TUM trajectories through the evaluator -------------------------------------------------------

@FUZZ
@given(data=st.data())
def test_evaluation_of_parsed_trajectories(tmp_path, data):
    """Whatever the TUM reader accepts, the evaluator either scores or raises its own error."""
    n = data.draw(st.integers(0, 8))
    stamps = np.array(sorted(data.draw(st.sets(st.integers(0, 2000), min_size=n, max_size=n))), np.int64) * 10**7
    value = st.one_of(st.floats(-1e3, 1e3), st.sampled_from([0.0, 1e9, -1e9, 1e-300, 1e300, 1e308]))
    p = np.array(data.draw(st.lists(st.tuples(value, value, value), min_size=n, max_size=n)), float).reshape(n, 3)
    q = np.array(data.draw(st.lists(st.tuples(value, value, value, value), min_size=n, max_size=n)),
                 float).reshape(n, 4)
    try:
        with np.errstate(over="ignore"):  # the writer's zero-norm check squares huge components
            write_tum(tmp_path / "est.tum", Trajectory(stamps, p, q))

        est = load_poses(tmp_path / "est.tum", quiet=True)
    except (DatasetError, EvaluationError):
        return
    t_gt = np.arange(0, 2001, dtype=np.int64) * 10**7
    gt = PoseSeries(t_gt, np.column_stack([np.cos(t_gt * 1e-9), np.sin(t_gt * 1e-9), 0 * t_gt]),
                    np.tile(np.eye(3), (len(t_gt), 1, 1)))
    try:
        result = evaluate(gt, est)
    except EvaluationError:
        return
    assert np.isfinite(result.ate_m).all()
