"""Sweep outputs: ``results.csv`` (one row per point), ``ranked.md`` and the terminal table
(one row per configuration), ``pareto.png``.

Ranking rule (ranked.md, terminal): each configuration (algorithm x hardware) is
summarised over its sequences by the mean ATE RMSE and the mean energy per frame; the
configurations are ordered by Pareto rank on those two (1 = not dominated), then by mean
energy, then by mean ATE. A configuration with a sequence that gave no ATE (the VIO
never initialised) is not ranked and comes last. ``results.csv`` carries each point's
Pareto rank among the points of its own sequence (ATEs of different sequences are not
comparable).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from .pareto import pareto_ranks
from .worker import ENERGY_METRICS, TIMING_METRICS, VIO_METRICS

ID_COLUMNS = ("point", "config", "sequence")
RESULT_COLUMNS = VIO_METRICS + ENERGY_METRICS + ("pareto_rank",)


def csv_columns(knob_paths: list[str]) -> list[str]:
    """results.csv columns: ids, knobs, figures independent of timing, then timing figures."""
    return [*ID_COLUMNS, *knob_paths, *RESULT_COLUMNS, *TIMING_METRICS]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def add_sequence_ranks(rows: list[dict]) -> None:
    """Sets each row's ``pareto_rank`` among the rows of its sequence (0: no ATE)."""
    for sequence in dict.fromkeys(r["sequence"] for r in rows):
        members = [r for r in rows if r["sequence"] == sequence]
        ranks = pareto_ranks([[_num(r["ate_rmse_m"]), _num(r["energy_per_frame_uj"])] for r in members])
        for r, rank in zip(members, ranks):
            r["pareto_rank"] = int(rank)


def _num(value) -> float:
    return math.nan if value is None else float(value)


def write_results_csv(rows: list[dict], knob_paths: list[str], path: Path) -> None:
    columns = csv_columns(knob_paths)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c)) for c in columns])


def rank_configs(rows: list[dict], knob_paths: list[str]) -> list[dict]:
    """One summary per configuration, in ranking order (module docstring)."""
    configs: dict[str, list[dict]] = {}
    for r in rows:
        configs.setdefault(r["config"], []).append(r)
    out = []
    for label, members in configs.items():
        ates = [m["ate_rmse_m"] for m in members]
        complete = all(a is not None for a in ates)
        out.append({
            "config": label, **{k: members[0][k] for k in knob_paths},
            "sequences": len(members),
            "ate_mean_m": float(np.mean(ates)) if complete else None,
            "ate_max_m": float(np.max(ates)) if complete else None,
            "energy_per_frame_uj": float(np.mean([m["energy_per_frame_uj"] for m in members])),
            "power_mw": float(np.mean([m["power_mw"] for m in members])),
            "peak_onchip_bytes": float(np.max([m["peak_onchip_bytes"] for m in members])),
            "resets": int(sum(m["resets"] or 0 for m in members)),
        })
    ranks = pareto_ranks([[_num(c["ate_mean_m"]), c["energy_per_frame_uj"]] for c in out])
    for c, rank in zip(out, ranks):
        c["pareto_rank"] = int(rank)
    out.sort(key=lambda c: (c["pareto_rank"] == 0, c["pareto_rank"], c["energy_per_frame_uj"],
                            _num(c["ate_mean_m"]), c["config"]))
    return out


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return _cell(value)


RANKED_HEADERS = ("#", "config", "Pareto rank")
RANKED_FIGURES = (("ATE mean [m]", "ate_mean_m"), ("ATE max [m]", "ate_max_m"),
                  ("energy/frame [uJ]", "energy_per_frame_uj"), ("power [mW]", "power_mw"),
                  ("peak on-chip [kB]", "peak_onchip_bytes"), ("resets", "resets"))


def short_names(knob_paths: list[str]) -> list[str]:
    """Each knob's last path component, or its whole path where those repeat."""
    last = [p.rsplit(".", 1)[-1] for p in knob_paths]
    return [short if last.count(short) == 1 else path for short, path in zip(last, knob_paths)]


def _ranked_cells(ranked: list[dict], knob_paths: list[str], short: bool = False) -> tuple[list[str], list[list[str]]]:
    headers = [*RANKED_HEADERS, *(short_names(knob_paths) if short else knob_paths), *(h for h, _ in RANKED_FIGURES)]
    body = []
    for position, c in enumerate(ranked, start=1):
        figures = [_fmt(c[k] / 1024 if k == "peak_onchip_bytes" else c[k]) for _, k in RANKED_FIGURES]
        body.append([str(position), c["config"], str(c["pareto_rank"] or "-"), *(_fmt(c[k]) for k in knob_paths),
                     *figures])
    return headers, body


def write_ranked_md(ranked: list[dict], knob_paths: list[str], path: Path, title: str) -> None:
    headers, body = _ranked_cells(ranked, knob_paths)
    lines = [f"# {title}", "",
             "Configurations ranked by Pareto rank on (mean ATE RMSE, mean energy per frame) over the "
             "sequences, then by mean energy, then by mean ATE; '-': a sequence gave no ATE (not ranked).", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def print_ranked(ranked: list[dict], knob_paths: list[str], title: str, console=None, limit: int = 20) -> None:
    """The ranked configurations as a rich table (the first ``limit`` rows)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and pipes: no 80-column default, never truncate
            console = Console(width=240)
    headers, body = _ranked_cells(ranked, knob_paths, short=True)
    table = Table(title=escape(title))
    for i, h in enumerate(headers):
        table.add_column(escape(h), justify="left" if i == 1 else "right")
    for row in body[:limit]:
        table.add_row(*(escape(cell) for cell in row), style="bold" if row[2] == "1" else None)
    console.print(table)
    if len(body) > limit:
        console.print(f"... {len(body) - limit} more in ranked.md", markup=False)


def plot_pareto(rows: list[dict], ranked: list[dict], path: Path, title: str) -> None:
    """Energy per frame against ATE: every point coloured by sequence with each sequence's
    front highlighted (left); the configurations' means over the sequences (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    sequences = list(dict.fromkeys(r["sequence"] for r in rows))
    for i, sequence in enumerate(sequences):
        members = [r for r in rows if r["sequence"] == sequence and r["ate_rmse_m"] is not None]
        colour = colours[i % len(colours)]
        left.scatter([r["ate_rmse_m"] for r in members], [r["energy_per_frame_uj"] for r in members],
                     s=22, color=colour, alpha=0.55, label=sequence)
        _front_line(left, [(r["ate_rmse_m"], r["energy_per_frame_uj"], r["config"])
                           for r in members if r["pareto_rank"] == 1], colour)
    left.set_title("points by sequence; each sequence's Pareto front outlined")
    left.legend(fontsize=8)
    done = [c for c in ranked if c["ate_mean_m"] is not None]
    right.scatter([c["ate_mean_m"] for c in done], [c["energy_per_frame_uj"] for c in done], s=22, color="0.5")
    _front_line(right, [(c["ate_mean_m"], c["energy_per_frame_uj"], c["config"])
                        for c in done if c["pareto_rank"] == 1], "C3")
    right.set_title("configurations: means over sequences (ranked.md)")
    energies = [r["energy_per_frame_uj"] for r in rows if r["energy_per_frame_uj"]]
    for ax in (left, right):
        ax.set_xlabel("ATE RMSE [m] (SE3-aligned)")
        ax.set_ylabel("energy per frame [uJ]")
        if energies and max(energies) > 20 * min(energies):
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _front_line(ax, front: list[tuple[float, float, str]], colour: str) -> None:
    if not front:
        return
    front.sort()
    xs, ys = [f[0] for f in front], [f[1] for f in front]
    ax.step(xs, ys, where="post", color=colour, linewidth=1.2)
    ax.scatter(xs, ys, s=60, facecolor=colour, edgecolor="black", linewidth=1.2, zorder=3)
    for x, y, label in front:
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
