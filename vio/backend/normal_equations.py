"""Block-sparse symmetric normal equations over the window's keyframe error states.

H (15N x 15N) is stored as its upper-triangle keyframe blocks that can be non-zero:
``blocks[pattern.blk_id[i, j]]`` is the 15x15 block (i, j), i <= j. The pattern holds
the diagonal, the IMU pairs (k, k+1), every pair of keyframes sharing a landmark (the
fill of landmark elimination) and the keyframes of each prior. The reduced camera system
is factorised by LAPACK (potrf) while the operations and traffic of the envelope Cholesky
an accelerator would run are counted; the envelope of block row j starts at its first
non-zero block column. Also holds the kernels' operation/traffic counters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf

from accel_model.workload import Workload, op_counter

from . import _kernels as _k

STATE_DIM = _k.STATE_DIM


class KernelCounters:
    """Operation counts (``ops``, by ``OP_*`` kind) and words read/written per named buffer
    (``traffic``, rows ``_kernels.BUFFERS``) that the kernels increment."""

    def __init__(self) -> None:
        self.ops = op_counter()
        self.traffic = np.zeros((len(_k.BUFFERS), 2), dtype=np.int64)

    def to_workload(self, stage: str, peaks: dict[str, int] | None = None) -> Workload:
        """A :class:`Workload` of 64-bit operations and traffic (plus peak sizes [bytes])."""
        workload = Workload(stage)
        workload.add_op_counts(self.ops, 64)
        for name, (reads, writes) in zip(_k.BUFFERS, self.traffic.tolist()):
            if reads or writes:
                workload.read(name, reads, 64)
                workload.write(name, writes, 64)
        for name, nbytes in (peaks or {}).items():
            workload.peak(name, int(nbytes))
        return workload


@dataclass(frozen=True)
class BlockPattern:
    """Upper-triangle block sparsity of a symmetric keyframe-level matrix.

    blk_id (N,N) int64: block index of (i, j) for i <= j, -1 if structurally zero;
    pairs (B,2): (i, j) of each stored block; diag (N,): index of block (k, k);
    first (15N,): first non-zero column of each row of the lower triangle (envelope).
    """

    blk_id: np.ndarray
    pairs: np.ndarray
    diag: np.ndarray
    first: np.ndarray

    @classmethod
    def from_mask(cls, mask) -> "BlockPattern":
        """Pattern of the boolean keyframe coupling ``mask`` (N,N) (symmetrised, diagonal added)."""
        mask = np.asarray(mask, dtype=bool)
        n = mask.shape[0]
        upper = np.triu(mask | mask.T | np.eye(n, dtype=bool))
        i, j = np.nonzero(upper)
        blk_id = np.full((n, n), -1, dtype=np.int64)
        blk_id[i, j] = np.arange(len(i))
        first_block = upper.argmax(axis=0)  # first row i with block (i, j): lower row j's first column
        first = np.repeat(first_block * STATE_DIM, STATE_DIM).astype(np.int64)
        return cls(blk_id, np.column_stack([i, j]).astype(np.int64), blk_id[np.arange(n), np.arange(n)], first)

    @property
    def n_keyframes(self) -> int:
        return self.blk_id.shape[0]

    @property
    def n_blocks(self) -> int:
        """Stored (upper-triangle, non-zero) blocks."""
        return len(self.pairs)

    @property
    def dense_blocks(self) -> int:
        """Blocks of the dense N x N matrix."""
        return self.n_keyframes ** 2


@dataclass
class NormalEquations:
    """H dx = b over keyframe error states: ``blocks`` (B,15,15) by ``pattern``, ``rhs`` (N,15)."""

    pattern: BlockPattern
    blocks: np.ndarray
    rhs: np.ndarray

    @classmethod
    def zeros(cls, pattern: BlockPattern) -> "NormalEquations":
        n = pattern.n_keyframes
        return cls(pattern, np.zeros((pattern.n_blocks, STATE_DIM, STATE_DIM)), np.zeros((n, STATE_DIM)))

    def to_dense(self) -> np.ndarray:
        """The full symmetric (15N x 15N) matrix."""
        n = self.pattern.n_keyframes * STATE_DIM
        H = np.zeros((n, n))
        for (i, j), block in zip(self.pattern.pairs, self.blocks):
            H[STATE_DIM * i:STATE_DIM * (i + 1), STATE_DIM * j:STATE_DIM * (j + 1)] = block
            H[STATE_DIM * j:STATE_DIM * (j + 1), STATE_DIM * i:STATE_DIM * (i + 1)] = block.T
        return H

    def solve(self, counters: KernelCounters | None = None) -> np.ndarray | None:
        """dx (N,15) with H dx = b by Cholesky (:func:`factorize_lower`); None if H is not
        positive definite."""
        counters = KernelCounters() if counters is None else counters
        n = self.pattern.n_keyframes * STATE_DIM
        A = np.zeros((n, n))
        _k.blocks_to_lower(self.blocks, self.pattern.pairs, A, counters.traffic)
        L = factorize_lower(A, self.pattern.first, counters.ops, counters.traffic)
        if L is None:
            return None
        x = np.empty(n)
        _k.cholesky_solve(L, self.pattern.first, self.rhs.reshape(-1), x, counters.ops, counters.traffic)
        return x.reshape(-1, STATE_DIM)


def factorize_lower(A: np.ndarray, first: np.ndarray, ops, traffic) -> np.ndarray | None:
    """Lower Cholesky factor L (A = L L^T) of a C-ordered float64 matrix whose lower triangle
    holds A and whose strict upper triangle is zero, computed in A's memory by LAPACK potrf;
    None if A is not positive definite. ``ops``/``traffic`` receive the counts of the
    envelope Cholesky (:func:`_kernels.cholesky_envelope_counts`, rows up to the failing
    pivot), the algorithm an accelerator runs on this envelope; LAPACK's blocked dense
    algorithm is faster on a CPU and gives the same factor up to rounding."""
    # A.T is Fortran-ordered with A's lower triangle as its upper one: potrf(upper) factorises
    # it in place as U^T U, and U^T = L sits in A's lower triangle.
    U, info = dpotrf(A.T, lower=0, clean=0, overwrite_a=1)
    n_rows = A.shape[0] if info == 0 else min(int(info), A.shape[0])
    _k.cholesky_envelope_counts(first, n_rows, ops, traffic)
    return U.T if info == 0 else None


def _square(A, name: str) -> np.ndarray:
    A = np.ascontiguousarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.all(np.isfinite(A)):
        raise ValueError(f"{name}: expected a finite square matrix, got shape {A.shape}")
    return A


def _envelope(A: np.ndarray, first) -> np.ndarray:
    n = A.shape[0]
    if first is None:
        nonzero = np.tril(A) != 0
        return np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), np.arange(n)).astype(np.int64)
    first = np.ascontiguousarray(first, dtype=np.int64)
    if first.shape != (n,) or np.any(first < 0) or np.any(first > np.arange(n)):
        raise ValueError("cholesky: first[i] must lie in [0, i]")
    return first


def cholesky(A, first=None, ops=None) -> np.ndarray:
    """Lower Cholesky factor L (A = L L^T) of a symmetric positive definite matrix
    (:func:`factorize_lower`; ``first``: first non-zero column per row for the counts,
    default from A's lower triangle). ``ops``: optional op counter array to increment.
    Raises if not PD."""
    A = _square(A, "cholesky")
    first = _envelope(A, first)
    L = factorize_lower(np.tril(A), first, op_counter() if ops is None else ops,
                        np.zeros((len(_k.BUFFERS), 2), dtype=np.int64))
    if L is None:
        raise np.linalg.LinAlgError("cholesky: matrix is not positive definite")
    return L


def cholesky_solve(L, b, first=None, ops=None) -> np.ndarray:
    """x with L L^T x = b for a factor from :func:`cholesky`."""
    L = _square(L, "cholesky_solve")
    b = np.ascontiguousarray(b, dtype=np.float64)
    if b.shape != (L.shape[0],):
        raise ValueError(f"cholesky_solve: b must have shape ({L.shape[0]},), got {b.shape}")
    x = np.empty_like(b)
    _k.cholesky_solve(L, _envelope(L, first), b, x, op_counter() if ops is None else ops,
                      np.zeros((len(_k.BUFFERS), 2), dtype=np.int64))
    return x
