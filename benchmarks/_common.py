"""Helpers shared by the benchmark scripts: machine info, RESULTS.md sections,
the naive pipeline, labels."""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
DEFAULT_MNIST = Path(
    os.environ.get("BATCHDIGITS_MNIST", REPO.parent / "shared" / "data" / "mnist.npz")
)


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, {platform.system()}"


def command_line() -> str:
    script = Path(sys.argv[0]).resolve().relative_to(REPO).as_posix()
    return "python " + " ".join([script, *sys.argv[1:]])


def write_section(name: str, body: str) -> None:
    """Replace (or append) this script's section of RESULTS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    stamp = (
        f"Command: `{command_line()}`  \nDate: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  \n"
        f"Machine: {machine()}\n\n"
    )
    section = f"{start}\n{stamp}{body.rstrip()}\n{end}"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda m: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section + "\n"
    )
    RESULTS.write_text(text, encoding="utf-8")


def mnist_test(path: Path = DEFAULT_MNIST) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test digits and labels: what every benchmark renders its scans from."""
    with np.load(path) as data:
        return data["x_test"], data["y_test"]


def read_labels(path: Path) -> dict[str, int]:
    with path.open(encoding="utf-8", newline="") as stream:
        return {row["file"]: int(row["label"]) for row in csv.DictReader(stream)}


def rendered_once(
    folder: Path,
    settings: dict[str, object],
    render: Callable[[Path], Sequence[Sequence[object]]],
    column: str | tuple[str, ...] = "condition",
) -> list[dict[str, str]]:
    """The labelled images in ``folder``: rendered by ``render(folder)`` (rows of
    file, label, ``column``, or one cell per name when ``column`` is a tuple)
    only when ``settings`` differ from the last rendering's (generated.json),
    so later runs reuse them. Cells read back as text."""
    stamp = folder / "generated.json"
    labels_path = folder / "labels.csv"
    if not (stamp.exists() and json.loads(stamp.read_text()) == settings):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        rows = render(folder)
        with labels_path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            columns = [column] if isinstance(column, str) else list(column)
            writer.writerow(["file", "label", *columns])
            writer.writerows(rows)
        stamp.write_text(json.dumps(settings))
    with labels_path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def naive_images(paths: list[Path]) -> np.ndarray:
    """The tutorial's way: the raw file, grayscale, resized to 28x28. No inversion,
    no cropping, no centring."""
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("L").resize((28, 28)), dtype=np.uint8))
    return np.stack(images)


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0]) * 1024
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, IndexError):
            continue
        stack += [int(c) for c in children]
    return total


def timed_scan(
    folder: Path, out: Path, *extra: str, allowed: tuple[int, ...] = (0,)
) -> tuple[float, int]:
    """Wall seconds and peak RSS (the whole process tree) of one `batchdigits scan`
    run as a user starts it: a subprocess, start-up included."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "batchdigits", "scan", str(folder), "--out", str(out), "-q", *extra]
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if process.returncode not in allowed:
        raise SystemExit(f"scan failed with exit code {process.returncode}")
    return seconds, peak
