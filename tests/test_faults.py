"""Fault injection, in the spirit of OCRmyPDF's: what a nightly job meets.

A SIGKILLed run, a full disk, an output folder that goes away or turns
read-only, a worker that dies mid-task, a model replaced under a run: each
must leave the previous output as it was, or cost one row, never the run.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from batchdigits import cli, output, pipeline
from batchdigits.model import resolve_model, shipped_model_path

from .conftest import REPO, CountingClassifier, write_big_folder, write_digit_folder

PREVIOUS = b"file,digit,confidence,needs_review\r\nprevious.png,3,0.99,false\r\n"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    stack.append(child)
    return found


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = {pid for pid in pids if running(pid)}
        if not left:
            return left
        time.sleep(0.1)
    return {pid for pid in pids if running(pid)}


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="lists child processes through Linux /proc"
)

WORKER_SCRIPT = textwrap.dedent(
    """
    import os, sys, time, types
    from batchdigits import parallel

    mode = sys.argv[1]
    if mode == "forkserver":
        # What the pool sees once TensorFlow is loaded: no more forking.
        sys.modules["tensorflow"] = types.ModuleType("tensorflow")
    if mode == "polling":  # neither prctl nor pidfd: macOS, say
        parallel._set_parent_death_signal = lambda: False
        del os.pidfd_open

    def slow(index):
        time.sleep(0.2)
        return os.getpid()

    if __name__ == "__main__":
        with parallel.ordered_map(slow, range(10_000), jobs=2) as results:
            pids = {next(results) for _ in range(6)}
            print(" ".join(map(str, pids)), flush=True)
            time.sleep(600)
    """
)


@needs_proc
@pytest.mark.parametrize("mode", ["fork", "forkserver", "polling"])
def test_workers_die_with_a_sigkilled_parent(mode: str, tmp_path: Path) -> None:
    script = tmp_path / "pool.py"  # a file: forkserver workers import their function from it
    script.write_text(WORKER_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        workers = {int(pid) for pid in process.stdout.readline().split()}
        assert len(workers) == 2
        tree = descendants(process.pid)  # the workers, and a forkserver and its tracker
        assert workers <= tree
        process.kill()
        process.wait(timeout=10)
        assert wait_gone(tree, 10) == set(), f"processes outlived their parent ({mode})"
    finally:
        process.kill()


@needs_proc
@pytest.mark.slow
def test_sigkilled_scan_leaves_no_process_and_the_next_run_is_clean(tmp_path: Path) -> None:
    folder = write_big_folder(tmp_path / "in", 3000)
    results = tmp_path / "results"
    results.mkdir()
    out = results / "r.csv"
    out.write_bytes(PREVIOUS)
    command = [sys.executable, "-m", "batchdigits", "scan", str(folder), "--out", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        lock = results / "r.csv.lock"
        while not lock.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        time.sleep(2.0)
        assert process.poll() is None, "the run ended before it could be killed"
        tree = descendants(process.pid)
        assert tree, "the run started no worker processes"
        process.kill()
        process.wait(timeout=10)
        assert wait_gone(tree, 10) == set(), "worker processes outlived the killed run"
    finally:
        process.kill()
    assert out.read_bytes() == PREVIOUS

    # What a run killed in the middle of its atomic write leaves behind.
    (results / ".r.csv.k1ll3d.tmp").write_bytes(b"half a CSV")
    for path in list(folder.iterdir())[20:]:
        path.unlink()
    after = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert after.returncode == 0, after.stderr
    assert "stale lock" in after.stderr
    assert sorted(p.name for p in results.iterdir()) == ["r.csv", "r.csv.manifest.json"]
    assert out.read_bytes().count(b"\r\n") == 21


CRASHING_SCAN = textwrap.dedent(
    """
    import ctypes, json, os, signal, sys
    import numpy as np
    from batchdigits import pipeline
    from batchdigits.options import ScanOptions

    real_iter_pages = pipeline.iter_pages

    def iter_pages(path, **kwargs):
        if path.name == "segfault.png":
            ctypes.string_at(0)  # a decoder bug: reads address 0
        if path.name == "killed.png":
            os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, say
        return real_iter_pages(path, **kwargs)

    pipeline.iter_pages = iter_pages

    class Model:
        model_id = "fake"
        def predict(self, images):
            probabilities = np.full((len(images), 10), 0.001)
            probabilities[:, 7] = 0.991
            return probabilities

    options = ScanOptions(folder=sys.argv[1], jobs=2, progress=False)
    report = pipeline.run_scan(options, classifier=Model())
    print(json.dumps([r.to_record() for r in report.results]))
    """
)


def test_a_worker_dying_mid_task_costs_one_row(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    names = [p.name for p in write_digit_folder(folder, count=40)]
    shutil.copy(folder / names[1], folder / "segfault.png")
    shutil.copy(folder / names[1], folder / "killed.png")
    finished = subprocess.run(
        [sys.executable, "-c", CRASHING_SCAN, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert finished.returncode == 0, finished.stderr
    rows = {row["file"]: row for row in json.loads(finished.stdout)}
    assert sorted(rows) == sorted([*names, "segfault.png", "killed.png"])
    assert "SIGSEGV" in rows["segfault.png"]["error"]
    assert "SIGKILL" in rows["killed.png"]["error"]
    for name in ("segfault.png", "killed.png"):
        assert rows[name]["reason"] == "unreadable" and rows[name]["digit"] is None
    assert all(rows[name]["digit"] == 7 and not rows[name]["error"] for name in names)


class FakeKeras:
    """Stands in for the Keras model in CLI runs that test the output side."""

    def __init__(self, ref: object, threads: int | None = None, on_predict=None) -> None:  # type: ignore[no-untyped-def]
        self.model_id = "fake-model"
        self._inner = CountingClassifier()
        self._on_predict = on_predict

    def predict(self, images: np.ndarray) -> np.ndarray:
        if self._on_predict is not None:
            self._on_predict()
        return self._inner.predict(images)


def scan_with(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    on_predict=None,  # type: ignore[no-untyped-def]
):  # type: ignore[no-untyped-def]
    """A CLI scan of a small folder into tmp_path/out/r.csv, which holds PREVIOUS."""
    write_digit_folder(tmp_path / "in", count=4)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "r.csv"
    out.write_bytes(PREVIOUS)
    monkeypatch.setattr(
        pipeline, "DigitClassifier", lambda ref, threads=None: FakeKeras(ref, threads, on_predict)
    )
    args = ["scan", str(tmp_path / "in"), "--out", str(out), "--jobs", "1"]
    return CliRunner().invoke(cli.app, args), out


def test_disk_full_while_writing_keeps_the_previous_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fdopen = os.fdopen

    class FillsUp(io.RawIOBase):
        """A file on a disk with 100 bytes left."""

        def __init__(self, handle: int) -> None:
            self._file = real_fdopen(handle, "wb", buffering=0)
            self._left = 100

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            if len(data) > self._left:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._left -= len(data)
            return self._file.write(data)  # type: ignore[no-any-return]

        def fileno(self) -> int:
            return self._file.fileno()

        def close(self) -> None:
            self._file.close()
            super().close()

    def fdopen(handle: int, mode: str = "r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if mode == "wb":  # the atomic write's temporary file
            return FillsUp(handle)
        return real_fdopen(handle, mode, *args, **kwargs)

    monkeypatch.setattr(output.os, "fdopen", fdopen)
    result, out = scan_with(monkeypatch, tmp_path)
    assert result.exit_code == 6, result.output
    assert "No space left on device" in result.stderr and "Traceback" not in result.output
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.csv"]


@pytest.mark.slow
def test_file_size_limit_exits_6_with_the_previous_output_intact(tmp_path: Path) -> None:
    """A real write that the kernel refuses (RLIMIT_FSIZE: EFBIG)."""
    resource = pytest.importorskip("resource")
    folder = tmp_path / "in"
    write_digit_folder(folder, count=12)
    out = tmp_path / "r.csv"
    out.write_bytes(PREVIOUS)

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))

    finished = subprocess.run(
        [sys.executable, "-m", "batchdigits", "scan", str(folder), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size,
    )
    assert finished.returncode == 6, finished.stderr
    assert "cannot write" in finished.stderr and "Traceback" not in finished.stderr
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "r.csv"]


def test_output_folder_removed_mid_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, _ = scan_with(
        monkeypatch, tmp_path, on_predict=lambda: shutil.rmtree(tmp_path / "out", True)
    )
    assert result.exit_code == 6, result.output
    assert "No such file or directory" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing recreated behind the user's back


def test_output_folder_read_only_mid_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root writes through chmod, so the remount's EROFS is injected where the
    temporary file is made."""

    def remounted_read_only() -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(output.tempfile, "mkstemp", refuse)

    result, out = scan_with(monkeypatch, tmp_path, on_predict=remounted_read_only)
    assert result.exit_code == 6, result.output
    assert "Read-only file system" in result.stderr and "Traceback" not in result.output
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.csv"]


@pytest.mark.slow
def test_model_replaced_while_a_run_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows carry the id of the model that read them, even when the file
    is replaced between the run naming the model and loading it."""
    folder = tmp_path / "in"
    write_digit_folder(folder, count=3)
    model = tmp_path / "digits.keras"
    shutil.copy(shipped_model_path(), model)
    original_id = resolve_model(model).model_id
    expected = pipeline.run_scan(pipeline.ScanOptions(folder=folder, model=model, jobs=1))

    real_discover = pipeline.discover_images

    def discover_then_replace(options):  # type: ignore[no-untyped-def]
        replacement = tmp_path / "replacement.keras"
        replacement.write_bytes(b"PK\x03\x04 a half-copied model")
        os.replace(replacement, model)
        return real_discover(options)

    monkeypatch.setattr(pipeline, "discover_images", discover_then_replace)
    report = pipeline.run_scan(pipeline.ScanOptions(folder=folder, model=model, jobs=1))
    assert [r.to_record() for r in report.results] == [r.to_record() for r in expected.results]
    assert {r.model_id for r in report.results} == {original_id}
    monkeypatch.undo()
    assert resolve_model(model).model_id != original_id
