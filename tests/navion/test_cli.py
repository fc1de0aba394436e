"""The navion CLI: --help everywhere, info on real and synthetic data, one-line errors."""
from __future__ import annotations

import json
import shutil
import zipfile

import pytest
from cli_runner import expect_one_line_error, run

from navion.cli import build_parser, main


@pytest.mark.parametrize("argv", [[], ["synth"], ["info"], ["replay"], ["eval"], ["energy"]])
def test_help_everywhere(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--help"])
    assert exc.value.code == 0
    assert "usage: navion" in capsys.readouterr().out


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"synth", "info", "replay", "eval", "energy"}


def test_info_json_real(capsys, euroc_micro):
    code, out, _ = run(capsys, "info", str(euroc_micro), "--json")
    assert code == 0
    info = json.loads(out)
    for key in ("camera_frames", "stereo_pairs", "imu_samples", "duration_s", "imu_rate_hz",
                "camera_rate_hz", "groundtruth_samples", "warnings", "cam0", "cam1"):
        assert key in info
    assert info["stereo_pairs"] == 95 and info["camera_frames"] == 190
    assert info["imu_samples"] == 29120
    assert info["imu_rate_hz"] == pytest.approx(200.0, rel=1e-3)
    assert info["camera_rate_hz"] == pytest.approx(20.0, rel=1e-3)
    assert info["cam0"]["intrinsics"] == [458.654, 457.296, 367.215, 248.375]
    assert info["cam1"]["distortion_coefficients"] == [-0.28368365, 0.07451284, -0.00010473, -3.55590700e-05]


def test_info_human_readable(capsys, euroc_micro):
    code, out, _ = run(capsys, "info", str(euroc_micro / "mav0"))
    assert code == 0 and "stereo pairs" in out and "cam1" in out


def _copy_fragment(src, dst, n_frames=5):
    """A few frames of the real fragment, with the full yaml and a short IMU csv."""
    mav0 = dst / "mav0"
    for cam in ("cam0", "cam1"):
        (mav0 / cam / "data").mkdir(parents=True)
        shutil.copy(src / "mav0" / cam / "sensor.yaml", mav0 / cam)
        lines = (src / "mav0" / cam / "data.csv").read_text().splitlines()[: n_frames + 1]
        (mav0 / cam / "data.csv").write_text("\n".join(lines) + "\n")
        for line in lines[1:]:
            name = line.split(",")[1].strip()
            shutil.copy(src / "mav0" / cam / "data" / name, mav0 / cam / "data" / name)
    (mav0 / "imu0").mkdir()
    shutil.copy(src / "mav0" / "imu0" / "sensor.yaml", mav0 / "imu0")
    lines = (src / "mav0" / "imu0" / "data.csv").read_text().splitlines()[:60]
    (mav0 / "imu0" / "data.csv").write_text("\n".join(lines) + "\n")
    return mav0


def test_error_truncated_csv_row(capsys, euroc_micro, tmp_path):
    mav0 = _copy_fragment(euroc_micro, tmp_path)
    csv = mav0 / "imu0" / "data.csv"
    lines = csv.read_text().splitlines()
    lines[10] = ",".join(lines[10].split(",")[:4])
    csv.write_text("\n".join(lines) + "\n")
    expect_one_line_error(capsys, ["info", str(tmp_path)], "imu0/data.csv", ":11")


def test_error_malformed_yaml(capsys, euroc_micro, tmp_path):
    mav0 = _copy_fragment(euroc_micro, tmp_path)
    yml = mav0 / "cam1" / "sensor.yaml"
    yml.write_text(yml.read_text().replace("rate_hz: 20", "rate_hz: [20"))
    expect_one_line_error(capsys, ["info", str(tmp_path)], "cam1/sensor.yaml")


def test_error_zip_lacks_members(capsys, euroc_micro, tmp_path):
    mav0 = _copy_fragment(euroc_micro, tmp_path / "seq")
    archive = tmp_path / "seq.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in mav0.rglob("*"):
            if path.is_file() and "imu0" not in path.parts:
                zf.write(path, path.relative_to(tmp_path / "seq").as_posix())
    expect_one_line_error(capsys, ["info", str(archive)], "seq.zip", "imu0")


def test_error_missing_path(capsys, tmp_path):
    expect_one_line_error(capsys, ["info", str(tmp_path / "nope")], "nope")


def test_warnings_are_counted(capsys, euroc_micro, tmp_path):
    mav0 = _copy_fragment(euroc_micro, tmp_path)
    csv = mav0 / "imu0" / "data.csv"
    lines = csv.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",nan,0,0,0,0,9.8"
    lines[20], lines[21] = lines[21], lines[20]
    csv.write_text("\n".join(lines) + "\n")
    (mav0 / "cam0" / "data" / sorted((mav0 / "cam0" / "data").iterdir())[2].name).unlink()
    code, out, _ = run(capsys, "info", str(tmp_path), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["warnings"]["nan_row"] == 1
    assert info["warnings"]["non_monotonic_stamp"] >= 1
    assert info["warnings"]["missing_image"] == 1
    assert info["imu_samples"] == 59 - 1 - info["warnings"]["non_monotonic_stamp"]
    assert info["stereo_pairs"] == 4


def test_synth_then_info(capsys, tmp_path):
    code, _, err = run(capsys, "synth", "--out", str(tmp_path), "--duration", "2.5", "--seed", "1")
    assert code == 0, err
    code, out, _ = run(capsys, "info", str(tmp_path), "--json")
    info = json.loads(out)
    assert info["stereo_pairs"] == 51 and info["imu_samples"] == 501
    assert info["groundtruth_samples"] == 501
    # a second run into the same folder refuses without --overwrite
    expect_one_line_error(capsys, ["synth", "--out", str(tmp_path), "--duration", "2.5"], "mav0")


def test_synth_bad_option(capsys, tmp_path):
    expect_one_line_error(capsys, ["synth", "--out", str(tmp_path), "--drop-frames", "1.5"], "drop_frames")
    expect_one_line_error(capsys, ["synth", "--out", str(tmp_path), "--trajectory", str(tmp_path / "x.txt")],
                           "x.txt")


def test_info_on_bag(capsys, tmp_path):
    pytest.importorskip("rosbags", reason="optional extra navion-sim[bags] not installed")
    import numpy as np

    from datasets.rosbag import write_euroc_bag

    t0 = 1_403_636_580_838_560_000
    rng = np.random.default_rng(0)
    t_imu = t0 + 5_000_000 * np.arange(40, dtype=np.int64)
    stereo = [(t0 + 50_000_000 * i, rng.integers(0, 256, (480, 752), dtype=np.uint8),
               rng.integers(0, 256, (480, 752), dtype=np.uint8)) for i in range(3)]
    bag = write_euroc_bag(tmp_path / "seq.bag", t_imu, rng.normal(size=(40, 3)), rng.normal(size=(40, 3)), stereo)
    code, out, _ = run(capsys, "info", str(bag), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["stereo_pairs"] == 3 and info["imu_samples"] == 40
    assert info["cam0"]["intrinsics"] == [458.654, 457.296, 367.215, 248.375]
    (tmp_path / "junk.bag").write_bytes(b"#ROSBAG V2.0\n" + b"\x00" * 50)
    expect_one_line_error(capsys, ["info", str(tmp_path / "junk.bag")], "junk.bag")


def test_synth_config_file_errors(capsys, tmp_path):
    cfg = tmp_path / "synth.yaml"
    cfg.write_text("seed: 2\nimu_noise: 3\n")
    expect_one_line_error(capsys, ["synth", "--out", str(tmp_path / "o"), "--config", str(cfg)],
                           f"{cfg}:2", "unknown option 'imu_noise'")
    cfg.write_text("seed: [2\n")
    expect_one_line_error(capsys, ["synth", "--out", str(tmp_path / "o"), "--config", str(cfg)], f"{cfg}:")
