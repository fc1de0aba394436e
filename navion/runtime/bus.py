"""In-process, single-threaded, deterministic message bus (a discrete-event scheduler).

Every event (a message delivery, a timer, a node becoming free) sits in one heap keyed by
``(time_ns, sequence number)``: the simulated time it happens at, then the order it was
created in. Nothing depends on the wall clock, so a run is repeatable event for event.

Delivery: ``publish`` creates one delivery event per subscriber at the current simulated
time, or later by the publisher's processing cost (below). A source (a node with a
timer, such as the player) publishes each message at its stamp.

Subscribers: a :class:`Participant` (one per node) owns one bounded :class:`Subscription`
queue per input. A node handles one work item at a time (the oldest by event key over its
queues and timers). Processing a message of an input with ``cost_ns > 0`` keeps the node
busy for that long in simulated time, and whatever it publishes meanwhile is delivered
when it is done; messages that arrive while it is busy wait in the queue. With the default
``cost_ns = 0`` a node handles each message the moment it arrives, so nothing queues and
nothing is dropped. A full queue applies its policy (:data:`POLICIES`):

- ``drop_oldest``: the oldest queued message is discarded (keep the newest, like a ROS
  queue);
- ``drop_newest``: the arriving message is discarded;
- ``block``: nothing is discarded. The message waits in the bus and the *publisher*
  waits with it: until the subscriber takes it, the publishing node handles no further
  work (no timers, no inputs), so a source stops emitting (back-pressure) and its later
  messages go out late in simulated time. A cycle of blocked nodes is a :class:`BusError`.

Counters per subscription: ``received`` (arrived at the queue), ``processed`` (handed to
the node), ``dropped`` (discarded by the policy), ``blocked`` (arrivals that had to wait).

A network bridge fits behind the same API: a node that subscribes to local topics and
sends them out, or receives and publishes them, with its own queues and counters.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Callable

POLICIES = ("drop_oldest", "drop_newest", "block")
_DELIVER, _TIMER, _READY = 0, 1, 2


class BusError(RuntimeError):
    """Wiring misuse (a topic's message type) or a deadlock of blocked queues."""


class NodeFailure(Exception):
    """A node's callback raised ``error``; the run stops and reports ``node``."""

    def __init__(self, node: str, error: BaseException):
        self.node, self.error = node, error
        super().__init__(f"node '{node}' failed: {type(error).__name__}: {error}")


@dataclass(frozen=True)
class QueueConfig:
    """A subscriber queue: at most ``size`` messages, ``policy`` when full, and the
    simulated processing time of each message ``cost_ns`` (0 = instantaneous)."""

    size: int = 100
    policy: str = "drop_oldest"
    cost_ns: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"queue size must be an integer >= 1, got {self.size!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"queue policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        if self.cost_ns < 0:
            raise ValueError(f"queue cost must be >= 0, got {self.cost_ns!r}")


class Subscription:
    """One input of one node: its topic, bounded queue, handler and counters."""

    def __init__(self, owner: Participant, topic: str, handler: Callable, queue: QueueConfig, name: str):
        self.owner, self.topic, self.handler, self.config, self.name = owner, topic, handler, queue, name
        self.queue: deque = deque()  # (key, message)
        self.parked: deque = deque()  # (key, message, publisher) waiting for room (policy block)
        self.received = self.processed = self.dropped = self.blocked = 0

    def counters(self) -> dict:
        return {"node": self.owner.name, "input": self.name, "topic": self.topic, "size": self.config.size,
                "policy": self.config.policy, "cost_ns": self.config.cost_ns, "received": self.received,
                "processed": self.processed, "dropped": self.dropped, "blocked": self.blocked,
                "queued": len(self.queue) + len(self.parked)}


class Participant:
    """The bus-side state of one node: its inputs, pending timers and busy/blocked state."""

    def __init__(self, name: str):
        self.name = name
        self.subscriptions: list[Subscription] = []
        self.timers: deque = deque()  # (key, callback), in key order
        self.busy_until_ns = -(2**63)
        self.waiting_on = 0  # own messages parked in full 'block' queues
        self.output_delay_ns = 0


class Topic:
    """A named topic carrying one message type."""

    def __init__(self, name: str, message_type: type):
        self.name, self.message_type = name, message_type
        self.subscriptions: list[Subscription] = []
        self.published = 0


class Bus:
    """The event heap, topics and participants of one run (see the module docstring)."""

    def __init__(self) -> None:
        self.now_ns: int | None = None
        self.topics: dict[str, Topic] = {}
        self.participants: dict[str, Participant] = {}
        self._heap: list = []
        self._seq = 0

    # ------------------------------------------------------------------ wiring

    def participant(self, name: str) -> Participant:
        if name in self.participants:
            raise BusError(f"a participant named '{name}' already exists")
        self.participants[name] = p = Participant(name)
        return p

    def topic(self, name: str, message_type: type) -> Topic:
        """The topic ``name``, created on first use; BusError if it carries another type."""
        topic = self.topics.get(name)
        if topic is None:
            topic = self.topics[name] = Topic(name, message_type)
        elif topic.message_type is not message_type:
            raise BusError(f"topic '{name}' carries {topic.message_type.__name__}, not {message_type.__name__}")
        return topic

    def subscribe(self, owner: Participant, topic: str, message_type: type, handler: Callable,
                  queue: QueueConfig = QueueConfig(), name: str | None = None) -> Subscription:
        """``handler(message)`` will receive the messages of ``topic`` through a bounded queue."""
        sub = Subscription(owner, topic, handler, queue, name or topic)
        self.topic(topic, message_type).subscriptions.append(sub)
        owner.subscriptions.append(sub)
        return sub

    # ------------------------------------------------------------------ scheduling

    def _push(self, time_ns: int, kind: int, a, b=None) -> None:
        heapq.heappush(self._heap, (time_ns, self._seq, kind, a, b))
        self._seq += 1

    def publish(self, publisher: Participant, topic: str, message) -> None:
        """Delivers ``message`` to every subscriber of ``topic`` at the current simulated time
        (plus the publisher's processing cost when it publishes from a costly input)."""
        t = self.topics.get(topic)
        if t is None:
            t = self.topic(topic, type(message))
        elif not isinstance(message, t.message_type):
            raise BusError(f"'{publisher.name}' published {type(message).__name__} on topic '{topic}', "
                           f"which carries {t.message_type.__name__}")
        t.published += 1
        when = (self.now_ns if self.now_ns is not None else message.stamp_ns) + publisher.output_delay_ns
        for sub in t.subscriptions:
            self._push(when, _DELIVER, sub, (message, publisher))

    def schedule(self, owner: Participant, time_ns: int, callback: Callable[[], None]) -> None:
        """Runs ``callback()`` as work of ``owner`` at simulated time ``time_ns``; a time already
        past (a source held back by a blocking queue) means now."""
        time_ns = int(time_ns)
        self._push(time_ns if self.now_ns is None else max(time_ns, self.now_ns), _TIMER, owner, callback)

    def next_time_ns(self) -> int | None:
        """Simulated time of the next event, None when no event is pending."""
        return self._heap[0][0] if self._heap else None

    def step(self) -> bool:
        """Dispatches the next event; False when none is left. Raises NodeFailure when a
        node's callback raises (KeyboardInterrupt passes through), BusError on a deadlock."""
        if not self._heap:
            parked = [s for p in self.participants.values() for s in p.subscriptions if s.parked]
            if parked:
                names = ", ".join(f"{s.owner.name}.{s.name}" for s in parked)
                raise BusError(f"deadlock: messages wait in full 'block' queues ({names}) and no node can run")
            return False
        time_ns, seq, kind, a, b = heapq.heappop(self._heap)
        self.now_ns = time_ns
        if kind == _DELIVER:
            self._deliver(a, (time_ns, seq), *b)
            self._pump(a.owner)
        elif kind == _TIMER:
            a.timers.append(((time_ns, seq), b))
            self._pump(a)
        else:
            self._pump(a)
        return True

    # ------------------------------------------------------------------ queues

    def _deliver(self, sub: Subscription, key: tuple, message, publisher: Participant) -> None:
        sub.received += 1
        if len(sub.queue) < sub.config.size and not sub.parked:
            sub.queue.append((key, message))
        elif sub.config.policy == "drop_oldest":
            sub.queue.popleft()
            sub.dropped += 1
            sub.queue.append((key, message))
        elif sub.config.policy == "drop_newest":
            sub.dropped += 1
        else:
            sub.blocked += 1
            sub.parked.append((key, message, publisher))
            publisher.waiting_on += 1

    def _release(self, sub: Subscription) -> None:
        """Moves one parked message into the queue after a slot was freed."""
        if not sub.parked:
            return
        key, message, publisher = sub.parked.popleft()
        sub.queue.append((key, message))
        publisher.waiting_on -= 1
        if publisher.waiting_on == 0:
            self._push(self.now_ns, _READY, publisher)

    def _next_work(self, p: Participant):
        best, best_key = None, None
        if p.timers:
            best, best_key = None, p.timers[0][0]
        for sub in p.subscriptions:
            if sub.queue and (best_key is None or sub.queue[0][0] < best_key):
                best, best_key = sub, sub.queue[0][0]
        return best, best_key

    def _pump(self, p: Participant) -> None:
        """Lets ``p`` handle queued work while it is neither busy nor blocked."""
        while p.busy_until_ns <= self.now_ns and p.waiting_on == 0:
            sub, key = self._next_work(p)
            if key is None:
                return
            if sub is None:
                _, callback = p.timers.popleft()
                cost, args = 0, ()
            else:
                _, message = sub.queue.popleft()
                sub.processed += 1
                self._release(sub)
                callback, cost, args = sub.handler, sub.config.cost_ns, (message,)
            self._run(p, callback, args, cost)
            if cost > 0:
                p.busy_until_ns = self.now_ns + cost
                self._push(p.busy_until_ns, _READY, p)
                return

    def _run(self, p: Participant, callback: Callable, args: tuple, cost_ns: int) -> None:
        p.output_delay_ns = cost_ns
        try:
            callback(*args)
        except Exception as exc:
            raise NodeFailure(p.name, exc) from exc
        finally:
            p.output_delay_ns = 0

    def counters(self) -> list[dict]:
        """Per-subscription counters, in participant then input order."""
        return [s.counters() for p in self.participants.values() for s in p.subscriptions]
