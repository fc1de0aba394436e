"""Cache keys: what they depend on (and what they must not), and atomic point files."""
from __future__ import annotations

import os
from dataclasses import replace

from accel_model.hardware import load_preset
from navion.sweep.cache import SweepCache, code_fingerprint, digest, point_key, sequence_identity, vio_key
from vio.frontend import FrontendConfig
from vio.pipeline import PipelineConfig


def make_sequence(root):
    for folder in ("mav0/cam0/data", "mav0/imu0"):
        (root / folder).mkdir(parents=True)
    (root / "mav0/cam0/data.csv").write_text("#timestamp,filename\n1,1.png\n")
    (root / "mav0/cam0/data/1.png").write_bytes(b"png")
    (root / "mav0/imu0/data.csv").write_text("#t\n1\n")
    return root


def test_sequence_identity_tracks_index_files_not_images(tmp_path):
    seq = make_sequence(tmp_path / "seq")
    first = sequence_identity(seq)
    assert [f[0] for f in first["files"]] == ["mav0/cam0/data.csv", "mav0/imu0/data.csv"]
    assert sequence_identity(seq) == first
    (seq / "mav0/cam0/data/1.png").write_bytes(b"other image")
    assert sequence_identity(seq) == first
    index = seq / "mav0/imu0/data.csv"
    st = index.stat()
    os.utime(index, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert sequence_identity(seq) != first
    single = tmp_path / "seq.zip"
    single.write_bytes(b"zip")
    assert sequence_identity(single)["files"][0][:2] == ["seq.zip", 3]


def test_vio_key_depends_on_the_algorithm_and_point_key_on_the_hardware(tmp_path):
    seq = sequence_identity(make_sequence(tmp_path / "seq"))
    base = vio_key(seq, PipelineConfig(), 100, "code")
    assert vio_key(seq, PipelineConfig(), 100, "code") == base
    assert vio_key(seq, PipelineConfig(frontend=FrontendConfig(max_features=99)), 100, "code") != base
    assert vio_key(seq, PipelineConfig(), 101, "code") != base
    assert vio_key(seq, PipelineConfig(), 100, "other code") != base
    # the same options, written as int or float, are the same config
    assert vio_key(seq, PipelineConfig(max_jump_m=1), 100, "code") == base
    hw = load_preset("navion65")
    assert point_key(base, hw, "p") == point_key(base, load_preset("navion65"), "p")
    assert point_key(base, replace(hw, codec_near=1), "p") != point_key(base, hw, "p")
    assert point_key(base, hw, "p2") != point_key(base, hw, "p")
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})


def test_code_fingerprint_follows_the_source(tmp_path, monkeypatch):
    package = tmp_path / "fp_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = code_fingerprint(("fp_pkg",))
    assert code_fingerprint.__wrapped__(("fp_pkg",)) == before
    (package / "mod.py").write_text("X = 2\n")
    assert code_fingerprint.__wrapped__(("fp_pkg",)) != before
    assert code_fingerprint.__wrapped__(("fp_pkg.mod",)) != code_fingerprint.__wrapped__(("fp_pkg",))


def test_point_files_round_trip_and_leave_no_temporary_behind(tmp_path):
    cache = SweepCache(tmp_path)
    assert cache.load_point("k") is None
    cache.save_point("k", {"metrics": {"ate_rmse_m": 0.1234567890123}})
    assert cache.load_point("k") == {"metrics": {"ate_rmse_m": 0.1234567890123}}
    assert [p.name for p in (tmp_path / "points").iterdir()] == ["k.json"]
    assert not cache.has_vio("k")
