"""TUM trajectory reader/writer: exact stamps, evo-compatible layout, clean errors."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.errors import DatasetError, WarningCounter
from datasets.tum import Trajectory, format_stamp_ns, parse_stamp_ns, read_tum, write_tum

MH01 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "euroc_groundtruth" / "MH_01_easy.txt"
ROW = "1403636580.83856 4.688319 -1.786938 0.783338 -0.153029 -0.827383 -0.082152 0.534108"


def _write_text(tmp_path: Path, text: str, name: str = "traj.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_parse_stamp_exact():
    assert parse_stamp_ns("1403636580.83856") == 1403636580838560000
    assert parse_stamp_ns("1.403636579763555527e+09") == 1403636579763555527
    assert parse_stamp_ns("1.4e9") == 1_400_000_000_000_000_000
    assert parse_stamp_ns("0") == 0
    assert parse_stamp_ns(".5") == 500_000_000
    assert parse_stamp_ns("1.0000000015") == 1_000_000_002  # sub-ns digits round to nearest, ties to even
    assert parse_stamp_ns("9223372036.854775807") == 2**63 - 1


@pytest.mark.parametrize("text", ["-1.5", "nan", "inf", "1,5", "", "1.2.3", "0x10", "9223372036.854775808",
                                  "1e99999999999", "1e" + "9" * 50, "\u0661\u0662"])
def test_parse_stamp_rejects(text):
    with pytest.raises(DatasetError):
        parse_stamp_ns(text)


def test_format_stamp():
    assert format_stamp_ns(1403636580838560000) == "1403636580.838560000"
    assert format_stamp_ns(5) == "0.000000005"
    with pytest.raises(DatasetError, match="non-negative"):
        format_stamp_ns(-1)


@given(st.integers(min_value=0, max_value=2**62 - 1))
def test_stamp_string_round_trip(t):
    assert parse_stamp_ns(format_stamp_ns(t)) == t


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**62 - 1), min_size=0, max_size=30, unique=True),
       st.data())
def test_file_round_trip_bit_exact(stamps, data):
    stamps = np.array(sorted(stamps), dtype=np.int64)
    n = len(stamps)
    finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
    p = np.array(data.draw(st.lists(st.tuples(finite, finite, finite), min_size=n, max_size=n))).reshape(n, 3)
    q = np.random.default_rng(n).normal(size=(n, 4)) + 0.1
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tum(Path(tmp) / "t.tum", stamps, p, q)
        back = read_tum(path)
    assert back.timestamps_ns.dtype == np.int64
    assert np.array_equal(back.timestamps_ns, stamps)
    assert np.array_equal(back.p_world_body, p)
    assert np.array_equal(back.q_world_body_xyzw, q)


def test_write_layout_is_evo_compatible(tmp_path):
    traj = Trajectory(np.array([1403636580838560000]), [[1.0, 2.0, 3.0]], [[0.0, 0.0, 0.0, 1.0]])
    path = write_tum(tmp_path / "out.tum", traj)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    assert lines[1] == "1403636580.838560000 1.0 2.0 3.0 0.0 0.0 0.0 1.0"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tum"]  # no temporary left behind


def test_write_rejects_bad_input_and_leaves_old_file(tmp_path):
    path = _write_text(tmp_path, ROW + "\n", "keep.tum")
    with pytest.raises(DatasetError, match="keep.tum.*strictly increasing"):
        write_tum(path, np.array([2, 1]), np.zeros((2, 3)), np.tile([0, 0, 0, 1.0], (2, 1)))
    with pytest.raises(DatasetError, match="finite"):
        write_tum(path, np.array([1]), [[np.nan, 0, 0]], [[0, 0, 0, 1.0]])
    with pytest.raises(DatasetError, match="non-negative"):
        write_tum(path, np.array([-1]), [[0, 0, 0]], [[0, 0, 0, 1.0]])
    assert path.read_text() == ROW + "\n"
    with pytest.raises(DatasetError, match="cannot write"):
        write_tum(tmp_path / "missing_dir" / "x.tum", np.array([1]), [[0, 0, 0]], [[0, 0, 0, 1.0]])


def test_tolerant_whitespace_comments_crlf(tmp_path):
    text = ("# header\r\n\r\n  \t" + ROW.replace(" ", " \t ") + "  \r\n"
            "   # indented comment\n" + ROW.replace("80.83856", "80.84356") + "\n")
    traj = read_tum(_write_text(tmp_path, text))
    assert traj.timestamps_ns.tolist() == [1403636580838560000, 1403636580843560000]
    assert traj.q_world_body_xyzw[0].tolist() == [-0.153029, -0.827383, -0.082152, 0.534108]
    assert traj.q_world_body_wxyz[0].tolist() == [0.534108, -0.153029, -0.827383, -0.082152]
    R = traj.R_world_body
    assert R.shape == (2, 3, 3) and np.allclose(R[0] @ R[0].T, np.eye(3))
    assert np.allclose(traj.T_world_body[1, :3, 3], traj.p_world_body[1])


def test_empty_file_gives_empty_trajectory(tmp_path):
    traj = read_tum(_write_text(tmp_path, "# only a comment\n\n"))
    assert len(traj) == 0 and traj.p_world_body.shape == (0, 3) and traj.R_world_body.shape == (0, 3, 3)


@pytest.mark.parametrize("bad_row, message", [
    ("1.0 2.0 3.0", "expected 8 columns"),
    (ROW + " 9.0", "expected 8 columns"),
    (ROW.replace("4.688319", "abc"), "non-numeric value 'abc'"),
    (ROW.replace("4.688319", "nan"), "non-finite"),
    (ROW.replace("0.534108", "inf"), "non-finite"),
    ("-1.0 0 0 0 0 0 0 1", "invalid timestamp"),
    ("1.0 0 0 0 0 0 0 0", "zero norm"),
    (ROW.replace(" ", ","), "commas"),
    ("1403636580.8 0 0 0 0 0 0 1", "does not increase"),
])
def test_malformed_rows_name_file_and_line(tmp_path, bad_row, message):
    path = _write_text(tmp_path, f"# header\n{ROW}\n\n{bad_row}\n")
    with pytest.raises(DatasetError, match=message) as info:
        read_tum(path)
    assert info.value.path == str(path) and info.value.line == 4
    assert str(info.value).startswith(f"{path}:4: ")


def test_nonmonotonic_rows_dropped_when_counting(tmp_path):
    later = ROW.replace("80.83856", "80.84356")
    path = _write_text(tmp_path, f"{ROW}\n{ROW}\n{later}\n1.0 0 0 0 0 0 0 1\n")
    warnings = WarningCounter(quiet=True)
    traj = read_tum(path, warnings=warnings)
    assert len(traj) == 2 and warnings.as_dict() == {"tum_nonmonotonic": 2}


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_tum(tmp_path / "nope.txt")


_row_piece = st.one_of(
    st.sampled_from(["1403636580.83856", "0", "1e9", "-1", "nan", "inf", "1,2", "#", "abc", ".", "1e99999",
                     "0.534108", "\t", "  ", "\r", "\x00", "\u00e9"]),
    st.floats().map(repr), st.integers().map(str), st.text(max_size=5))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(st.lists(_row_piece, min_size=0, max_size=10).map(" ".join), max_size=6).map("\n".join)))
def test_reader_fuzz_only_raises_dataset_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.txt"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        try:
            traj = read_tum(path)
        except DatasetError as exc:
            assert str(exc).startswith(str(path))
        else:
            assert np.isfinite(traj.p_world_body).all() and np.all(np.diff(traj.timestamps_ns) > 0)


@pytest.mark.skipif(not MH01.exists(), reason=f"real EuRoC ground truth not available at {MH01}")
def test_real_euroc_groundtruth():
    traj = read_tum(MH01)
    assert len(traj) == 36382
    assert traj.timestamps_ns[0] == 1403636580838560000
    assert traj.p_world_body[0].tolist() == [4.688319, -1.786938, 0.783338]
    # 6-digit values, kept as read (not renormalised)
    assert np.allclose(np.linalg.norm(traj.q_world_body_xyzw, axis=1), 1.0, atol=1e-4)
    dt_ns = np.diff(traj.timestamps_ns)
    assert np.median(dt_ns) == 5_000_000  # 200 Hz, exact in integer ns
