"""Run a function over many tasks in worker processes, in order, with bounded memory.

Used for decoding and preprocessing images during ``scan`` and for preparing
training digits. Workers are never forked from a parent that already holds
TensorFlow's threads.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def available_cores() -> int:
    """Cores this process may run on (respects affinity masks and containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _ignore_interrupts() -> None:
    # The parent handles Ctrl-C and SIGTERM and shuts the pool down; a worker
    # dying of its own KeyboardInterrupt would only add tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _context() -> multiprocessing.context.BaseContext:
    """Fork while it is safe (no TensorFlow threads yet), else a clean forkserver.

    Forking keeps the API usable from scripts without an
    ``if __name__ == "__main__"`` guard; once TensorFlow is loaded, forking
    could copy a locked mutex into the child, so a forkserver is used.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def ordered_map(
    function: Callable[[T], R],
    tasks: Iterable[T],
    jobs: int,
    max_pending: int | None = None,
) -> Iterator[R]:
    """Yield ``function(task)`` for each task, in order.

    With ``jobs <= 1`` everything runs in this process. Otherwise at most
    ``max_pending`` tasks (default ``3 * jobs``) are in flight, so results
    never pile up faster than the caller consumes them.
    """
    if jobs <= 1:
        for task in tasks:
            yield function(task)
        return
    limit = max_pending or 3 * jobs
    pool = ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_ignore_interrupts)
    try:
        remaining = iter(tasks)
        pending: deque[Future[R]] = deque(
            pool.submit(function, t) for t in islice(remaining, limit)
        )
        while pending:
            result = pending.popleft().result()
            for task in islice(remaining, 1):
                pending.append(pool.submit(function, task))
            yield result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
