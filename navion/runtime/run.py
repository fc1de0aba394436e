"""Running a validated launch into a run folder.

Phases: build every node (bad inputs fail here, before anything is written) and wire its
inputs; create the run folder (removing an earlier run's outputs) and write ``run.json`` (the resolved launch, package
versions, git commit, seeds); start the nodes and dispatch events in bus order, paced by
the clock, until no event is left or a node asks to stop; then, whatever ended the loop
(the end of the data, a node's exception, Ctrl-C), close every node, write
``summary.json``, let nodes derive their reports (``after_run``), write ``summary.json``
again with those, ``error.log`` (the traceback) after a failure, and ``report.html``.
"""
from __future__ import annotations

import json
import platform
import subprocess
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from .bus import Bus, BusError, NodeFailure
from .clock import Clock
from .errors import LaunchError
from .launch import Launch
from .messages import StereoMessage
from .node import Node, NodeContext
from .report_html import write_report

# Files a run writes (the shipped nodes' and the mapping/exploration reports the report
# page shows): removed from a reused run folder first, so no stale file outlives its run.
RUN_OUTPUTS = ("run.json", "summary.json", "trajectory.tum", "workloads.jsonl", "trajectory.png", "errors.png",
               "energy.json", "energy.png", "error.log", "report.html", "map_slice.png", "coverage.png",
               "map.npz", "map.ply", "map_workloads.jsonl", "mi_workloads.jsonl")
PACKAGES = {"numpy": ("numpy",), "numba": ("numba",),
            "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python"),
            "open3d": ("open3d-cpu", "open3d"), "navion-sim": ("navion-sim",)}


@dataclass
class RunResult:
    """How the run ended: ``status`` is completed, stopped (a node asked), interrupted
    (Ctrl-C) or failed; ``failed_node`` names the node that raised."""

    out_dir: Path
    status: str
    failed_node: str | None
    error: str | None
    summary: dict


def package_versions() -> dict:
    """Installed versions of the packages a run's figures depend on (None if absent)."""
    versions = {}
    for key, dists in PACKAGES.items():
        versions[key] = None
        for dist in dists:
            try:
                versions[key] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def git_state() -> dict | None:
    """Commit and dirty flag of the checkout holding this package, None outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


class _Failure:
    def __init__(self, node: str, error: BaseException):
        self.node, self.error = node, error
        self.traceback = "".join(traceback.format_exception(error))

    def describe(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


def _build(launch: Launch, bus: Bus, out: Path, stop: list) -> list[Node]:
    from ..errors import KNOWN_ERRORS

    nodes = []
    for spec in launch.nodes:
        participant = bus.participant(spec.name)
        context = NodeContext(bus, participant, spec.topics, out, stop.append)
        try:
            node = spec.cls(spec.name, spec.params, context)
        except KNOWN_ERRORS as exc:
            raise LaunchError(f"node '{spec.name}' ({spec.type_name}): {exc}", spec.defined_at) from None
        except Exception as exc:
            raise NodeFailure(spec.name, exc) from exc
        for port, p in spec.cls.inputs.items():
            bus.subscribe(participant, spec.topics[port], p.message_type, getattr(node, f"on_{port}"),
                          spec.queues[port], name=port)
        nodes.append(node)
    return nodes


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def _seeds(nodes: list[Node]) -> dict:
    return {f"{n.name}.{k}": v for n in nodes for k, v in n.seeds().items()}


def _summary(launch: Launch, bus: Bus, clock: Clock, nodes: list[Node], status: str, stop: list,
             failure: _Failure | None, output_errors: list[str]) -> dict:
    figures = clock.figures()
    frames = sum(t.published for t in bus.topics.values() if t.message_type is StereoMessage)
    node_summaries = {}
    for node in nodes:
        try:
            node_summaries[node.name] = {"type": node.type_name, **node.summary()}
        except Exception as exc:  # a summary must not hide the run's other outputs
            node_summaries[node.name] = {"type": node.type_name, "summary_error": f"{type(exc).__name__}: {exc}"}
    sequence = next((s["sequence"] for s in node_summaries.values() if isinstance(s.get("sequence"), str)), None)
    wall = figures["wall_time_s"]
    return {
        "launch": launch.path,
        "status": status,
        "stop_reason": stop[0] if stop else None,
        "error": None if failure is None else {"node": failure.node, "message": failure.describe()},
        "output_errors": output_errors,
        "sequence": sequence,
        "frames": frames,
        "fps": frames / wall if wall > 0 else None,
        "wall_time_s": wall,
        "process_cpu_time_s": figures["process_cpu_time_s"],
        "realtime_factor": figures["realtime_factor"],
        "clock": figures,
        "topics": {name: {"type": t.message_type.__name__, "published": t.published,
                          "subscribers": len(t.subscriptions)} for name, t in bus.topics.items()},
        "queues": bus.counters(),
        "nodes": node_summaries,
    }


def run_launch(launch: Launch, out_dir: str | Path, progress: Callable[[int, int, float], None] | None = None,
               clock: Clock | None = None, command: list[str] | None = None) -> RunResult:
    """Runs ``launch`` and writes the run folder ``out_dir`` (see the module docstring).

    ``progress(done, total, data_time_s)`` is called when a source advances. A node's
    exception ends the run with status failed; KeyboardInterrupt with status interrupted;
    both still write every output. LaunchError when a node rejects its inputs at build time.
    """
    out = Path(out_dir)
    bus, stop = Bus(), []
    clock = clock or Clock(launch.clock)
    nodes = _build(launch, bus, out, stop)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in RUN_OUTPUTS:
            (out / name).unlink(missing_ok=True)
    except OSError as exc:
        raise LaunchError(f"cannot use {out} as the run folder: {exc.strerror or exc}") from None
    _write_json(out / "run.json", {
        "command": command, "launch": launch.to_dict(), "versions": package_versions(),
        "python": platform.python_version(), "git": git_state(), "seeds": _seeds(nodes)})
    sources = [n for n in nodes if n.progress() is not None]
    status, failure, shown = "completed", None, None
    clock.start()
    try:
        try:
            for node in nodes:
                try:
                    node.start()
                except Exception as exc:
                    raise NodeFailure(node.name, exc) from exc
            while not stop:
                t = bus.next_time_ns()
                if t is None:
                    bus.step()  # raises on a deadlock of blocked queues
                    break
                clock.wait_until(t)
                bus.step()
                if progress is not None and sources:
                    done = sources[0].progress()
                    if done[0] != shown:
                        shown = done[0]
                        progress(*done)
            if stop:
                status = "stopped"
        except NodeFailure as exc:
            status, failure = "failed", _Failure(exc.node, exc.error)
        except BusError as exc:
            status, failure = "failed", _Failure("bus", exc)
    except KeyboardInterrupt:
        status = "interrupted"
    clock.stop()
    output_errors: list[str] = []

    def guarded(node: Node, action: Callable[[], None]) -> None:
        nonlocal status, failure
        try:
            action()
        except Exception as exc:
            if failure is None and status != "interrupted":
                status, failure = "failed", _Failure(node.name, exc)
            else:
                output_errors.append(f"{node.name}: {type(exc).__name__}: {exc}")

    for node in nodes:
        guarded(node, node.close)
    _write_json(out / "summary.json", _summary(launch, bus, clock, nodes, status, stop, failure, output_errors))
    for node in nodes:
        guarded(node, lambda n=node: n.after_run(out))
    summary = _summary(launch, bus, clock, nodes, status, stop, failure, output_errors)
    _write_json(out / "summary.json", summary)
    if failure is not None:
        (out / "error.log").write_text(f"node '{failure.node}' failed\n\n{failure.traceback}", encoding="utf-8")
    try:
        write_report(out)
    except Exception as exc:  # the other outputs stay valid; say so in the summary
        output_errors.append(f"report.html: {type(exc).__name__}: {exc}")
        summary = _summary(launch, bus, clock, nodes, status, stop, failure, output_errors)
        _write_json(out / "summary.json", summary)
    return RunResult(out, status, None if failure is None else failure.node,
                     None if failure is None else failure.describe(), summary)
