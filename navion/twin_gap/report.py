"""The gap table: rows of real, twin, twin/real ratio and a flag outside the row's band.

``BANDS`` is the one table of acceptance bands (docs/twin_gap.md repeats it). Kinds:

- ``relative``: twin/real within 1 +- tol;
- ``absolute``: |twin - real| <= tol (same units as the row);
- ``factor``: twin/real within [1/tol, tol];
- ``range``: twin/real within [lo, hi].

Rows without a band are informational (no flag).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Band:
    kind: str
    tol: float | tuple[float, float]

    def describe(self) -> str:
        if self.kind == "relative":
            return f"±{self.tol * 100:.0f} %"
        if self.kind == "absolute":
            return f"±{self.tol:g} abs"
        if self.kind == "factor":
            return f"×/÷ {self.tol:g}"
        lo, hi = self.tol
        return f"ratio in [{lo:g}, {hi:g}]"

    def inside(self, real: float, twin: float) -> bool:
        if self.kind == "absolute":
            return abs(twin - real) <= self.tol
        ratio = twin / real if real else math.inf
        if self.kind == "relative":
            return 1 - self.tol <= ratio <= 1 + self.tol
        if self.kind == "factor":
            return 1 / self.tol <= ratio <= self.tol
        lo, hi = self.tol
        return lo <= ratio <= hi


# band name -> Band; a row names its band by the part of its key before any "[...]"
BANDS: dict[str, Band] = {
    "gradient_median": Band("relative", 0.25),
    "corners_per_frame": Band("relative", 0.25),
    "codec_ratio": Band("relative", 0.25),
    "gain_ratio": Band("absolute", 0.03),
    "imu_highpass_std": Band("factor", 1.5),
    "stereo_tracks_per_frame": Band("relative", 0.30),
    "reprojection_rms_px": Band("relative", 0.30),
    "ate_rmse_m": Band("range", (0.5, 2.0)),
}


@dataclass
class Row:
    key: str
    label: str
    real: float | None
    twin: float | None
    band: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.real is None or self.twin is None or self.real == 0:
            return None
        return self.twin / self.real

    @property
    def flag(self) -> str:
        """"OUT" outside the band, "ok" inside, "" informational or missing."""
        if self.band is None or self.real is None or self.twin is None:
            return ""
        return "ok" if BANDS[self.band].inside(self.real, self.twin) else "OUT"

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "real": self.real, "twin": self.twin, "ratio": self.ratio,
                "band": None if self.band is None else BANDS[self.band].describe(), "flag": self.flag or None}


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def build_rows(real: dict, twin: dict) -> list[Row]:
    """Rows from the measures of both sequences (dicts of :func:`navion.twin_gap.gap.measure`)."""
    rows: list[Row] = []

    def add(key, label, r, t, band=None):
        rows.append(Row(key, label, _num(r), _num(t), band))

    for cam in ("cam0", "cam1"):
        a, b = real["images"][cam], twin["images"][cam]
        add(f"{cam}.gradient_median", f"{cam} median |Sobel| [grey]", a["gradient_median"], b["gradient_median"],
            "gradient_median")
        add(f"{cam}.gradient_p90", f"{cam} p90 |Sobel| [grey]", a["gradient_p90"], b["gradient_p90"])
        add(f"{cam}.corners_per_frame", f"{cam} Shi-Tomasi corners/frame (cap 2000)", a["corners_per_frame"],
            b["corners_per_frame"], "corners_per_frame")
        add(f"{cam}.corners_capped_frames", f"{cam} frames at the corner cap", a["corners_capped_frames"],
            b["corners_capped_frames"])
        add(f"{cam}.codec_ratio", f"{cam} lossless codec ratio", a["codec_ratio"], b["codec_ratio"], "codec_ratio")
        add(f"{cam}.png_ratio", f"{cam} PNG ratio (level 9)", a["png_ratio"], b["png_ratio"])
        add(f"{cam}.brightness_mean", f"{cam} mean brightness [grey]", a["brightness_mean"], b["brightness_mean"])
        add(f"{cam}.noise_immerkaer", f"{cam} noise, Immerkaer [grey]", a["noise_immerkaer"], b["noise_immerkaer"])
        add(f"{cam}.laplacian_variance", f"{cam} variance of Laplacian", a["laplacian_variance"],
            b["laplacian_variance"])
        add(f"{cam}.high_frequency_fraction", f"{cam} spectral energy > 0.25 c/px", a["high_frequency_fraction"],
            b["high_frequency_fraction"])
        add(f"{cam}.vignetting_edge_over_centre", f"{cam} vignetting: edge/centre", a["vignetting_edge_over_centre"],
            b["vignetting_edge_over_centre"])
    add("stereo.gain_ratio", "right/left gain (stereo overlap)", real["images"]["gain_ratio"],
        twin["images"]["gain_ratio"], "gain_ratio")

    ri, ti = real["imu"], twin["imu"]
    for sensor, unit in (("gyro", "rad/s"), ("accel", "m/s²")):
        for state in ("rest", "motion"):
            rv = (ri.get(f"{sensor}_highpass_std") or {}).get(state)
            tv = (ti.get(f"{sensor}_highpass_std") or {}).get(state)
            for k, axis in enumerate("xyz"):
                add(f"imu.{sensor}_highpass_std.{state}.{axis}", f"{sensor} {axis} >20 Hz std, {state} [{unit}]",
                    None if rv is None else rv[k], None if tv is None else tv[k], "imu_highpass_std")
        rr, tr = ri.get(f"{sensor}_residual_std"), ti.get(f"{sensor}_residual_std")
        for k, axis in enumerate("xyz"):
            add(f"imu.{sensor}_residual_std.{axis}", f"{sensor} {axis} residual to ideal, std [{unit}]",
                None if rr is None else rr[k], None if tr is None else tr[k])

    rf, tf = real.get("frontend") or {}, twin.get("frontend") or {}
    for key, label, band in (("tracks_per_frame", "tracks/frame", None),
                             ("stereo_tracks_per_frame", "stereo-matched tracks/frame", "stereo_tracks_per_frame"),
                             ("stereo_match_ratio", "stereo match ratio", None),
                             ("track_length_median", "track length, median [frames]", None),
                             ("track_length_mean", "track length, mean [frames]", None),
                             ("klt_fb_error_median_px", "KLT forward-backward error, median [px]", None),
                             ("klt_fb_error_p90_px", "KLT forward-backward error, p90 [px]", None),
                             ("ransac_inlier_ratio", "RANSAC inlier ratio", None),
                             ("reprojection_rms_px", "reprojection RMS [px]", "reprojection_rms_px"),
                             ("solver_iterations", "solver iterations/solve", None)):
        add(f"vio.{key}", label, rf.get(key), tf.get(key), band)
    rd, td = rf.get("stereo_disparity_px"), tf.get("stereo_disparity_px")
    for k, name in enumerate(("p10", "median", "p90")):
        add(f"vio.stereo_disparity_px.{name}", f"stereo disparity, {name} [px] (scene depth)",
            None if rd is None else rd[k], None if td is None else td[k])
    rv, tv = real.get("vio") or {}, twin.get("vio") or {}
    add("vio.ate_rmse_m", "ATE RMSE [m]", rv.get("ate_rmse_m"), tv.get("ate_rmse_m"), "ate_rmse_m")
    add("vio.rpe_trans_rmse_m", "RPE translation RMSE [m]", rv.get("rpe_trans_rmse_m"), tv.get("rpe_trans_rmse_m"))
    add("vio.resets", "resets", rv.get("resets"), tv.get("resets"))
    add("vio.init_time_s", "initialisation time [s]", rv.get("init_time_s"), tv.get("init_time_s"))
    re_, te = real.get("energy") or {}, twin.get("energy") or {}
    for stage in sorted(set(re_.get("stages_uj", {})) | set(te.get("stages_uj", {}))):
        add(f"energy.{stage}", f"energy {stage} [µJ/frame, navion65]", re_.get("stages_uj", {}).get(stage),
            te.get("stages_uj", {}).get(stage))
    add("energy.total", "energy total [µJ/frame, navion65]", re_.get("total_uj"), te.get("total_uj"))
    return rows


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def markdown_table(rows: list[Row]) -> str:
    lines = ["| measure | real | twin | twin/real | band | flag |", "|---|---:|---:|---:|---|---|"]
    for r in rows:
        band = "" if r.band is None else BANDS[r.band].describe()
        lines.append(f"| {r.label} | {_fmt(r.real)} | {_fmt(r.twin)} | {_fmt(r.ratio)} | {band} | {r.flag} |")
    return "\n".join(lines) + "\n"


def print_table(rows: list[Row], title: str, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    import sys

    console = console or (Console() if sys.stdout.isatty() else Console(width=120))
    table = Table(title=escape(title))
    for name, justify in (("measure", "left"), ("real", "right"), ("twin", "right"), ("twin/real", "right"),
                          ("band", "left"), ("flag", "left")):
        table.add_column(name, justify=justify)
    for r in rows:
        band = "" if r.band is None else BANDS[r.band].describe()
        flag = "[bold red]OUT[/]" if r.flag == "OUT" else r.flag
        table.add_row(escape(r.label), _fmt(r.real), _fmt(r.twin), _fmt(r.ratio), escape(band), flag)
    console.print(table)


def write_outputs(out: Path, rows: list[Row], meta: dict, real: dict, twin: dict) -> None:
    """gap.json (meta, rows, the full measures) and gap.md (meta and table)."""
    flagged = [r.key for r in rows if r.flag == "OUT"]
    data = {"meta": meta, "bands": {k: b.describe() for k, b in BANDS.items()}, "flagged": flagged,
            "rows": [r.to_dict() for r in rows], "real": real, "twin": twin}
    (out / "gap.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    head = [f"# Twin gap: {meta['real']} vs {meta['twin']}", ""]
    head += [f"- {k}: {v}" for k, v in meta.items() if not isinstance(v, (dict, list))]
    head += [f"- rows outside their band: {len(flagged)} ({', '.join(flagged) or 'none'})", "",
             "Plots: imu_psd.png, gradient_histogram.png, frames.png, vignetting.png", ""]
    (out / "gap.md").write_text("\n".join(head) + "\n" + markdown_table(rows), encoding="utf-8")
