"""Measured energy lines: our own process CPU time, RAPL counters and ``perf`` instruction counts.

``navion replay`` records ``process_cpu_time_s`` in ``summary.json``; the energy report
multiplies it by a configured core power. :class:`EnergyMeter` also reads the RAPL
package counters (``/sys/class/powercap``) around a block when they are readable, and
:func:`perf_instructions` counts the instructions of a command under ``perf stat``;
both return None where the machine does not offer them (virtual machines often don't).
:func:`count_instructions` falls back on valgrind's callgrind, which counts the user-space
instructions of a command in any machine (50-100x slower than running it).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
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


def perf_instructions(command: list[str], timeout_s: float | None = 600.0, event: str = "instructions",
                      env: dict[str, str] | None = None) -> int | None:
    """Instructions retired by ``command`` under ``perf stat`` (``event`` ``instructions``: user
    and kernel; ``instructions:u``: user space only), or None when perf is missing or the
    counter is not supported (e.g. in a VM). ``env``: the command's environment."""
    if shutil.which("perf") is None:
        return None
    try:
        done = subprocess.run(["perf", "stat", "-x,", "-e", event, "--", *command],
                              capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_perf_instructions(done.stderr)


# A build valgrind can run (it emulates no AVX-512), the same natively and under valgrind:
# numba for a generic x86-64 CPU without loop/SLP vectorisation, one thread everywhere,
# OpenBLAS's SSE4.2 kernels. A numba cache built with it is keyed by the generic CPU name.
SCALAR_BUILD_ENV = {"NUMBA_CPU_NAME": "generic", "NUMBA_LOOP_VECTORIZE": "0", "NUMBA_SLP_VECTORIZE": "0",
                    "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1", "OPENBLAS_CORETYPE": "Nehalem"}


_CALLGRIND_TOTAL = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)
_CALLGRIND_REFS = re.compile(r"I\s+refs:\s*([\d,]+)")


def parse_callgrind_instructions(text: str) -> int | None:
    """Instructions executed from a callgrind output file (``summary:``/``totals:`` line, first
    event = Ir) or from valgrind's closing ``I   refs: 1,234`` message; None if absent."""
    match = _CALLGRIND_TOTAL.search(text) or _CALLGRIND_REFS.search(text)
    return int(match.group(1).replace(",", "")) if match else None


def callgrind_instructions(command: list[str], timeout_s: float | None = 600.0,
                           env: dict[str, str] | None = None) -> int | None:
    """User-space instructions executed by ``command`` under ``valgrind --tool=callgrind``, or
    None when valgrind is missing, the command fails or times out. Valgrind emulates no
    AVX-512: JIT code must then target an older CPU (e.g. ``NUMBA_CPU_NAME=generic``)."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        try:
            done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--", *command],
                                  capture_output=True, text=True, timeout=timeout_s, check=False, env=env)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        return parse_callgrind_instructions(out.read_text() if out.is_file() else done.stderr)


def count_instructions(command: list[str], timeout_s: float | None = 600.0,
                       env: dict[str, str] | None = None) -> tuple[int, str] | None:
    """(user-space instructions executed by ``command``, the tool that counted them): ``perf``
    (``instructions:u``) where the counter works, else ``callgrind``; None if neither can."""
    count = perf_instructions(command, timeout_s, "instructions:u", env)
    if count is not None:
        return count, "perf"
    count = callgrind_instructions(command, timeout_s, env)
    return None if count is None else (count, "callgrind")


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
