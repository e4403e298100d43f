"""The command line: exit codes, streams, signals, locks, incremental runs."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdigits import cli, pipeline
from batchdigits.errors import ExitCode
from batchdigits.model import shipped_model_path
from batchdigits.preprocess import PREPROCESS_VERSION

from .conftest import SAMPLE_SCANS, draw_digit, write_big_folder, write_digit_folder

runner = CliRunner()


def invoke(*args: str | Path):  # type: ignore[no-untyped-def]
    return runner.invoke(cli.app, [str(a) for a in args])


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(csv.DictReader(stream))


def test_version_and_help_list_exit_codes() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("batchdigits ")
    help_text = invoke("scan", "--help").stdout
    for code in ExitCode:
        assert f"{int(code):>3}  " in help_text


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("scan", tmp_path, "--jobs", "-1").exit_code == 2
    assert invoke("scan", tmp_path, "--review-below", "1.5").exit_code == 2
    missing = invoke("scan", tmp_path / "nope", "--out", tmp_path / "r.csv")
    assert missing.exit_code == 2 and "folder not found" in missing.stderr


def test_no_images_exit_4(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    result = invoke("scan", tmp_path / "in", "--out", tmp_path / "r.csv")
    assert result.exit_code == 4 and "no image files" in result.stderr
    assert not (tmp_path / "r.csv").exists()


def test_model_missing_or_corrupt_exit_5(tmp_path: Path) -> None:
    write_digit_folder(tmp_path / "in", count=1)
    missing = invoke("scan", tmp_path / "in", "--model", tmp_path / "none.keras")
    assert missing.exit_code == 5 and "model file not found" in missing.stderr
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a model")
    # Made for this preprocessing, as it says (without that, it would not be loaded: exit 8).
    corrupt.with_suffix(".json").write_text(
        f'{{"preprocess_version": {PREPROCESS_VERSION}}}', encoding="utf-8"
    )
    result = invoke("scan", tmp_path / "in", "--model", corrupt, "--out", tmp_path / "r.csv")
    assert result.exit_code == 5 and "cannot load model" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.csv").exists()


def test_output_problems_exit_6(tmp_path: Path) -> None:
    write_digit_folder(tmp_path / "in", count=1)
    no_folder = invoke("scan", tmp_path / "in", "--out", tmp_path / "missing" / "r.csv")
    assert no_folder.exit_code == 6 and "does not exist" in no_folder.stderr
    over_input = invoke("scan", tmp_path / "in", "--out", tmp_path / "in" / "digit_00.jpg")
    assert over_input.exit_code == 6


def test_internal_error_is_one_line_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_digit_folder(tmp_path / "in", count=1)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something deep broke")

    monkeypatch.setattr(pipeline, "run_scan", broken)
    quiet = invoke("scan", tmp_path / "in", "--out", tmp_path / "r.csv")
    assert quiet.exit_code == 1
    assert quiet.stderr.strip().splitlines() == [
        "batchdigits: internal error: RuntimeError: something deep broke "
        "(rerun with --verbose for details)"
    ]
    verbose = invoke("scan", tmp_path / "in", "--out", tmp_path / "r.csv", "--verbose")
    assert verbose.exit_code == 1 and "Traceback" in verbose.stderr


@pytest.mark.slow
def test_scan_sample_scans(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    result = invoke("scan", SAMPLE_SCANS, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "100 files, 100 rows" in result.stderr
    rows = read_rows(out)
    assert len(rows) == 100
    assert list(rows[0])[:6] == ["file", "digit", "confidence", "needs_review", "reason", "error"]


@pytest.mark.slow
def test_bad_files_exit_3_and_fail_on_review_exit_7(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_digit_folder(folder, count=2)
    strict = invoke(
        "scan", folder, "--out", tmp_path / "a.csv", "--review-below", "1", "--fail-on-review"
    )
    assert strict.exit_code == 7
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "notes.txt").write_text("batch 12, scanned by J.")
    result = invoke("scan", folder, "--out", tmp_path / "b.csv")
    assert result.exit_code == 3
    assert "broken.png: " in result.stderr  # the message names the file
    assert "3 files, 3 rows" in result.stderr and "1 non-image file skipped" in result.stderr
    rows = {row["file"]: row for row in read_rows(tmp_path / "b.csv")}
    assert rows["broken.png"]["needs_review"] == "true" and rows["broken.png"]["error"]
    assert rows["digit_00.jpg"]["digit"] != ""


@pytest.mark.slow
def test_incremental_run_equals_a_fresh_run(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    paths = write_digit_folder(folder, count=5)
    out = tmp_path / "r.csv"
    assert invoke("scan", folder, "--out", out).exit_code == 0

    paths[0].unlink()  # deleted
    Image.fromarray(draw_digit("7", stroke=14)).save(paths[1])  # changed
    os.utime(paths[1], ns=(time.time_ns(), time.time_ns() + 10**9))
    Image.fromarray(draw_digit("0")).save(folder / "new.png")  # added
    result = invoke("scan", folder, "--out", out, "--incremental")
    assert result.exit_code == 0
    assert "reusing 3 files, processing 2" in result.stderr

    fresh = tmp_path / "fresh.csv"
    assert invoke("scan", folder, "--out", fresh).exit_code == 0
    assert read_rows(out) == read_rows(fresh)


def test_live_lock_refuses_and_stale_lock_is_taken_over(tmp_path: Path) -> None:
    import json
    import socket

    write_digit_folder(tmp_path / "in", count=1)
    out = tmp_path / "r.csv"
    lock = tmp_path / "r.csv.lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    busy = invoke("scan", tmp_path / "in", "--out", out, "--model", tmp_path / "none.keras")
    assert busy.exit_code == 6 and "another batchdigits run" in busy.stderr
    assert lock.exists()

    finished = subprocess.run(["true"], check=True)
    assert finished.returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    stale = invoke("scan", tmp_path / "in", "--out", out, "--model", tmp_path / "none.keras")
    # The stale lock is taken over; the run then stops at the missing model.
    assert "stale lock" in stale.stderr and stale.exit_code == 5
    assert not lock.exists()


def run_cli(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "batchdigits", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.slow
def test_real_subprocess_streams(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_digit_folder(folder, count=3)
    to_file = run_cli("scan", folder, "--out", tmp_path / "r.csv")
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert "3 files, 3 rows" in to_file.stderr
    assert "oneDNN" not in to_file.stderr and "Traceback" not in to_file.stderr
    to_stdout = run_cli("scan", folder, "--out", "-")
    assert to_stdout.returncode == 0
    rows = list(csv.DictReader(io.StringIO(to_stdout.stdout)))
    assert [row["file"] for row in rows] == ["digit_00.jpg", "digit_01.png", "digit_02.jpg"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_interrupt_leaves_previous_results_untouched(
    tmp_path: Path, signum: int, code: int
) -> None:
    folder = write_big_folder(tmp_path / "in", 1500)
    out = tmp_path / "r.csv"
    out.write_bytes(b"previous results\r\n")
    lock = tmp_path / "r.csv.lock"
    process = subprocess.Popen(
        [sys.executable, "-m", "batchdigits", "scan", str(folder), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not lock.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(2.0)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert out.read_bytes() == b"previous results\r\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "r.csv"]
    assert "Traceback" not in stderr and "untouched" in stderr


def test_shipped_model_is_packaged() -> None:
    path = shipped_model_path()
    assert path.is_file() and path.with_suffix(".json").is_file()


def test_signal_during_model_load_is_delivered_after_it() -> None:
    """A signal in TensorFlow's import or a model load must not unwind
    through its C++ code: it is held, then raised once the step ends."""
    from batchdigits._tf import interrupts_deferred

    class Stop(Exception):
        pass

    def stop(_signum: int, _frame: object) -> None:
        raise Stop

    previous = signal.signal(signal.SIGTERM, stop)
    steps = []
    try:
        with pytest.raises(Stop):
            with interrupts_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                steps.append("load finished")
            steps.append("after the block")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert steps == ["load finished"]


def test_ctrl_c_during_a_model_call_is_raised_after_the_batch() -> None:
    """Ctrl-C landing inside TensorFlow's predict (it happened in CI) must
    not unwind through its C++: the batch finishes, then KeyboardInterrupt
    is raised, which the CLI turns into exit code 130."""
    from batchdigits.model import KerasNetwork

    steps: list[str] = []

    class InterruptedMidCall:
        def predict_on_batch(self, batch: object) -> list[list[float]]:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("batch finished")
            return [[0.0] * 10]

    network = KerasNetwork.__new__(KerasNetwork)
    network._model = InterruptedMidCall()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            network.logits(draw_digit("7")[None, :28, :28, None].astype("float32"))
            steps.append("after the call")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert steps == ["batch finished"]
