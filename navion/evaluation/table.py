"""Human-readable rendering of an evaluation (``navion eval`` without ``--json``)."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .metrics import ErrorStats
from .result import EvalResult


def print_result(result: EvalResult, gt_name: str, est_name: str) -> None:
    """The inputs, one table (a row per statistic; ATE [m], RPE [m], RPE [deg]), then
    the association, alignment and RPE settings."""
    console = Console()
    rpe = result.rpe
    console.print(f"estimate      {escape(est_name)}\nground truth  {escape(gt_name)}")
    table = Table()
    for name in ("", "ATE [m]", "RPE [m]", "RPE [deg]"):
        table.add_column(escape(name), justify="right")
    columns = (result.ate_stats, rpe.translation_stats, rpe.rotation_stats)
    for key in ErrorStats.KEYS:
        table.add_row(key, *("n/a" if s is None else f"{getattr(s, key):.6f}" for s in columns))
    console.print(table)
    console.print(f"{len(result.ate_m)} matched poses (within {result.max_diff_s:g} s); "
                  f"{result.alignment} alignment, scale {result.sim3.scale:.6f}; "
                  f"RPE over {rpe.delta_m:g} m of path: {len(rpe.pairs)} pairs")
