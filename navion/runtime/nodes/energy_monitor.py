"""``energy_monitor``: prices the run's Workload records with the hardware model as they come.

Every ``status_period_s`` of data time it publishes an :class:`EnergyStatus` (energy per
frame and power of the design and the CPU baseline over the frames so far). The figures
come from :func:`accel_model.report.build_report` itself, run on a scratch folder holding
the records so far, so they are the figures ``navion energy`` would print at that point.
After the run it writes ``energy.json`` and ``energy.png`` into the run folder, exactly as
``navion energy RUN_DIR --hw HW`` does (the run folder's ``workloads.jsonl`` comes from
the recorder).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from accel_model.hardware import load_preset
from accel_model.report import build_report, plot_report
from datasets.configuration import ConfigMixin

from ..messages import ENERGY_TOPIC, SETUP_TOPIC, WORKLOAD_TOPIC, EnergyStatus, SensorSetup, WorkloadMessage
from ..node import Node, Port, register
from .workload_log import WorkloadLog


@dataclass(frozen=True)
class EnergyMonitorParams(ConfigMixin):
    """hw: design preset (navion65, cpu) or yaml file; cpu: the baseline preset or file;
    status_period_s: data time between status messages [s] (0 = none during the run);
    sequence: sequence for the codec measurement (default: the player's)."""

    hw: str = "navion65"
    cpu: str = "cpu"
    status_period_s: float = 10.0
    sequence: str | None = None

    def __post_init__(self) -> None:
        if self.status_period_s < 0:
            raise ValueError(f"'status_period_s' must be >= 0, got {self.status_period_s}")


def _status(stamp_ns: int, report: dict) -> EnergyStatus:
    acc, cpu = report["accelerator"], report["cpu"]
    return EnergyStatus(stamp_ns, report["run"]["frames"], acc["name"], acc["energy_per_frame_uj"], acc["power_mw"],
                        cpu["energy_per_frame_uj"], cpu["power_mw"],
                        {g: s["energy_per_frame_uj"] for g, s in report["stages"].items()})


@register
class EnergyMonitor(Node):
    """See the module docstring."""

    type_name = "energy_monitor"
    Params = EnergyMonitorParams
    inputs = {"setup": Port(SensorSetup, SETUP_TOPIC, 10), "workloads": Port(WorkloadMessage, WORKLOAD_TOPIC, 1000)}
    outputs = {"status": Port(EnergyStatus, ENERGY_TOPIC)}

    def __init__(self, name, params: EnergyMonitorParams, context):
        super().__init__(name, params, context)
        self.hw, self.cpu = load_preset(params.hw), load_preset(params.cpu)
        self.log = WorkloadLog()
        self.sequence = params.sequence
        self.last: EnergyStatus | None = None
        self.statuses = 0
        self.report: dict | None = None
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._next_status_ns: int | None = None

    def on_setup(self, message: SensorSetup) -> None:
        if self.sequence is None:
            self.sequence = message.sequence

    def on_workloads(self, message: WorkloadMessage) -> None:
        self.log.add(message)
        period_ns = round(self.params.status_period_s * 1e9)
        if period_ns <= 0:
            return
        if self._next_status_ns is None:
            self._next_status_ns = message.stamp_ns + period_ns
        elif message.stamp_ns >= self._next_status_ns:
            self._next_status_ns += period_ns * ((message.stamp_ns - self._next_status_ns) // period_ns + 1)
            self.last = _status(message.stamp_ns, self._report_so_far())
            self.statuses += 1
            self.publish("status", self.last)

    def _report_so_far(self) -> dict:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="navion-energy-")
        folder = Path(self._scratch.name)
        self.log.write(folder / "workloads.jsonl")
        (folder / "summary.json").write_text(json.dumps({"sequence": self.sequence}), encoding="utf-8")
        return build_report(folder, self.hw, self.cpu)

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()

    def after_run(self, run_dir: Path) -> None:
        self.report = build_report(run_dir, self.hw, self.cpu, sequence=self.sequence)
        (run_dir / "energy.json").write_text(json.dumps(self.report, indent=2) + "\n", encoding="utf-8")
        plot_report(self.report, run_dir / "energy.png")

    def summary(self) -> dict:
        final = None
        if self.report is not None:
            final = {k: v for k, v in vars(_status(0, self.report)).items() if k != "stamp_ns"}
        return {"statuses": self.statuses, "last_status": None if self.last is None else vars(self.last),
                "final": final}
