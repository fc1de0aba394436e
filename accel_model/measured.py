"""Measured energy lines: our own process CPU time, RAPL counters and ``perf`` instruction counts.

``navion replay`` records ``process_cpu_time_s`` in ``summary.json``; the energy report
multiplies it by a configured core power. :class:`EnergyMeter` also reads the RAPL
package counters (``/sys/class/powercap``) around a block when they are readable, and
:func:`perf_instructions` counts the instructions of a command under ``perf stat``;
both return None where the machine does not offer them (virtual machines often don't).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

POWERCAP = Path("/sys/class/powercap")


def read_rapl_uj() -> int | None:
    """Sum of the RAPL package energy counters [uJ], or None when none is readable."""
    total, found = 0, False
    for counter in sorted(POWERCAP.glob("intel-rapl:*/energy_uj")) if POWERCAP.is_dir() else []:
        if counter.parent.name.count(":") != 1:  # packages only, not their sub-domains
            continue
        try:
            total += int(counter.read_text())
            found = True
        except (OSError, ValueError):
            continue
    return total if found else None


class EnergyMeter:
    """Context manager measuring process CPU time [s] and RAPL energy [J] (None if unreadable)
    of the enclosed block; ``result()`` is the ``"measured"`` section for ``summary.json``."""

    def __enter__(self) -> EnergyMeter:
        self._cpu0, self._rapl0 = time.process_time(), read_rapl_uj()
        return self

    def __exit__(self, *exc) -> None:
        self.cpu_s = time.process_time() - self._cpu0
        rapl1 = read_rapl_uj()
        ok = self._rapl0 is not None and rapl1 is not None and rapl1 >= self._rapl0  # counters wrap
        self.rapl_j = (rapl1 - self._rapl0) * 1e-6 if ok else None

    def result(self) -> dict:
        return {"process_cpu_time_s": self.cpu_s, "rapl_energy_j": self.rapl_j}


def parse_perf_instructions(stderr: str) -> int | None:
    """Instruction count from ``perf stat -x,`` CSV output, None when not counted."""
    for line in stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2].startswith("instructions"):
            return int(fields[0]) if fields[0].isdigit() else None
    return None


def perf_instructions(command: list[str], timeout_s: float = 600.0) -> int | None:
    """Instructions retired by ``command`` (user and kernel) under ``perf stat``, or None when
    perf is missing or the counter is not supported (e.g. in a VM)."""
    if shutil.which("perf") is None:
        return None
    try:
        done = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "--", *command],
                              capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_perf_instructions(done.stderr)


def measured_lines(summary: dict, frames: int, fps: float, core_power_w: float,
                   energy_per_instruction_pj: float) -> dict:
    """Measured energy per frame [uJ] and power [mW] at ``fps``: CPU time x core power, RAPL,
    and instructions x the CPU model's mean energy per instruction (None where unmeasured).
    ``summary["measured"]`` (from :class:`EnergyMeter`, plus ``instructions``) is optional."""
    extra = summary.get("measured") or {}
    cpu_s = extra.get("process_cpu_time_s", summary.get("process_cpu_time_s"))

    def line(energy_j):
        if energy_j is None or frames <= 0:
            return None
        per_frame_uj = energy_j / frames * 1e6
        return {"energy_per_frame_uj": per_frame_uj, "power_mw": per_frame_uj * fps * 1e-3}

    instructions = extra.get("instructions")
    return {
        "process_cpu_time_s": cpu_s,
        "core_power_w": core_power_w,
        "cpu_time": line(None if cpu_s is None else cpu_s * core_power_w),
        "rapl": line(extra.get("rapl_energy_j")),
        "instructions": instructions,
        "perf": line(None if instructions is None else instructions * energy_per_instruction_pj * 1e-12),
        "rapl_readable": read_rapl_uj() is not None,
    }
