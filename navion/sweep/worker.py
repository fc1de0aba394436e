"""One unit of sweep work: a VIO run (or its cached folder) priced on several hardware configs.

:func:`run_task` is what every executor runs (in the driver, in a worker process or on
a Ray worker). It writes the VIO run folder into the cache itself (under a temporary
name, renamed when complete) and returns the point results to the driver, which alone
writes the point cache. Known input errors come back as ``{"error": message}`` so that
the driver can report them as one line whatever the executor.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from accel_model.hardware import HardwareConfig
from vio.pipeline import PipelineConfig

from .cache import SweepCache

# Figures of a point that do not depend on wall-clock time, in results.csv order.
VIO_METRICS = ("ate_rmse_m", "resets", "frames", "estimated_frames")
ENERGY_METRICS = ("energy_per_frame_uj", "power_mw", "peak_onchip_bytes", "cpu_over_accelerator",
                  "memory_reduction", "codec_ratio")
# Measured speed of the (shared) VIO run: differs between runs and machines.
TIMING_METRICS = ("fps", "vio_wall_time_s")


@dataclass(frozen=True)
class Task:
    """A VIO run (``vio_key``: sequence, pipeline config, max_frames) and the hardware
    points (``(point_key, HardwareConfig)``) still to price on it."""

    vio_key: str
    sequence: str
    pipeline: PipelineConfig
    max_frames: int | None
    cache_root: str
    points: tuple[tuple[str, HardwareConfig], ...]


def _ensure_vio_run(task: Task, cache: SweepCache) -> tuple[dict, bool]:
    """(summary.json of the task's VIO run, whether it was run now rather than found)."""
    from navion.replay import replay
    from navion.sequences import open_sequence

    final = cache.vio_dir(task.vio_key)
    if cache.has_vio(task.vio_key):
        return json.loads((final / "summary.json").read_text(encoding="utf-8")), False
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with open_sequence(task.sequence, quiet=True) as seq:
            summary = replay(seq, tmp, task.pipeline, max_frames=task.max_frames)
        (tmp / "sweep_inputs.json").write_text(json.dumps(
            {"sequence": task.sequence, "max_frames": task.max_frames, "pipeline": asdict(task.pipeline)},
            indent=1) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(final)
    except OSError:  # another worker finished the same run first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
    return summary, True


def _price(run_dir: Path, sequence: str, hw: HardwareConfig) -> tuple[dict, dict]:
    """(energy metrics, the full report) of the run on ``hw``."""
    from accel_model.report import build_report

    report = build_report(run_dir, hw, sequence=sequence)
    metrics = {
        "energy_per_frame_uj": report["accelerator"]["energy_per_frame_uj"],
        "power_mw": report["accelerator"]["power_mw"],
        "peak_onchip_bytes": report["memory"]["peak_onchip_bytes"],
        "cpu_over_accelerator": report["ratio_cpu_over_accelerator"],
        "memory_reduction": report["memory"]["reduction_factor"],
        "codec_ratio": report["codec"]["ratio"],
    }
    return metrics, report


def run_task(task: Task) -> dict:
    """Runs (or reuses) the VIO run and prices every point of ``task``.

    Returns ``{"vio_key", "vio_ran", "points": {point_key: {"metrics", "report"}}}``, or
    ``{"vio_key", "error"}`` when the input is at fault (a known error).
    """
    from navion.errors import KNOWN_ERRORS

    cache = SweepCache(task.cache_root)
    try:
        summary, ran = _ensure_vio_run(task, cache)
        vio = {k: summary.get(k) for k in VIO_METRICS}
        vio.update(fps=summary.get("fps"), vio_wall_time_s=summary.get("wall_time_s"))
        points = {}
        for key, hw in task.points:
            metrics, report = _price(cache.vio_dir(task.vio_key), task.sequence, hw)
            points[key] = {"metrics": {**vio, **metrics}, "report": report}
    except KNOWN_ERRORS as exc:
        return {"vio_key": task.vio_key, "error": f"{task.sequence}: {exc}"}
    return {"vio_key": task.vio_key, "vio_ran": ran, "points": points}
