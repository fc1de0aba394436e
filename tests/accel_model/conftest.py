"""Fixtures of the energy-model tests."""
import pytest

from navion.cli import main


@pytest.fixture(scope="session")
def micro_run(euroc_micro, tmp_path_factory):
    """A 30-frame replay of the real fragment (read-only: tests must not write into it)."""
    out = tmp_path_factory.mktemp("micro_run")
    assert main(["replay", str(euroc_micro), "--out", str(out), "--max-frames", "30"]) == 0
    return out
