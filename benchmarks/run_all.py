"""Every speed and accuracy figure the project tracks, in one table, each with its reference.

Each row: the figure, its value, the reference it is judged against (a target, real
time, a path measured side by side, or a published figure), the ratio value/reference,
and where the value comes from: measured in this run, or read from a cached run folder
(with that folder's date). A benchmark that cannot run here shows as "not available"
with the reason. Wall-clock figures depend on the machine's load: the load average is
printed with the table. Uses the other benchmark scripts' functions where they expose
them (vio_replay, frontend_speed, backend_window, codec_ratio, synth_speed, mi_map).

Run: .venv/bin/python benchmarks/run_all.py [--quick] [--sequence PATH] [--twins-cache DIR]
  --quick       fewer frames and repeats (VIO: 300 frames; synth: 30 frames; codec: 20 frames)
  --sequence    EuRoC-format sequence for the VIO figures (default: the MH_01 twin's first
                25 s (quick) or 60 s, synthesised once into benchmarks/.cache/: the first
                run of each mode takes that much longer)
  --twins-cache folder of `benchmarks/euroc_twins.py` runs (<SEQ>_run/summary.json) whose
                full-length ATEs are read (default benchmarks/.cache/twins)
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent.parent / "shared" / "data"
GROUNDTRUTH = SHARED / "euroc_groundtruth"
REAL_FRAGMENT = SHARED / "euroc_v101_micro"
MEASURED = "measured now"

VIO_TARGET_FPS = 40.0
ATE_TARGET_M = 0.10
FRONTEND_BUDGET_MS = 12.0
CODEC_TARGET_RATIO = 2.0
SYNTH_TARGET_FPS = 20.0
MI_MAP_TARGET_S = 1.0
# evo 1.38.1 on the peer estimates (tests/navion/test_evaluate.py): ATE RMSE [m]
EVO_ATE = (("MH_01_vio_mono_estimate.txt", "MH_01_easy.txt", "sim3", 0.119133),
           ("MH_01_vio_stereo_estimate.txt", "MH_01_easy.txt", "se3", 0.081336),
           ("V2_01_vio_stereo_estimate.txt", "V2_01_easy.txt", "se3", 0.053591))


@dataclass
class Row:
    """One figure. ``better``: "higher" or "lower" is better, "equal" for agreement, or
    "within" for a target band ``band`` = (low, high) of the ratio to the reference."""

    area: str
    figure: str
    value: float | None
    unit: str
    reference: str
    reference_value: float | None
    better: str
    source: str = MEASURED
    band: tuple[float, float] | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.reference_value:
            return None
        return self.value / self.reference_value

    @property
    def verdict(self) -> str:
        r = self.ratio
        if r is None:
            return ""
        if self.better == "equal":
            return "agrees" if abs(r - 1) < 1e-4 else "differs"
        if self.better == "within":
            return "meets" if self.band[0] <= r <= self.band[1] else "misses"
        return "meets" if (r >= 1 if self.better == "higher" else r <= 1) else "misses"


def unavailable(area: str, figure: str, reason: str) -> Row:
    return Row(area, figure, None, "", "", None, "", f"not available: {reason}")


def cached_source(path: Path) -> str:
    date = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return f"read from cached run {path.parent} ({date})"


# ---------------------------------------------------------------------------- VIO and energy

def vio_sequence(args) -> tuple[Path, str]:
    """(sequence folder, description) for the VIO figures; synthesises the twin prefix once."""
    if args.sequence:
        return Path(args.sequence), Path(args.sequence).name
    from datasets.synth.config import SynthConfig
    from datasets.synth.generate import generate_sequence

    duration_s = 25.0 if args.quick else 60.0
    gt = GROUNDTRUTH / "MH_01_easy.txt"
    if not gt.is_file():
        raise FileNotFoundError(f"no EuRoC ground truth at {gt} (give --sequence)")
    out = ROOT / ".cache" / f"run_all_MH_01_twin_{duration_s:.0f}s"
    if not (out / "navion_synth.json").is_file():
        print(f"synthesising the first {duration_s:.0f} s of the MH_01 twin into {out} (once) ...", flush=True)
        generate_sequence(out, SynthConfig(seed=0, duration_s=duration_s), trajectory_path=gt, overwrite=True)
    return out, f"MH_01 twin, first {duration_s:.0f} s"


def vio_rows(args) -> list[Row]:
    from accel_model.hardware import load_preset
    from accel_model.report import build_report
    from datasets.euroc import open_euroc
    from navion.replay import replay
    from vio_replay import warm_up

    path, name = vio_sequence(args)
    frames = 300 if args.quick else None
    with open_euroc(path, quiet=True) as seq:
        stamps = seq.stereo_timestamps_ns
        camera_fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) * 1e-9)
        warm_up(seq)
        with tempfile.TemporaryDirectory() as tmp:
            s = replay(seq, Path(tmp) / "run", max_frames=frames)
            report = build_report(Path(tmp) / "run", load_preset("navion65"), sequence=path)
    where = f"{name}, {s['frames']} frames"
    rows = [Row("VIO", f"end-to-end replay ({where})", s["fps"], "fps", "target 40 fps", VIO_TARGET_FPS, "higher"),
            Row("VIO", f"end-to-end replay ({where})", s["fps"], "fps", f"real time {camera_fps:.0f} fps",
                camera_fps, "higher"),
            Row("VIO", "front-end per frame (in the replay)", s["frontend_ms_mean"], "ms",
                f"budget {FRONTEND_BUDGET_MS:.0f} ms (40 fps)", FRONTEND_BUDGET_MS, "lower"),
            Row("VIO", f"ATE RMSE, SE3 ({where})", s["ate_rmse_m"], "m", "target 0.10 m", ATE_TARGET_M, "lower")]
    pub = report["published"]
    acc = report["accelerator"]
    rows += [Row("energy model", f"navion65 power at {report['run']['fps']:.0f} fps ({where})", acc["power_mw"],
                 "mW", "Navion (JSSC 2019): 2 mW at 20 fps (target within 3x)",
                 pub["navion_power_mw"] * report["run"]["fps"] / pub["navion_fps"], "within", band=(1 / 3, 3.0)),
             Row("energy model", "on-chip memory reduction vs naive", report["memory"]["reduction_factor"], "x",
                 "Navion: 4.1x (target within +-30 %)", pub["navion_reduction"], "within", band=(0.7, 1.3)),
             Row("energy model", "CPU model / navion65 energy", report["ratio_cpu_over_accelerator"], "x",
                 "published: 2-3 orders of magnitude", 100.0, "within", band=(1.0, 10.0))]
    return rows


def twin_rows(args) -> list[Row]:
    import json

    folder = Path(args.twins_cache)
    runs = sorted(folder.glob("*_run/summary.json"))
    if not runs:
        return [unavailable("VIO", "ATE on full-length EuRoC twins",
                            f"no cached runs in {folder} (run benchmarks/euroc_twins.py)")]
    rows = []
    for summary_path in runs:
        s = json.loads(summary_path.read_text())
        rows.append(Row("VIO", f"ATE RMSE, SE3, {summary_path.parent.name[:-4]} twin ({s['frames']} frames)",
                        s.get("ate_rmse_m"), "m", "target 0.10 m", ATE_TARGET_M, "lower",
                        cached_source(summary_path)))
    return rows


# ---------------------------------------------------------------------------- components

def frontend_rows(args) -> list[Row]:
    from datasets.euroc import open_euroc
    from frontend_speed import BUDGET_MS, run
    from vio.frontend import FrontendConfig

    if not (REAL_FRAGMENT / "mav0").is_dir():
        return [unavailable("front-end", "per stereo frame, real EuRoC V1_01", f"no data at {REAL_FRAGMENT}")]
    r = run(open_euroc(REAL_FRAGMENT, quiet=True), FrontendConfig())
    return [Row("front-end", f"per stereo frame, real V1_01 ({r['frames']} frames, mean)", r["mean_ms"], "ms",
                f"budget {BUDGET_MS:.0f} ms (40 fps)", BUDGET_MS, "lower")]


def backend_rows(args) -> list[Row]:
    from backend_window import timed
    from vio.backend.problem import make_window_problem, perturb_states
    from vio.backend.reference import NumpySolver
    from vio.backend.solver import SolverConfig, solve_arrays
    from vio.backend.window import SlidingWindow, WindowConfig

    problem = make_window_problem(n_keyframes=10, n_landmarks=150, obs_per_landmark=5, pixel_sigma=0.5,
                                  imu_noise_scale=1.0, seed=0)
    window = SlidingWindow.from_problem(problem, states=perturb_states(problem.states_true, 1),
                                        gauge_state=problem.states_true[0], config=WindowConfig(pixel_sigma=0.5))
    config = SolverConfig(max_iterations=4, function_tolerance=0.0, step_tolerance=0.0)
    arrays = window.pack()
    solve_arrays(arrays, config)  # JIT compile or cache load
    repeats = 10 if args.quick else 50
    numba_s = timed(lambda: solve_arrays(arrays, config), repeats)
    NumpySolver(window, config).solve()
    numpy_s = timed(lambda: NumpySolver(window, config).solve(), max(3, repeats // 10))
    label = "window solve, 10 keyframes, 150 landmarks, 4 LM iterations"
    return [Row("back-end", f"{label} (median)", numba_s * 1e3, "ms", "NumPy path, measured now",
                numpy_s * 1e3, "lower")]


def codec_rows(args) -> list[Row]:
    import cv2
    from accel_model.codec import encode
    from codec_ratio import DATA, GENERIC

    if not DATA.is_dir():
        return [unavailable("codec", "lossless ratio, real EuRoC cam0", f"no data at {DATA}")]
    paths = sorted((DATA / "cam0" / "data").glob("*.png"))[: 20 if args.quick else None]
    imgs = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
    raw = sum(img.size for img in imgs)
    encode(imgs[0])  # JIT compile or cache load
    start = time.perf_counter()
    ours = sum(len(encode(img)) for img in imgs)
    encode_ms = (time.perf_counter() - start) * 1e3 / len(imgs)
    png = sum(len(cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]) for img in imgs)
    generic = sum(len(GENERIC[1](img.tobytes())) for img in imgs)
    ratio = raw / ours
    where = f"real V1_01 cam0, {len(imgs)} frames"
    return [Row("codec", f"lossless ratio ({where})", ratio, "x", "PNG (cv2, level 9), measured now", raw / png,
                "higher"),
            Row("codec", f"lossless ratio ({where})", ratio, "x", f"{GENERIC[0]}, measured now", raw / generic,
                "higher"),
            Row("codec", f"lossless ratio ({where})", ratio, "x", "target 2x", CODEC_TARGET_RATIO, "higher"),
            Row("codec", "lossless encode per 752x480 frame", encode_ms, "ms", "real time: 25 ms (2 cameras at 20 Hz)",
                25.0, "lower")]


def synth_rows(args) -> list[Row]:
    from synth_speed import TARGET_FPS, measure_generator_fps, measure_render_fps

    n = 30 if args.quick else 100
    render = measure_render_fps(n)
    generator = measure_generator_fps(n, "boxes")
    return [Row("synth", f"rendering, stereo pairs ({n} frames, steady state)", render["fps"], "fps",
                f"target {TARGET_FPS:.0f} fps", TARGET_FPS, "higher"),
            Row("synth", f"whole generator incl. PNG writing ({n} frames)", generator, "fps",
                f"target {TARGET_FPS:.0f} fps", TARGET_FPS, "higher")]


def evaluator_rows(args) -> list[Row]:
    from navion.evaluation import evaluate, load_poses

    rows = []
    for est, gt, align, evo in EVO_ATE:
        est_path, gt_path = SHARED / "peer_estimates" / est, GROUNDTRUTH / gt
        figure = f"ATE RMSE of {est.replace('_estimate.txt', '')} ({align})"
        if not (est_path.is_file() and gt_path.is_file()):
            rows.append(unavailable("evaluator", figure, f"no data at {est_path.parent}"))
            continue
        result = evaluate(load_poses(gt_path, quiet=True), load_poses(est_path, quiet=True), align=align)
        rows.append(Row("evaluator", figure, result.ate_stats.rmse, "m", "evo 1.38.1 on the same files", evo,
                        "equal"))
    return rows


def mi_map_rows(args) -> list[Row]:
    import mi_map as bench
    from mapping.mi_map import mi_map

    grid = bench.build_map()
    k3 = math.ceil(3 * bench.SIGMA_M / bench.RES_M)

    def run():
        return mi_map(grid, bench.RES_M, n_beams=bench.BEAMS, range_m=bench.RANGE_M, sigma_m=bench.SIGMA_M,
                      truncation=k3, method="fcmi")

    _, first_s, _ = bench.timed(run)  # includes JIT compile or cache load
    _, wall_s, _ = bench.timed(run, repeats=1 if args.quick else 3)
    side = bench.N_CELLS * bench.RES_M
    return [Row("mapping", f"FCMI MI map {side:.0f} m x {side:.0f} m at {bench.RES_M} m, {bench.BEAMS} beams "
                f"(truncated +-{k3})", wall_s, "s", "target 1 s", MI_MAP_TARGET_S, "lower")]


SECTIONS: tuple[tuple[str, Callable[[argparse.Namespace], list[Row]]], ...] = (
    ("VIO", vio_rows), ("VIO", twin_rows), ("front-end", frontend_rows), ("back-end", backend_rows),
    ("codec", codec_rows), ("synth", synth_rows), ("evaluator", evaluator_rows), ("mapping", mi_map_rows))


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6f}" if abs(value) < 1 else f"{value:.4g}"


def print_table(rows: list[Row], title: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=220)
    table = Table(title=escape(title))
    for name, justify in (("area", "left"), ("figure", "left"), ("value", "right"), ("unit", "left"),
                          ("reference", "left"), ("ref. value", "right"), ("ratio", "right"), ("", "left"),
                          ("source", "left")):
        table.add_column(name, justify=justify)
    for r in rows:
        ratio = r.ratio
        table.add_row(*(escape(c) for c in (r.area, r.figure, fmt(r.value), r.unit, r.reference,
                                            fmt(r.reference_value), "-" if ratio is None else f"{ratio:.3f}",
                                            r.verdict, r.source)))
    console.print(table)
    console.print("ratio = value / reference; 'meets' follows the figure's direction (fps: higher is better; "
                  "ms, s, m: lower); evaluator rows must agree with evo to 1e-4 relative.", markup=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer frames and repeats")
    parser.add_argument("--sequence", help="EuRoC-format sequence for the VIO figures")
    parser.add_argument("--twins-cache", default=str(ROOT / ".cache" / "twins"),
                        help="folder of benchmarks/euroc_twins.py run folders")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rows: list[Row] = []
    started = time.perf_counter()
    for area, section in SECTIONS:
        t0 = time.perf_counter()
        print(f"{section.__name__.removesuffix('_rows')} ...", end=" ", flush=True)
        try:
            rows += section(args)
        except Exception as exc:  # a benchmark that cannot run here is reported, not fatal
            rows.append(unavailable(area, section.__name__.removesuffix("_rows"), f"{type(exc).__name__}: {exc}"))
        print(f"{time.perf_counter() - t0:.1f} s", flush=True)
    load = os.getloadavg()[0]
    print_table(rows, f"navion-sim figures ({'quick' if args.quick else 'full'} run, "
                      f"{time.perf_counter() - started:.0f} s, load average {load:.1f} on {os.cpu_count()} cores, "
                      f"{datetime.datetime.now():%Y-%m-%d %H:%M})")
    missing = [r for r in rows if r.value is None]
    if missing:
        print(f"{len(missing)} figure(s) not available (see the source column)")


if __name__ == "__main__":
    main()
