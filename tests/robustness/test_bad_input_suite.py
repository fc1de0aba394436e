"""Bad input at every entry point of the ``navion`` command: one ``navion: error:`` line naming the
file (and line where one is at fault), exit code 2, never a traceback.

Complements the per-module tests (tests/datasets/test_euroc_bad_input.py, test_tum.py,
test_rosbag.py, tests/accel_model/test_report.py, test_codec.py, tests/navion/*): the cases
here are huge values (1e308, inf, nan, integers beyond int64), wrong types, binary garbage,
non-UTF-8 bytes, zero-length files and missing columns, each through the command line.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_runner import expect_one_line_error, run
from tiny_sequence import CAM_DT_NS, HEIGHT, T0, WIDTH

from accel_model.codec import CodecError, decode, encode
from accel_model.hardware import load_preset
from accel_model.report import build_report
from datasets.tum import read_tum
from vio.pipeline import PipelineConfig

GARBAGE = bytes(range(256)) * 4
DEEP_YAML = "a: " + "[" * 600 + "]" * 600 + "\n"  # beyond what PyYAML can recurse into


def _replace_line(path: Path, key: str, new: bytes) -> int:
    """Replaces the line starting with ``key`` by ``new``; returns its 1-based number."""
    lines = path.read_bytes().split(b"\n")
    i = next(i for i, ln in enumerate(lines) if ln.startswith(key.encode()))
    lines[i] = new
    path.write_bytes(b"\n".join(lines))
    return i + 1


# -- EuRoC sequence files, through `navion info` ------------------------------------------------------

CAMERA_YAML_CASES = {  # key of the line replaced -> (new line, words of the error)
    "rate_huge": ("rate_hz", b"rate_hz: 1.0e+308", "rate_hz"),
    "rate_int_beyond_int64": ("rate_hz", b"rate_hz: 99999999999999999999999999", "rate_hz"),
    "resolution_beyond_int64": ("resolution", b"resolution: [99999999999999999999999, 24]", "resolution"),
    "resolution_float": ("resolution", b"resolution: [32.5, 24]", "resolution"),
    "intrinsics_nan": ("intrinsics", b"intrinsics: [.nan, 457.0, 367.0, 248.0]", "finite"),
    "intrinsics_inf": ("intrinsics", b"intrinsics: [.inf, 457.0, 367.0, 248.0]", "finite"),
    "intrinsics_wrong_type": ("intrinsics", b"intrinsics: fast", "list of 4 numbers"),
    "intrinsics_missing_column": ("intrinsics", b"intrinsics: [458.6, 457.3, 367.2]", "list of 4 numbers"),
    "distortion_strings": ("distortion_coefficients", b"distortion_coefficients: [a, b, c, d]", "finite"),
    "non_utf8_model": ("camera_model", b"camera_model: pin\xff\xfehole", "camera_model"),
    "model_is_a_mapping": ("distortion_model", b"distortion_model: {a: 1}", "distortion_model"),
}


@pytest.mark.parametrize("case", sorted(CAMERA_YAML_CASES))
def test_camera_yaml_values(capsys, tiny, case):
    key, line, needle = CAMERA_YAML_CASES[case]
    number = _replace_line(tiny / "cam1" / "sensor.yaml", key, line)
    expect_one_line_error(capsys, ["info", tiny], f"cam1/sensor.yaml:{number}:", needle)


@pytest.mark.parametrize("content, needle", [
    (b"", "expected a yaml mapping"), (GARBAGE, "malformed yaml"), (b"\xff\xfe\x00\x01", "malformed yaml"),
    (DEEP_YAML.encode(), "nested too deeply"), (b"- 1\n- 2\n", "expected a yaml mapping"),
    (b"T_BS:\n  rows: 4\n  cols: 4\n  data: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]\n", "missing key"),
], ids=["zero_length", "binary", "non_utf8", "deep_nesting", "list", "missing_keys"])
def test_whole_sensor_yaml(capsys, tiny, content, needle):
    (tiny / "cam0" / "sensor.yaml").write_bytes(content)
    expect_one_line_error(capsys, ["info", tiny], "cam0/sensor.yaml", needle)


@pytest.mark.parametrize("key, line, needle", [
    ("gyroscope_noise_density", b"gyroscope_noise_density: 1.0e+308", "at most"),
    ("accelerometer_random_walk", b"accelerometer_random_walk: fast", "finite number"),
    ("rate_hz", b"rate_hz: -200", "positive"),
    ("rate_hz", b"rate_hz: .nan", "finite number"),
], ids=["noise_huge", "walk_wrong_type", "rate_negative", "rate_nan"])
def test_imu_yaml_values(capsys, tiny, key, line, needle):
    number = _replace_line(tiny / "imu0" / "sensor.yaml", key, line)
    expect_one_line_error(capsys, ["info", tiny], f"imu0/sensor.yaml:{number}:", needle)


IMU_ROW = f"{T0 + 3 * 5_000_000},0.01,0.002,-0.02,0.1,0.2,9.81"
CSV_CASES = {  # file -> row 5 (line 5 of the file) replaced by this, and words of the error
    "imu_stamp_beyond_int64": ("imu0/data.csv", "99999999999999999999,0,0,0,0,0,9.8", "timestamp"),
    "imu_stamp_float": ("imu0/data.csv", f"{T0 + 20_000_000}.5,0,0,0,0,0,9.8", "timestamp"),
    "imu_stamp_negative": ("imu0/data.csv", "-5,0,0,0,0,0,9.8", "negative timestamp"),
    "imu_missing_column": ("imu0/data.csv", IMU_ROW.rsplit(",", 1)[0], "columns"),
    "imu_wrong_type": ("imu0/data.csv", IMU_ROW.replace("9.81", "high"), "'high'"),
    "imu_unicode_digits": ("imu0/data.csv", IMU_ROW.replace("9.81", "\u0669.\u0668"), "column 7"),
    "imu_digit_underscores": ("imu0/data.csv", IMU_ROW.replace("9.81", "9_81"), "column 7"),
    "imu_hex": ("imu0/data.csv", IMU_ROW.replace("9.81", "0x10"), "column 7"),
    "cam_stamp_beyond_int64": ("cam0/data.csv", "99999999999999999999,x.png", "timestamp"),
    "cam_missing_filename": ("cam0/data.csv", f"{T0 + 3 * CAM_DT_NS}", "columns"),
    "gt_missing_columns": ("state_groundtruth_estimate0/data.csv", f"{T0},1,2,3", "8 or 17"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_rows(capsys, tiny, case):
    rel, row, needle = CSV_CASES[case]
    path = tiny / rel
    lines = path.read_text().splitlines()
    lines[4] = row
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expect_one_line_error(capsys, ["info", tiny], f"{rel}:5:", needle)


@pytest.mark.parametrize("rel", ["imu0/data.csv", "cam1/data.csv", "state_groundtruth_estimate0/data.csv"])
@pytest.mark.parametrize("content, line, needle", [(b"", 1, "no data rows"), (GARBAGE, 3, "expected"),
                                                   (b"#t\n\xff\xfe\xfd,1,2\n", 2, "expected")],
                         ids=["zero_length", "binary", "non_utf8"])
def test_whole_csv(capsys, tiny, rel, content, line, needle):
    (tiny / rel).write_bytes(content)
    expect_one_line_error(capsys, ["info", tiny], f"{rel}:{line}:", needle)


def test_tolerated_values_are_counted(capsys, tiny):
    """inf, 1e308 and zero quaternions are dropped and counted, like NaN rows."""
    imu = (tiny / "imu0" / "data.csv").read_text().splitlines()
    imu[3] = imu[3].rsplit(",", 1)[0] + ",1e308"
    imu[6] = imu[6].rsplit(",", 1)[0] + ",inf"
    (tiny / "imu0" / "data.csv").write_text("\n".join(imu) + "\n")
    gt = (tiny / "state_groundtruth_estimate0" / "data.csv").read_text().splitlines()
    for i in (2, 3):
        gt[i] = ",".join(gt[i].split(",")[:4] + ["0", "0", "0", "0"])
    gt[8] = ",".join([gt[8].split(",")[0], "1e300"] + gt[8].split(",")[2:])
    (tiny / "state_groundtruth_estimate0" / "data.csv").write_text("\n".join(gt) + "\n")
    code, out, err = run(capsys, "info", tiny, "--json")
    assert code == 0 and "Traceback" not in err
    info = json.loads(out)
    assert info["warnings"]["huge_value"] == 2 and info["warnings"]["nan_row"] == 1
    assert info["warnings"]["zero_quaternion"] == 2
    assert info["imu_samples"] == 38 and info["groundtruth_samples"] == 37


def test_body_yaml(capsys, tiny):
    (tiny / "body.yaml").write_bytes(GARBAGE)
    expect_one_line_error(capsys, ["info", tiny], "body.yaml", "malformed yaml")


def test_zip_of_garbage(capsys, tmp_path):
    (tmp_path / "seq.zip").write_bytes(b"PK\x03\x04" + GARBAGE)
    expect_one_line_error(capsys, ["info", tmp_path / "seq.zip"], "seq.zip")


# -- images, through `navion replay`: the frames done are written before the error ----------------

def test_corrupt_image_mid_run_keeps_valid_outputs(capsys, fragment_copy, tmp_path):
    mav0 = fragment_copy(30)
    bad = sorted((mav0 / "cam1" / "data").iterdir())[25]
    bad.unlink()
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + GARBAGE)
    out = tmp_path / "run"
    expect_one_line_error(capsys, ["replay", mav0.parent, "--out", out], f"cam1/data/{bad.name}", "decode")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 25 and bad.name in summary["stopped_by"]
    trajectory = read_tum(out / "trajectory.tum")
    assert len(trajectory) == summary["estimated_frames"] >= 3
    assert np.isfinite(trajectory.p_world_body).all() and summary["ate_rmse_m"] is not None
    assert len((out / "workloads.jsonl").read_text().splitlines()) == 25


def test_image_size_differs_from_calibration(capsys, tiny, tmp_path):
    name = f"{T0 + 2 * CAM_DT_NS}.png"
    cv2.imwrite(str(tiny / "cam0" / "data" / name), np.zeros((HEIGHT + 1, WIDTH), np.uint8))
    out = tmp_path / "run"
    expect_one_line_error(capsys, ["replay", tiny.parent, "--out", out], f"cam0/data/{name}",
                          f"{WIDTH}x{HEIGHT + 1} but the cam0 calibration says {WIDTH}x{HEIGHT}")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 2 and summary["stopped_by"]
    assert len(read_tum(out / "trajectory.tum")) == summary["estimated_frames"]


def test_sequence_the_vio_cannot_use(capsys, tiny, tmp_path):
    """Well-formed files the estimator cannot run with: cameras of different sizes, an IMU off the body frame."""
    import dataclasses

    from datasets.calibration import camera_yaml, euroc_cameras, euroc_imu, imu_yaml

    cam1 = dataclasses.replace(euroc_cameras()[1], resolution=(WIDTH * 2, HEIGHT * 2))
    (tiny / "cam1" / "sensor.yaml").write_text(camera_yaml(cam1))
    expect_one_line_error(capsys, ["replay", tiny.parent, "--out", tmp_path / "a"], "resolutions differ")
    (tiny / "cam1" / "sensor.yaml").write_text(camera_yaml(dataclasses.replace(cam1, resolution=(WIDTH, HEIGHT))))
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.array([0.0, 0.0, 0.3]))[0]
    (tiny / "imu0" / "sensor.yaml").write_text(imu_yaml(dataclasses.replace(euroc_imu(), T_body_imu=T)))
    expect_one_line_error(capsys, ["replay", tiny.parent, "--out", tmp_path / "b"], "must define the body frame")


# -- ROS bags ----------------------------------------------------------------------------------------

@pytest.fixture
def bag_bytes(tmp_path) -> bytes:
    pytest.importorskip("rosbags", reason="optional extra navion-sim[bags] not installed")
    from datasets.rosbag import write_euroc_bag

    rng = np.random.default_rng(1)
    t_imu = T0 + 5_000_000 * np.arange(40, dtype=np.int64)
    stereo = [(T0 + CAM_DT_NS * i, rng.integers(0, 256, (480, 752), dtype=np.uint8),
               rng.integers(0, 256, (480, 752), dtype=np.uint8)) for i in range(3)]
    path = write_euroc_bag(tmp_path / "good.bag", t_imu, rng.normal(size=(40, 3)), rng.normal(size=(40, 3)), stereo)
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["zero_length", "garbage", "truncated"])
def test_damaged_bag_replay(capsys, tmp_path, bag_bytes, damage):
    data = {"zero_length": b"", "garbage": b"#ROSBAG V2.0\n" + GARBAGE,
            "truncated": bag_bytes[: len(bag_bytes) // 2]}[damage]
    (tmp_path / "bad.bag").write_bytes(data)
    expect_one_line_error(capsys, ["replay", tmp_path / "bad.bag", "--out", tmp_path / "run"], "bad.bag")


def test_bag_with_bad_calibration_folder(capsys, tmp_path, bag_bytes, tiny):
    (tmp_path / "seq.bag").write_bytes(bag_bytes)
    (tiny / "imu0" / "sensor.yaml").write_bytes(GARBAGE)
    expect_one_line_error(capsys, ["info", tmp_path / "seq.bag", "--calibration", tiny], "imu0/sensor.yaml")
    (tiny / "imu0" / "sensor.yaml").unlink()
    expect_one_line_error(capsys, ["info", tmp_path / "seq.bag", "--calibration", tiny], "imu0/sensor.yaml")


# -- option files: replay --config, synth --config, replay --perturb --------------------------------------

OPTION_FILE_CASES = {  # case -> (replay --config text, synth --config text, words of the error)
    "nan": (b"max_jump_m: .nan\n", b"imu_noise_scale: .nan\n", "must be finite"),
    "beyond_int64": (b"min_stereo_tracks: 99999999999999999999999\n", b"seed: 99999999999999999999999\n",
                     "within int64"),
    "binary": (GARBAGE, GARBAGE, "malformed yaml"),
    "non_utf8": (b"max_jump_m: 1\xff\n", b"renderer: box\xffes\n", "cfg.yaml:1:"),
    "deep_nesting": (DEEP_YAML.encode(), DEEP_YAML.encode(), "nested too deeply"),
    "list": (b"- 1\n", b"- 1\n", "expected a yaml mapping"),
    "wrong_type": (b"solver: [1, 2]\n", b"duration_s: [1, 2]\n", "cfg.yaml:1:"),
}


@pytest.mark.parametrize("command", ["replay", "synth"])
@pytest.mark.parametrize("case", sorted(OPTION_FILE_CASES))
def test_option_files(capsys, tiny, tmp_path, command, case):
    replay_text, synth_text, needle = OPTION_FILE_CASES[case]
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(replay_text if command == "replay" else synth_text)
    argv = (["replay", tiny.parent, "--out", tmp_path / "run"] if command == "replay"
            else ["synth", "--out", tmp_path / "synth"]) + ["--config", cfg]
    expect_one_line_error(capsys, argv, "cfg.yaml", needle)


def test_pipeline_section_beyond_int64_names_the_line(capsys, tiny, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("max_jump_m: 2.0\nfrontend:\n  max_features: 99999999999999999999999\n")
    expect_one_line_error(capsys, ["replay", tiny.parent, "--config", cfg], "cfg.yaml:3:", "max_features", "int64")


def test_yaml_exponent_floats_are_numbers():
    """YAML 1.1 reads ``1e-3`` as a string; the project's loader reads it as the number users mean."""
    config = PipelineConfig.from_yaml_text("max_jump_m: 5e-1\nsolver:\n  initial_lambda: 1E-4\n")
    assert config.max_jump_m == 0.5 and config.solver.initial_lambda == 1e-4


@pytest.mark.parametrize("options, needles", [
    (["drop_fraction=1.5"], ("drop_fraction", "[0, 1)")),
    (["imu_noise_factor=0.5"], ("imu_noise_factor",)),
    (["flicker_gain=[1.4, 0.6]"], ("flicker_gain",)),
    (["wall_start_s=.nan"], ("wall_start_s", "finite")),
    (["seed=99999999999999999999999"], ("seed", "int64")),
    (["no_such_option=1"], ("unknown option 'no_such_option'",)),
    (["flicker_gain=[0.6"], ("flicker_gain",)),
    (["missing.yaml"], ("missing.yaml", "cannot read")),
], ids=["drop", "noise", "gain_order", "nan", "int64", "unknown", "yaml", "file"])
def test_perturb_options(capsys, tiny, options, needles):
    expect_one_line_error(capsys, ["replay", tiny.parent, "--perturb", *options], *needles)


# -- hardware presets and energy reports -------------------------------------------------------------------

@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A hand-made run folder (no sequence: no codec measurement)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text('{"process_cpu_time_s": 1.5}')
    stage = {"stage": "frontend", "ops": [{"kind": "add", "bits": 16, "count": 1000}],
             "buffers": {"frame_pyramid": {"reads_words": 500, "writes_words": 400, "word_bits": 8,
                                           "peak_bytes": 360960}}}
    (run / "workloads.jsonl").write_text("\n".join(json.dumps({"timestamp_ns": T0 + k * CAM_DT_NS, "stages": [stage]})
                                                   for k in range(3)) + "\n")
    return run


@pytest.mark.parametrize("key, line, needle", [
    ("codec_near", b"codec_near: 1000", "codec_near must be at most 127"),
    ("onchip_budget_bytes", b"onchip_budget_bytes: 99999999999999999999999", "within int64"),
    ("onchip_budget_bytes", b"onchip_budget_bytes: 1099511627776", "onchip_budget_bytes must be at most"),
    ("vdd_v", b"vdd_v: 1.0e+308", "vdd_v must be at most"),
    ("codec_sample_frames", b"codec_sample_frames: 1000000000", "codec_sample_frames must be at most"),
    ("clock_mhz", b"clock_mhz: .inf", "finite"),
    ("node_nm", b"node_nm: [65]", "must be a number"),
    ("codec:", b"codec: [true]", "true or false"),
    ("h_storage", b"h_storage: spa\xffrse", "h_storage"),
], ids=["near", "beyond_int64", "budget", "vdd", "samples", "inf", "wrong_type", "bool_type", "non_utf8"])
def test_hardware_preset_values(capsys, run_dir, tmp_path, key, line, needle):
    from importlib import resources

    hw = tmp_path / "hw.yaml"
    hw.write_bytes((resources.files("accel_model") / "presets" / "navion65.yaml").read_bytes())
    number = _replace_line(hw, key, line)
    expect_one_line_error(capsys, ["energy", run_dir, "--hw", hw], f"hw.yaml:{number}:", needle)


@pytest.mark.parametrize("content, needle", [(b"", "onchip_budget_bytes must be positive"),
                                             (GARBAGE, "malformed yaml"), (DEEP_YAML.encode(), "nested too deeply")],
                         ids=["zero_length", "binary", "deep_nesting"])
def test_whole_hardware_preset(capsys, run_dir, tmp_path, content, needle):
    (tmp_path / "hw.yaml").write_bytes(content)
    expect_one_line_error(capsys, ["energy", run_dir, "--hw", tmp_path / "hw.yaml"], "hw.yaml", needle)


def test_largest_allowed_preset_values_still_price(run_dir):
    from dataclasses import replace

    from accel_model.hardware import MAX_CODEC_SAMPLES, MAX_NEAR, MAX_VDD_V

    hw = replace(load_preset("navion65"), vdd_v=MAX_VDD_V, codec_near=MAX_NEAR, codec_sample_frames=MAX_CODEC_SAMPLES)
    report = build_report(run_dir, hw)
    assert np.isfinite(report["accelerator"]["energy_per_frame_uj"])


def _report_variants(good: dict) -> dict[str, bytes]:
    def changed(edit) -> bytes:
        data = json.loads(json.dumps(good))
        edit(data)
        return json.dumps(data).encode()

    return {
        "zero_length": b"", "binary": GARBAGE, "non_utf8": json.dumps(good).encode()[:-1] + b', "x": "\xff"}',
        "deep_nesting": b"[" * 100_000 + b"]" * 100_000, "list": b"[1, 2]",
        "beyond_float": changed(lambda d: d["accelerator"].update(energy_per_frame_uj=10**400)),
        "nan": changed(lambda d: d["cpu"].update(energy_per_frame_uj=float("nan"))),
        "string_number": changed(lambda d: d["accelerator"].update(power_mw="3.5")),
        "bool_number": changed(lambda d: d["memory"].update(reduction_factor=True)),
        "missing_stage": changed(lambda d: d["stages"].pop("mi")),
        "stages_list": changed(lambda d: d.update(stages=[1, 2])),
        "missing_category": changed(lambda d: d["accelerator"]["categories"].pop("leakage_uj")),
        "old_schema_as_string": changed(lambda d: d.update(schema_version="1")),
    }


VARIANT_WORDS = {"zero_length": "malformed JSON", "binary": "not UTF-8", "non_utf8": "not UTF-8",
                 "deep_nesting": "nested too deeply", "list": "no schema_version",
                 "beyond_float": "energy_per_frame_uj", "nan": "cpu.energy_per_frame_uj",
                 "string_number": "accelerator.power_mw", "bool_number": "memory.reduction_factor",
                 "missing_stage": "missing field stages.mi", "stages_list": "missing field stages.frontend",
                 "missing_category": "accelerator.categories.leakage_uj", "old_schema_as_string": "schema '1'"}


@pytest.mark.parametrize("variant", sorted(VARIANT_WORDS))
def test_energy_compare_bad_report(capsys, run_dir, tmp_path, variant):
    good = build_report(run_dir, load_preset("navion65"))
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_bytes(_report_variants(good)[variant])
    expect_one_line_error(capsys, ["energy", "compare", tmp_path / "good.json", tmp_path / "bad.json"],
                          "bad.json", VARIANT_WORDS[variant])


@pytest.mark.parametrize("file, content, needle", [
    ("summary.json", b'{"sequence": "\xff"}', "not UTF-8"),
    ("summary.json", b"[1]", "expected a JSON object"),
    ("summary.json", b'{"sequence": 5}', "'sequence' must be a path string"),
    ("summary.json", b'{"process_cpu_time_s": "slow"}', "process_cpu_time_s"),
    ("summary.json", b'{"measured": {"instructions": -1}}', "measured.instructions"),
    ("workloads.jsonl", b"\xff\xfe", "not UTF-8"),
    ("workloads.jsonl", b"[" * 100_000, "workloads.jsonl:1:"),
    ("workloads.jsonl", b'{"timestamp_ns": 99999999999999999999, "stages": []}', "int64"),
    ("workloads.jsonl", b'{"timestamp_ns": 1, "stages": [{"stage": "frontend", "ops": [{"kind": "add", '
                        b'"bits": 16, "count": 1' + b"0" * 400 + b'}], "buffers": {}}]}', "too large"),
], ids=["summary_non_utf8", "summary_list", "sequence_int", "cpu_time_string", "instructions_negative",
        "workloads_non_utf8", "workloads_deep", "stamp_beyond_int64", "count_beyond_float"])
def test_energy_bad_run_folder(capsys, run_dir, file, content, needle):
    (run_dir / file).write_bytes(content)
    expect_one_line_error(capsys, ["energy", run_dir], file, needle)


# -- TUM files, through `navion eval` -----------------------------------------------------------------------

@pytest.fixture
def gt_tum(tmp_path) -> Path:
    rows = [f"{k}.0 {0.1 * k} 0 0 0 0 0 1" for k in range(1, 11)]
    (tmp_path / "gt.txt").write_text("\n".join(rows) + "\n")
    return tmp_path / "gt.txt"


@pytest.mark.parametrize("row, needle", [
    ("3.0 1e308 0 0 0 0 0 1", "position beyond"), ("3.0 0 0 0 1e308 0 0 1", "quaternion component"),
    ("3.0 inf 0 0 0 0 0 1", "non-finite"), ("99999999999999999999999 0 0 0 0 0 0 1", "int64"),
    ("3.0 0 0 0 0 0 0", "expected 8 columns"), ("3.0 x 0 0 0 0 0 1", "non-numeric"),
    ("3.0 \u0661 0 0 0 0 0 1", "non-numeric"),
], ids=["position_1e308", "quaternion_1e308", "inf", "stamp_beyond_int64", "missing_column", "wrong_type",
        "unicode_digit"])
def test_eval_bad_estimate_rows(capsys, gt_tum, tmp_path, row, needle):
    lines = gt_tum.read_text().splitlines()
    lines[2] = row
    (tmp_path / "est.txt").write_text("\n".join(lines) + "\n")
    expect_one_line_error(capsys, ["eval", "--gt", gt_tum, "--est", tmp_path / "est.txt"], "est.txt:3:", needle)


@pytest.mark.parametrize("content, needle", [(b"", "estimate has no poses"), (GARBAGE, "est.txt:1:"),
                                             (b"1.0 0 0 0 0 0 0 1\n\xff\xfe 0\n", "est.txt:2:")],
                         ids=["zero_length", "binary", "non_utf8"])
def test_eval_whole_estimate(capsys, gt_tum, tmp_path, content, needle):
    (tmp_path / "est.txt").write_bytes(content)
    expect_one_line_error(capsys, ["eval", "--gt", gt_tum, "--est", tmp_path / "est.txt"], needle)


def test_eval_euroc_csv_of_zero_quaternions(capsys, gt_tum, tmp_path):
    """Every row of the ground-truth csv has a zero quaternion: all dropped, then nothing to match."""
    rows = [f"{k * 10**9},{0.1 * k},0,0,0,0,0,0" for k in range(1, 11)]
    (tmp_path / "gt.csv").write_text("#t,px,py,pz,qw,qx,qy,qz\n" + "\n".join(rows) + "\n")
    expect_one_line_error(capsys, ["eval", "--gt", tmp_path / "gt.csv", "--est", gt_tum], "reference has no poses")


# -- codec streams (a library entry point: CodecError is its one clear error) ---------------------------------

@pytest.mark.parametrize("stream", [None, "NVLS", 12, [1, 2], np.zeros(30, np.uint8), b"", GARBAGE],
                         ids=["none", "str", "int", "list", "ndarray", "zero_length", "garbage"])
def test_codec_decode_rejects_non_streams(stream):
    with pytest.raises(CodecError):
        decode(stream)


def test_codec_header_claiming_a_huge_image():
    """A header that promises 65535 x 4096 pixels with a tiny payload: rejected before allocating."""
    good = bytearray(encode(np.zeros((4, 4), np.uint8)))
    good[6:14] = (65535).to_bytes(4, "little") + (4096).to_bytes(4, "little")
    with pytest.raises(CodecError):
        decode(bytes(good))
