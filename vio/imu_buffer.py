"""A time-ordered IMU buffer that cuts held-sample segments between two stamps.

Held-sample model (Forster et al., T-RO 2017, Sec. V): the sample at t_k applies to
[t_k, t_k+1). The segment for [t_a, t_b] starts with the last sample at or before t_a
and clips the first and last intervals to t_a and t_b.
"""
from __future__ import annotations

import numpy as np


class ImuBuffer:
    """IMU samples (stamps int64 ns, gyro [rad/s], accel [m/s^2]) kept in time order."""

    def __init__(self) -> None:
        self._t: list[int] = []
        self._g: list[np.ndarray] = []
        self._a: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._t)

    def add(self, timestamp_ns: int, gyro: np.ndarray, accel: np.ndarray) -> bool:
        """Appends a sample; returns False (and drops it) if its stamp does not increase or it is not finite."""
        if (self._t and timestamp_ns <= self._t[-1]) or not (np.isfinite(gyro).all() and np.isfinite(accel).all()):
            return False
        self._t.append(int(timestamp_ns))
        self._g.append(np.asarray(gyro, float))
        self._a.append(np.asarray(accel, float))
        return True

    @property
    def last_ns(self) -> int | None:
        return self._t[-1] if self._t else None

    def window(self, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stamps, gyro and accel of the samples with start_ns <= t <= end_ns."""
        t = np.asarray(self._t, dtype=np.int64)
        sel = np.flatnonzero((t >= start_ns) & (t <= end_ns))
        return t[sel], np.array([self._g[i] for i in sel]).reshape(-1, 3), np.array([self._a[i] for i in sel]).reshape(-1, 3)

    def segment(self, start_ns: int, end_ns: int, max_gap_ns: int = 50_000_000):
        """(dt_s (n,), gyro (n,3), accel (n,3)) covering [start_ns, end_ns], or None when the
        buffer does not cover it or holds a gap longer than ``max_gap_ns``."""
        t = np.asarray(self._t, dtype=np.int64)
        if end_ns <= start_ns or len(t) == 0 or t[0] > start_ns:
            return None
        first = int(np.searchsorted(t, start_ns, side="right")) - 1
        last = int(np.searchsorted(t, end_ns, side="left"))  # samples first..last-1 apply before end_ns
        bounds = np.concatenate([[start_ns], t[first + 1:last], [end_ns]])
        if last >= len(t) and end_ns - t[-1] > max_gap_ns:
            return None
        if np.diff(bounds).max() > max_gap_ns:
            return None
        idx = np.arange(first, last)
        dt = np.diff(bounds) * 1e-9
        keep = dt > 0
        return dt[keep], np.array([self._g[i] for i in idx])[keep], np.array([self._a[i] for i in idx])[keep]

    def discard_before(self, timestamp_ns: int) -> None:
        """Drops samples no longer needed for segments starting at or after ``timestamp_ns``."""
        t = np.asarray(self._t, dtype=np.int64)
        k = max(int(np.searchsorted(t, timestamp_ns, side="right")) - 1, 0)
        if k > 0:
            del self._t[:k], self._g[:k], self._a[:k]
