"""Running a sweep: keys, cache look-up, tasks, executor, outputs.

:func:`run_sweep` keys every point (``navion.sweep.cache``), takes the finished ones from
the cache, groups the others by VIO run into :class:`~navion.sweep.worker.Task` s, runs
them on the chosen executor, stores each point's result as it arrives and writes the
outputs. Interrupted, it resumes: the next call skips every point already stored.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .cache import PRICING_CODE, VIO_CODE, SweepCache, code_fingerprint, point_key, sequence_identity, vio_key
from .errors import SweepError
from .executors import EXECUTORS, default_jobs, run_local, run_ray
from .outputs import add_sequence_ranks, plot_pareto, rank_configs, write_ranked_md, write_results_csv
from .spec import SweepSpec
from .worker import Task, run_task


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced and how much work it did."""

    out_dir: Path
    rows: list[dict]
    ranked: list[dict]
    points: int
    points_from_cache: int
    vio_runs: int
    vio_runs_reused: int


def config_label(config: int, n_configs: int) -> str:
    return f"c{config + 1:0{len(str(n_configs))}d}"


def plan_tasks(spec: SweepSpec, cache: SweepCache, vio_code: str, pricing_code: str) -> tuple[list[dict], list[Task]]:
    """(one entry per point: point, keys, cached result or None; the tasks still to run).
    ``vio_code``, ``pricing_code``: fingerprints of the code the runs and prices depend on."""
    seq_ids = [sequence_identity(p) for p in spec.sequences]
    entries, pending = [], {}
    for point in spec.points():
        pipeline = spec.algorithms[point.algorithm][1]
        hw = spec.hardware[point.hardware][1]
        vkey = vio_key(seq_ids[point.sequence], pipeline, spec.max_frames, vio_code)
        pkey = point_key(vkey, hw, pricing_code)
        cached = cache.load_point(pkey)
        entries.append({"point": point, "vio_key": vkey, "point_key": pkey, "result": cached})
        if cached is None:
            pending.setdefault(vkey, (point, []))[1].append((pkey, hw))
    tasks = [Task(vkey, str(spec.sequences[point.sequence]), spec.algorithms[point.algorithm][1],
                  spec.max_frames, str(cache.root), tuple(hws))
             for vkey, (point, hws) in pending.items()]
    return entries, tasks


def _rows(spec: SweepSpec, entries: list[dict]) -> list[dict]:
    n_configs = len(spec.algorithms) * len(spec.hardware)
    rows = []
    for e in entries:
        p = e["point"]
        rows.append({"point": p.index + 1, "config": config_label(p.config, n_configs),
                     "sequence": spec.sequence_names[p.sequence], **spec.knob_values(p),
                     **e["result"]["metrics"]})
    add_sequence_ranks(rows)
    return rows


def run_sweep(spec: SweepSpec, out_dir: str | Path, executor: str = "local", jobs: int | None = None,
              ray_address: str | None = None, cache_dir: str | Path | None = None,
              progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Runs every point of ``spec`` not in the cache (default ``OUT/cache``) and writes
    ``results.csv``, ``ranked.md``, ``pareto.png`` and ``sweep.json`` into ``out_dir``.
    ``progress(points_done, points_total)`` is called as results arrive."""
    if executor not in EXECUTORS:
        raise SweepError(f"unknown executor {executor!r} (choose {', '.join(EXECUTORS)})")
    if jobs is not None and jobs < 1:
        raise SweepError(f"jobs must be >= 1, got {jobs}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"{out}: cannot create the output folder: {exc.strerror or exc}") from None
    cache = SweepCache(cache_dir if cache_dir is not None else out / "cache")
    started = time.time()
    code = {"vio": code_fingerprint(VIO_CODE), "pricing": code_fingerprint(PRICING_CODE)}
    entries, tasks = plan_tasks(spec, cache, code["vio"], code["pricing"])
    from_cache = sum(e["result"] is not None for e in entries)
    done = from_cache
    if progress is not None:
        progress(done, len(entries))
    if executor == "ray":
        results = run_ray(run_task, tasks, jobs=jobs, address=ray_address)
    else:
        results = run_local(run_task, tasks, jobs or default_jobs())
    by_key = {e["point_key"]: e for e in entries}
    vio_ran = 0
    for result in results:
        if "error" in result:
            raise SweepError(result["error"])
        vio_ran += result["vio_ran"]
        for pkey, data in result["points"].items():
            cache.save_point(pkey, data)
            by_key[pkey]["result"] = data
            done += 1
        if progress is not None:
            progress(done, len(entries))
    rows = _rows(spec, entries)
    ranked = rank_configs(rows, spec.knob_paths)
    _write_outputs(spec, out, rows, ranked)
    vio_keys = {e["vio_key"] for e in entries}
    (out / "sweep.json").write_text(json.dumps({
        "spec": str(spec.path), "sequences": [str(p) for p in spec.sequences], "max_frames": spec.max_frames,
        "hardware": spec.hardware_source, "executor": executor, "jobs": jobs, "ray_address": ray_address,
        "cache": str(cache.root), "points": len(entries), "points_from_cache": from_cache,
        "vio_runs": len(vio_keys), "vio_runs_run": vio_ran, "started_unix_s": started,
        "elapsed_s": time.time() - started,
        "code": code,
    }, indent=2) + "\n", encoding="utf-8")
    return SweepResult(out, rows, ranked, len(entries), from_cache, len(vio_keys), len(vio_keys) - vio_ran)


def _write_outputs(spec: SweepSpec, out: Path, rows: list[dict], ranked: list[dict]) -> None:
    title = f"{spec.path.name}: {len(rows)} points, {len(ranked)} configurations, " \
            f"{len(spec.sequences)} sequence(s)" + (f", first {spec.max_frames} frames" if spec.max_frames else "")
    try:
        write_results_csv(rows, spec.knob_paths, out / "results.csv")
        write_ranked_md(ranked, spec.knob_paths, out / "ranked.md", title)
        plot_pareto(rows, ranked, out / "pareto.png", title)
    except OSError as exc:
        raise SweepError(f"{out}: cannot write the outputs: {exc.strerror or exc}") from None
