"""Landmark elimination (Schur complement) and back-substitution.

With the unknowns ordered [keyframes x, landmarks l], the normal equations
[[H_xx, H_xl], [H_lx, H_ll]] [dx; dl] = [b_x; b_l] have a block-diagonal H_ll (one d x d
block per landmark; d = 1 for inverse depth, 3 for world points). Eliminating the
landmarks leaves the reduced camera system (Triggs et al., "Bundle Adjustment - A Modern
Synthesis", 2000, Sec. 6.1):

    (H_xx - H_xl H_ll^-1 H_lx) dx = b_x - H_xl H_ll^-1 b_l,
    dl = H_ll^-1 (b_l - H_lx dx)                       (back-substitution).

This is the structureless back-end of Navion (Suleiman et al., JSSC 2019): landmarks never
enter the factorised system.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels as _k
from .normal_equations import KernelCounters, NormalEquations


@dataclass(frozen=True)
class LandmarkStructure:
    """Index structure of the visual factors (see :func:`_kernels.landmark_structure`):
    observations grouped per landmark (lm_ptr, obs_order), the keyframe slots of each
    landmark (lk_ptr, lk_kf), each observation's slots (slot_j, slot_a), and the keyframe
    pairs the elimination couples (mask)."""

    lm_ptr: np.ndarray
    obs_order: np.ndarray
    lk_ptr: np.ndarray
    lk_kf: np.ndarray
    slot_j: np.ndarray
    slot_a: np.ndarray
    mask: np.ndarray

    @classmethod
    def build(cls, obs_kf, obs_lm, anchor, param: int, n_keyframes: int) -> "LandmarkStructure":
        obs_kf = np.ascontiguousarray(obs_kf, dtype=np.int64)
        obs_lm = np.ascontiguousarray(obs_lm, dtype=np.int64)
        anchor = np.ascontiguousarray(anchor, dtype=np.int64)
        m, n_lm = len(obs_kf), len(anchor)
        if obs_lm.shape != (m,) or (m and (obs_lm.min() < 0 or obs_lm.max() >= n_lm)):
            raise ValueError("LandmarkStructure: observation landmark indices out of range")
        for name, idx in (("observation keyframe", obs_kf), ("anchor", anchor)):
            if len(idx) and (idx.min() < 0 or idx.max() >= n_keyframes):
                raise ValueError(f"LandmarkStructure: {name} indices out of range")
        lm_ptr = np.zeros(n_lm + 1, dtype=np.int64)
        obs_order = np.empty(m, dtype=np.int64)
        slot_j = np.empty(m, dtype=np.int64)
        slot_a = np.empty(m, dtype=np.int64)
        lk_ptr = np.zeros(n_lm + 1, dtype=np.int64)
        lk_kf = np.empty(m + n_lm, dtype=np.int64)
        mask = np.zeros((n_keyframes, n_keyframes), dtype=np.bool_)
        n_slots = _k.landmark_structure(obs_kf, obs_lm, anchor, param, n_lm, lm_ptr, obs_order, slot_j,
                                        slot_a, lk_ptr, lk_kf, mask)
        return cls(lm_ptr, obs_order, lk_ptr, lk_kf[:n_slots].copy(), slot_j, slot_a, mask)

    @property
    def n_slots(self) -> int:
        return len(self.lk_kf)


@dataclass
class LandmarkBlocks:
    """Per-landmark normal-equation blocks: Hll (L,3,3), gl (L,3) = b_l, W (P,6,3) = the
    pose rows of H_xl per keyframe slot (leading d rows/columns used)."""

    Hll: np.ndarray
    gl: np.ndarray
    W: np.ndarray

    @classmethod
    def zeros(cls, n_landmarks: int, n_slots: int) -> "LandmarkBlocks":
        return cls(np.zeros((n_landmarks, 3, 3)), np.zeros((n_landmarks, 3)), np.zeros((n_slots, 6, 3)))


def eliminate_landmarks(neq: NormalEquations, lm: LandmarkBlocks, structure: LandmarkStructure, param: int,
                        lam: float = 0.0, counters: KernelCounters | None = None):
    """(reduced NormalEquations, Hll_inv (L,3,3)); ``lam`` > 0 adds Marquardt damping
    lam * diag to H_xx and H_ll before the elimination."""
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"eliminate_landmarks: lam must be finite and >= 0, got {lam!r}")
    counters = KernelCounters() if counters is None else counters
    reduced = NormalEquations(neq.pattern, np.empty_like(neq.blocks), np.empty_like(neq.rhs))
    Hll_inv = np.zeros_like(lm.Hll)
    _k.schur_complement(neq.blocks, neq.rhs, lm.Hll, lm.gl, lm.W, structure.lk_ptr, structure.lk_kf,
                        neq.pattern.blk_id, neq.pattern.diag, param, float(lam), reduced.blocks, reduced.rhs,
                        Hll_inv, counters.ops, counters.traffic)
    return reduced, Hll_inv


def back_substitute(Hll_inv: np.ndarray, lm: LandmarkBlocks, structure: LandmarkStructure, param: int,
                    dx: np.ndarray, counters: KernelCounters | None = None) -> np.ndarray:
    """Landmark steps dl (L,3) = H_ll^-1 (b_l - H_lx dx) for keyframe steps dx (N,15)."""
    counters = KernelCounters() if counters is None else counters
    dl = np.zeros((Hll_inv.shape[0], 3))
    _k.back_substitute(Hll_inv, lm.gl, lm.W, structure.lk_ptr, structure.lk_kf, param,
                       np.ascontiguousarray(dx), dl, counters.ops, counters.traffic)
    return dl
