"""Run a function over many tasks in worker processes, in order, with bounded memory.

Used for decoding and preprocessing images during ``scan`` and for preparing
training digits. Workers are never forked from a parent that already holds
TensorFlow's threads, they die with the process that started them however
it dies (SIGKILL included), and a worker that dies mid-task costs that
task's result, not the run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("batchdigits")

#: prctl(2) option: the signal this process gets when its parent dies.
PR_SET_PDEATHSIG = 1
#: How often a worker without prctl or pidfd checks that the run is still there.
WATCHDOG_SECONDS = 0.5

#: What a task whose worker died is replaced with: ``(task, reason) -> result``.
OnWorkerDeath = Callable[[Any, str], Any]


def available_cores() -> int:
    """Cores this process may run on (respects affinity masks and containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent exits; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _exit_with(starter: int, parent: int) -> None:
    """Exit as soon as ``starter`` is gone: a thread that waits on a pidfd
    (Linux), else polls every :data:`WATCHDOG_SECONDS`."""
    try:
        handle: int | None = os.pidfd_open(starter)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])
        else:
            while os.getppid() == parent and process_alive(starter):
                time.sleep(WATCHDOG_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="starter-watchdog", daemon=True).start()


def start_worker(starter: int) -> None:
    """Start-up of every worker process the project starts (pass it as the pool's
    initializer with ``os.getpid()`` of the starting process).

    A worker must not outlive the run: when the main process is SIGKILLed
    (the OOM killer, ``timeout -s KILL``, a stopped container) nothing in it
    can shut the pool down, and an orphaned worker would wait on its task
    pipe forever (it holds that pipe's write end too, so it never sees EOF).
    A worker forked by ``starter`` itself asks the kernel to kill it when
    its parent dies (prctl). A worker of the forkserver cannot: the
    forkserver stays up as long as any of its children do, so such a worker,
    and any worker where there is no prctl, watches ``starter`` from a
    thread. A starter that died before this ran is caught by the final check.

    The parent handles Ctrl-C and SIGTERM and shuts the pool down; a worker
    dying of its own KeyboardInterrupt would only add tracebacks.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    if not (parent == starter and _set_parent_death_signal()):
        _exit_with(starter, parent)
    if not process_alive(starter) or os.getppid() != parent:
        os._exit(1)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (it may be another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def new_pool(jobs: int) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process (see :func:`start_worker`)."""
    return ProcessPoolExecutor(
        jobs, mp_context=_context(), initializer=start_worker, initargs=(os.getpid(),)
    )


def _death_reason(workers: list[Any]) -> str:
    """Why a broken pool's worker died, as far as its exit status tells."""
    for worker in workers:
        worker.join(timeout=1.0)
        code = worker.exitcode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker process died of {name}"
        if code not in (None, 0):
            return f"the worker process exited with status {code}"
    return "the worker process died"


class Isolated:
    """Runs tasks one at a time in a single worker process, replacing the
    worker after it dies, so that a death is pinned on the one task that
    caused it. Used to retry tasks after a pool broke."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def run(self, function: Callable[[T], R], task: T, on_worker_death: OnWorkerDeath) -> R:
        if self._pool is None:
            self._pool = new_pool(1)
        future = self._pool.submit(function, task)
        workers = list(getattr(self._pool, "_processes", {}).values())
        try:
            return future.result()
        except BrokenProcessPool:
            # The pool's own thread reaps the dead worker; reaping it here as
            # well would race it and could lose the exit status.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            reason = _death_reason(workers)
            return on_worker_death(task, reason)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def run_isolated(
    function: Callable[[T], R], tasks: Iterable[T], on_worker_death: OnWorkerDeath
) -> list[R]:
    """``function(task)`` for each task, each alone in a worker process; a task
    whose worker dies gets ``on_worker_death(task, reason)`` instead."""
    isolated = Isolated()
    try:
        return [isolated.run(function, task, on_worker_death) for task in tasks]
    finally:
        isolated.close()


def _done(result: R) -> Future[R]:
    future: Future[R] = Future()
    future.set_result(result)
    return future


class OrderedResults(Iterator[R]):
    """Results of :func:`ordered_map`, in task order; a context manager that
    shuts the workers down however the caller leaves."""

    def __init__(
        self,
        jobs: int,
        function: Callable[[T], R],
        tasks: Iterator[T],
        limit: int,
        on_worker_death: OnWorkerDeath | None,
    ) -> None:
        self._jobs = jobs
        self._function = function
        self._tasks = tasks
        self._limit = limit
        self._on_worker_death = on_worker_death
        self._pool = new_pool(jobs)
        self._pending: deque[tuple[T, Future[R]]] = deque()
        try:
            # Submitting now starts the workers at once, before the caller
            # goes on (to load TensorFlow, say): they are forked from a clean
            # parent and their first chunks overlap with the caller's start-up.
            self._fill()
        except BaseException:
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise

    def _fill(self) -> None:
        for task in islice(self._tasks, self._limit - len(self._pending)):
            self._pending.append((task, self._pool.submit(self._function, task)))

    def __next__(self) -> R:
        if not self._pending:
            self.close()
            raise StopIteration
        task, future = self._pending.popleft()
        try:
            result = future.result()
        except BrokenProcessPool:
            if self._on_worker_death is None:
                raise
            result = self._recover(task)
        self._fill()
        return result

    def _recover(self, failed: T) -> R:
        """A worker died, which breaks the whole pool and fails every task in
        flight. Run those tasks again one at a time, so that only a task that
        kills its worker again is given up (a worker killed from outside, by
        the OOM killer say, costs nothing), then carry on with a fresh pool."""
        suspects = [failed] + [task for task, _ in self._pending]
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        log.warning("a worker process died; retrying its %d tasks one at a time", len(suspects))
        assert self._on_worker_death is not None
        results = run_isolated(self._function, suspects, self._on_worker_death)
        self._pool = new_pool(self._jobs)
        retried = zip(suspects[1:], results[1:], strict=True)
        self._pending.extend((task, _done(result)) for task, result in retried)
        return results[0]

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
    on_worker_death: OnWorkerDeath | None = None,
) -> OrderedResults[R] | _Inline[R]:
    """``function(task)`` for each task, in order; use it as a context manager.

    With ``jobs <= 1`` everything runs in this process. Otherwise worker
    processes start at once and at most ``max_pending`` tasks (default
    ``3 * jobs``) are in flight, so results never pile up faster than the
    caller consumes them. When a worker dies mid-task (a decoder that
    segfaults, a kill), ``on_worker_death(task, reason)`` stands in for the
    result of each task that kills its worker again when retried alone;
    without it the death raises ``BrokenProcessPool``.
    """
    if jobs <= 1:
        return _Inline(function, iter(tasks))
    return OrderedResults(jobs, function, iter(tasks), max_pending or 3 * jobs, on_worker_death)
