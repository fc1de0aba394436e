"""EuRoC reader on damaged input: tolerated problems are dropped and counted, malformed
files raise DatasetError naming the file and line. Fixtures are tiny synthetic sequences."""
from __future__ import annotations

import dataclasses
import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from datasets.calibration import camera_yaml, euroc_cameras, euroc_imu, imu_yaml
from datasets.errors import DatasetError
from datasets.euroc import open_euroc

T0 = 1403715273262142976
N_FRAMES, N_IMU = 6, 40
CAM_DT, IMU_DT = 50_000_000, 5_000_000
CAM_HEADER = "#timestamp [ns],filename"
IMU_HEADER = ("#timestamp [ns],w_RS_S_x [rad s^-1],w_RS_S_y [rad s^-1],w_RS_S_z [rad s^-1],"
              "a_RS_S_x [m s^-2],a_RS_S_y [m s^-2],a_RS_S_z [m s^-2]")


def _image(i: int, cam: int) -> np.ndarray:
    return ((np.arange(24 * 32).reshape(24, 32) + 7 * i + 100 * cam) % 256).astype(np.uint8)


def _imu_rows() -> list[str]:
    return [f"{T0 + k * IMU_DT},0.01,{k * 1e-3!r},-0.02,9.81,0.1,{-k * 0.01!r}" for k in range(N_IMU)]


def _cam_rows() -> list[str]:
    return [f"{T0 + i * CAM_DT},{T0 + i * CAM_DT}.png" for i in range(N_FRAMES)]


def _write_csv(path: Path, header: str, rows: list[str], newline: str = "\n") -> None:
    path.write_bytes((newline.join([header, *rows]) + newline).encode())


def _gt_rows(columns: int) -> list[str]:
    extra = ",0.1,0.2,0.3,0.01,0.02,0.03,-0.1,-0.2,-0.3" if columns == 17 else ""
    return [f"{T0 + k * IMU_DT},1.0,2.0,{k * 0.5!r},1.0,0.0,0.0,0.0{extra}" for k in range(N_IMU)]


@pytest.fixture
def mav0(tmp_path) -> Path:
    """A clean 6-frame, 40-sample sequence in EuRoC layout (32x24 images)."""
    root = tmp_path / "seq" / "mav0"
    for c, cal in enumerate(euroc_cameras()):
        (root / cal.name / "data").mkdir(parents=True)
        (root / cal.name / "sensor.yaml").write_text(camera_yaml(dataclasses.replace(cal, resolution=(32, 24))))
        _write_csv(root / cal.name / "data.csv", CAM_HEADER, _cam_rows())
        for i in range(N_FRAMES):
            cv2.imwrite(str(root / cal.name / "data" / f"{T0 + i * CAM_DT}.png"), _image(i, c))
    (root / "imu0").mkdir()
    (root / "imu0" / "sensor.yaml").write_text(imu_yaml(euroc_imu()))
    _write_csv(root / "imu0" / "data.csv", IMU_HEADER, _imu_rows())
    return root


def _zip(folder: Path, archive: Path, skip: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder.parent).as_posix()
            if path.is_file() and not (skip and skip in rel):
                zf.write(path, f"top/{rel}")
    return archive


def _raises(path, *needles) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        open_euroc(path, quiet=True)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    return info.value


def test_clean_fixture(mav0, capsys):
    seq = open_euroc(mav0.parent)
    assert capsys.readouterr().err == ""
    assert seq.warnings.as_dict() == {"header_line": 3}
    assert len(seq.stereo_timestamps_ns) == N_FRAMES and len(seq.imu_timestamps_ns) == N_IMU
    assert seq.groundtruth is None and list(seq.groundtruth_states()) == [] and seq.body_yaml is None
    frame = next(seq.stereo_frames())
    assert np.array_equal(frame.left.image, _image(0, 0)) and np.array_equal(frame.right.image, _image(0, 1))


def test_truncated_last_row(mav0):
    rows = _imu_rows()
    rows[-1] = ",".join(rows[-1].split(",")[:4])
    _write_csv(mav0 / "imu0" / "data.csv", IMU_HEADER, rows)
    err = _raises(mav0, "imu0/data.csv:41", "columns")
    assert err.line == N_IMU + 1 and err.path.endswith("data.csv")


def test_truncated_file_without_newline(mav0):
    text = (mav0 / "imu0" / "data.csv").read_text()
    (mav0 / "imu0" / "data.csv").write_text(text[:-20])
    _raises(mav0, "imu0/data.csv:41")


def test_extra_column_mid_file(mav0):
    rows = _cam_rows()
    rows[2] += ",extra"
    _write_csv(mav0 / "cam1" / "data.csv", CAM_HEADER, rows)
    _raises(mav0, "cam1/data.csv:4")


@pytest.mark.parametrize("field, value, needle", [(3, "abc", "'abc'"), (0, "1.4e18", "timestamp"),
                                                  (0, "", "timestamp"), (6, "", "column 7"),
                                                  (0, "99999999999999999999", "timestamp")])
def test_non_numeric_value(mav0, field, value, needle):
    rows = _imu_rows()
    fields = rows[9].split(",")
    fields[field] = value
    rows[9] = ",".join(fields)
    _write_csv(mav0 / "imu0" / "data.csv", IMU_HEADER, rows)
    _raises(mav0, "imu0/data.csv:11", needle)


def test_non_numeric_camera_stamp(mav0):
    rows = _cam_rows()
    rows[4] = "x" + rows[4]
    _write_csv(mav0 / "cam0" / "data.csv", CAM_HEADER, rows)
    _raises(mav0, "cam0/data.csv:6", "timestamp")


@pytest.mark.parametrize("text", ["", CAM_HEADER + "\n", "\n\n"])
def test_empty_csv(mav0, text):
    (mav0 / "cam0" / "data.csv").write_text(text)
    _raises(mav0, "cam0/data.csv:", "no data rows")


def test_nan_rows_dropped(mav0, capsys):
    rows = _imu_rows()
    rows[3] = rows[3].replace("0.01", "nan", 1)
    rows[7] = rows[7].replace("9.81", "NaN")
    _write_csv(mav0 / "imu0" / "data.csv", IMU_HEADER, rows)
    seq = open_euroc(mav0)
    assert seq.warnings.counts["nan_row"] == 2
    assert len(seq.imu_timestamps_ns) == N_IMU - 2 and np.isfinite(seq.imu_gyro).all()
    assert T0 + 3 * IMU_DT not in seq.imu_timestamps_ns
    err = capsys.readouterr().err
    assert err.count("warning [nan_row]") == 1 and "imu0/data.csv:5" in err


def test_unordered_stamps_dropped(mav0):
    rows = _imu_rows()
    rows[5] = rows[4]  # duplicate
    rows[10], rows[11] = rows[11], rows[10]  # goes back in time
    _write_csv(mav0 / "imu0" / "data.csv", IMU_HEADER, rows)
    cam = _cam_rows()
    cam.insert(3, cam[1])
    _write_csv(mav0 / "cam0" / "data.csv", CAM_HEADER, cam)
    seq = open_euroc(mav0, quiet=True)
    assert seq.warnings.counts["duplicate_stamp"] == 1
    assert seq.warnings.counts["non_monotonic_stamp"] == 2
    assert len(seq.imu_timestamps_ns) == N_IMU - 2 and np.all(np.diff(seq.imu_timestamps_ns) > 0)
    assert len(seq.stereo_timestamps_ns) == N_FRAMES


def test_missing_image_skipped(mav0):
    (mav0 / "cam0" / "data" / f"{T0 + 2 * CAM_DT}.png").unlink()
    seq = open_euroc(mav0, quiet=True)
    assert seq.warnings.counts["missing_image"] == 1 and seq.warnings.counts["unpaired_frame"] == 1
    assert len(seq.camera_timestamps_ns("cam0")) == N_FRAMES - 1
    assert len(seq.camera_timestamps_ns("cam1")) == N_FRAMES
    assert T0 + 2 * CAM_DT not in seq.stereo_timestamps_ns and len(seq.stereo_timestamps_ns) == N_FRAMES - 1
    assert seq.summary()["camera_frames"] == 2 * N_FRAMES - 1
    with pytest.raises(DatasetError, match="no valid frame"):
        seq.load_image("cam0", T0 + 2 * CAM_DT)


def test_index_longer_than_files(mav0):
    rows = _cam_rows() + [f"{T0 + i * CAM_DT},{T0 + i * CAM_DT}.png" for i in range(N_FRAMES, N_FRAMES + 4)]
    for cam in ("cam0", "cam1"):
        _write_csv(mav0 / cam / "data.csv", CAM_HEADER, rows)
    seq = open_euroc(mav0, quiet=True)
    assert seq.warnings.counts["index_beyond_files"] == 8 and "missing_image" not in seq.warnings.counts
    assert len(seq.stereo_timestamps_ns) == N_FRAMES


def test_crlf_and_whitespace_tolerated(mav0, tmp_path):
    clean = open_euroc(mav0, quiet=True)
    rows = [" " + r.replace(",", " , ") + "\t" for r in _imu_rows()]
    _write_csv(mav0 / "imu0" / "data.csv", IMU_HEADER, rows, newline="\r\n")
    _write_csv(mav0 / "cam0" / "data.csv", CAM_HEADER, [r.replace(",", ", ") for r in _cam_rows()], "\r\n")
    seq = open_euroc(mav0, quiet=True)
    assert np.array_equal(seq.imu_timestamps_ns, clean.imu_timestamps_ns)
    assert np.array_equal(seq.imu_accel, clean.imu_accel) and np.array_equal(seq.imu_gyro, clean.imu_gyro)
    assert np.array_equal(seq.stereo_timestamps_ns, clean.stereo_timestamps_ns)
    assert seq.warnings.counts["crlf"] == N_IMU + 1 + N_FRAMES + 1
    assert seq.warnings.counts["whitespace"] == N_IMU + N_FRAMES


def test_headers_and_comments(mav0):
    rows = _imu_rows()
    rows.insert(5, "# a comment")
    _write_csv(mav0 / "imu0" / "data.csv", "timestamp,wx,wy,wz,ax,ay,az", rows)  # header without '#'
    seq = open_euroc(mav0, quiet=True)
    assert len(seq.imu_timestamps_ns) == N_IMU
    assert seq.warnings.counts["comment_line"] == 1 and seq.warnings.counts["header_line"] == 3


@pytest.mark.parametrize("columns", [8, 17])
def test_groundtruth_with_and_without_velocity(mav0, columns):
    (mav0 / "state_groundtruth_estimate0").mkdir()
    _write_csv(mav0 / "state_groundtruth_estimate0" / "data.csv", "#t,p,q", _gt_rows(columns))
    gt = open_euroc(mav0, quiet=True).groundtruth
    assert len(gt) == N_IMU and gt.p_world_body[3].tolist() == [1.0, 2.0, 1.5]
    assert gt.q_world_body_wxyz[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    if columns == 8:
        assert gt.v_world is None and gt.gyro_bias is None and gt.accel_bias is None
    else:
        assert gt.v_world[0].tolist() == [0.1, 0.2, 0.3] and gt.accel_bias[-1].tolist() == [-0.1, -0.2, -0.3]


def test_groundtruth_wrong_columns(mav0):
    (mav0 / "state_groundtruth_estimate0").mkdir()
    _write_csv(mav0 / "state_groundtruth_estimate0" / "data.csv", "#t",
               [r + ",0" for r in _gt_rows(8)])
    _raises(mav0, "state_groundtruth_estimate0/data.csv:2", "8 or 17")


def test_malformed_yaml(mav0):
    path = mav0 / "cam0" / "sensor.yaml"
    text = path.read_text()
    line = text.splitlines().index(next(ln for ln in text.splitlines() if ln.startswith("rate_hz"))) + 1
    path.write_text(text.replace("rate_hz: 20.0", "rate_hz: [20.0"))
    err = _raises(mav0, "cam0/sensor.yaml:")
    assert err.path.endswith("sensor.yaml") and err.line is not None and err.line >= line


def test_equidistant_camera(mav0):
    path = mav0 / "cam1" / "sensor.yaml"
    text = path.read_text().replace("radial-tangential", "equidistant")
    path.write_text(text.replace("distortion_coefficients: [",
                                 "distortion_coefficients: [0.01, 0.02, 0.03, 0.04] #"))
    seq = open_euroc(mav0, quiet=True)
    assert seq.cam1.distortion_model == "equidistant"
    assert seq.cam1.distortion_coefficients == (0.01, 0.02, 0.03, 0.04)
    assert seq.summary()["cam1"]["distortion_model"] == "equidistant"


def test_missing_required_file(mav0, tmp_path):
    (mav0 / "imu0" / "sensor.yaml").unlink()
    _raises(mav0.parent, "imu0/sensor.yaml", "missing")
    _raises(tmp_path / "nope", "nope", "no such")
    (tmp_path / "notazip.zip").write_text("hello")
    _raises(tmp_path / "notazip.zip", "notazip.zip")


def test_zip_lacking_members(mav0, tmp_path):
    archive = _zip(mav0, tmp_path / "seq.zip", skip="cam1/data.csv")
    _raises(archive, "seq.zip", "top/mav0/cam1/data.csv")
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as zf:
        zf.writestr("readme.txt", "no mav0 here")
    _raises(tmp_path / "empty.zip", "empty.zip", "mav0")


def test_zip_missing_image(mav0, tmp_path):
    archive = _zip(mav0, tmp_path / "seq.zip", skip=f"cam1/data/{T0 + CAM_DT}.png")
    seq = open_euroc(archive, quiet=True)
    assert seq.warnings.counts["missing_image"] == 1 and len(seq.stereo_timestamps_ns) == N_FRAMES - 1


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\nthis is not a png"], ids=["empty", "corrupt"])
@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_bad_png_raises_on_load(mav0, tmp_path, content, as_zip):
    name = f"{T0 + 3 * CAM_DT}.png"
    (mav0 / "cam1" / "data" / name).write_bytes(content)
    seq = open_euroc(_zip(mav0, tmp_path / "seq.zip") if as_zip else mav0, quiet=True)
    frames = list(seq.stereo_frames())  # lazy: opening and listing never touch pixels
    assert frames[2].right.image.shape == (24, 32)
    with pytest.raises(DatasetError) as info:
        frames[3].right.image
    message = str(info.value)
    assert f"cam1/data/{name}" in message and ("decode" if content else "empty") in message
    if as_zip:
        assert "seq.zip:" in message


def test_colour_png_converted_to_gray(mav0):
    path = mav0 / "cam0" / "data" / f"{T0}.png"
    bgr = np.dstack([_image(0, 0), _image(1, 0), _image(2, 0)])
    cv2.imwrite(str(path), bgr)
    image = open_euroc(mav0, quiet=True).load_image("cam0", T0)
    assert image.dtype == np.uint8 and np.array_equal(image, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))


def test_unknown_camera(mav0):
    seq = open_euroc(mav0, quiet=True)
    with pytest.raises(ValueError, match="cam2"):
        seq.camera_timestamps_ns("cam2")


def test_sixteen_bit_png_rejected(mav0):
    path = mav0 / "cam0" / "data" / f"{T0}.png"
    cv2.imwrite(str(path), _image(0, 0).astype(np.uint16) * 256)
    with pytest.raises(DatasetError, match="8-bit"):
        open_euroc(mav0, quiet=True).load_image("cam0", T0)


def test_real_fragment_copy_with_damage(euroc_micro, tmp_path):
    """The real yaml files and first 20 frames, with one row cut short in cam0/data.csv."""
    src = euroc_micro / "mav0"
    dst = tmp_path / "mav0"
    for cam in ("cam0", "cam1"):
        (dst / cam / "data").mkdir(parents=True)
        shutil.copy(src / cam / "sensor.yaml", dst / cam)
        lines = (src / cam / "data.csv").read_text().splitlines()[:21]
        for line in lines[1:]:
            shutil.copy(src / cam / "data" / line.split(",")[1], dst / cam / "data")
        (dst / cam / "data.csv").write_text("\n".join(lines) + "\n")
    shutil.copytree(src / "imu0", dst / "imu0")
    seq = open_euroc(dst, quiet=True)
    assert len(seq.stereo_timestamps_ns) == 20 and seq.cam0.intrinsics[0] == 458.654
    lines = (dst / "cam0" / "data.csv").read_text().splitlines()
    lines[7] = lines[7].split(",")[0]
    (dst / "cam0" / "data.csv").write_text("\n".join(lines) + "\n")
    _raises(dst, "cam0/data.csv:8")
