"""Workload messages gathered into the lines of ``workloads.jsonl`` (the energy model's input).

One line per camera frame, ``{"timestamp_ns": t, "stages": [Workload.to_dict(), ...]}``,
as ``navion replay`` writes it; messages of several sources with the same stamp (the VIO
and mapping stages of one frame) share the frame's line.
"""
from __future__ import annotations

import json

from ..messages import WorkloadMessage


class WorkloadLog:
    """Stages by frame stamp, in stamp order."""

    def __init__(self) -> None:
        self._stages: dict[int, list] = {}

    def add(self, message: WorkloadMessage) -> None:
        self._stages.setdefault(message.stamp_ns, []).extend(w.to_dict() for w in message.stages)

    def __len__(self) -> int:
        return len(self._stages)

    def lines(self) -> list[str]:
        """The ``workloads.jsonl`` lines (with newlines) in stamp order."""
        return [json.dumps({"timestamp_ns": t, "stages": self._stages[t]}) + "\n" for t in sorted(self._stages)]

    def write(self, path) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(self.lines())
