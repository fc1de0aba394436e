"""Paths to the real data kept outside the repo (../shared/data), importable by any test.

Tests that need the data skip with a reason when it is absent; with
NAVION_REQUIRE_DATA=1 (set by .ci/run) they fail instead, so CI cannot pass by skipping.
"""
import os
from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).parents[1] / ".." / "shared" / "data").resolve()


def shared_data(relative: str) -> Path:
    """Path under ../shared/data; skips (or fails under NAVION_REQUIRE_DATA) when absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"real EuRoC data not found at {path} (only present beside the project's checkout)"
        if os.environ.get("NAVION_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path
