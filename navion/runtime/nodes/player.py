"""``player``: replays a sequence (EuRoC folder or zip, synthetic EuRoC-format folder, ROS bag).

Publishes the calibration once (``setup``, at the first stamp), then every IMU sample and
stereo pair at its own stamp, in the reader's merged time order (IMU first on equal
stamps), exactly the stream ``navion replay`` feeds the estimator. Images are decoded a
few frames ahead on a worker thread (``prefetch``), as ``navion replay`` does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from datasets.configuration import ConfigMixin
from datasets.messages import StereoFrame

from ...sequences import open_sequence, prefetch_images
from ..messages import IMU_TOPIC, SETUP_TOPIC, STEREO_TOPIC, ImuMessage, SensorSetup, StereoMessage
from ..node import Node, Port, register


@dataclass(frozen=True)
class PlayerParams(ConfigMixin):
    """path: sequence (EuRoC mav0 folder, the folder above it, its zip, a .bag or ROS 2 bag
    folder); calibration: folder of sensor.yaml files (bags only); max_frames: stop before
    stereo frame N+1 (as ``navion replay --max-frames``); duration_s: play only the first
    ``duration_s`` seconds [s]; prefetch: stereo frames decoded ahead (0 = off)."""

    path: str
    calibration: str | None = None
    max_frames: int | None = None
    duration_s: float | None = None
    prefetch: int = 4

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("'path' must name a sequence")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"'max_frames' must be >= 1, got {self.max_frames}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError(f"'duration_s' must be > 0, got {self.duration_s}")
        if self.prefetch < 0:
            raise ValueError(f"'prefetch' must be >= 0, got {self.prefetch}")


def _synth_seed(root: Path) -> int | None:
    """The generator seed of a synthetic sequence (navion_synth.json beside mav0), else None."""
    for meta in (root.parent / "navion_synth.json", root / "navion_synth.json"):
        if meta.is_file():
            try:
                return json.loads(meta.read_text(encoding="utf-8"))["config"]["seed"]
            except (OSError, ValueError, KeyError, TypeError):
                return None
    return None


@register
class Player(Node):
    """See the module docstring."""

    type_name = "player"
    Params = PlayerParams
    outputs = {"setup": Port(SensorSetup, SETUP_TOPIC), "imu": Port(ImuMessage, IMU_TOPIC),
               "stereo": Port(StereoMessage, STEREO_TOPIC)}

    def __init__(self, name, params: PlayerParams, context):
        super().__init__(name, params, context)
        self.seq = open_sequence(params.path, calibration=params.calibration)
        root = getattr(self.seq, "root", None)
        self.sequence = str(root) if root is not None else params.path
        imu_t, cam_t = self.seq.imu_timestamps_ns, self.seq.stereo_timestamps_ns
        firsts = [int(a[0]) for a in (imu_t, cam_t) if len(a)]
        self.first_ns = min(firsts) if firsts else None
        self.end_ns = None if params.duration_s is None or self.first_ns is None else \
            self.first_ns + round(params.duration_s * 1e9)
        in_span = len(cam_t) if self.end_ns is None else int((cam_t <= self.end_ns).sum())
        self.total_frames = in_span if params.max_frames is None else min(params.max_frames, in_span)
        self.frames = self.imu_samples = 0
        self._stream = None
        self._next = None
        self._setup_sent = False
        self._last_frame_ns = None

    def start(self) -> None:
        messages = self.seq.messages(end_ns=self.end_ns)
        self._stream = prefetch_images(messages, depth=self.params.prefetch) if self.params.prefetch else messages
        self._advance()

    def _advance(self) -> None:
        self._next = next(self._stream, None)
        if isinstance(self._next, StereoFrame) and self.frames >= self.total_frames:
            self._next = None
        if self._next is not None:
            self.schedule(self._next.timestamp_ns, self._emit)

    def _emit(self) -> None:
        message = self._next
        if not self._setup_sent:
            self._setup_sent = True
            self.publish("setup", SensorSetup(message.timestamp_ns, self.seq.cam0, self.seq.cam1, self.seq.imu,
                                              self.sequence, getattr(self.seq, "groundtruth", None)))
        if isinstance(message, StereoFrame):
            self.frames += 1
            self._last_frame_ns = message.timestamp_ns
            self.publish("stereo", StereoMessage(message.timestamp_ns, message))
        else:
            self.imu_samples += 1
            self.publish("imu", ImuMessage(message.timestamp_ns, message))
        self._advance()

    def close(self) -> None:
        if self._stream is not None and hasattr(self._stream, "close"):
            self._stream.close()  # stops the prefetch thread
        self.seq.close()

    def progress(self) -> tuple[int, int, float]:
        span = 0.0 if self._last_frame_ns is None else (self._last_frame_ns - self.first_ns) * 1e-9
        return self.frames, self.total_frames, span

    def summary(self) -> dict:
        return {"sequence": self.sequence, "frames": self.frames, "total_frames": self.total_frames,
                "imu_samples": self.imu_samples}

    def seeds(self) -> dict:
        seed = _synth_seed(Path(self.sequence))
        return super().seeds() if seed is None else {**super().seeds(), "sequence": seed}
