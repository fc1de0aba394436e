"""Fixtures of the runtime tests: a short synthetic sequence and test-only node types."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from datasets.configuration import ConfigMixin
from datasets.synth.config import SynthConfig
from datasets.synth.generate import generate_sequence
from navion.runtime.messages import STEREO_TOPIC, StereoMessage
from navion.runtime.node import Node, Port, register

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/navion: the shared cli_runner helpers


@dataclass(frozen=True)
class RaiserParams(ConfigMixin):
    """at_frame: raise when this stereo frame (1-based) arrives; error: value or interrupt."""

    at_frame: int = 1
    error: str = "value"


@register
class Raiser(Node):
    """Raises ValueError (a bug) or KeyboardInterrupt (Ctrl-C) at a given stereo frame."""

    type_name = "test_raiser"
    Params = RaiserParams
    inputs = {"stereo": Port(StereoMessage, STEREO_TOPIC, 10)}

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.frames = 0

    def on_stereo(self, message) -> None:
        self.frames += 1
        if self.frames == self.params.at_frame:
            raise KeyboardInterrupt if self.params.error == "interrupt" else ValueError("injected failure")


@register
class Sink(Node):
    """Records the stamps of the stereo frames it handles."""

    type_name = "test_sink"
    inputs = {"stereo": Port(StereoMessage, STEREO_TOPIC, 10)}

    def __init__(self, name, params, context):
        super().__init__(name, params, context)
        self.stamps = []

    def on_stereo(self, message) -> None:
        self.stamps.append(message.stamp_ns)

    def summary(self) -> dict:
        return {"stamps": self.stamps}


@pytest.fixture(scope="session")
def short_sequence(tmp_path_factory):
    """A 1.6 s synthetic EuRoC-format sequence (33 stereo frames, starts at rest)."""
    out = tmp_path_factory.mktemp("runtime_seq")
    generate_sequence(out, SynthConfig(realism="ideal", duration_s=1.6, seed=7))
    return out
