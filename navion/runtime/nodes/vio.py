"""``vio``: the stereo VIO estimator (:class:`vio.pipeline.VioPipeline`) as a node.

Builds the pipeline from the first ``setup`` message (the sensor calibration), then feeds
it every IMU sample and stereo pair in arrival order. Per stereo frame it publishes the
frame's Workload records (``workloads``, source ``"vio"``) and, once initialised, the
estimated state (``navstate``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datasets.configuration import ConfigMixin
from vio.pipeline import PipelineConfig, VioPipeline

from ..messages import (
    IMU_TOPIC,
    NAVSTATE_TOPIC,
    SETUP_TOPIC,
    STEREO_TOPIC,
    WORKLOAD_TOPIC,
    ImuMessage,
    NavStateMessage,
    SensorSetup,
    StereoMessage,
    WorkloadMessage,
)
from ..node import Node, Port, register


@dataclass(frozen=True)
class VioParams(ConfigMixin):
    """config: yaml file of pipeline options (as ``navion replay --config``); pipeline: the
    same options inline (sections frontend, window, solver, static_init, ...). Give one."""

    config: str | None = None
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self) -> None:
        if self.config is not None and self.pipeline != PipelineConfig():
            raise ValueError("give the pipeline options either in 'config' (a file) or in 'pipeline', not both")


@register
class Vio(Node):
    """See the module docstring."""

    type_name = "vio"
    Params = VioParams
    inputs = {"setup": Port(SensorSetup, SETUP_TOPIC, queue_size=10), "imu": Port(ImuMessage, IMU_TOPIC, 1000),
              "stereo": Port(StereoMessage, STEREO_TOPIC, 10)}
    outputs = {"navstate": Port(NavStateMessage, NAVSTATE_TOPIC), "workloads": Port(WorkloadMessage, WORKLOAD_TOPIC)}

    def __init__(self, name, params: VioParams, context):
        super().__init__(name, params, context)
        self.config = PipelineConfig.from_yaml(params.config) if params.config else params.pipeline
        self.pipeline: VioPipeline | None = None
        self.frames = self.estimated = 0

    def on_setup(self, message: SensorSetup) -> None:
        if self.pipeline is not None:
            raise RuntimeError("a second sensor setup arrived; the estimator takes one sensor rig")
        self.pipeline = VioPipeline(message.cam0, message.cam1, message.imu, self.config)

    def _require_pipeline(self) -> VioPipeline:
        if self.pipeline is None:
            raise RuntimeError("sensor data arrived before the sensor setup (calibration)")
        return self.pipeline

    def on_imu(self, message: ImuMessage) -> None:
        self._require_pipeline().process(message.sample)

    def on_stereo(self, message: StereoMessage) -> None:
        pipeline = self._require_pipeline()
        state = pipeline.process(message.frame)
        self.frames += 1
        record = pipeline.records[-1] if pipeline.records else None
        if record is not None and record.timestamp_ns == message.stamp_ns:
            self.publish("workloads", WorkloadMessage(message.stamp_ns, "vio",
                                                      tuple(w for w in record.workloads if w.enabled)))
        if state is not None:
            self.estimated += 1
            self.publish("navstate", NavStateMessage(message.stamp_ns, state))

    def summary(self) -> dict:
        pipe = self.pipeline
        records = pipe.records if pipe is not None else []

        def mean(key: str, scale: float = 1.0):
            return scale * float(np.mean([getattr(r, key) for r in records])) if records else None

        return {
            "frames": self.frames,
            "estimated_frames": self.estimated,
            "resets": 0 if pipe is None else pipe.resets,
            "reset_reasons": [] if pipe is None else [{"timestamp_ns": t, "reason": r} for t, r in pipe.reset_reasons],
            "init_time_s": None if pipe is None or pipe.init_ns is None else (pipe.init_ns - pipe.first_frame_ns) * 1e-9,
            "frontend_ms_mean": mean("frontend_s", 1e3),
            "backend_ms_mean": mean("backend_s", 1e3),
            "tracks_mean": mean("n_tracks"),
            "stereo_tracks_mean": mean("n_stereo"),
        }
