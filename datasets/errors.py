"""Exception and warning bookkeeping shared by every dataset reader and writer."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


class DatasetError(Exception):
    """A dataset file is missing, malformed or inconsistent.

    The message always names the file, and the line when one is at fault, so the
    CLI can print it as a single line.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        super().__init__(where + message)


class WarningCounter:
    """Counts tolerated input problems by kind and prints one warning per kind.

    ``counts`` maps a kind (for example ``"missing_image"``) to how often it was seen.
    The first occurrence of each kind is printed to ``stream`` (stderr by default);
    later ones are only counted.
    """

    def __init__(self, stream=None, quiet: bool = False):
        self.counts: Counter[str] = Counter()
        self._stream = stream
        self._quiet = quiet

    def warn(self, kind: str, message: str, n: int = 1) -> None:
        if n <= 0:
            return
        first = kind not in self.counts
        self.counts[kind] += n
        if first and not self._quiet:
            stream = self._stream if self._stream is not None else sys.stderr
            print(f"warning [{kind}]: {message} (further '{kind}' warnings are only counted)",
                  file=stream)

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
