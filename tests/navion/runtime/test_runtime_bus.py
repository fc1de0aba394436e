"""The bus: (stamp, sequence) order, bounded queues with drop policies, back-pressure, failures.

The slow-consumer cases are compared with a direct single-server queue simulation
written independently of the bus (arrivals, a server busy ``cost`` per message, a queue
of ``size`` places with the policy).
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import pytest

from navion.runtime.bus import Bus, BusError, NodeFailure, QueueConfig


@dataclass(frozen=True)
class Msg:
    stamp_ns: int
    label: int = 0


@dataclass(frozen=True)
class Other:
    stamp_ns: int


def _source(bus: Bus, name: str, topic: str, stamps: list[int], chained: bool):
    """A source publishing one message per stamp; ``chained`` schedules each next message
    only after publishing the previous one (as the player does), else all up front."""
    p = bus.participant(name)
    emitted = []

    def emit(k: int) -> None:
        emitted.append(bus.now_ns)
        bus.publish(p, topic, Msg(stamps[k], k))
        if chained and k + 1 < len(stamps):
            bus.schedule(p, stamps[k + 1], lambda: emit(k + 1))

    if chained:
        bus.schedule(p, stamps[0], lambda: emit(0))
    else:
        for k in range(len(stamps)):
            bus.schedule(p, stamps[k], lambda k=k: emit(k))
    return p, emitted


def _run(bus: Bus) -> None:
    while bus.step():
        pass


def test_events_are_ordered_by_stamp_then_sequence():
    rng = random.Random(3)
    bus = Bus()
    stamps = {name: [rng.randrange(0, 50) * 1000 for _ in range(40)] for name in ("a", "b", "c")}
    for name, s in stamps.items():
        _source(bus, name, "t", s, chained=False)
    sink = bus.participant("sink")
    got = []
    bus.subscribe(sink, "t", Msg, lambda m: got.append((m.stamp_ns, m.label)))
    _run(bus)
    # Reference: timers were created source by source, message by message; ties keep that order.
    created = [(t, k) for name in ("a", "b", "c") for k, t in enumerate(stamps[name])]
    assert got == sorted(created, key=lambda e: e[0])
    assert bus.counters()[0]["received"] == bus.counters()[0]["processed"] == 120


def _reference_queue(arrivals: list[int], cost: int, size: int, policy: str) -> tuple[list[int], int]:
    """Stamps a single server handles, and the number dropped (no ties between events)."""
    queue, processed, dropped, busy_until = deque(), [], 0, -1

    def serve_until(t: int) -> None:
        nonlocal busy_until
        while queue and busy_until <= t:
            processed.append(queue.popleft())
            busy_until += cost

    for t in arrivals:
        serve_until(t)
        if busy_until <= t and not queue:
            processed.append(t)
            busy_until = t + cost
        elif len(queue) < size:
            queue.append(t)
        elif policy == "drop_oldest":
            queue.popleft()
            queue.append(t)
            dropped += 1
        else:
            dropped += 1
    serve_until(2**62)
    return processed, dropped


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
@pytest.mark.parametrize("size,cost_ns", [(1, 2_345_678), (3, 2_345_678), (2, 1_234_567), (4, 999_999)])
def test_slow_consumer_drops_as_the_queue_model(policy, size, cost_ns):
    rng = random.Random(size)
    arrivals = sorted(rng.sample(range(0, 400_000_000, 1000), 150))
    bus = Bus()
    _source(bus, "player", "t", arrivals, chained=True)
    sink = bus.participant("sink")
    handled = []
    bus.subscribe(sink, "t", Msg, lambda m: handled.append(m.stamp_ns), QueueConfig(size, policy, cost_ns))
    _run(bus)
    expected, dropped = _reference_queue(arrivals, cost_ns, size, policy)
    assert handled == expected
    counters = bus.counters()[0]
    assert counters["dropped"] == dropped > 0
    assert counters["received"] == len(arrivals) and counters["processed"] == len(expected)
    assert counters["queued"] == 0 and counters["blocked"] == 0


def test_block_policy_pauses_the_publisher_instead_of_dropping():
    period, cost, size, n = 1_000_000, 2_500_001, 2, 60
    bus = Bus()
    stamps = [k * period for k in range(n)]
    _, emitted = _source(bus, "player", "t", stamps, chained=True)
    sink = bus.participant("sink")
    starts, depths = [], []

    def handle(m):
        starts.append(bus.now_ns)
        depths.append(len(sub.queue))

    sub = bus.subscribe(sink, "t", Msg, handle, QueueConfig(size, "block", cost))
    _run(bus)
    c = bus.counters()[0]
    assert c["dropped"] == 0 and c["processed"] == n and c["blocked"] > 0
    assert max(depths) <= size
    # The consumer never idles once the backlog exists: back-to-back service from t = 0.
    assert starts == [k * cost for k in range(n)]
    # Every message goes out at or after its stamp, later ones late (back-pressure).
    assert all(e >= s for e, s in zip(emitted, stamps)) and emitted[-1] > stamps[-1]


def test_cost_delays_the_outputs_of_a_node():
    bus = Bus()
    _source(bus, "player", "in", [0, 10_000_000], chained=False)
    worker = bus.participant("worker")
    bus.subscribe(worker, "in", Msg, lambda m: bus.publish(worker, "out", Msg(m.stamp_ns, m.label)),
                  QueueConfig(10, "drop_oldest", 4_000_000))
    sink = bus.participant("sink")
    arrivals = []
    bus.subscribe(sink, "out", Msg, lambda m: arrivals.append((bus.now_ns, m.stamp_ns)))
    _run(bus)
    assert arrivals == [(4_000_000, 0), (14_000_000, 10_000_000)]


def test_node_failure_names_the_node_and_type_mismatch_is_an_error():
    bus = Bus()
    _source(bus, "player", "t", [5], chained=False)
    bad = bus.participant("bad")
    bus.subscribe(bad, "t", Msg, lambda m: 1 / 0)
    with pytest.raises(NodeFailure, match="node 'bad' failed: ZeroDivisionError"):
        _run(bus)
    with pytest.raises(BusError, match="carries Msg"):
        bus.topic("t", Other)
    with pytest.raises(NodeFailure, match="'bad' published Other on topic 't', which carries Msg"):
        bus.schedule(bad, 10, lambda: bus.publish(bad, "t", Other(10)))
        _run(bus)


def test_keyboard_interrupt_passes_through():
    bus = Bus()
    _source(bus, "player", "t", [1], chained=False)
    sink = bus.participant("sink")

    def interrupt(m):
        raise KeyboardInterrupt

    bus.subscribe(sink, "t", Msg, interrupt)
    with pytest.raises(KeyboardInterrupt):
        _run(bus)


def test_blocked_cycle_is_a_deadlock():
    """Two busy nodes, each blocked on the other's full 'block' queue: no node can run."""
    bus = Bus()
    a, b = bus.participant("a"), bus.participant("b")
    slow_block = QueueConfig(1, "block", 1_000)
    bus.subscribe(a, "to_a", Msg, lambda m: None, slow_block)
    bus.subscribe(b, "to_b", Msg, lambda m: None, slow_block)
    bus.schedule(a, 0, lambda: [bus.publish(a, "to_b", Msg(0, k)) for k in range(3)])
    bus.schedule(b, 0, lambda: [bus.publish(b, "to_a", Msg(0, k)) for k in range(3)])
    with pytest.raises(BusError, match=r"deadlock.*a\.to_a.*b\.to_b"):
        _run(bus)
