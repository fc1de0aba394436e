"""Progress reporting for long CLI work: a rich bar on a terminal, sparse lines otherwise."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


@contextmanager
def progress_bar(description: str, unit: str = "items") -> Iterator[Callable[[int, int], None]]:
    """Yields ``advance(done, total)``. On a terminal it draws a bar with the rate in
    ``unit``/s; in logs it prints a line at every 10 % instead."""
    start = time.perf_counter()
    if not sys.stderr.isatty():
        next_report = [0.1]

        def report(done: int, total: int) -> None:
            if total and (done / total >= next_report[0] or done == total):
                rate = done / max(time.perf_counter() - start, 1e-9)
                print(f"{description}: {done}/{total} {unit} ({rate:.1f} {unit}/s)", file=sys.stderr)
                next_report[0] = min(1.0, (done / total // 0.1 + 1) * 0.1)

        yield report
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=None, rate="")

        def advance(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - start, 1e-9)
            bar.update(task, completed=done, total=total, rate=f"{rate:.1f} {unit}/s")

        yield advance
