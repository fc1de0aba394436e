"""Launch files: which nodes run, with which parameters, topics and queues.

A launch file is YAML with three optional top-level keys::

    include:                       # other launch files, relative to this one
      - file: euroc_replay.yaml
        set: {player.max_frames: 100}   # overrides of the included nodes' parameters
    clock: {mode: fast, rate: 1.0}  # fast | realtime (paced at rate x real time)
    nodes:
      - name: vio                  # unique, [A-Za-z_][A-Za-z0-9_]*
        type: vio                  # a registered node type (navion.runtime.node)
        params: {pipeline: {solver: {max_iterations: 4}}}
        remap: {navstate: vio/navstate2}      # port -> topic
        queues: {stereo: {size: 2, policy: drop_oldest, cost_ms: 50}}

Included nodes come first, in include order; a later ``clock`` overrides earlier keys.
``--set node.param[.sub]=value`` (and ``clock.mode=...``) override after that; values are
YAML scalars. Every mistake (unknown node type, unknown or missing parameter, wrong type,
unknown port, conflicting topic types, a bad include) is a :class:`LaunchError` naming the
file and line, found from the YAML node marks.
"""
from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass
from pathlib import Path

import yaml

from datasets.configuration import ConfigError, ConfigMixin

from .bus import QueueConfig
from .clock import ClockConfig
from .errors import LaunchError
from .messages import STANDARD_TOPICS
from .node import Node, node_types

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TOP_KEYS = ("include", "clock", "nodes")
NODE_KEYS = ("name", "type", "params", "remap", "queues")
RESERVED_NAMES = ("clock",)


Loc = tuple[str, "int | None"]  # (file or '--set ...', line)


def _error(message: str, loc: Loc) -> LaunchError:
    return LaunchError(message, *loc)


# ---------------------------------------------------------------------- yaml with marks

class _Mapping(dict):
    """A YAML mapping that remembers its own line and the line of each key."""

    line: int
    lines: dict


class _Sequence(list):
    """A YAML sequence that remembers its own line and the line of each item."""

    line: int
    lines: list


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode):
    loader.flatten_mapping(node)
    data = _Mapping()
    data.line, data.lines = node.start_mark.line + 1, {}
    yield data
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) or key is None:
            raise yaml.constructor.ConstructorError(None, None, f"unsupported key {key!r}", key_node.start_mark)
        if key in data:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode):
    data = _Sequence()
    data.line, data.lines = node.start_mark.line + 1, [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_object(item, deep=True) for item in node.value)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _load_yaml(path: Path, loc: Loc | None = None):
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        message = f"cannot read launch file {path}: {exc.strerror or exc}"
        raise (_error(message, loc) if loc else LaunchError(message)) from None
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LaunchError(f"malformed yaml: {problem}", path, None if mark is None else mark.line + 1) from None
    if data is None:
        raise LaunchError("empty launch file", path, 1)
    if not isinstance(data, _Mapping):
        raise LaunchError("a launch file is a mapping with keys include, clock, nodes", path, 1)
    return data


def _plain(value):
    """Marked YAML containers as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _key_locs(mapping, path: str, prefix: tuple = ()) -> dict[tuple, Loc]:
    """Location of every key (nested) of a marked mapping, by key path."""
    locs = {}
    for key, value in mapping.items():
        locs[prefix + (key,)] = (path, mapping.lines[key])
        if isinstance(value, _Mapping):
            locs.update(_key_locs(value, path, prefix + (key,)))
    return locs


# ---------------------------------------------------------------------- composition

@dataclass
class _NodeEntry:
    """A node as written (after includes and overrides), with source locations."""

    name: str
    type_name: str
    loc: Loc
    type_loc: Loc
    params: dict
    param_locs: dict
    params_loc: Loc
    remap: dict
    remap_locs: dict
    queues: dict
    queue_locs: dict


@dataclass
class _Composite:
    nodes: list[_NodeEntry]
    clock: dict
    clock_locs: dict


def _mapping(value, what: str, loc: Loc) -> _Mapping:
    if value is None:
        empty = _Mapping()
        empty.line, empty.lines = loc[1], {}
        return empty
    if not isinstance(value, _Mapping):
        raise _error(f"{what} must be a mapping, got {_plain(value)!r}", loc)
    return value


def _parse_node(item, path: str, line: int) -> _NodeEntry:
    loc = (path, line)
    if not isinstance(item, _Mapping):
        raise _error(f"a node entry is a mapping with keys {', '.join(NODE_KEYS)}, got {_plain(item)!r}", loc)
    for key in item:
        if key not in NODE_KEYS:
            raise _error(f"unknown node key '{key}' (known: {', '.join(NODE_KEYS)})", (path, item.lines[key]))
    for key in ("name", "type"):
        if key not in item:
            raise _error(f"node entry without '{key}'", loc)
        if not isinstance(item[key], str):
            raise _error(f"node {key} must be a string, got {item[key]!r}", (path, item.lines[key]))
    name = item["name"]
    if not NAME_PATTERN.match(name) or name in RESERVED_NAMES:
        raise _error(f"invalid node name '{name}' (letters, digits and _; not {', '.join(RESERVED_NAMES)})",
                     (path, item.lines["name"]))
    params = _mapping(item.get("params"), f"params of node '{name}'", (path, item.lines.get("params", line)))
    remap = _mapping(item.get("remap"), f"remap of node '{name}'", (path, item.lines.get("remap", line)))
    queues = _mapping(item.get("queues"), f"queues of node '{name}'", (path, item.lines.get("queues", line)))
    for port, topic in remap.items():
        if not isinstance(topic, str) or not topic:
            raise _error(f"node '{name}': remap of '{port}' must be a topic name, got {topic!r}",
                         (path, remap.lines[port]))
    return _NodeEntry(name, item["type"], loc, (path, item.lines["type"]), _plain(params), _key_locs(params, path),
                      (path, item.lines.get("params", line)), _plain(remap), {k: (path, remap.lines[k]) for k in remap},
                      _plain(queues), {k: (path, queues.lines[k]) for k in queues})


def _set_param(entry: _NodeEntry, keys: tuple[str, ...], value, loc: Loc) -> None:
    target = entry.params
    for depth, key in enumerate(keys[:-1]):
        sub = target.get(key)
        if not isinstance(sub, dict):
            sub = target[key] = {}
            entry.param_locs[keys[:depth + 1]] = loc
        target = sub
    target[keys[-1]] = value
    for k in [k for k in entry.param_locs if k[:len(keys)] == keys]:
        del entry.param_locs[k]
    entry.param_locs[keys] = loc


def _apply_override(composite: _Composite, dotted: str, value, loc: Loc) -> None:
    """``node.param[.sub] = value`` or ``clock.key = value`` on ``composite``."""
    parts = tuple(str(dotted).split("."))
    if len(parts) < 2 or not all(parts):
        raise _error(f"override '{dotted}' must be node.param (or clock.mode / clock.rate)", loc)
    if parts[0] == "clock":
        if len(parts) != 2:
            raise _error(f"override '{dotted}': clock options are clock.mode and clock.rate", loc)
        composite.clock[parts[1]] = value
        composite.clock_locs[parts[1]] = loc
        return
    entry = next((n for n in composite.nodes if n.name == parts[0]), None)
    if entry is None:
        names = ", ".join(n.name for n in composite.nodes) or "none"
        raise _error(f"override '{dotted}': no node named '{parts[0]}' (nodes: {names})", loc)
    _set_param(entry, parts[1:], value, loc)


def _compose(path: Path, stack: tuple[Path, ...], loc: Loc | None = None) -> _Composite:
    resolved = path.resolve()
    if resolved in stack:
        chain = " -> ".join(str(p) for p in (*stack, resolved))
        raise _error(f"include cycle: {chain}", loc)
    data = _load_yaml(path, loc)
    src = str(path)
    for key in data:
        if key not in TOP_KEYS:
            raise LaunchError(f"unknown top-level key '{key}' (known: {', '.join(TOP_KEYS)})", src, data.lines[key])
    composite = _Composite([], {}, {})
    includes = data.get("include")
    if includes is not None:
        if not isinstance(includes, _Sequence):
            raise LaunchError("include must be a list of files (or of {file, set} mappings)", src,
                              data.lines["include"])
        for item, line in zip(includes, includes.lines):
            _include(composite, item, path, (src, line), stack + (resolved,))
    clock = _mapping(data.get("clock"), "clock", (src, data.lines.get("clock")))
    composite.clock.update(_plain(clock))
    composite.clock_locs.update({k: (src, clock.lines[k]) for k in clock})
    nodes = data.get("nodes")
    if nodes is not None:
        if not isinstance(nodes, _Sequence):
            raise LaunchError("nodes must be a list of node entries", src, data.lines["nodes"])
        for item, line in zip(nodes, nodes.lines):
            entry = _parse_node(item, src, line)
            first = next((n for n in composite.nodes if n.name == entry.name), None)
            if first is not None:
                raise _error(f"node name '{entry.name}' is already used at {first.loc[0]}:{first.loc[1]}",
                             entry.loc)
            composite.nodes.append(entry)
    return composite


def _include(composite: _Composite, item, including: Path, loc: Loc, stack: tuple[Path, ...]) -> None:
    overrides = None
    if isinstance(item, _Mapping):
        for key in item:
            if key not in ("file", "set"):
                raise _error(f"unknown include key '{key}' (known: file, set)", (loc[0], item.lines[key]))
        overrides = _mapping(item.get("set"), "include set", (loc[0], item.lines.get("set", loc[1])))
        item = item.get("file")
    if not isinstance(item, str) or not item:
        raise _error(f"include needs a file name, got {_plain(item)!r}", loc)
    target = including.parent / item
    if not target.is_file():
        raise _error(f"included launch file {item} not found (looked for {target})", loc)
    sub = _compose(target, stack, loc)
    for dotted, value in (overrides or {}).items():
        _apply_override(sub, dotted, _plain(value), (loc[0], overrides.lines[dotted]))
    for entry in sub.nodes:
        first = next((n for n in composite.nodes if n.name == entry.name), None)
        if first is not None:
            raise _error(f"node name '{entry.name}' from {item} is already used at {first.loc[0]}:{first.loc[1]}",
                         loc)
        composite.nodes.append(entry)
    composite.clock.update(sub.clock)
    composite.clock_locs.update(sub.clock_locs)


# ---------------------------------------------------------------------- validation

@dataclass(frozen=True)
class QueueOptions(ConfigMixin):
    """A launch file's queue entry: size (default: the port's), policy, cost_ms [ms of
    simulated time per message]."""

    size: int = 0
    policy: str = "drop_oldest"
    cost_ms: float = 0.0


@dataclass(frozen=True)
class ResolvedNode:
    """A validated node: its class, parameters, topic per port and queue per input."""

    name: str
    type_name: str
    cls: type[Node]
    params: object
    topics: dict
    queues: dict
    defined_at: str

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type_name, "params": self.params.to_dict(), "topics": self.topics,
                "queues": {k: dataclasses.asdict(q) for k, q in self.queues.items()},
                "defined_at": self.defined_at}


@dataclass(frozen=True)
class Launch:
    """A validated launch: the file, overrides, clock options and nodes in launch order."""

    path: str
    overrides: tuple[str, ...]
    clock: ClockConfig
    nodes: tuple[ResolvedNode, ...]

    def to_dict(self) -> dict:
        return {"file": self.path, "overrides": list(self.overrides), "clock": self.clock.to_dict(),
                "nodes": [n.to_dict() for n in self.nodes]}


def _config_error_loc(message: str, locs: dict, fallback: Loc) -> Loc:
    """Location of the deepest key quoted in a config error message."""
    for keys in sorted(locs, key=len, reverse=True):
        if f"'{keys[-1]}'" in message:
            return locs[keys]
    return fallback


def _check_keys(cls, data: dict, locs: dict, prefix: tuple, node: str, fallback: Loc) -> None:
    """Unknown and missing parameters, recursively through nested config sections."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        path = prefix + (key,)
        loc = locs.get(path, fallback)
        if key not in fields:
            raise _error(f"node '{node}': unknown parameter '{'.'.join(map(str, path))}' "
                         f"(known: {', '.join(fields) or 'none'})", loc)
        hint = hints[key]
        if isinstance(hint, type) and issubclass(hint, ConfigMixin) and isinstance(value, dict):
            _check_keys(hint, value, locs, path, node, loc)
    for name, f in fields.items():
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _error(f"node '{node}': missing parameter '{'.'.join((*map(str, prefix), name))}'", fallback)


def _resolve_node(entry: _NodeEntry, types: dict) -> ResolvedNode:
    cls = types.get(entry.type_name)
    if cls is None:
        raise _error(f"node '{entry.name}': unknown node type '{entry.type_name}' "
                     f"(known: {', '.join(sorted(types))})", entry.type_loc)
    _check_keys(cls.Params, entry.params, entry.param_locs, (), entry.name, entry.params_loc)
    try:
        params = cls.Params.from_dict(entry.params)
    except (ConfigError, TypeError, ValueError) as exc:
        message = str(exc)
        raise _error(f"node '{entry.name}' ({entry.type_name}): {message}",
                     _config_error_loc(message, entry.param_locs, entry.params_loc)) from None
    ports = {**cls.inputs, **cls.outputs}
    for port, loc in entry.remap_locs.items():
        if port not in ports:
            raise _error(f"node '{entry.name}': no port '{port}' to remap (ports of {entry.type_name}: "
                         f"{', '.join(ports) or 'none'})", loc)
    topics = {port: entry.remap.get(port, p.topic) for port, p in ports.items()}
    queues = {}
    for port, p in cls.inputs.items():
        raw, loc = entry.queues.get(port, {}), entry.queue_locs.get(port, entry.loc)
        try:
            options = QueueOptions.from_dict(raw)
            queues[port] = QueueConfig(options.size or p.queue_size, options.policy, round(options.cost_ms * 1e6))
        except (ConfigError, ValueError) as exc:
            raise _error(f"node '{entry.name}': queue of '{port}': {exc}", loc) from None
    for port, loc in entry.queue_locs.items():
        if port not in cls.inputs:
            raise _error(f"node '{entry.name}': no input '{port}' for a queue (inputs of {entry.type_name}: "
                         f"{', '.join(cls.inputs) or 'none'})", loc)
    return ResolvedNode(entry.name, entry.type_name, cls, params, topics, queues, f"{entry.loc[0]}:{entry.loc[1]}")


def _check_topic_types(nodes: list[ResolvedNode], entries: list[_NodeEntry]) -> None:
    """Every topic carries one message type (the standard one for standard names)."""
    seen: dict[str, tuple[type, str]] = {name: (t, "the standard topic list") for name, t in STANDARD_TOPICS.items()}
    for node, entry in zip(nodes, entries):
        for port, p in {**node.cls.inputs, **node.cls.outputs}.items():
            topic = node.topics[port]
            known = seen.setdefault(topic, (p.message_type, f"node '{node.name}' port '{port}'"))
            if known[0] is not p.message_type:
                raise _error(f"node '{node.name}' port '{port}' ({p.message_type.__name__}) is on topic "
                             f"'{topic}', which carries {known[0].__name__} ({known[1]})",
                             entry.remap_locs.get(port, entry.loc))


def parse_override(text: str) -> tuple[str, object]:
    """``'node.param=value'`` -> (``'node.param'``, value parsed as a YAML scalar)."""
    loc = (f"--set {text}", None)
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise _error("expected node.param=value", loc)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise _error(f"the value is not valid YAML ({getattr(exc, 'problem', exc)})", loc) from None
    if isinstance(value, (dict, list)):
        raise _error("the value must be a scalar (a number, string, true/false or null)", loc)
    return key.strip(), value


def load_launch(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Launch:
    """Reads, composes and validates a launch file; LaunchError with ``file:line`` on a mistake."""
    path = Path(path)
    if not path.is_file():
        raise LaunchError(f"launch file {path} not found")
    composite = _compose(path, ())
    for text in overrides:
        key, value = parse_override(text)
        _apply_override(composite, key, value, (f"--set {text}", None))
    if not composite.nodes:
        raise LaunchError("the launch defines no nodes", path)
    for key, loc in composite.clock_locs.items():
        if key not in ("mode", "rate"):
            raise _error(f"unknown clock option '{key}' (known: mode, rate)", loc)
    try:
        clock = ClockConfig.from_dict(composite.clock)
    except (ConfigError, ValueError) as exc:
        message = str(exc)
        loc = next((composite.clock_locs[k] for k in composite.clock_locs if k in message), (str(path), None))
        raise _error(message, loc) from None
    types = node_types()
    nodes = [_resolve_node(entry, types) for entry in composite.nodes]
    _check_topic_types(nodes, composite.nodes)
    return Launch(str(path), tuple(overrides), clock, tuple(nodes))
