"""A replay of one sequence with per-frame front-end and back-end diagnostics, and its energy.

Per frame, from :func:`navion.replay.replay`'s ``on_frame`` hook:

- tracks (live features), stereo-matched tracks and the match ratio (matched / tracks);
- stereo disparity [px] of the matched tracks along the baseline
  (:meth:`vio.frontend.Frontend.stereo_disparity_px`; 10th, 50th, 90th percentile): the scene's depth structure, f b / depth;
- KLT forward-backward distance [px] of every temporally tracked point whose backward pass
  converged (before the threshold check);
- RANSAC inlier ratio: tracks kept over tracks tested (after KLT) on frames with a test;
- track length: frames a track id was seen, over the tracks that ended during the run and,
  censored at their length so far, those alive at the end;
- back-end: reprojection RMS [px] of all stereo observations in the window after the solve
  (undistorted pinhole pixels, unweighted, 4-D residual as RMS per coordinate), and the
  solver's iterations (linearisations) per solve.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np


def window_reprojection_rms(window) -> float | None:
    """RMS [px] per coordinate of the stereo reprojection residuals in ``window`` (a
    vio.backend.window.SlidingWindow) at its current estimate; the residual of Forster/
    Leutenegger-style stereo factors, r = [pi(K0 p_c0) - uv_l, pi(K1 p_c1) - uv_r]."""
    from vio.factors.reprojection import rig_arrays

    if window is None or len(window.obs_landmark) == 0:
        return None
    R_bc, t_bc, K = rig_arrays(window.rig)
    points = window.landmark_points()[window.obs_landmark]
    pos = window.positions(window.obs_keyframe_ids)
    R = np.stack([s.R for s in window.states])[pos]
    p = np.stack([s.p for s in window.states])[pos]
    p_body = np.einsum("nji,nj->ni", R, points - p)  # R_world_body^T (p_w - p)
    residuals = []
    for c in range(2):
        p_cam = (p_body - t_bc[c]) @ R_bc[c]  # R_body_cam^T (p_body - t)
        z = p_cam[:, 2]
        ok = z > 1e-6
        uv = np.column_stack([K[c][0] * p_cam[:, 0] / z + K[c][2], K[c][1] * p_cam[:, 1] / z + K[c][3]])
        r = uv - window.obs_uv[:, 2 * c:2 * c + 2]
        residuals.append(np.where(ok[:, None], r, np.nan))
    r = np.concatenate(residuals, axis=1)
    r = r[np.all(np.isfinite(r), axis=1)]
    return float(np.sqrt(np.mean(r * r))) if len(r) else None


class Diagnostics:
    """Collects the per-frame diagnostics of a replay (use as ``on_frame``)."""

    def __init__(self):
        self.tracks, self.stereo, self.fb_error, self.disparity = [], [], [], []
        self.ransac_tested, self.ransac_kept = [], []
        self.reprojection_rms, self.iterations = [], []
        self._seen: dict[int, int] = {}
        self._alive: set[int] = set()
        self.ended_lengths: list[int] = []

    def __call__(self, pipeline, state) -> None:
        t = pipeline.last_tracks
        if t is None:
            return
        self.tracks.append(len(t.ids))
        self.stereo.append(int(t.n_stereo))
        self.disparity.extend(pipeline.frontend.stereo_disparity_px(t).tolist())
        self.fb_error.extend(pipeline.frontend.last_fb_error_px.tolist())
        tested = t.n_tracked + t.n_ransac_outliers
        if tested:
            self.ransac_tested.append(tested)
            self.ransac_kept.append(t.n_tracked)
        ids = set(t.ids.tolist())
        for i in ids:
            self._seen[i] = self._seen.get(i, 0) + 1
        for gone in self._alive - ids:
            self.ended_lengths.append(self._seen.pop(gone))
        self._alive = ids
        if pipeline.last_solve is not None:
            self.iterations.append(int(pipeline.last_solve.iterations))
            rms = window_reprojection_rms(pipeline.window)
            if rms is not None:
                self.reprojection_rms.append(rms)

    def summary(self) -> dict:
        def med(values):
            return float(np.median(values)) if len(values) else None

        tracks, stereo = np.asarray(self.tracks, float), np.asarray(self.stereo, float)
        lengths = self.ended_lengths + [self._seen[i] for i in self._alive]
        return {
            "frames": len(self.tracks),
            "tracks_per_frame": med(tracks),
            "stereo_tracks_per_frame": med(stereo),
            "stereo_match_ratio": float(stereo.sum() / tracks.sum()) if tracks.sum() else None,
            "track_length_median": med(lengths),
            "track_length_mean": float(np.mean(lengths)) if lengths else None,
            "stereo_disparity_px": ([float(v) for v in np.percentile(self.disparity, [10, 50, 90])]
                                    if self.disparity else None),
            "klt_fb_error_median_px": med(self.fb_error),
            "klt_fb_error_p90_px": float(np.percentile(self.fb_error, 90)) if self.fb_error else None,
            "ransac_inlier_ratio": (float(np.sum(self.ransac_kept) / np.sum(self.ransac_tested))
                                    if self.ransac_tested else None),
            "reprojection_rms_px": med(self.reprojection_rms),
            "solver_iterations": med(self.iterations),
        }


def run_vio(seq, out_dir: Path, progress: Callable | None = None) -> dict:
    """Replays ``seq`` into ``out_dir``; returns ``{"summary": summary.json, "diagnostics": ...}``."""
    from navion.replay import replay

    diagnostics = Diagnostics()
    summary = replay(seq, out_dir, progress=progress, on_frame=diagnostics)
    return {"summary": summary, "diagnostics": diagnostics.summary()}


def energy_per_stage(run_dir: Path, sequence: Path, preset: str = "navion65") -> dict:
    """Energy per frame [uJ] per stage group and in total on ``preset`` (accel_model.report)."""
    from accel_model.hardware import load_preset
    from accel_model.report import build_report

    report = build_report(run_dir, load_preset(preset), sequence=sequence)
    stages = {name: s["energy_per_frame_uj"] for name, s in report["accelerator"]["stages"].items()}
    return {"preset": preset, "total_uj": report["accelerator"]["energy_per_frame_uj"], "stages_uj": stages,
            "codec_ratio": report["codec"]["ratio"]}
