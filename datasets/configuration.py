"""Loading of the project's frozen config dataclasses from dicts and yaml files.

Every module keeps one frozen dataclass of options with documented defaults and units,
validated in ``__post_init__``. :class:`ConfigMixin` adds ``from_dict``, ``from_yaml``
and ``to_dict``: unknown keys and values of the wrong type are rejected with a
:class:`ConfigError` naming the file and line, before the dataclass's own checks run.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path

from .calibration import load_yaml_text, read_yaml_file
from .errors import DatasetError

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class ConfigError(DatasetError, ValueError):
    """An option is unknown, of the wrong type or out of range (names file and line)."""


def _key_line(text: str | None, key: str) -> int | None:
    if text is None:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(f"{key}:"):
            return number
    return None


def _coerce(value, hint, name: str, text: str | None = None):
    """``value`` converted to the annotated type ``hint``, or TypeError with the reason."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, name)
            except TypeError as exc:
                errors.append(str(exc))
        raise TypeError(errors[0])
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"'{name}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], name) for v in value)
        if len(value) != len(args):
            raise TypeError(f"'{name}' must have {len(args)} elements, got {len(value)}")
        return tuple(_coerce(v, a, name) for v, a in zip(value, args))
    if isinstance(hint, type) and issubclass(hint, ConfigMixin):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"'{name}' must be a mapping of {hint.__name__} options, got {value!r}")
        return hint.from_dict(value, _text=text)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"'{name}' must be a number, got {value!r}")
        if not math.isfinite(value):
            raise TypeError(f"'{name}' must be finite, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"'{name}' must be an integer, got {value!r}")
        if not _INT64_MIN <= value <= _INT64_MAX:  # numpy, OpenCV and numba take int64 at most
            raise TypeError(f"'{name}' must be an integer within int64, got {value}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"'{name}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"'{name}' must be a string, got {value!r}")
        return value
    return value


class ConfigMixin:
    """``from_dict``/``from_yaml``/``to_dict`` for a frozen config dataclass."""

    @classmethod
    def from_dict(cls, data, source: str | None = None, _text: str | None = None):
        """Builds the config from a mapping of option names; ConfigError on a bad key or value."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__}: expected a mapping of options, got {type(data).__name__}", source)
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        values = {}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(f"{cls.__name__}: unknown option '{key}' (known: {', '.join(names)})",
                                  source, _key_line(_text, str(key)))
            try:
                values[key] = _coerce(value, hints[key], key, _text)
            except TypeError as exc:
                raise ConfigError(f"{cls.__name__}: {exc}", source, _key_line(_text, key)) from None
            except ConfigError as exc:  # inside a nested section: keep the inner key's line
                message = str(exc).split(": ", 1)[-1] if exc.line is not None else str(exc)
                raise ConfigError(f"{cls.__name__}.{key}: {message}", source,
                                  exc.line or _key_line(_text, key)) from None
        try:
            return cls(**values)
        except (TypeError, ValueError, DatasetError) as exc:
            if isinstance(exc, DatasetError) and exc.path is not None:
                raise
            message = str(exc)
            line = next((_key_line(_text, k) for k in values if re.search(rf"\b{re.escape(k)}\b", message)), None)
            raise ConfigError(message, source, line) from None

    @classmethod
    def from_yaml(cls, path: str | Path, section: str | None = None):
        """Reads the options from a yaml file (optionally one top-level ``section`` of it)."""
        text = read_yaml_file(Path(path))
        data = load_yaml_text(text, str(path)) if text.strip() else {}
        if section is not None:
            data = data.get(section, {})
        return cls.from_dict(data, source=str(path), _text=text)

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<yaml>"):
        """Like :meth:`from_yaml` on yaml text."""
        data = load_yaml_text(text, source) if text.strip() else {}
        return cls.from_dict(data, source=source, _text=text)

    def to_dict(self) -> dict:
        """JSON/yaml-safe dict of the options (tuples become lists)."""
        def plain(v):
            if isinstance(v, ConfigMixin):
                return v.to_dict()
            return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}
