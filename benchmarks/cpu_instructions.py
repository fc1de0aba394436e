"""Instructions a CPU executes per modelled instruction, measured on this code base's own kernels.

The ``cpu`` preset charges Horowitz's instruction overhead per modelled instruction (one
operation or one buffer access of the Workload records, as ``accel_model.report`` counts
them); a real program also executes address arithmetic, loop control, branches, moves and
calls. This benchmark measures the ratio (the preset's ``instructions_per_op``) per stage
group on the real EuRoC fragment, scalar build on one thread:

    ratio(g) = (I(N2) - I(N1)) / (N2 - N1)  /  modelled instructions of g per frame over [N1, N2)

``I(N)``: user-space instructions of a child process that processes the first N stereo
frames, counted with ``perf stat -e instructions:u`` where the counter works, else with
valgrind's callgrind (this VM: no PMU). Differencing two runs that differ only in the
number of frames cancels interpreter start-up, imports, numba cache loading, sequence
opening, PNG decoding (every run decodes the same N2 frames before the timed loop) and
the first N1 frames (initialisation, window filling). Front-end: ``vio.frontend.Frontend``
alone, fed the gyro rotations the full pipeline passed it (recorded natively), so it does
the same work as inside the pipeline. Back-end: the full ``VioPipeline`` minus the
front-end alone. Workload counting is off in the counted runs (the modelled counts come
from native runs with counting on; outputs are compared between the runs).

Scalar build: ``NUMBA_CPU_NAME=generic`` (x86-64 baseline, no AVX; valgrind emulates no
AVX-512), ``NUMBA_LOOP_VECTORIZE=0``, ``NUMBA_SLP_VECTORIZE=0``, ``cv2.setUseOptimized(False)``
(no dispatched SIMD paths), NumPy's dispatched SIMD targets disabled
(``NPY_DISABLE_CPU_FEATURES``), OpenBLAS's SSE4.2 kernels (``OPENBLAS_CORETYPE=Nehalem``),
OpenMP/OpenBLAS/MKL/numba/OpenCV threads = 1: the same code paths natively and under
valgrind. The numba cache is warmed natively with the same variables first (same CPU
name, same cache entries).

Included per frame: the numba kernels; the Python interpreter running the front-end and
back-end code (calls, object and array creation, NumPy dispatch); NumPy, OpenCV, OpenBLAS
and LAPACK library code, which still uses the SIMD of its baseline (OpenCV: SSE3 universal
intrinsics; NumPy: x86-64-v2, up to SSE4.2; OpenBLAS: SSE4.2 kernels; glibc's string and
math routines) and so executes fewer instructions than a scalar build would; allocation and garbage collection; the back-end kernels' always-on
operation counters (a few adds per kernel call). The back-end share also holds the
pipeline's per-frame bookkeeping that the Workload records do not count: IMU buffering,
the gyro rotation prediction, window management and the marginalisation's bookkeeping
(its arithmetic is recorded as ``vio.backend.marginalize``; on the fragment the window
does not fill before frame 90, so none runs). Excluded: kernel-mode
instructions, everything that happens once per process (see above), the initialisation.

Run: .venv/bin/python benchmarks/cpu_instructions.py [--n1 30 --n2 90 --jobs 2]
(about 5 minutes under callgrind on 2 cores, measured 2026-11-22).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from accel_model.measured import SCALAR_BUILD_ENV

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / ".." / "shared" / "data" / "euroc_v101_micro"
SCALAR_ENV = {**SCALAR_BUILD_ENV, "PYTHONHASHSEED": "0"}
GROUPS = ("frontend", "backend")


# ---------------------------------------------------------------- child process


def _preload(seq, frames: int) -> list:
    """The messages up to the ``frames``-th stereo frame, images decoded."""
    from datasets.messages import StereoFrame

    out, seen = [], 0
    for message in seq.messages():
        if isinstance(message, StereoFrame):
            if seen == frames:
                break
            _ = (message.left.image, message.right.image)  # decoded now, outside the counted work
            seen += 1
        out.append(message)
    return out


def _worker(args) -> None:
    """Processes the first ``args.frames`` frames (front-end alone or the whole pipeline) and
    writes a JSON file of per-frame outputs (and workloads and rotations when recording)."""
    import cv2

    cv2.setUseOptimized(False)
    cv2.setNumThreads(1)
    from datasets.euroc import open_euroc
    from datasets.messages import StereoFrame
    from navion.replay import workload_line
    from vio.frontend import Frontend, FrontendConfig
    from vio.pipeline import PipelineConfig, VioPipeline

    seq = open_euroc(args.sequence, quiet=True)
    messages = _preload(seq, args.preload)
    fe_config = FrontendConfig(count_workload=args.record)
    out = {"tracks": [], "positions": [], "workloads": [], "rotations": []}
    if args.worker == "frontend":
        rotations = np.load(args.rotations)
        frontend = Frontend(seq.cam0, seq.cam1, fe_config)
        frames = [m for m in messages if isinstance(m, StereoFrame)][: args.frames]
        for frame, R in zip(frames, rotations):
            tracks = frontend.process(frame, None if np.isnan(R).any() else R)
            out["tracks"].append([len(tracks.ids), int(tracks.n_stereo)])
            if args.record:
                out["workloads"].append(workload_line(tracks))
    else:
        pipeline = VioPipeline(seq.cam0, seq.cam1, seq.imu, PipelineConfig(frontend=fe_config,
                                                                            count_workload=args.record))
        if args.record:  # the gyro rotations the front-end gets, for the front-end-alone runs
            process = pipeline.frontend.process

            def recording(frame, R=None):
                out["rotations"].append(np.full((3, 3), np.nan).tolist() if R is None else np.asarray(R).tolist())
                return process(frame, R)

            pipeline.frontend.process = recording
        done = 0
        for message in messages:
            if isinstance(message, StereoFrame) and done == args.frames:
                break
            state = pipeline.process(message)
            if not isinstance(message, StereoFrame):
                continue
            done += 1
            record = pipeline.records[-1]
            out["tracks"].append([record.n_tracks, record.n_stereo])
            out["positions"].append(None if state is None else state.p_world_body.tolist())
            if args.record:
                out["workloads"].append(workload_line(record))
    Path(args.out).write_text(json.dumps(out))


# ---------------------------------------------------------------- parent


def _command(mode: str, frames: int, a, folder: Path, record: bool = False) -> tuple[list[str], Path]:
    out = folder / f"{mode}_{frames}_{'rec' if record else 'run'}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--frames", str(frames),
           "--preload", str(a.n2), "--sequence", str(a.sequence), "--rotations", str(folder / "rotations.npy"),
           "--out", str(out)]
    return cmd + (["--record"] if record else []), out


def _env() -> dict[str, str]:
    """SCALAR_ENV, NumPy's dispatched SIMD targets (beyond its baseline) disabled, the repo importable."""
    from numpy._core import _multiarray_umath

    env = {**os.environ, **SCALAR_ENV, "NPY_DISABLE_CPU_FEATURES": " ".join(_multiarray_umath.__cpu_dispatch__)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _native(mode: str, frames: int, a, folder: Path, record: bool) -> dict:
    cmd, out = _command(mode, frames, a, folder, record)
    start = time.perf_counter()
    subprocess.run(cmd, env=_env(), check=True)
    print(f"  native {mode:8s} {frames} frames, counting {'on ' if record else 'off'}: "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return json.loads(out.read_text())


def _modelled_per_frame(workloads: list[dict], n1: int, n2: int, folder: Path) -> dict[str, float]:
    """Modelled instructions (the operations the ``cpu`` preset executes + buffer word
    accesses) per frame by group over frames [n1, n2), read back the way the energy report
    reads a run folder."""
    from accel_model.hardware import load_preset
    from accel_model.report import load_run

    run = folder / "modelled"
    run.mkdir(exist_ok=True)
    (run / "summary.json").write_text('{"sequence": null}')
    (run / "workloads.jsonl").write_text("".join(json.dumps(w) + "\n" for w in workloads[n1:n2]))
    cpu = load_preset("cpu")  # constant filter taps: cmul executed, their shift-add form not
    work = load_run(run).for_design(cpu)  # and of alternative dataflows, the cpu's
    return {g: sum(count for (kind, _), count in work.ops.get(g, {}).items() if cpu.executes(kind))
            + sum(u.reads_per_frame + u.writes_per_frame for u in work.uses.values() if u.group == g)
            for g in GROUPS}


def _agree(name: str, native: dict, counted: dict, frames: int) -> None:
    """Warns when a counted run's outputs (track counts, positions) differ from the native
    run's: another code path ran, whose work the native workload records may not describe."""
    tracks = native["tracks"][:frames] == counted["tracks"]
    estimated = [p is None for p in native["positions"][:frames]] == [p is None for p in counted["positions"]]
    pos_n = [p for p in native["positions"][:frames] if p is not None]
    pos_c = [p for p in counted["positions"] if p is not None]
    gap_m = float(np.max(np.abs(np.subtract(pos_n, pos_c)))) if estimated and pos_n else 0.0
    if not (tracks and estimated and gap_m <= 1e-9):
        print(f"  WARNING: {name}: differs from the native run (track counts {'equal' if tracks else 'differ'}, "
              f"estimated frames {'equal' if estimated else 'differ'}, largest position gap {gap_m:.3g} m)")


def _count(job: tuple[str, int], a, folder: Path) -> tuple[tuple[str, int], int, str, float, dict]:
    from accel_model.measured import count_instructions

    mode, frames = job
    cmd, out = _command(mode, frames, a, folder)
    start = time.perf_counter()
    counted = count_instructions(cmd, timeout_s=None, env=_env())
    if counted is None:
        raise SystemExit(f"{mode} {frames} frames: neither perf nor valgrind counted the instructions "
                         f"(run `{' '.join(cmd)}` to see why)")
    return job, counted[0], counted[1], time.perf_counter() - start, json.loads(out.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", type=Path, default=REAL)
    parser.add_argument("--n1", type=int, default=30, help="frames of the shorter run (after initialisation)")
    parser.add_argument("--n2", type=int, default=90, help="frames of the longer run")
    parser.add_argument("--jobs", type=int, default=2, help="counted runs at once")
    parser.add_argument("--worker", choices=("frontend", "pipeline"), help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--preload", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rotations", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--record", action="store_true", help=argparse.SUPPRESS)
    a = parser.parse_args(argv)
    if a.worker:
        _worker(a)
        return
    if not (0 < a.n1 < a.n2):
        raise SystemExit("need 0 < n1 < n2")
    if not a.sequence.is_dir():
        raise SystemExit(f"{a.sequence}: sequence not found")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"native runs ({a.n2} frames; they also warm the numba cache for the scalar build):", flush=True)
        rec = _native("pipeline", a.n2, a, folder, record=True)
        if len(rec["tracks"]) < a.n2:
            raise SystemExit(f"{a.sequence}: only {len(rec['tracks'])} stereo frames, need n2 = {a.n2}")
        np.save(folder / "rotations.npy", np.array(rec["rotations"], dtype=np.float64))
        rec_fe = _native("frontend", a.n2, a, folder, record=True)
        reference = {"pipeline": _native("pipeline", a.n2, a, folder, record=False),
                     "frontend": _native("frontend", a.n2, a, folder, record=False)}
        _agree("pipeline with counting on", reference["pipeline"], rec, a.n2)
        modelled = _modelled_per_frame(rec["workloads"], a.n1, a.n2, folder)
        fe_alone = _modelled_per_frame(rec_fe["workloads"], a.n1, a.n2, folder)["frontend"]
        if abs(fe_alone - modelled["frontend"]) > 1e-9 * modelled["frontend"]:
            print(f"  WARNING: the front-end alone models {fe_alone:.4g} instructions per frame, "
                  f"inside the pipeline {modelled['frontend']:.4g}")
        print(f"counted runs (perf, else callgrind; {a.jobs} at once):", flush=True)
        jobs = [(mode, n) for n in (a.n2, a.n1) for mode in ("pipeline", "frontend")]
        counts, tools, start = {}, set(), time.perf_counter()
        with ThreadPoolExecutor(max_workers=a.jobs) as pool:
            for future in as_completed([pool.submit(_count, j, a, folder) for j in jobs]):
                job, count, tool, seconds, result = future.result()
                counts[job] = count
                tools.add(tool)
                _agree(f"{job[0]} {job[1]} frames", reference[job[0]], result, job[1])
                print(f"  {tool} {job[0]:8s} {job[1]:3d} frames: {count:,} instructions "
                      f"({seconds:.0f} s; {time.perf_counter() - start:.0f} s elapsed)", flush=True)
    n = a.n2 - a.n1
    fe = (counts["frontend", a.n2] - counts["frontend", a.n1]) / n
    full = (counts["pipeline", a.n2] - counts["pipeline", a.n1]) / n
    measured = {"frontend": fe, "backend": full - fe}
    print(f"\n{a.sequence.name}: frames [{a.n1}, {a.n2}) differenced ({n} frames), {', '.join(sorted(tools))}")
    print("totals [instructions]: " + "; ".join(f"{m} {k}: {counts[m, k]:,}" for m, k in jobs))
    print(f"{'group':10s} {'measured/frame':>16s} {'modelled/frame':>16s} {'ratio':>7s}")
    for g in GROUPS:
        print(f"{g:10s} {measured[g]:16.4g} {modelled[g]:16.4g} {measured[g] / modelled[g]:7.2f}")
    total_m, total_mod = sum(measured.values()), sum(modelled.values())
    print(f"{'total':10s} {total_m:16.4g} {total_mod:16.4g} {total_m / total_mod:7.2f}")


if __name__ == "__main__":
    main()
