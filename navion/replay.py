"""``navion replay``: run the VIO pipeline over a sequence and write the run folder.

Outputs in ``out_dir``: ``trajectory.tum`` (exact ns stamps, body in world),
``summary.json``, ``workloads.jsonl`` (one line of Workload records per frame, for the
hardware model) and, with ground truth, ``trajectory.png`` and ``errors.png``;
:func:`replay_map` (``--map``) adds the occupancy map files.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from datasets.messages import StereoFrame
from datasets.tum import read_tum, write_tum
from vio.lie import rot_to_quat_xyzw
from vio.pipeline import PipelineConfig, VioPipeline

from .sequences import prefetch_images


def workload_line(record) -> dict:
    """A frame's ``workloads.jsonl`` entry: the stamp and the enabled Workload records of a
    frame record (``timestamp_ns``, ``workloads``: a pipeline record or the front-end's tracks)."""
    return {"timestamp_ns": record.timestamp_ns, "stages": [w.to_dict() for w in record.workloads if w.enabled]}


def _groundtruth(seq):
    from navion.evaluation import PoseSeries

    gt = getattr(seq, "groundtruth", None)
    if gt is None or len(gt.timestamps_ns) < 3:
        return None
    return PoseSeries.from_groundtruth(gt)


def replay(seq, out_dir: str | Path, config: PipelineConfig = PipelineConfig(), max_frames: int | None = None,
           progress: Callable[[int, int, float], None] | None = None,
           on_frame: Callable[[VioPipeline, object], None] | None = None) -> dict:
    """Runs :class:`VioPipeline` over ``seq`` (an opened sequence) and writes the run folder.

    ``progress(done_frames, total_frames, sequence_time_s)`` is called after every frame;
    ``on_frame(pipeline, state)`` too (diagnostics, e.g. ``navion twin-gap``).
    Returns the summary written to ``summary.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pipeline = VioPipeline(seq.cam0, seq.cam1, seq.imu, config)
    total = len(seq.stereo_timestamps_ns) if max_frames is None else min(max_frames, len(seq.stereo_timestamps_ns))
    states, frames = [], 0
    start, cpu_start = time.perf_counter(), time.process_time()
    stopped_by = "interrupted"  # the outputs of the frames done are written whatever stops the loop
    try:
        with open(out / "workloads.jsonl", "w", encoding="utf-8") as workloads:
            for message in prefetch_images(seq.messages()):
                if isinstance(message, StereoFrame) and frames >= total:
                    break
                state = pipeline.process(message)
                if not isinstance(message, StereoFrame):
                    continue
                frames += 1
                record = pipeline.records[-1]
                workloads.write(json.dumps(workload_line(record)) + "\n")
                if state is not None:
                    states.append(state)
                if on_frame is not None:
                    on_frame(pipeline, state)
                if progress is not None:
                    progress(frames, total, (message.timestamp_ns - pipeline.first_frame_ns) * 1e-9)
        stopped_by = None
    except Exception as exc:  # e.g. an unreadable image: written below, then re-raised
        stopped_by = str(exc)
        raise
    finally:
        wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        summary = _write_outputs(out, seq, pipeline, states, frames, wall_s, cpu_s, stopped_by)
    return summary


def replay_map(seq, out_dir: str | Path, config, z_m: float | None = None,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """The ``--map`` step after :func:`replay`: builds an occupancy map along the run's
    trajectory.tum (frames without an estimate are skipped; the ground truth when the run has
    no estimate), writes map.npz, map.ply, map_slice.png and map_workloads.jsonl, and adds the
    map's figures to summary.json under ``map``. ``config``: a MapBuildConfig. Returns the figures."""
    from mapping.occupancy.exports import write_map_outputs
    from mapping.occupancy.integrate import build_map

    out = Path(out_dir)
    estimate = read_tum(out / "trajectory.tum")
    build = build_map(seq, estimate if len(estimate) else None, config, progress=progress)
    figures = {**write_map_outputs(out, build, z_m), "poses": "vio" if len(estimate) else "groundtruth"}
    summary = json.loads((out / "summary.json").read_text())
    summary["map"] = figures
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return figures


def _write_outputs(out: Path, seq, pipeline: VioPipeline, states: list, frames: int, wall_s: float,
                   cpu_s: float, stopped_by: str | None = None) -> dict:
    stamps = np.array([s.timestamp_ns for s in states], dtype=np.int64)
    p = np.array([s.p_world_body for s in states]).reshape(-1, 3)
    R = np.array([s.R_world_body for s in states]).reshape(-1, 3, 3)
    write_tum(out / "trajectory.tum", stamps, p, np.array([rot_to_quat_xyzw(r) for r in R]).reshape(-1, 4))
    records = pipeline.records
    span_s = (records[-1].timestamp_ns - records[0].timestamp_ns) * 1e-9 if len(records) > 1 else 0.0
    summary = {
        "sequence": str(seq.root),
        "frames": frames,
        "stopped_by": stopped_by,  # None: the run reached its end (or --max-frames)
        "estimated_frames": len(states),
        "resets": pipeline.resets,
        "reset_reasons": [{"timestamp_ns": t, "reason": r} for t, r in pipeline.reset_reasons],
        "fps": frames / wall_s if wall_s > 0 else None,
        "wall_time_s": wall_s,
        "process_cpu_time_s": cpu_s,
        "realtime_factor": span_s / wall_s if wall_s > 0 else None,
        "init_time_s": None if pipeline.init_ns is None else (pipeline.init_ns - pipeline.first_frame_ns) * 1e-9,
        "frontend_ms_mean": 1e3 * float(np.mean([r.frontend_s for r in records])) if records else None,
        "backend_ms_mean": 1e3 * float(np.mean([r.backend_s for r in records])) if records else None,
        "tracks_mean": float(np.mean([r.n_tracks for r in records])) if records else None,
        "stereo_tracks_mean": float(np.mean([r.n_stereo for r in records])) if records else None,
        "ate_rmse_m": None,
        "rpe": None,
    }
    gt = _groundtruth(seq)
    if gt is not None and len(states) >= 3:
        summary.update(_evaluate(out, gt, stamps, p, R))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _evaluate(out: Path, gt, stamps, p, R) -> dict:
    from navion.evaluation import EvaluationError, PoseSeries, evaluate, plot_errors, plot_trajectories

    try:
        result = evaluate(gt, PoseSeries(stamps, p, R), align="se3")
    except EvaluationError as exc:
        return {"evaluation_error": str(exc)}
    plot_trajectories(gt, result.est_aligned, out / "trajectory.png")
    plot_errors(result, out / "errors.png")
    d = result.to_dict()
    return {"ate_rmse_m": d["ate"]["rmse_m"], "ate": d["ate"], "rpe": d["rpe"], "matched_poses": d["matched_poses"]}
