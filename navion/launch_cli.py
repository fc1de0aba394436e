"""``navion launch FILE``: run a launch file's node graph and write the run folder.

``--set node.param=value`` overrides a parameter (the value is read as a YAML scalar and
checked like the file); ``--rate K`` paces the run at K x real time. Exit codes: 0 when
the run completes, 2 for a malformed launch file or bad input (one ``file:line`` line),
1 when a node raised (one line naming it; outputs and ``error.log`` are written), 130 on
Ctrl-C (outputs are written).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_NODE_FAILED, EXIT_INTERRUPTED = 1, 130


def add_parser(sub) -> None:
    """Registers the ``launch`` command on the ``navion`` subparsers ``sub``."""
    launch = sub.add_parser(
        "launch", help="run a launch file (nodes on the in-process bus) and write the run folder",
        description="Run the nodes of a launch file (launch/*.yaml) on the deterministic in-process bus; "
                    "writes run.json, summary.json, trajectory.tum, workloads.jsonl, energy.json and "
                    "report.html into the run folder (docs/runtime.md).")
    launch.add_argument("file", help="launch file (YAML)")
    launch.add_argument("--out", metavar="DIR", help="run folder (default out/launch/<file name>)")
    launch.add_argument("--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
                        help="override a parameter (repeatable; also clock.mode=fast|realtime, clock.rate=K)")
    launch.add_argument("--rate", type=float, metavar="K",
                        help="pace the run at K x real time (same as --set clock.mode=realtime --set clock.rate=K)")
    launch.set_defaults(func=run)


def _outcome(summary: dict) -> str:
    from .runtime.report_html import node_summary

    recorder = node_summary(summary, "recorder")
    energy = node_summary(summary, "energy_monitor").get("final")
    ate = recorder.get("ate_rmse_m")
    parts = [f"{summary['frames']} frames, {recorder.get('estimated_frames', 0)} estimated"]
    if summary.get("fps") is not None:
        parts.append(f"{summary['fps']:.1f} fps ({summary['realtime_factor'] or 0:.2f}x real time)")
    parts.append("ATE RMSE " + ("n/a" if ate is None else f"{ate:.3f} m"))
    if energy is not None:
        parts.append(f"{energy['hardware']} {energy['power_mw']:.3g} mW")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from .progress import progress_bar
    from .runtime.bus import NodeFailure
    from .runtime.launch import load_launch
    from .runtime.run import run_launch

    overrides = list(args.overrides)
    if args.rate is not None:
        overrides += ["clock.mode=realtime", f"clock.rate={args.rate!r}"]
    launch = load_launch(args.file, overrides)
    out = Path(args.out) if args.out else Path("out") / "launch" / Path(args.file).stem
    command = ["navion", "launch", args.file, "--out", str(out), *[f"--set={o}" for o in overrides]]
    try:
        with progress_bar("launch", unit="frames", realtime=True) as advance:
            result = run_launch(launch, out, progress=advance, command=command)
    except NodeFailure as exc:  # raised while building the nodes: nothing ran, nothing written
        print(f"navion: {exc}", file=sys.stderr)
        return EXIT_NODE_FAILED
    if result.status == "failed":
        print(f"navion: node '{result.failed_node}' failed: {result.error} (outputs in {out}, traceback in "
              f"{out / 'error.log'})", file=sys.stderr)
        return EXIT_NODE_FAILED
    if result.status == "interrupted":
        print(f"navion: interrupted; outputs written to {out}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{_outcome(result.summary)}; outputs in {out}")
    return 0
