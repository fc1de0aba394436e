"""Sliding-window back-end speed: a 10-keyframe window, 150 stereo landmarks (~5
observations each), 4 Levenberg-Marquardt iterations from perturbed states.

Prints the JIT compile time (first call) separately, the steady-state ms per solve of the
numba solver, the same algorithm in vectorised NumPy (:mod:`vio.backend.reference`) and
the speed-up, plus the solve's operation counts. Usage:

    python benchmarks/backend_window.py [--repeats 50] [--param inverse_depth|world_point]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from vio.backend.problem import make_window_problem, perturb_states
from vio.backend.reference import NumpySolver
from vio.backend.solver import SolverConfig, solve_arrays
from vio.backend.window import SlidingWindow, WindowConfig


def timed(fun, repeats: int) -> float:
    """Median seconds per call."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--param", default="inverse_depth", choices=("inverse_depth", "world_point"))
    args = parser.parse_args()

    problem = make_window_problem(n_keyframes=10, n_landmarks=150, obs_per_landmark=5, pixel_sigma=0.5,
                                  imu_noise_scale=1.0, seed=0)
    start = perturb_states(problem.states_true, 1)
    window = SlidingWindow.from_problem(problem, states=start, gauge_state=problem.states_true[0],
                                        config=WindowConfig(landmark_param=args.param, pixel_sigma=0.5))
    config = SolverConfig(max_iterations=4, function_tolerance=0.0, step_tolerance=0.0)
    arrays = window.pack()

    t0 = time.perf_counter()
    solve_arrays(arrays, config)
    compile_s = time.perf_counter() - t0
    _, diagnostics = solve_arrays(arrays, config)
    numba_s = timed(lambda: solve_arrays(arrays, config), args.repeats)
    NumpySolver(window, config).solve()  # warm-up of the factor classes' helpers
    numpy_s = timed(lambda: NumpySolver(window, config).solve(), max(3, args.repeats // 10))

    print(f"window: {len(window)} keyframes, {window.n_landmarks} landmarks ({args.param}), "
          f"{len(window.obs_uv)} stereo observations, {diagnostics.iterations} iterations")
    print(f"H: {diagnostics.h_blocks_stored} stored upper-triangle 15x15 blocks of {diagnostics.h_blocks_dense} dense")
    print(f"cost: {diagnostics.initial_cost:.4g} -> {diagnostics.final_cost:.4g}")
    print(f"JIT compile (first call, incl. cache load): {compile_s * 1e3:.1f} ms")
    print(f"numba solver: {numba_s * 1e3:.2f} ms per solve (median of {args.repeats})")
    print(f"NumPy path:   {numpy_s * 1e3:.2f} ms per solve")
    print(f"speed-up:     {numpy_s / numba_s:.1f}x")
    ops = {kind: diagnostics.workload.total_ops(kind) for kind in ("mul", "add", "div", "sqrt", "compare")}
    print("ops per solve:", ", ".join(f"{k} {v:,}" for k, v in ops.items()))


if __name__ == "__main__":
    main()
