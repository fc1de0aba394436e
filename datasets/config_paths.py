"""Dotted knob paths on nested config dataclasses: listing them and applying overrides,
and the yaml line of every key, for ``file:line`` errors about them.

A knob path names one leaf option of a frozen config dataclass, through its nested
sections: ``frontend.max_features`` on ``PipelineConfig``, ``backend.max_bits`` on
``HardwareConfig``. Overrides rebuild every section they touch with ``from_dict``
(``ConfigMixin`` sections: type checks and coercion) or ``dataclasses.replace`` (plain
dataclasses), so each section's own ``__post_init__`` validation runs.
"""
from __future__ import annotations

import dataclasses

import yaml

from .configuration import ConfigMixin


def _init_fields(config) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(config) if f.init]


def leaf_paths(config, prefix: str = "") -> list[str]:
    """Every leaf option of ``config`` as a dotted path (sections recursed into), in field order."""
    out = []
    for f in _init_fields(config):
        value = getattr(config, f.name)
        path = f"{prefix}{f.name}"
        out += leaf_paths(value, f"{path}.") if dataclasses.is_dataclass(value) else [path]
    return out


def unknown_path_message(config, path: str, prefix: str = "") -> str | None:
    """None when ``path`` names a leaf of ``config``; else why not, listing the valid paths
    under the deepest section that the path does reach (all of them when it reaches none)."""
    node, parts = config, path.split(".")
    for depth, part in enumerate(parts):
        names = [f.name for f in _init_fields(node)]
        section = ".".join(parts[:depth])
        if part not in names:
            valid = leaf_paths(node, f"{prefix}{section}." if section else prefix)
            where = f" under '{prefix}{section}'" if section else ""
            return f"unknown knob '{prefix}{path}'; valid knobs{where}: {', '.join(valid)}"
        node = getattr(node, part)
        if depth == len(parts) - 1 and dataclasses.is_dataclass(node):
            valid = leaf_paths(node, f"{prefix}{path}.")
            return f"'{prefix}{path}' is a section, not an option; its knobs: {', '.join(valid)}"
        if depth < len(parts) - 1 and not dataclasses.is_dataclass(node):
            return f"unknown knob '{prefix}{path}': '{prefix}{'.'.join(parts[:depth + 1])}' is an option, not a section"
    return None


def _nest(overrides: dict[str, object]) -> dict:
    tree: dict = {}
    for path, value in overrides.items():
        *sections, leaf = path.split(".")
        node = tree
        for s in sections:
            node = node.setdefault(s, {})
        node[leaf] = value
    return tree


def _apply(config, tree: dict):
    changes = {}
    for name, value in tree.items():
        current = getattr(config, name)
        changes[name] = _apply(current, value) if dataclasses.is_dataclass(current) else value
    if isinstance(config, ConfigMixin):
        values = {f.name: getattr(config, f.name) for f in _init_fields(config)}
        return type(config).from_dict({**values, **changes})
    return dataclasses.replace(config, **changes)


def apply_overrides(config, overrides: dict[str, object]):
    """A copy of ``config`` with each dotted ``path: value`` of ``overrides`` set.

    The paths must be valid (:func:`unknown_path_message`). Bad values raise the
    section's own error: ``ConfigError``, ``ValueError`` or ``TypeError``.
    """
    return _apply(config, _nest(overrides)) if overrides else config


def yaml_key_lines(text: str) -> dict[tuple, int]:
    """1-based line of every mapping key and list item of yaml ``text``, by path (keys and
    list indices); call after the text has parsed."""
    return _node_lines(yaml.compose(text, Loader=yaml.SafeLoader))


def _node_lines(node, prefix: tuple = ()) -> dict[tuple, int]:
    out = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out.update(_node_lines(value, prefix + (key.value,)))
            out[prefix + (key.value,)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_node_lines(item, prefix + (i,)))
            out[prefix + (i,)] = item.start_mark.line + 1
    return out
