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
def progress_bar(description: str, unit: str = "items",
                 realtime: bool = False) -> Iterator[Callable[..., None]]:
    """Yields ``advance(done, total[, data_time_s])``. On a terminal it draws a bar with the
    rate in ``unit``/s (and, with ``realtime``, the real-time factor: data time over wall
    time); in logs it prints a line at every 10 % instead."""
    start = time.perf_counter()

    def rates(done: int, data_time_s: float | None) -> str:
        elapsed = max(time.perf_counter() - start, 1e-9)
        text = f"{done / elapsed:.1f} {unit}/s"
        if realtime and data_time_s is not None:
            text += f", {data_time_s / elapsed:.2f}x real time"
        return text

    if not sys.stderr.isatty():
        next_report = [0.1]

        def report(done: int, total: int, data_time_s: float | None = None) -> None:
            if total and (done / total >= next_report[0] or done == total):
                print(f"{description}: {done}/{total} {unit} ({rates(done, data_time_s)})", file=sys.stderr)
                next_report[0] = min(1.0, (done / total // 0.1 + 1) * 0.1)

        yield report
        return
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=None, rate="")

        def advance(done: int, total: int, data_time_s: float | None = None) -> None:
            bar.update(task, completed=done, total=total, rate=rates(done, data_time_s))

        yield advance
