"""The marginalisation's dense elimination counts against a slow, instrumented reference."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vio.backend import _kernels as _k
from vio.backend.marginalization import dense_marginalization_counts
from vio.backend.normal_equations import KernelCounters


class Counted:
    """Plain-Python dense elimination that counts every operation and operand read."""

    def __init__(self):
        self.ops = dict.fromkeys(("mul", "add", "div", "sqrt", "cmp"), 0)
        self.reads = dict.fromkeys(("H", "grad", "chol"), 0)
        self.writes = dict.fromkeys(("chol", "prior"), 0)

    def cholesky(self, A):
        n = len(A)
        L = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(i):
                s = A[i][j]
                for k in range(j):
                    s -= L[i][k] * L[j][k]
                    self.ops["mul"] += 1
                    self.ops["add"] += 1
                    self.reads["chol"] += 2
                self.reads["chol"] += 2  # A_ij (in place) and L_jj
                L[i][j] = s / L[j][j]
                self.ops["div"] += 1
                self.writes["chol"] += 1
            s = A[i][i]
            for k in range(i):
                s -= L[i][k] * L[i][k]
                self.ops["mul"] += 1
                self.ops["add"] += 1
                self.reads["chol"] += 1
            self.reads["chol"] += 1
            self.ops["cmp"] += 1
            self.ops["sqrt"] += 1
            L[i][i] = math.sqrt(s)
            self.writes["chol"] += 1
        return L

    def solve(self, L, b):
        n = len(L)
        x = list(b)
        for i in range(n):
            for k in range(i):
                x[i] -= L[i][k] * x[k]
                self.ops["mul"] += 1
                self.ops["add"] += 1
                self.reads["chol"] += 1
            x[i] /= L[i][i]
            self.ops["div"] += 1
            self.reads["chol"] += 1
        for i in range(n - 1, -1, -1):
            x[i] /= L[i][i]
            self.ops["div"] += 1
            self.reads["chol"] += 1
            for k in range(i):
                x[k] -= L[i][k] * x[i]
                self.ops["mul"] += 1
                self.ops["add"] += 1
                self.reads["chol"] += 1
        self.writes["chol"] += n
        return x

    def eliminate(self, H, b, m):
        n = len(H)
        c = n - m
        Hmm = [[H[i][j] for j in range(m)] for i in range(m)]
        self.reads["H"] += m * (m + 1) // 2
        L = self.cholesky(Hmm)
        X = []
        for j in range(c):
            col = [H[i][m + j] for i in range(m)]
            self.reads["H"] += m
            X.append(self.solve(L, col))
        y = self.solve(L, [b[i] for i in range(m)])
        self.reads["grad"] += m
        Hs = np.zeros((c, c))
        bs = np.zeros(c)
        for i in range(c):
            for j in range(i, c):
                s = H[m + i][m + j]
                self.reads["H"] += 1
                for k in range(m):
                    s -= H[m + i][k] * X[j][k]
                    self.ops["mul"] += 1
                    self.ops["add"] += 1
                    self.reads["H"] += 1
                    self.reads["chol"] += 1
                Hs[i, j] = Hs[j, i] = s
                self.writes["prior"] += 1
            s = b[m + i]
            self.reads["grad"] += 1
            for k in range(m):
                s -= H[m + i][k] * y[k]
                self.ops["mul"] += 1
                self.ops["add"] += 1
                self.reads["H"] += 1
                self.reads["chol"] += 1
            bs[i] = s
            self.writes["prior"] += 1
        return Hs, bs


@pytest.mark.parametrize("m,c", [(1, 1), (3, 5), (15, 30), (15, 0)])
def test_dense_counts_match_instrumented_reference(m, c):
    rng = np.random.default_rng(m * 100 + c)
    A = rng.normal(size=(m + c, m + c + 3))
    H = A @ A.T
    b = rng.normal(size=m + c)
    ref = Counted()
    Hs, bs = ref.eliminate(H.tolist(), b.tolist(), m)
    if c:  # the reference computes the Schur complement
        Hmm_inv = np.linalg.inv(H[:m, :m])
        np.testing.assert_allclose(Hs, H[m:, m:] - H[m:, :m] @ Hmm_inv @ H[:m, m:], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(bs, b[m:] - H[m:, :m] @ Hmm_inv @ b[:m], rtol=1e-9, atol=1e-9)
    counters = KernelCounters()
    dense_marginalization_counts(m, c, counters)
    ops = counters.ops
    assert [ops[_k.OP_MUL], ops[_k.OP_ADD], ops[_k.OP_DIV], ops[_k.OP_SQRT], ops[_k.OP_CMP]] == \
        [ref.ops["mul"], ref.ops["add"], ref.ops["div"], ref.ops["sqrt"], ref.ops["cmp"]]
    t = counters.traffic
    assert t[_k.BUF_H, _k.READ] == ref.reads["H"]
    assert t[_k.BUF_GRAD, _k.READ] == ref.reads["grad"]
    assert t[_k.BUF_CHOL, _k.READ] == ref.reads["chol"]
    assert t[_k.BUF_CHOL, _k.WRITE] == ref.writes["chol"]
    assert t[_k.BUF_PRIOR, _k.WRITE] == ref.writes["prior"]
