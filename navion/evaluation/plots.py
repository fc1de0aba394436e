"""Report plots (PNG, matplotlib's Agg canvas; no pyplot state, no display needed)."""
from __future__ import annotations

from pathlib import Path

from .poses import PoseSeries
from .result import EvalResult


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_trajectories(gt: PoseSeries, est_aligned: PoseSeries, path: str | Path) -> Path:
    """Top (x-y) and side (x-z) views [m] of the ground truth and the aligned estimate,
    both in the ground-truth world frame; writes ``path`` and returns it."""
    fig = _figure(11, 5)
    for ax, (a, b), title in zip(fig.subplots(1, 2), ((0, 1), (0, 2)), ("top view", "side view")):
        ax.plot(gt.p_world_body[:, a], gt.p_world_body[:, b], "k-", lw=1, label="ground truth")
        ax.plot(est_aligned.p_world_body[:, a], est_aligned.p_world_body[:, b], "-", color="tab:blue",
                lw=1, label="estimate (aligned)")
        ax.set(title=title, xlabel=f"{'xyz'[a]} [m]", ylabel=f"{'xyz'[b]} [m]", aspect="equal")
        ax.set_adjustable("datalim")
        ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_errors(result: EvalResult, path: str | Path) -> Path:
    """ATE [m] over time [s since the first matched pose] and the translation RPE [m] at
    the end of each pair; writes ``path`` and returns it."""
    t_s = (result.timestamps_ns - result.timestamps_ns[0]) * 1e-9
    fig = _figure(10, 6)
    ate_ax, rpe_ax = fig.subplots(2, 1, sharex=True)
    stats = result.ate_stats
    ate_ax.plot(t_s, result.ate_m, "-", color="tab:red", lw=1)
    ate_ax.axhline(stats.rmse, color="k", ls="--", lw=1, label=f"RMSE {stats.rmse:.4f} m")
    ate_ax.set(title=f"ATE ({result.alignment} alignment)", ylabel="error [m]")
    ate_ax.legend(loc="upper left")
    rpe = result.rpe
    if len(rpe.pairs):
        rpe_ax.plot(t_s[rpe.pairs[:, 1]], rpe.translation_m, ".-", color="tab:green", lw=1)
    rpe_ax.set(title=f"RPE over {rpe.delta_m:g} m ({len(rpe.pairs)} pairs)", xlabel="time [s]",
               ylabel="error [m]")
    for ax in (ate_ax, rpe_ax):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.savefig(path, dpi=110)
    return Path(path)
