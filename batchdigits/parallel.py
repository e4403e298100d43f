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


class OrderedResults(Iterator[R]):
    """Results of :func:`ordered_map`, in task order; a context manager that
    shuts the workers down however the caller leaves."""

    def __init__(
        self,
        pool: ProcessPoolExecutor,
        function: Callable[[T], R],
        tasks: Iterator[T],
        limit: int,
    ) -> None:
        self._pool = pool
        self._function = function
        self._tasks = tasks
        # Submitting now starts the workers at once, before the caller goes
        # on (to load TensorFlow, say): they are forked from a clean parent
        # and their first chunks overlap with the caller's own start-up.
        self._pending: deque[Future[R]] = deque(
            pool.submit(function, task) for task in islice(tasks, limit)
        )

    def __next__(self) -> R:
        if not self._pending:
            self.close()
            raise StopIteration
        result = self._pending.popleft().result()
        for task in islice(self._tasks, 1):
            self._pending.append(self._pool.submit(self._function, task))
        return result

    def close(self) -> None:
        # Waiting is bounded by one chunk per worker: pending chunks are
        # cancelled. It also matters at exit: a pool still shutting down when
        # the interpreter exits races CPython's own exit hook, which then
        # prints an 'OSError: Bad file descriptor' traceback (seen on Ctrl-C).
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OrderedResults[R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Inline(Iterator[R]):
    """The one-process variant: runs each task when its result is asked for."""

    def __init__(self, function: Callable[[T], R], tasks: Iterator[T]) -> None:
        self._results = map(function, tasks)

    def __next__(self) -> R:
        return next(self._results)

    def close(self) -> None:
        pass

    def __enter__(self) -> _Inline[R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def ordered_map(
    function: Callable[[T], R],
    tasks: Iterable[T],
    jobs: int,
    max_pending: int | None = None,
) -> OrderedResults[R] | _Inline[R]:
    """``function(task)`` for each task, in order; use it as a context manager.

    With ``jobs <= 1`` everything runs in this process. Otherwise worker
    processes start at once and at most ``max_pending`` tasks (default
    ``3 * jobs``) are in flight, so results never pile up faster than the
    caller consumes them.
    """
    if jobs <= 1:
        return _Inline(function, iter(tasks))
    pool = ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_ignore_interrupts)
    try:
        return OrderedResults(pool, function, iter(tasks), max_pending or 3 * jobs)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
