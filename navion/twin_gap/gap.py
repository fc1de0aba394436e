"""Measures a real sequence and its twin the same way over their common span (the library call
behind ``navion twin-gap``)."""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .errors import TwinGapError
from .images import ImageStats, Rectifier, gain_ratio
from .imu import MIN_GT_RATE_HZ, imu_measures
from .report import build_rows, write_outputs
from .twin import (SpanView, as_euroc_groundtruth, common_span, groundtruth_rate_hz, load_groundtruth,
                   span_trajectory, synthesize_twin, write_groundtruth_tum)

DEFAULT_IMAGE_FRAMES = 40


MIN_CONTEXT_S = 30.0  # shorter ground truth than this (EuRoC: 84-182 s) cannot give the twin's context [s]


def strided(stamps: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` stamps spread evenly over ``stamps`` (all of them when fewer)."""
    if len(stamps) <= n:
        return stamps
    return stamps[np.round(np.linspace(0, len(stamps) - 1, n)).astype(int)]


def measure_images(view, stamps: np.ndarray) -> dict:
    """Image measures of cam0 and cam1 at ``stamps`` and the stereo gain ratio (median over frames)."""
    rect = Rectifier(view.cam0, view.cam1)
    stats = {"cam0": ImageStats.empty(), "cam1": ImageStats.empty()}
    gains = []
    for t in stamps.tolist():
        left, right = view.load_image("cam0", t), view.load_image("cam1", t)
        stats["cam0"].add(left, view.cam0.intrinsics[2:])
        stats["cam1"].add(right, view.cam1.intrinsics[2:])
        gains.append(gain_ratio(*rect(left, right)))
    gains = [g for g in gains if np.isfinite(g)]
    return {"cam0": stats["cam0"].summary(), "cam1": stats["cam1"].summary(),
            "gain_ratio": float(np.median(gains)) if gains else None, "frames_ns": stamps.tolist()}


def _vio_figures(summary: dict) -> dict:
    rpe = summary.get("rpe") or {}
    return {"ate_rmse_m": summary.get("ate_rmse_m"), "rpe_trans_rmse_m": rpe.get("rmse_m"),
            "resets": summary.get("resets"), "init_time_s": summary.get("init_time_s"),
            "frames": summary.get("frames"), "estimated_frames": summary.get("estimated_frames")}


def measure(view, traj, dense_gt: bool, out: Path, image_frames: int, vio: bool, progress_bar, name: str) -> dict:
    """All measures of one sequence view; replays into ``out / f"replay_{name}"``."""
    from .vio_run import energy_per_stage, run_vio

    result = {"images": measure_images(view, strided(view.stereo_timestamps_ns, image_frames)),
              "imu": imu_measures(view.imu_timestamps_ns, view.imu_gyro, view.imu_accel, traj, dense_gt)}
    if vio:
        run_dir = out / f"replay_{name}"
        with progress_bar(f"replay {name}", unit="frames", realtime=True) as advance:
            run = run_vio(view, run_dir, progress=advance)
        result["vio"] = _vio_figures(run["summary"])
        result["frontend"] = run["diagnostics"]
        result["energy"] = energy_per_stage(run_dir, Path(view.root))
    return result


def _sequence_name(path) -> str:
    """The sequence's folder name (the folder above ``mav0``; a zip's stem)."""
    p = Path(path).resolve()
    return p.parent.name if p.name == "mav0" else p.stem


def twin_gap(real_path: str | Path, out_dir: str | Path, twin_path: str | Path | None = None,
             groundtruth: str | Path | None = None, seed: int | None = None, synth_config: str | Path | None = None,
             max_frames: int | None = None, image_frames: int = DEFAULT_IMAGE_FRAMES, vio: bool = True,
             progress_bar=None) -> dict:
    """Measures ``real_path`` and its twin (given, or synthesised into ``out_dir/twin``) and
    writes gap.json, gap.md and the plots into ``out_dir``. Returns gap data
    (``rows``: report.Row list, ``meta``, ``real``, ``twin``)."""
    from navion.sequences import open_sequence

    from . import plots

    if progress_bar is None:
        progress_bar = lambda *a, **k: nullcontext(lambda *x: None)  # noqa: E731
    if max_frames is not None and max_frames < 2:
        raise TwinGapError(f"--max-frames must be >= 2, got {max_frames}")
    if image_frames < 1:
        raise TwinGapError(f"--image-frames must be >= 1, got {image_frames}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TwinGapError(f"{out}: cannot create the output folder: {exc.strerror or exc}") from None
    real = open_sequence(real_path, quiet=True)
    poses = load_groundtruth(real, groundtruth)
    span = common_span(real, poses, max_frames)
    tum = write_groundtruth_tum(poses, out / "twin" / "groundtruth.tum", span)
    traj = span_trajectory(tum, span)
    gt_rate = groundtruth_rate_hz(poses)
    dense = gt_rate >= MIN_GT_RATE_HZ

    if twin_path is None:
        twin_dir = out / "twin" / "sequence"
        with progress_bar("synthesising twin", unit="frames") as advance:
            synthesize_twin(real, traj, span, twin_dir, seed=seed, synth_config=synth_config, progress=advance,
                            scene_hint=_sequence_name(real_path))
        twin = open_sequence(twin_dir, quiet=True)
        twin_frames = np.asarray(twin.stereo_timestamps_ns)
    else:
        twin = open_sequence(twin_path, quiet=True)
        t = np.asarray(twin.stereo_timestamps_ns)
        twin_frames = t[(t >= span.start_ns) & (t <= span.end_ns)]
        if max_frames is not None:
            twin_frames = twin_frames[:max_frames]
        if len(twin_frames) < 2:
            t_span = f"{t[0]}..{t[-1]} ns" if len(t) else "no frames"
            raise TwinGapError(f"{twin_path}: the twin's frames ({t_span}) do not overlap the real span "
                               f"{span.start_ns}..{span.end_ns} ns")
    real_gt = as_euroc_groundtruth(poses) if groundtruth is not None else None
    real_view = SpanView(real, span.start_ns, span.end_ns, span.real_frames_ns, groundtruth=real_gt)
    twin_view = SpanView(twin, span.start_ns, span.end_ns, twin_frames)

    measures = {}
    for name, view in (("real", real_view), ("twin", twin_view)):
        measures[name] = measure(view, traj, dense, out, image_frames, vio, progress_bar, name)
    rows = build_rows(measures["real"], measures["twin"])
    meta = {
        "real": str(real_path), "twin": str(twin_path) if twin_path else str(out / "twin" / "sequence"),
        "groundtruth": str(groundtruth) if groundtruth else "the real sequence's own",
        "groundtruth_rate_hz": round(gt_rate, 2),
        "span_ns": f"{span.start_ns}..{span.end_ns}", "span_s": round((span.end_ns - span.start_ns) * 1e-9, 3),
        "real_frames": int(len(span.real_frames_ns)), "twin_frames": int(len(twin_frames)),
        "max_camera_stamp_snap_ns": span.max_snap_ns, "image_frames_measured": len(measures["real"]["images"]["frames_ns"]),
        "imu_residual": "reported" if dense else f"not reported (ground truth at {gt_rate:.0f} Hz < {MIN_GT_RATE_HZ:.0f} Hz)",
        "seed": seed, "synth_config": str(synth_config) if synth_config else "default SynthConfig",
    }
    context_s = (int(poses.timestamps_ns[-1]) - int(poses.timestamps_ns[0])) * 1e-9
    if twin_path is None and context_s < MIN_CONTEXT_S:
        meta["warning"] = (f"the ground truth covers only {context_s:.1f} s: the twin's hall and IMU vibration "
                           "regimes are fitted to it alone; give the whole sequence's ground truth with "
                           "--groundtruth (docs/synth_realism.md)")
    write_outputs(out, rows, meta, measures["real"], measures["twin"])
    plots.plot_imu_psd(measures["real"]["imu"], measures["twin"]["imu"], out / "imu_psd.png")
    plots.plot_gradient_histograms(measures["real"]["images"], measures["twin"]["images"], out / "gradient_histogram.png")
    plots.plot_vignetting(measures["real"]["images"], measures["twin"]["images"], out / "vignetting.png")
    common = np.intersect1d(span.twin_frames_ns, twin_frames)
    t_twin = int(common[len(common) // 2]) if len(common) else int(twin_frames[len(twin_frames) // 2])
    t_real = int(span.real_frames_ns[np.argmin(np.abs(span.real_frames_ns - t_twin))])
    plots.plot_frames((real.load_image("cam0", t_real), real.load_image("cam1", t_real)),
                      (twin.load_image("cam0", t_twin), twin.load_image("cam1", t_twin)), t_real, out / "frames.png")
    return {"rows": rows, "meta": meta, "real": measures["real"], "twin": measures["twin"]}
