"""Fixtures of the robustness tests: a tiny EuRoC-layout sequence and partial copies of the real
fragment (images linked, not copied), both cheap to damage one file at a time."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parents[1] / "navion"))  # cli_runner, the in-process CLI helper

from tiny_sequence import write_tiny_sequence  # noqa: E402


@pytest.fixture
def tiny(tmp_path) -> Path:
    """mav0 folder of a fresh tiny sequence (see :func:`write_tiny_sequence`)."""
    return write_tiny_sequence(tmp_path / "seq")


@pytest.fixture
def fragment_copy(euroc_micro, tmp_path):
    """``copy(n_frames)``: the real fragment's first n stereo frames (images symlinked), its yaml
    files, whole IMU stream and ground truth, in a new sequence folder; returns its mav0."""
    def copy(n_frames: int) -> Path:
        src, dst = euroc_micro / "mav0", tmp_path / "fragment" / "mav0"
        for cam in ("cam0", "cam1"):
            (dst / cam / "data").mkdir(parents=True)
            shutil.copy(src / cam / "sensor.yaml", dst / cam)
            lines = (src / cam / "data.csv").read_text().splitlines()[: n_frames + 1]
            (dst / cam / "data.csv").write_text("\n".join(lines) + "\n")
            for line in lines[1:]:
                name = line.split(",")[1].strip()
                os.symlink(src / cam / "data" / name, dst / cam / "data" / name)
        for folder in ("imu0", "state_groundtruth_estimate0"):
            shutil.copytree(src / folder, dst / folder)
        return dst
    return copy
