"""Marginalisation of the oldest keyframe into a linear prior.

The factors that involve the oldest keyframe x_m — its IMU factor, the priors (gauge,
earlier marginalisation prior) on it, and every observation of the landmarks it anchors
(a landmark's anchor is its first observation, so these are all landmarks it sees) — are
linearised at the current estimate x0. Their landmarks are eliminated as in the solver
(Schur complement), then x_m:

    H* = H_kk - H_km H_mm^-1 H_mk,     b* = b_k - H_km H_mm^-1 b_m

over the kept keyframes k the factors touch (Leutenegger et al., OKVIS, IJRR 2015,
Sec. IV-E; Qin et al., VINS-Mono, T-RO 2018, Sec. VI-D). (H*, b*) becomes the
:class:`vio.factors.prior.LinearPrior` r = J (x [-] x0) + r0 with J^T J = H*, -J^T r0 = b*.
Because the elimination order does not change a Schur complement, the kept states receive
exactly the information that eliminating x_m from the full window would give them.

Counted work (``KernelCounters``): the linearisation and landmark elimination by the
solver's kernels, and the dense elimination of x_m by the formulas of
:func:`dense_marginalization_counts` (Cholesky of H_mm, solves, the Schur update). The
software then takes an eigendecomposition of H* to store the prior as J, r0; that step
is not counted: a datapath keeps the prior in information form (H*, b*), which is how
the ``prior`` buffer is sized (``accel_model.memory``).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..factors.prior import LinearPrior
from . import _kernels as _k
from .normal_equations import KernelCounters
from .schur import eliminate_landmarks
from .solver import Structure, evaluate
from .window import SlidingWindow, WindowArrays


def _oldest_factors(window: SlidingWindow, a: WindowArrays) -> WindowArrays:
    """``a`` restricted to the factors that involve keyframe 0."""
    lm_sel = window.anchor_ids == window.keyframe_ids[0]
    obs_sel = lm_sel[window.obs_landmark]
    if np.any(a.obs_kf[~obs_sel] == 0):
        raise RuntimeError("marginalisation: an observation in the oldest keyframe has a younger anchor")
    new_index = np.cumsum(lm_sel) - 1
    sub = WindowArrays(**a.__dict__)
    sub.lm, sub.bearing, sub.anchor = a.lm[lm_sel], a.bearing[lm_sel], a.anchor[lm_sel]
    sub.obs_kf, sub.obs_uv = a.obs_kf[obs_sel], a.obs_uv[obs_sel]
    sub.obs_lm = new_index[a.obs_lm[obs_sel]]
    sub.imu = tuple(x[:1] if i < 9 else x for i, x in enumerate(a.imu))
    sub.priors = [p for p in a.priors if 0 in p[0]]
    sub.gauge = a.gauge if a.gauge is not None and a.gauge[0] == 0 else None
    return sub


def dense_marginalization_counts(m: int, c: int, counters: KernelCounters) -> None:
    """Adds the operations and traffic of eliminating an m-dimensional state x_m from a
    dense system over (x_m, c kept dimensions), as the solver's kernels count them (one
    read per operand): Cholesky of H_mm (row-oriented, as
    :func:`_kernels.cholesky_envelope_counts` for a full envelope); forward and back
    substitution for the c columns of H_mk and for b_m (:func:`_kernels.cholesky_solve`);
    then each entry of the upper triangle of H* and of b* as its H_kk (b_k) entry minus a
    length-m dot product of H_km with the solution (m multiply-subtracts)."""
    cols, tri = c + 1, c * (c + 1) // 2
    products = (tri + c) * m
    mul = (m - 1) * m * (m + 1) // 6 + cols * m * (m - 1) + products
    _k._count(counters.ops, mul, mul, m * (m - 1) // 2 + 2 * m * cols, m, m)
    cholesky_reads = (m - 2) * (m - 1) * m // 3 + m * (m - 1) + m * (m + 1) // 2
    t = counters.traffic
    t[_k.BUF_H, _k.READ] += m * (m + 1) // 2 + c * m + products + tri
    t[_k.BUF_GRAD, _k.READ] += m + c
    t[_k.BUF_CHOL, _k.READ] += cholesky_reads + cols * (m * (m - 1) + 2 * m) + products
    t[_k.BUF_CHOL, _k.WRITE] += m * (m + 1) // 2 + cols * m
    t[_k.BUF_PRIOR, _k.WRITE] += tri + c


def marginal_information(window: SlidingWindow, counters: KernelCounters | None = None):
    """(kept keyframe positions (ascending), H* (15k x 15k), b* (15k,)) of marginalising
    the oldest keyframe at the current estimate; the work is added to ``counters``."""
    if len(window) < 2:
        raise ValueError("marginalisation needs at least two keyframes")
    sub = _oldest_factors(window, window.pack())
    st = Structure.of(sub)
    counters = KernelCounters() if counters is None else counters
    lin = evaluate(sub, st, counters)
    reduced, _ = eliminate_landmarks(lin.neq, lin.landmarks, st.landmarks, sub.param, 0.0, counters)
    H, b = reduced.to_dense(), reduced.rhs.reshape(-1)
    touched = [k for k in range(1, len(window)) if np.any(H[15 * k:15 * k + 15])]
    keep = np.concatenate([np.arange(15 * k, 15 * k + 15) for k in touched])
    factor = cho_factor(H[:15, :15])
    H_km = H[np.ix_(keep, np.arange(15))]
    H_star = H[np.ix_(keep, keep)] - H_km @ cho_solve(factor, H_km.T)
    b_star = b[keep] - H_km @ cho_solve(factor, b[:15])
    dense_marginalization_counts(15, len(keep), counters)
    return touched, 0.5 * (H_star + H_star.T), b_star


def marginalize_oldest(window: SlidingWindow, counters: KernelCounters | None = None) -> LinearPrior | None:
    """Replace the oldest keyframe and the factors on it by a :class:`LinearPrior` on the
    kept keyframes it was connected to; returns the new prior (None if nothing was kept).
    The work is added to ``counters`` (see the module docstring)."""
    touched, H_star, b_star = marginal_information(window, counters)
    oldest = window.keyframe_ids[0]
    prior = None
    if touched:
        prior = LinearPrior.from_information([window.keyframe_ids[k] for k in touched],
                                             [window.states[k] for k in touched], H_star, b_star)
    window.priors = [p for p in window.priors if oldest not in p.keyframes] + ([prior] if prior else [])
    if window.gauge is not None and window.gauge.keyframe == oldest:
        window.gauge = None
    window._remove_landmarks(window.anchor_ids == oldest)
    window._remove_keyframe(0)
    del window.pims[0]
    return prior
