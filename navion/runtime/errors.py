"""The runtime's user-facing error (kept import-light: ``navion.errors`` lists it)."""
from __future__ import annotations

from pathlib import Path


class LaunchError(Exception):
    """A malformed or invalid launch file or ``--set`` override; names the file and line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path, self.line = (None if path is None else str(path)), line
        where = "" if self.path is None else (self.path if line is None else f"{self.path}:{line}") + ": "
        super().__init__(where + message)
