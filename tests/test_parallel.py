"""The worker pool: results in task order, and never more than a bounded
number of tasks ahead of the consumer (what keeps scan's memory flat)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from batchdigits.parallel import ordered_map


def _record_start(task: tuple[Path, int]) -> int:
    folder, index = task
    (folder / str(index)).touch()
    # Early tasks finish last, so an unordered pool would return them late.
    time.sleep(0.02 * (index % 3 == 0))
    return index * index


def _started(folder: Path) -> int:
    return sum(1 for _ in folder.iterdir())


def test_results_come_back_in_task_order(tmp_path: Path) -> None:
    tasks = [(tmp_path, index) for index in range(40)]
    with ordered_map(_record_start, tasks, jobs=2) as results:
        assert list(results) == [index * index for index in range(40)]


def test_workers_never_run_more_than_max_pending_ahead(tmp_path: Path) -> None:
    max_pending = 4
    tasks = ((tmp_path, index) for index in range(30))
    consumed = 0
    with ordered_map(_record_start, tasks, jobs=2, max_pending=max_pending) as results:
        for _ in results:
            consumed += 1
            time.sleep(0.03)  # a slow consumer: the model, say
            assert _started(tmp_path) <= consumed + max_pending
    assert consumed == 30


def test_leaving_early_starts_no_more_tasks(tmp_path: Path) -> None:
    tasks = ((tmp_path, index) for index in range(1000))
    with ordered_map(_record_start, tasks, jobs=2, max_pending=6) as results:
        next(results)
    started = _started(tmp_path)
    time.sleep(0.2)
    assert _started(tmp_path) == started <= 1 + 6


def test_one_job_runs_in_this_process(tmp_path: Path) -> None:
    pids: list[int] = []

    def task(index: int) -> int:
        pids.append(os.getpid())
        return index

    with ordered_map(task, range(5), jobs=1) as results:
        assert list(results) == list(range(5))
    assert set(pids) == {os.getpid()}
