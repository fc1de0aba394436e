"""Measured instruction count of a replay (``navion replay --count-instructions``).

Two child replays of the same sequence and options, over all N frames and over the
first frame only, are counted by :func:`accel_model.measured.count_instructions`
(``perf stat -e instructions:u`` where the counter works, else valgrind's callgrind).
Their difference is the work of frames 2..N without interpreter start-up, imports and
numba cache loading; scaled by N / (N - 1) it stands for all N frames. Under callgrind
the children run a scalar build (``SCALAR_BUILD_ENV``: valgrind emulates no AVX-512),
whose numba cache is first warmed by a native one-frame run. The result goes into
``summary.json`` under ``measured`` and becomes the report's perf line (instructions x the
CPU preset's mean energy per instruction, :func:`accel_model.measured.measured_lines`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from accel_model.measured import SCALAR_BUILD_ENV, count_instructions, perf_instructions

from .errors import CliError


class InstructionCountError(CliError):
    """The replay's instructions cannot be counted (no perf counter and no valgrind, or too few frames)."""


def _child(options: list[str], frames: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "navion.cli", "replay", *options, "--out", str(out), "--max-frames", str(frames)]


def count_replay_instructions(options: list[str], frames: int, timeout_s: float | None = None, log=print) -> dict:
    """{"instructions", "instructions_tool", "instructions_note"} for a replay of ``frames``
    frames with the command-line ``options`` (sequence path and replay flags, without
    ``--out``/``--max-frames``). InstructionCountError when nothing can count."""
    if frames < 2:
        raise InstructionCountError(f"--count-instructions needs at least 2 frames, the run had {frames}")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    perf = perf_instructions(["true"], 60, "instructions:u") is not None
    if not perf:
        env.update(SCALAR_BUILD_ENV)
    with tempfile.TemporaryDirectory(prefix="navion_instr_") as tmp:
        if not perf:
            log("count-instructions: no perf counter; warming the scalar build's numba cache natively")
            subprocess.run(_child(options, 1, Path(tmp) / "warm"), env=env, capture_output=True, check=False)
        counts = {}
        for n in (frames, 1):
            log(f"count-instructions: replaying {n} frame(s) under {'perf' if perf else 'callgrind'}")
            result = count_instructions(_child(options, n, Path(tmp) / f"run{n}"), timeout_s, env)
            if result is None:
                raise InstructionCountError("perf has no instruction counter here and valgrind is missing or failed")
            counts[n], tool = result
    per_frame = (counts[frames] - counts[1]) / (frames - 1)
    return {"instructions": max(per_frame, 0.0) * frames, "instructions_tool": tool,
            "instructions_note": (f"{tool}: replay of {frames} frames minus replay of 1 frame, scaled by "
                                  f"{frames}/{frames - 1}" + ("" if perf else "; scalar build (no SIMD)"))}


def add_to_summary(out_dir: str | Path, measured: dict) -> None:
    """Merges ``measured`` into ``summary.json``'s ``measured`` section."""
    path = Path(out_dir) / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["measured"] = {**(summary.get("measured") or {}), **measured}
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
