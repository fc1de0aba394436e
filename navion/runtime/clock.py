"""Simulated time driven by the data, optionally paced against the wall clock.

The bus decides *what* happens next from the event stamps alone; the clock only decides
*when on the wall clock* it happens. ``mode: fast`` dispatches every event at once (as
fast as the nodes compute). ``mode: realtime`` holds each event back until
``wall_start + (t - t_first) / rate`` (``rate`` 1.0 = real time, 2.0 = twice as fast),
sleeping when ahead; when the nodes are slower than that, events go out late and the
lag (wall time past the event's due time) is recorded, never skipped.

Figures (:meth:`Clock.figures`): simulated span, wall time, real-time factor (simulated
span / wall time), events per second, CPU use (process CPU time / wall time, 100 % = one
core busy) and, in real-time mode, the lag behind real time (max and mean over events).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from datasets.configuration import ConfigMixin

MODES = ("fast", "realtime")


@dataclass(frozen=True)
class ClockConfig(ConfigMixin):
    """mode: fast (as fast as possible) or realtime (paced); rate: real-time multiple (> 0)."""

    mode: str = "fast"
    rate: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"clock mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.rate > 0:
            raise ValueError(f"clock rate must be > 0, got {self.rate!r}")


class Clock:
    """Paces events (see the module docstring). ``monotonic``, ``sleep`` and ``process_time``
    are injectable so tests can drive a fake wall clock."""

    def __init__(self, config: ClockConfig = ClockConfig(), monotonic: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep,
                 process_time: Callable[[], float] = time.process_time):
        self.config = config
        self._monotonic, self._sleep, self._process_time = monotonic, sleep, process_time
        self._wall0 = self._cpu0 = self._wall1 = self._cpu1 = None
        self._first_ns = self._last_ns = None
        self.events = 0
        self.lag_max_s = 0.0
        self._lag_sum_s = 0.0

    def start(self) -> None:
        """Marks the start of the run (wall and CPU time)."""
        self._wall0, self._cpu0 = self._monotonic(), self._process_time()

    def due_s(self, time_ns: int) -> float:
        """Wall time at which the event at simulated ``time_ns`` is due (real-time mode)."""
        return self._wall0 + (time_ns - self._first_ns) * 1e-9 / self.config.rate

    def wait_until(self, time_ns: int) -> None:
        """Called before dispatching the event at simulated ``time_ns``: sleeps until it is due
        (real-time mode) and records the lag."""
        if self._first_ns is None:
            self._first_ns = time_ns
        self._last_ns = time_ns
        self.events += 1
        if self.config.mode != "realtime":
            return
        due = self.due_s(time_ns)
        ahead = due - self._monotonic()
        if ahead > 0:
            self._sleep(ahead)
        lag = max(0.0, self._monotonic() - due)
        self.lag_max_s = max(self.lag_max_s, lag)
        self._lag_sum_s += lag

    def stop(self) -> None:
        """Marks the end of the run."""
        self._wall1, self._cpu1 = self._monotonic(), self._process_time()

    def figures(self) -> dict:
        """The run's timing figures (JSON-safe; None where undefined)."""
        wall = (self._wall1 if self._wall1 is not None else self._monotonic()) - self._wall0
        cpu = (self._cpu1 if self._cpu1 is not None else self._process_time()) - self._cpu0
        span = 0.0 if self._first_ns is None else (self._last_ns - self._first_ns) * 1e-9
        paced = self.config.mode == "realtime"
        return {
            "mode": self.config.mode,
            "rate": self.config.rate if paced else None,
            "events": self.events,
            "sim_time_s": span,
            "wall_time_s": wall,
            "realtime_factor": span / wall if wall > 0 else None,
            "events_per_s": self.events / wall if wall > 0 else None,
            "process_cpu_time_s": cpu,
            "cpu_percent": 100.0 * cpu / wall if wall > 0 else None,
            "lag_max_s": self.lag_max_s if paced else None,
            "lag_mean_s": self._lag_sum_s / self.events if paced and self.events else None,
        }
