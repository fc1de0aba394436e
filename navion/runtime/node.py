"""Node base class and registry.

A node type is a :class:`Node` subclass registered with :func:`register` under a type
name (what launch files write as ``type:``). It declares

- ``Params``: a frozen dataclass using ``ConfigMixin`` (defaults, units, validation in
  ``__post_init__``); fields without a default are required. Launch files are checked
  against it before anything runs.
- ``inputs`` / ``outputs``: :class:`Port` per name, with the message type and the default
  topic; a launch file may remap each port's topic. Input ``x`` is handled by the method
  ``on_x(message)``.

Life cycle (driven by :mod:`navion.runtime.run`):

1. ``__init__(name, params, context)``: check and open inputs (a bad path fails here,
   before the run folder is written);
2. ``start()``: the run folder exists; open output files, schedule the first timers
   (a source schedules its first message at its stamp);
3. ``on_<input>(message)`` and timer callbacks, in the bus's deterministic order;
4. ``close()``: the event loop ended (also after a failure or Ctrl-C): flush and write
   the node's files;
5. ``after_run(run_dir)``: ``summary.json`` exists; derive reports from the run folder.

``summary()`` returns JSON-safe figures for ``summary.json``, ``seeds()`` the random
seeds for ``run.json``; a source's ``progress()`` returns ``(done, total, data_time_s)``
for the progress bar.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar

from datasets.configuration import ConfigMixin

from .bus import Bus, Participant


@dataclass(frozen=True)
class Port:
    """An input or output: message type, default topic and (inputs) default queue size."""

    message_type: type
    topic: str
    queue_size: int = 100


@dataclass(frozen=True)
class NoParams(ConfigMixin):
    """Parameters of a node type that has none."""


class NodeContext:
    """What the runtime gives a node: its bus participant, resolved topic names, the run
    folder and a way to stop the run."""

    def __init__(self, bus: Bus, participant: Participant, topics: dict[str, str], run_dir: Path,
                 request_stop: Callable[[str], None]):
        self.bus, self.participant, self.topics, self.run_dir = bus, participant, topics, run_dir
        self.request_stop = request_stop


class Node:
    """Base class of every node type (see the module docstring)."""

    type_name: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    inputs: ClassVar[dict[str, Port]] = {}
    outputs: ClassVar[dict[str, Port]] = {}

    def __init__(self, name: str, params, context: NodeContext):
        self.name, self.params, self.context = name, params, context

    # ------------------------------------------------------------------ hooks

    def start(self) -> None:
        """The run folder exists: open files, schedule the first timers."""

    def close(self) -> None:
        """The event loop ended (normally, on a failure or on Ctrl-C): write the node's files."""

    def after_run(self, run_dir: Path) -> None:
        """``summary.json`` is written: derive reports from the run folder."""

    def summary(self) -> dict:
        """JSON-safe figures of this node for ``summary.json``."""
        return {}

    def progress(self) -> tuple[int, int, float] | None:
        """(done, total, data time [s]) of a source, for the progress bar; None otherwise."""
        return None

    def seeds(self) -> dict:
        """Random seeds this node depends on, for ``run.json`` (default: parameters named
        ``seed`` or ``*_seed``, in nested sections too, by dotted name)."""
        def walk(options: dict, prefix: str) -> dict:
            found = {}
            for key, value in options.items():
                if isinstance(value, dict):
                    found.update(walk(value, f"{prefix}{key}."))
                elif key == "seed" or key.endswith("_seed"):
                    found[prefix + key] = value
            return found

        return walk(self.params.to_dict(), "")

    # ------------------------------------------------------------------ services

    @property
    def now_ns(self) -> int | None:
        """Current simulated time [ns] (None before the first event)."""
        return self.context.bus.now_ns

    def publish(self, output: str, message) -> None:
        """Publishes ``message`` on the topic of output port ``output``."""
        port = self.outputs[output]
        if not isinstance(message, port.message_type):
            raise TypeError(f"{self.name}.{output} carries {port.message_type.__name__}, "
                            f"got {type(message).__name__}")
        self.context.bus.publish(self.context.participant, self.context.topics[output], message)

    def schedule(self, time_ns: int, callback: Callable[[], None]) -> None:
        """Calls ``callback()`` at simulated time ``time_ns``."""
        self.context.bus.schedule(self.context.participant, time_ns, callback)

    def request_stop(self, reason: str) -> None:
        """Ends the run after the current event (e.g. an explorer that has covered the map)."""
        self.context.request_stop(f"{self.name}: {reason}")


NODE_TYPES: dict[str, type[Node]] = {}


def register(cls: type[Node]) -> type[Node]:
    """Class decorator adding a node type to :data:`NODE_TYPES` (checks its declaration)."""
    name = cls.type_name
    if not name or name in NODE_TYPES:
        raise ValueError(f"{cls.__name__}: node type name {name!r} is empty or already registered")
    if not (dataclasses.is_dataclass(cls.Params) and issubclass(cls.Params, ConfigMixin)):
        raise TypeError(f"{cls.__name__}.Params must be a ConfigMixin dataclass")
    for port in cls.inputs:
        if not callable(getattr(cls, f"on_{port}", None)):
            raise TypeError(f"{cls.__name__} declares input '{port}' but has no on_{port}() method")
    NODE_TYPES[name] = cls
    return cls


def node_types() -> dict[str, type[Node]]:
    """Every registered node type (the shipped ones are imported on first use)."""
    from . import nodes  # noqa: F401  (registers the shipped node types)

    return NODE_TYPES
