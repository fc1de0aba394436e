"""Shared fixtures: the real data kept outside the repo (``data_paths.shared_data``)."""
from pathlib import Path

import pytest

from data_paths import shared_data


@pytest.fixture(scope="session")
def euroc_micro() -> Path:
    """The real EuRoC V1_01 fragment (sequence folder holding mav0/)."""
    return shared_data("euroc_v101_micro/mav0").parent


@pytest.fixture(scope="session")
def euroc_groundtruth() -> Path:
    """Folder of the real 200 Hz EuRoC ground-truth TUM files."""
    return shared_data("euroc_groundtruth/MH_01_easy.txt").parent
