"""Executors: where the sweep's tasks run. Each yields task results as they complete.

- ``local`` with one job: inline, in this process, in order;
- ``local`` with N jobs: a ``ProcessPoolExecutor`` of N spawned processes (spawn, not
  fork: the driver may hold threads, e.g. the progress display);
- ``ray``: one Ray task per sweep task (1 CPU each) on the cluster at ``address``, or
  on a local Ray instance of ``jobs`` CPUs started here and shut down afterwards. A Ray
  instance already initialised in this process is used as it is.

Every executor runs the same :func:`navion.sweep.worker.run_task`, so the results
differ only in their timing figures.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator, Sequence

from .errors import SweepError

EXECUTORS = ("local", "ray")


def default_jobs() -> int:
    return os.cpu_count() or 1


def run_inline(fn: Callable, tasks: Sequence) -> Iterator:
    for task in tasks:
        yield fn(task)


def run_local(fn: Callable, tasks: Sequence, jobs: int) -> Iterator:
    """``fn`` over ``tasks`` on ``jobs`` processes (inline when ``jobs`` is 1)."""
    if jobs <= 1 or len(tasks) <= 1:
        yield from run_inline(fn, tasks)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        futures = [pool.submit(fn, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def import_ray():
    """The ``ray`` module, or SweepError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SweepError("the ray executor needs Ray: pip install 'navion-sim[ray]' "
                         "(or use --executor local)") from None
    return ray


def run_ray(fn: Callable, tasks: Sequence, jobs: int | None = None, address: str | None = None) -> Iterator:
    """``fn`` over ``tasks`` as Ray tasks; starts (and stops) a local instance unless one is
    initialised or ``address`` names a cluster."""
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if address is None:
                ray.init(num_cpus=jobs or default_jobs(), **options)
            else:
                ray.init(address=address, **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SweepError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {exc}") from None
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        pending = [remote.remote(task) for task in tasks]
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        finally:
            for ref in pending:
                ray.cancel(ref)
    finally:
        if started:
            ray.shutdown()
