"""Clock pacing against a fake wall clock: sleeps, lag and figures follow the schedule."""
from __future__ import annotations

import pytest

from datasets.configuration import ConfigError
from navion.runtime.clock import Clock, ClockConfig


class FakeTime:
    """A wall clock that moves only when slept on or when work is simulated."""

    def __init__(self) -> None:
        self.now, self.cpu, self.sleeps = 100.0, 5.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def work(self, seconds: float) -> None:
        self.now += seconds
        self.cpu += seconds


def _drive(clock: Clock, fake: FakeTime, stamps_ns: list[int], work_s: list[float]) -> None:
    clock.start()
    for t, w in zip(stamps_ns, work_s):
        clock.wait_until(t)
        fake.work(w)
    clock.stop()


@pytest.mark.parametrize("rate", [1.0, 2.0, 0.5])
def test_realtime_pacing_follows_the_schedule(rate):
    stamps = [0, 50_000_000, 100_000_000, 150_000_000, 400_000_000, 410_000_000]
    work = [0.01, 0.09, 0.2, 0.01, 0.0, 0.3]  # some events overrun their slot
    fake = FakeTime()
    clock = Clock(ClockConfig("realtime", rate), fake.monotonic, fake.sleep, lambda: fake.cpu)
    _drive(clock, fake, stamps, work)
    # Reference: event k is due at start + stamp_k / rate; it starts at max(due, end of k-1).
    start, wall, sleeps, lags = 100.0, 100.0, [], []
    for t, w in zip(stamps, work):
        due = start + t * 1e-9 / rate
        if due > wall:
            sleeps.append(due - wall)
            wall = due
        lags.append(wall - due)
        wall += w
    assert fake.sleeps == pytest.approx(sleeps)
    figures = clock.figures()
    assert figures["lag_max_s"] == pytest.approx(max(lags))
    assert figures["lag_mean_s"] == pytest.approx(sum(lags) / len(lags))
    assert figures["wall_time_s"] == pytest.approx(wall - start)
    assert figures["sim_time_s"] == pytest.approx(0.41)
    assert figures["realtime_factor"] == pytest.approx(0.41 / (wall - start))
    assert figures["cpu_percent"] == pytest.approx(100 * sum(work) / (wall - start))
    assert figures["events"] == len(stamps) and figures["rate"] == rate


def test_fast_mode_never_sleeps():
    fake = FakeTime()
    clock = Clock(ClockConfig("fast"), fake.monotonic, fake.sleep, lambda: fake.cpu)
    _drive(clock, fake, [0, 10**9, 2 * 10**9], [0.1, 0.1, 0.1])
    figures = clock.figures()
    assert fake.sleeps == [] and figures["lag_max_s"] is None and figures["rate"] is None
    assert figures["realtime_factor"] == pytest.approx(2.0 / 0.3)


def test_clock_config_is_validated():
    with pytest.raises(ConfigError, match="mode"):
        ClockConfig.from_dict({"mode": "slow"})
    with pytest.raises(ConfigError, match="rate"):
        ClockConfig.from_dict({"rate": 0})
