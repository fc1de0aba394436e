"""``recorder``: writes the estimate and the workload into the run folder.

At the end of the run (also after a failure or Ctrl-C): ``trajectory.tum`` (one line per
estimated frame, exact ns stamps, as ``navion replay`` writes it), ``workloads.jsonl``
(one line per camera frame) and, when the sensor setup carried ground truth and
``evaluate`` is on, the evaluation of ``navion replay`` (ATE, RPE after SE(3) alignment;
``trajectory.png``, ``errors.png``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datasets.configuration import ConfigMixin
from datasets.tum import write_tum
from vio.lie import rot_to_quat_xyzw

from ...replay import _evaluate, _groundtruth
from ..messages import NAVSTATE_TOPIC, SETUP_TOPIC, WORKLOAD_TOPIC, NavStateMessage, SensorSetup, WorkloadMessage
from ..node import Node, Port, register
from .workload_log import WorkloadLog


@dataclass(frozen=True)
class RecorderParams(ConfigMixin):
    """evaluate: with ground truth, compute ATE/RPE and draw trajectory.png and errors.png."""

    evaluate: bool = True


@register
class Recorder(Node):
    """See the module docstring."""

    type_name = "recorder"
    Params = RecorderParams
    inputs = {"setup": Port(SensorSetup, SETUP_TOPIC, 10), "navstate": Port(NavStateMessage, NAVSTATE_TOPIC, 1000),
              "workloads": Port(WorkloadMessage, WORKLOAD_TOPIC, 1000)}

    def __init__(self, name, params: RecorderParams, context):
        super().__init__(name, params, context)
        self.setup: SensorSetup | None = None
        self.states = []
        self.workloads = WorkloadLog()
        self.evaluation: dict = {}

    def on_setup(self, message: SensorSetup) -> None:
        self.setup = message

    def on_navstate(self, message: NavStateMessage) -> None:
        self.states.append(message.state)

    def on_workloads(self, message: WorkloadMessage) -> None:
        self.workloads.add(message)

    def close(self) -> None:
        out = self.context.run_dir
        stamps = np.array([s.timestamp_ns for s in self.states], dtype=np.int64)
        p = np.array([s.p_world_body for s in self.states]).reshape(-1, 3)
        R = np.array([s.R_world_body for s in self.states]).reshape(-1, 3, 3)
        write_tum(out / "trajectory.tum", stamps, p, np.array([rot_to_quat_xyzw(r) for r in R]).reshape(-1, 4))
        self.workloads.write(out / "workloads.jsonl")
        gt = _groundtruth(self.setup) if self.setup is not None and self.params.evaluate else None
        if gt is not None and len(self.states) >= 3:
            self.evaluation = _evaluate(out, gt, stamps, p, R)

    def summary(self) -> dict:
        return {"estimated_frames": len(self.states), "workload_frames": len(self.workloads),
                "ate_rmse_m": self.evaluation.get("ate_rmse_m"), **self.evaluation}
