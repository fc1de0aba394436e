"""Levenberg-Marquardt over the sliding window with structureless landmark elimination.

Cost (whitened): 1/2 sum rho(|r_vis|^2) + 1/2 sum |r_imu|^2 + 1/2 sum |r_prior|^2 + 1/2 |r_gauge|^2.
Each iteration linearises all factors in the kernels (IRLS weights rho' for the robust
visual loss), eliminates the landmarks (Schur complement), factorises the reduced camera
system by Cholesky (LAPACK, counted as the accelerator's envelope Cholesky), back-substitutes
the landmark steps and retracts. An accepted trial is the next linearisation point, so
its Jacobians are evaluated together with its cost (except in the last iteration).
Damping (Marquardt): H + lam diag(H), lam divided by ``lambda_down`` after an accepted step
and multiplied by ``lambda_up`` after a rejected one (Nocedal & Wright, 2006, Sec. 10.3).
A step is accepted when it lowers the cost without pushing observations behind a camera.
The gauge is fixed by the window's gauge prior (or the marginalisation prior).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from accel_model.workload import Workload
from datasets.configuration import ConfigMixin

from . import _kernels as _k
from .normal_equations import BlockPattern, KernelCounters, NormalEquations
from .schur import (
    LandmarkBlocks,
    LandmarkStructure,
    back_substitute,
    eliminate_landmarks,
)
from .window import SlidingWindow, WindowArrays


@dataclass(frozen=True)
class SolverConfig(ConfigMixin):
    """max_iterations: linearisations per solve; max_retries: damping increases per
    iteration; initial_lambda, lambda_up, lambda_down, min_lambda: Marquardt damping;
    function_tolerance: stop when the relative cost decrease falls below it;
    step_tolerance: stop when |dx| [mixed units] falls below it. (The robust loss is part
    of the window's measurement model, :class:`WindowConfig`.)"""

    max_iterations: int = 10
    max_retries: int = 8
    initial_lambda: float = 1e-5
    lambda_up: float = 10.0
    lambda_down: float = 10.0
    min_lambda: float = 1e-10
    function_tolerance: float = 1e-10
    step_tolerance: float = 1e-10

    def __post_init__(self) -> None:
        for name in ("max_iterations", "max_retries"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (1 if name == "max_iterations" else 0):
                raise ValueError(f"SolverConfig: {name} must be a positive integer, got {value!r}")
        for name in ("initial_lambda", "min_lambda", "function_tolerance", "step_tolerance"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"SolverConfig: {name} must be finite and >= 0, got {value!r}")
        if not self.min_lambda > 0:
            raise ValueError("SolverConfig: min_lambda must be positive (damping must be able to grow)")
        for name in ("lambda_up", "lambda_down"):
            if not (np.isfinite(getattr(self, name)) and getattr(self, name) > 1):
                raise ValueError(f"SolverConfig: {name} must be > 1, got {getattr(self, name)!r}")



@dataclass
class SolveDiagnostics:
    """One solve: costs, iterations (linearisations), accepted step norms |dx|, factor
    counts, H sparsity (stored upper-triangle blocks vs the dense N x N blocks) and the
    kernels' operations and memory traffic."""

    initial_cost: float
    final_cost: float
    iterations: int
    step_norms: list[float]
    n_factors: dict[str, int]
    h_blocks_stored: int
    h_blocks_dense: int
    n_invalid_observations: int
    converged: bool
    workload: Workload
    time_s: float


@dataclass
class Linearization:
    """Normal equations (keyframe blocks), landmark blocks and the cost at one estimate."""

    neq: NormalEquations
    landmarks: LandmarkBlocks
    cost: float
    n_invalid: int


@dataclass(frozen=True)
class Structure:
    """Static index structure of a window's factor graph."""

    landmarks: LandmarkStructure
    pattern: BlockPattern

    @classmethod
    def of(cls, a: WindowArrays) -> "Structure":
        lm = LandmarkStructure.build(a.obs_kf, a.obs_lm, a.anchor, a.param, a.n_keyframes)
        mask = lm.mask.copy()
        pairs = a.imu[0]
        mask[pairs[:, 0], pairs[:, 1]] = True
        for kf, *_ in a.priors:
            mask[np.ix_(kf, kf)] = True
        return cls(lm, BlockPattern.from_mask(mask))


def evaluate(a: WindowArrays, st: Structure, counters: KernelCounters,
             want_jac: bool = True) -> Linearization:
    """Cost and (if ``want_jac``) the normal equations of all factors at ``a``'s estimate."""
    neq = NormalEquations.zeros(st.pattern)
    lmb = LandmarkBlocks.zeros(len(a.lm), st.landmarks.n_slots)
    ops, traffic, blk = counters.ops, counters.traffic, st.pattern.blk_id
    sl = st.landmarks
    cost, n_invalid = _k.visual_factors(
        a.R, a.p, a.lm, a.bearing, a.anchor, a.param, a.R_bc, a.t_bc, a.K, a.obs_kf, a.obs_uv, sl.lm_ptr,
        sl.obs_order, sl.slot_j, sl.slot_a, sl.lk_ptr, blk, a.inv_sigma, a.loss.code, a.loss.scale, want_jac,
        neq.blocks, neq.rhs, lmb.Hll, lmb.gl, lmb.W, ops, traffic)
    cost += _k.imu_factors(a.R, a.p, a.v, a.bg, a.ba, *a.imu, blk, want_jac, neq.blocks, neq.rhs, ops, traffic)
    for kf, R0, x0, J, r0 in a.priors:
        cost += _k.linear_prior(a.R, a.p, a.v, a.bg, a.ba, kf, R0, x0, J, r0, blk, want_jac, neq.blocks, neq.rhs,
                                ops, traffic)
    if a.gauge is not None:
        cost += _k.gauge_prior(a.R, a.p, *a.gauge, blk, want_jac, neq.blocks, neq.rhs, ops, traffic)
    return Linearization(neq, lmb, cost, n_invalid)


def _step(a: WindowArrays, st: Structure, lin: Linearization, lam: float, counters: KernelCounters):
    """Damped step (dx (N,15), dl (L,3)) or None if the reduced system is not PD."""
    reduced, Hll_inv = eliminate_landmarks(lin.neq, lin.landmarks, st.landmarks, a.param, lam, counters)
    dx = reduced.solve(counters)
    if dx is None:
        return None
    return dx, back_substitute(Hll_inv, lin.landmarks, st.landmarks, a.param, dx, counters)


def _apply(a: WindowArrays, dx: np.ndarray, dl: np.ndarray, counters: KernelCounters) -> WindowArrays:
    trial = a.copy_estimate()
    _k.retract_states(trial.R, trial.p, trial.v, trial.bg, trial.ba, dx, counters.ops, counters.traffic)
    trial.lm += dl
    return trial


def solve_arrays(a: WindowArrays, config: SolverConfig = SolverConfig()):
    """Levenberg-Marquardt on packed arrays; returns (solved arrays, SolveDiagnostics)."""
    t0 = time.perf_counter()
    st = Structure.of(a)
    counters = KernelCounters()
    lin = evaluate(a, st, counters)
    initial_cost = lin.cost
    lam = config.initial_lambda
    step_norms: list[float] = []
    converged = False
    iterations = 1
    while True:
        # a trial that will be accepted becomes the next linearisation point: evaluate its
        # Jacobians right away unless this is the last iteration
        relinearize = iterations < config.max_iterations
        accepted = False
        for _ in range(config.max_retries + 1):
            step = _step(a, st, lin, lam, counters)
            if step is not None:
                trial = _apply(a, *step, counters)
                trial_lin = evaluate(trial, st, counters, want_jac=relinearize)
                if trial_lin.cost <= lin.cost and trial_lin.n_invalid <= lin.n_invalid:
                    accepted = True
                    break
            lam = max(lam, config.min_lambda) * config.lambda_up
        if not accepted:
            break
        decrease = (lin.cost - trial_lin.cost) / max(lin.cost, 1e-300)
        a, lin = trial, trial_lin
        step_norms.append(float(np.linalg.norm(step[0])))
        lam = max(lam / config.lambda_down, config.min_lambda)
        if decrease < config.function_tolerance or step_norms[-1] < config.step_tolerance:
            converged = True
        if converged or not relinearize:
            break
        iterations += 1
    peaks = {"H_blocks": lin.neq.blocks.nbytes, "gradient": lin.neq.rhs.nbytes,
             "landmark_blocks": lin.landmarks.Hll.nbytes + lin.landmarks.gl.nbytes + lin.landmarks.W.nbytes,
             "cholesky": (_k.STATE_DIM * a.n_keyframes) ** 2 * 8,
             "landmark_local": (3 * 3 + 3 + a.n_keyframes * 6 * 3) * 8}  # H_ll, b_l, a W slot per keyframe
    diagnostics = SolveDiagnostics(
        initial_cost=initial_cost, final_cost=lin.cost, iterations=iterations, step_norms=step_norms,
        n_factors={"reprojection": len(a.obs_kf), "imu": len(a.imu[0]), "prior": len(a.priors),
                   "gauge": int(a.gauge is not None)},
        h_blocks_stored=st.pattern.n_blocks, h_blocks_dense=st.pattern.dense_blocks,
        n_invalid_observations=lin.n_invalid, converged=converged,
        workload=counters.to_workload("vio.backend.solve", peaks), time_s=time.perf_counter() - t0)
    return a, diagnostics


def solve(window: SlidingWindow, config: SolverConfig = SolverConfig()) -> SolveDiagnostics:
    """Optimise the window's states and landmarks in place; returns the diagnostics."""
    if len(window) < 2:
        raise ValueError("solve: the window needs at least two keyframes")
    solved, diagnostics = solve_arrays(window.pack(), config)
    window.unpack(solved)
    return diagnostics


def information_matrix(window: SlidingWindow) -> NormalEquations:
    """Reduced normal equations (landmarks eliminated, no damping) at the current estimate:
    their H is the information of the keyframe error states (inverse: the covariance)."""
    a = window.pack()
    st = Structure.of(a)
    counters = KernelCounters()
    lin = evaluate(a, st, counters)
    return eliminate_landmarks(lin.neq, lin.landmarks, st.landmarks, a.param, 0.0, counters)[0]
