"""A time-ordered IMU buffer that cuts held-sample segments between two stamps.

Held-sample model (Forster et al., T-RO 2017, Sec. V): the sample at t_k applies to
[t_k, t_k+1). The segment for [t_a, t_b] starts with the last sample at or before t_a
and clips the first and last intervals to t_a and t_b.
"""
from __future__ import annotations

import numpy as np


class ImuBuffer:
    """IMU samples (stamps int64 ns, gyro [rad/s], accel [m/s^2]) kept in time order in
    growable arrays, so that cutting a segment costs no conversion of the history."""

    def __init__(self, capacity: int = 4096) -> None:
        self._t = np.empty(capacity, dtype=np.int64)
        self._ga = np.empty((capacity, 6))  # gyro | accel
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, timestamp_ns: int, gyro: np.ndarray, accel: np.ndarray) -> bool:
        """Appends a sample; returns False (and drops it) if its stamp does not increase or it is not finite."""
        if (self._n and timestamp_ns <= self._t[self._n - 1]) or not (np.isfinite(gyro).all() and np.isfinite(accel).all()):
            return False
        if self._n == len(self._t):
            self._t = np.concatenate([self._t, np.empty_like(self._t)])
            self._ga = np.concatenate([self._ga, np.empty_like(self._ga)])
        self._t[self._n] = timestamp_ns
        self._ga[self._n, :3], self._ga[self._n, 3:] = gyro, accel
        self._n += 1
        return True

    @property
    def last_ns(self) -> int | None:
        return int(self._t[self._n - 1]) if self._n else None

    def window(self, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stamps, gyro and accel of the samples with start_ns <= t <= end_ns (copies)."""
        t = self._t[:self._n]
        lo, hi = int(np.searchsorted(t, start_ns, "left")), int(np.searchsorted(t, end_ns, "right"))
        return t[lo:hi].copy(), self._ga[lo:hi, :3].copy(), self._ga[lo:hi, 3:].copy()

    def segment(self, start_ns: int, end_ns: int, max_gap_ns: int = 50_000_000):
        """(dt_s (n,), gyro (n,3), accel (n,3)) covering [start_ns, end_ns], or None when the
        buffer does not cover it or holds a gap longer than ``max_gap_ns``."""
        t = self._t[:self._n]
        if end_ns <= start_ns or len(t) == 0 or t[0] > start_ns:
            return None
        first = int(np.searchsorted(t, start_ns, side="right")) - 1
        last = int(np.searchsorted(t, end_ns, side="left"))  # samples first..last-1 apply before end_ns
        bounds = np.concatenate([[start_ns], t[first + 1:last], [end_ns]])
        if last >= len(t) and end_ns - t[-1] > max_gap_ns:
            return None
        if np.diff(bounds).max() > max_gap_ns:
            return None
        dt = np.diff(bounds) * 1e-9
        keep = dt > 0
        samples = self._ga[first:last][keep]
        return dt[keep], samples[:, :3], samples[:, 3:]

    def discard_before(self, timestamp_ns: int) -> None:
        """Drops samples no longer needed for segments starting at or after ``timestamp_ns``."""
        k = max(int(np.searchsorted(self._t[:self._n], timestamp_ns, side="right")) - 1, 0)
        if k > 0:
            self._n -= k
            self._t[:self._n] = self._t[k:k + self._n]
            self._ga[:self._n] = self._ga[k:k + self._n]
