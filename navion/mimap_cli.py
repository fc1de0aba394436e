"""``navion mi-map``: the mutual-information map of a saved 2-D map (or a slice of a 3-D map).

``navion mi-map MAP [--beams 60] [--range-m 10] [--sigma-m S] [--truncation K] [--z-m Z]
[--out FILE.png] [--json]`` places a 360-degree range sensor at every free cell, writes
the MI as a heat map (``--out``, default ``mi_map.png``: colour bar in nats, metres on the
axes, the best cell marked) and as an array beside it (``mi_map.npy``, NaN at non-free
cells, ``[iy, ix]``), and prints a summary (``--json``: one JSON object). Map formats:
:mod:`mapping.mi_map`.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from .errors import CliError


def add_parser(sub) -> None:
    """Registers the ``mi-map`` command on the ``navion`` subparsers ``sub``."""
    from mapping.fsmi import DEFAULT_SIGMA_M
    from mapping.mi_map import METHODS

    p = sub.add_parser(
        "mi-map", help="mutual-information map of a saved occupancy map (FSMI/FCMI)",
        description="Score every free cell of a 2-D map (or of a 3-D map's slice at --z-m) by the "
                    "Shannon mutual information a 360-degree range sensor there would gain "
                    "(FSMI beams, FCMI reuse along beam lines; docs/mapping.md).")
    p.add_argument("map", metavar="MAP", help="map file (.npz): 2-D 'probability' map, or 3-D 'log_odds' map")
    p.add_argument("--beams", type=int, default=60, metavar="N", help="beams per sensor (default 60)")
    p.add_argument("--range-m", type=float, default=10.0, metavar="M", help="sensor range [m] (default 10)")
    p.add_argument("--sigma-m", type=float, default=DEFAULT_SIGMA_M, metavar="S",
                   help=f"range noise std [m] (default {DEFAULT_SIGMA_M})")
    p.add_argument("--truncation", type=int, metavar="K",
                   help="keep the Gaussian within +-K cells (default: exact)")
    p.add_argument("--method", choices=METHODS, default="fcmi",
                   help="fcmi (reuse along beam lines, default) or per_cell (each cell on its own)")
    p.add_argument("--free-below", type=float, default=0.5, metavar="P",
                   help="cells with occupancy below P are free sensor positions (default 0.5)")
    p.add_argument("--z-m", type=float, metavar="Z", help="3-D maps: height of the slice [m, world]")
    p.add_argument("--out", default="mi_map.png", metavar="FILE.png",
                   help="heat map path (default mi_map.png); the .npy goes beside it")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def _check_options(args: argparse.Namespace) -> None:
    if args.beams < 1:
        raise CliError(f"--beams must be >= 1, got {args.beams}")
    for flag, value in (("--range-m", args.range_m), ("--sigma-m", args.sigma_m)):
        if not (math.isfinite(value) and value > 0):
            raise CliError(f"{flag} must be a positive number, got {value:g}")
    if args.truncation is not None and args.truncation < 0:
        raise CliError(f"--truncation must be >= 0 cells, got {args.truncation}")
    if not 0 < args.free_below <= 1:
        raise CliError(f"--free-below must be in (0, 1], got {args.free_below:g}")
    if Path(args.out).suffix.lower() != ".png":
        raise CliError(f"--out must name a .png file, got {args.out}")


def plot_mi_map(mi: np.ndarray, origin_m: np.ndarray, resolution_m: float, path: Path, title: str) -> None:
    """Heat map of ``mi`` (ny, nx) [nats] in world metres; non-free cells grey; best cell marked."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ny, nx = mi.shape
    extent = (origin_m[0], origin_m[0] + nx * resolution_m, origin_m[1], origin_m[1] + ny * resolution_m)
    fig = Figure(figsize=(7, 6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    cmap = colormaps["viridis"].with_extremes(bad="0.6")
    image = ax.imshow(np.ma.masked_invalid(mi), origin="lower", extent=extent, cmap=cmap, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="mutual information [nats]")
    if np.isfinite(mi).any():
        iy, ix = np.unravel_index(np.nanargmax(mi), mi.shape)
        ax.plot(origin_m[0] + (ix + 0.5) * resolution_m, origin_m[1] + (iy + 0.5) * resolution_m, "rx", ms=10,
                mew=2, label="highest MI")
        ax.legend(loc="upper right")
    ax.set(title=title, xlabel="x [m]", ylabel="y [m]", aspect="equal")
    fig.savefig(path, dpi=110)


def run(args: argparse.Namespace) -> int:
    from mapping.mi_map import load_grid2d, load_grid3d_slice, map_kind, mi_map

    _check_options(args)
    if map_kind(args.map) == 3:
        if args.z_m is None:
            raise CliError(f"{args.map}: a 3-D map; choose the slice height with --z-m")
        grid, origin, res = load_grid3d_slice(args.map, args.z_m)
    else:
        if args.z_m is not None:
            raise CliError(f"{args.map}: a 2-D map; --z-m selects a slice of a 3-D map")
        grid, origin, res = load_grid2d(args.map)
    t0 = time.perf_counter()
    mi = mi_map(grid, res, n_beams=args.beams, range_m=args.range_m, sigma_m=args.sigma_m,
                truncation=args.truncation, method=args.method, free_threshold=args.free_below)
    seconds = time.perf_counter() - t0
    png = Path(args.out)
    npy = png.with_suffix(".npy")
    free = int(np.isfinite(mi).sum())
    summary = {
        "map": str(args.map), "shape_yx": list(mi.shape), "origin_m": origin.tolist(), "resolution_m": res,
        "z_m": args.z_m, "free_cells": free, "beams": args.beams, "range_m": args.range_m,
        "sigma_m": args.sigma_m, "truncation": args.truncation, "method": args.method,
        "mi_max_nats": None, "mi_mean_nats": None, "best_xy_m": None, "seconds": seconds,
        "png": str(png), "npy": str(npy),
    }
    if free:
        iy, ix = np.unravel_index(np.nanargmax(mi), mi.shape)
        summary.update(mi_max_nats=float(mi[iy, ix]), mi_mean_nats=float(np.nanmean(mi)),
                       best_xy_m=[float(origin[0] + (ix + 0.5) * res), float(origin[1] + (iy + 0.5) * res)])
    title = f"MI map, {args.beams} beams, {args.range_m:g} m" + ("" if args.z_m is None else f", z = {args.z_m:g} m")
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        np.save(npy, mi)
        plot_mi_map(mi, origin, res, png, title)
    except OSError as exc:
        raise CliError(f"{png}: cannot write the MI map: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(summary, indent=2))
    elif free:
        x, y = summary["best_xy_m"]
        print(f"{free} free cells of {mi.size}; MI max {summary['mi_max_nats']:.3f} nats at ({x:.2f}, {y:.2f}) m, "
              f"mean {summary['mi_mean_nats']:.3f} nats; {seconds:.2f} s; wrote {png} and {npy}")
    else:
        print(f"no free cells (occupancy below {args.free_below:g}) in {args.map}; wrote {png} and {npy}")
    return 0
