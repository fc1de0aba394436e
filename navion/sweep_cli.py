"""``navion sweep SPEC.yaml``: the algorithm x hardware co-design sweep (docs/sweep.md).

Runs every point of the spec (VIO replays shared by the hardware points of one algorithm
config and sequence, each priced by the energy model), resuming from the cache, and
writes ``results.csv``, ``ranked.md``, ``pareto.png`` and ``sweep.json`` into ``--out``.
"""
from __future__ import annotations

import argparse

from .errors import CliError


def add_parser(sub) -> None:
    """Registers the ``sweep`` command on the ``navion`` subparsers ``sub``."""
    sweep = sub.add_parser(
        "sweep", help="co-design sweep: algorithm knobs x hardware knobs x sequences",
        description="Run the grid of a sweep spec (yaml): VIO accuracy (ATE), speed, and energy per frame, "
                    "power and on-chip memory on each hardware configuration; writes results.csv, "
                    "ranked.md and pareto.png. Finished points are cached: a rerun resumes.")
    sweep.add_argument("spec", metavar="SPEC.yaml", help="sweep spec (see docs/sweep.md, sweeps/example.yaml)")
    sweep.add_argument("--out", required=True, metavar="DIR", help="output folder")
    sweep.add_argument("--cache", metavar="DIR", help="cache of VIO runs and point results (default OUT/cache)")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local processes (default) or a Ray cluster (extra navion-sim[ray])")
    sweep.add_argument("--jobs", type=int, metavar="N",
                       help="parallel VIO runs: local processes (1 = inline) or the CPUs of a local Ray "
                            "instance (default: all cores)")
    sweep.add_argument("--ray-address", metavar="ADDR",
                       help="Ray cluster to join (default: start a local instance); the cache folder and the "
                            "sequences must be reachable from its nodes at the same paths")
    sweep.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .progress import progress_bar
    from .sweep.outputs import print_ranked
    from .sweep.runner import run_sweep
    from .sweep.spec import load_spec

    if args.ray_address is not None and args.executor != "ray":
        raise CliError("--ray-address needs --executor ray")
    if args.ray_address is not None and args.jobs is not None:
        raise CliError("--jobs sizes a local Ray instance; with --ray-address the cluster's CPUs decide")
    if args.jobs is not None and args.jobs < 1:
        raise CliError(f"--jobs must be >= 1, got {args.jobs}")
    spec = load_spec(args.spec)
    with progress_bar("sweep", unit="points") as advance:
        result = run_sweep(spec, args.out, executor=args.executor, jobs=args.jobs, ray_address=args.ray_address,
                           cache_dir=args.cache, progress=advance)
    print_ranked(result.ranked, spec.knob_paths, f"{spec.path.name}: configurations ranked "
                 "(Pareto rank on mean ATE and mean energy, then energy)")
    print(f"{result.points} points ({result.points_from_cache} from the cache), {result.vio_runs} VIO runs "
          f"({result.vio_runs_reused} reused); wrote results.csv, ranked.md, pareto.png to {result.out_dir}")
    return 0
