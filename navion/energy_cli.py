"""``navion energy``: the energy report of a run folder, or a comparison of saved reports.

``navion energy RUN_DIR [--hw navion65|cpu|FILE]`` writes ``energy.json`` and ``energy.png``
into RUN_DIR (or ``--out FILE`` and the PNG beside it) and prints a table (``--json``:
the report). ``--sensitivity [RANGES]`` adds the design's sensitivity to its uncertain
settings (the preset's shipped ranges, or a ranges file): a ``sensitivity`` section, a
table and a tornado chart ``energy_sensitivity.png``. ``navion energy compare A.json B.json ...`` prints them side by side with
ratios to the first and, with ``--plot FILE``, draws a bar chart. The first positional
word ``compare`` selects the comparison (a run folder of that name: write ``./compare``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .errors import CliError

SHIPPED = "shipped"  # --sensitivity without a file: the preset's shipped ranges


def add_parser(sub) -> None:
    """Registers the ``energy`` command on the ``navion`` subparsers ``sub``."""
    energy = sub.add_parser(
        "energy", help="energy report of a run folder on an accelerator and a CPU, or compare reports",
        usage="navion energy RUN_DIR [--hw NAME|FILE] [--sensitivity [RANGES]] [--json] [--out FILE]\n"
              "       navion energy compare A.json B.json [...] [--plot FILE] [--json]",
        description="Price the run's workloads (workloads.jsonl) on a hardware configuration and on "
                    "the CPU baseline: energy per frame and power by stage and category, on-chip "
                    "memory, compression ratio and memory reduction (docs/energy_model.md).")
    energy.add_argument("paths", nargs="+", metavar="RUN_DIR | compare REPORT...",
                        help="a run folder of `navion replay`, or `compare` and energy.json files")
    energy.add_argument("--hw", default="navion65", metavar="NAME|FILE",
                        help="hardware preset (navion65, cpu) or yaml file (default navion65)")
    energy.add_argument("--sequence", metavar="PATH",
                        help="sequence for the codec measurement (default: the one in summary.json)")
    energy.add_argument("--json", action="store_true", help="print the report (or comparison) as JSON")
    energy.add_argument("--out", metavar="FILE", help="report path (default RUN_DIR/energy.json; PNG beside it)")
    energy.add_argument("--sensitivity", nargs="?", const=SHIPPED, metavar="RANGES",
                        help="also price the design with each uncertain setting varied (default: the ranges "
                             "shipped with the preset; or a ranges yaml, docs/energy_model.md)")
    energy.add_argument("--plot", metavar="FILE", help="compare: write a bar chart PNG")
    energy.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.paths[0] == "compare":
        return _compare(args, args.paths[1:])
    if len(args.paths) != 1:
        raise CliError(f"energy takes one run folder, got {len(args.paths)} paths (to compare reports: "
                       "navion energy compare A.json B.json)")
    if args.plot is not None:
        raise CliError("--plot is for `navion energy compare`; a run's chart goes beside its report")
    return _report(args, Path(args.paths[0]))


def _ranges(args: argparse.Namespace, hw):
    """The ranges named by ``--sensitivity``, checked against design ``hw``."""
    from accel_model.hardware import preset_names
    from accel_model.sensitivity import load_ranges, shipped_ranges

    if args.sensitivity != SHIPPED:
        return load_ranges(args.sensitivity, hw)
    path = shipped_ranges(args.hw) if args.hw in preset_names() else None
    if path is None:
        raise CliError(f"no ranges are shipped for --hw {args.hw}; give a ranges file: --sensitivity RANGES.yaml "
                       "(format: accel_model/presets/ranges/navion65.yaml)")
    return load_ranges(path, hw)


def _report(args: argparse.Namespace, run_dir: Path) -> int:
    from accel_model.hardware import load_preset
    from accel_model.report import build_report, plot_report, print_report
    from accel_model.sensitivity import plot_sensitivity, print_sensitivity, sensitivity

    from .progress import progress_bar

    if not run_dir.is_dir():
        raise CliError(f"{run_dir}: no such run folder")
    hw = load_preset(args.hw)
    ranges = _ranges(args, hw) if args.sensitivity is not None else None
    report = build_report(run_dir, hw, sequence=args.sequence)
    out = Path(args.out) if args.out else run_dir / "energy.json"
    charts = [out.with_suffix(".png")]
    if ranges is not None:
        with progress_bar("sensitivity", unit="pricings") as advance:
            report["sensitivity"] = sensitivity(run_dir, hw, ranges, sequence=args.sequence, progress=advance)
        charts.append(out.with_name(f"{out.stem}_sensitivity.png"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        plot_report(report, charts[0])
        if ranges is not None:
            plot_sensitivity(report["sensitivity"], charts[1])
    except OSError as exc:
        raise CliError(f"{out}: cannot write the report: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
        if ranges is not None:
            print_sensitivity(report["sensitivity"])
        print(f"wrote {out} and {' and '.join(map(str, charts))}")
    return 0


def _labels(paths: list[Path]) -> list[str]:
    """Run-folder names, or the full paths where those repeat."""
    short = [p.parent.name or p.stem for p in paths]
    return short if len(set(short)) == len(short) else [str(p) for p in paths]


def _compare(args: argparse.Namespace, files: list[str]) -> int:
    from accel_model.report import (
        compare_rows,
        load_report,
        plot_comparison,
        print_comparison,
    )

    if len(files) < 2:
        raise CliError("energy compare needs at least two energy.json reports")
    if args.out is not None or args.sequence is not None:
        raise CliError("--out and --sequence are for a run folder, not for `energy compare`")
    paths = [Path(f) for f in files]
    reports = list(zip(_labels(paths), [load_report(p) for p in paths]))
    if args.json:
        rows = compare_rows(reports)
        print(json.dumps({"reports": [label for label, _ in reports],
                          "rows": {name: values for name, values in rows}}, indent=2))
    else:
        print_comparison(reports)
    if args.plot is not None:
        try:
            plot_comparison(reports, args.plot)
        except OSError as exc:
            raise CliError(f"{args.plot}: cannot write the plot: {exc.strerror or exc}") from None
    return 0
