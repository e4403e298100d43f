"""How fast ``scan --numbers`` reads against an earlier revision, and whether it reads the same.

Usage: python benchmarks/numbers_speed.py --before REV [--files 400] [--rounds 2]

Takes the first FILES images of the numbers benchmark's test and amounts
splits (half from each; render them first with numbers_benchmark.py) and
scans them with ``batchdigits scan --numbers`` at git revision REV (checked
out into a temporary worktree) and with the working tree, the same shipped
models, in turn for ROUNDS rounds so that the machine's noise hits both:

- in one worker (``-j 1``): the CPU time and wall time a file costs, with
  start-up (imports, loading four models) taken out by also timing a scan
  of a single file;
- with the default workers, as a user runs it: files per second, start-up
  included.

Every row's number, confidence, flag and reason are compared between the
two. Speeds are reported as ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table, write_section

SPLITS = ("numbers_test", "numbers_amounts")
COMPARED = ("number", "confidence", "needs_review", "reason", "error")


def sample(folder: Path, files: int) -> int:
    """Link the first ``files`` images of the splits (half each) into ``folder``."""
    folder.mkdir(parents=True)
    linked = 0
    for split in SPLITS:
        source = REPO / "benchmarks" / "_work" / split
        if not source.is_dir():
            raise SystemExit(f"{source} is missing: run benchmarks/numbers_benchmark.py first")
        images = sorted(p for p in source.iterdir() if p.suffix in (".png", ".jpg"))
        for image in images[: files // len(SPLITS)]:
            (folder / image.name).symlink_to(image)
            linked += 1
    return linked


def scan(code: Path, folder: Path, out: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds (this process's waited-for descendants) of one
    ``scan --numbers`` by the code in ``code``."""
    command = [sys.executable, "-m", "batchdigits", "scan", str(folder), "--numbers"]
    command += ["--out", str(out), "-q", *extra]
    environment = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=code, env=environment, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def rows(out: Path) -> dict[str, tuple[str, ...]]:
    with out.open(encoding="utf-8-sig", newline="") as stream:
        return {row["file"]: tuple(row[c] for c in COMPARED) for row in csv.DictReader(stream)}


def measure(code: Path, folder: Path, single: Path, out: Path) -> dict[str, float]:
    """One round's figures for the code in ``code``."""
    count = sum(1 for _ in folder.iterdir())
    one_wall, one_cpu = scan(code, single, out.with_suffix(".one.csv"), "-j", "1")
    wall, cpu = scan(code, folder, out, "-j", "1")
    default_wall, _ = scan(code, folder, out.with_suffix(".jobs.csv"))
    return {
        "cpu_ms": 1000 * (cpu - one_cpu) / (count - 1),
        "wall_ms": 1000 * (wall - one_wall) / (count - 1),
        "files_per_s": count / default_wall,
        "start_s": one_wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        folder = work / "numbers"
        count = sample(folder, args.files)
        single = work / "single"
        single.mkdir()
        first = sorted(folder.iterdir())[0]
        (single / first.name).symlink_to(first.resolve())
        old = work / "before"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old), args.before],
            cwd=REPO,
            check=True,
        )
        figures: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        try:
            for round_ in range(args.rounds):
                for name, code in (("before", old), ("after", REPO)):
                    figures[name].append(measure(code, folder, single, work / f"{name}.csv"))
                    print(f"round {round_ + 1} {name}: {figures[name][-1]}", flush=True)
            before, after = rows(work / "before.csv"), rows(work / "after.csv")
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False
            )
    differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    for key in differ[:10]:
        print(f"  {key}: {before.get(key)} -> {after.get(key)}")

    def median(name: str, key: str) -> float:
        return statistics.median(f[key] for f in figures[name])

    lines = []
    for key, label, better in (
        ("cpu_ms", "CPU per file, one worker (ms)", "lower"),
        ("wall_ms", "wall time per file, one worker (ms)", "lower"),
        ("files_per_s", "files per second, default workers, start-up included", "higher"),
        ("start_s", "scan of one file, wall time (s)", "lower"),
    ):
        old_value, new_value = median("before", key), median("after", key)
        ratio = old_value / new_value if better == "lower" else new_value / old_value
        lines.append([label, f"{old_value:.1f}", f"{new_value:.1f}", f"{ratio:.2f}x"])
    body = (
        f"`scan --numbers` on {count} images (the first {count // len(SPLITS)} of the numbers "
        f"benchmark's test and amounts splits), at `{args.before}` and in the working tree, "
        f"same shipped models, in turn over {args.rounds} rounds (medians). Speed-up: how many "
        "times faster the working tree is.\n\n"
        + table(["figure", f"at {args.before}", "working tree", "speed-up"], lines)
        + f"\n\nRows compared ({', '.join(COMPARED)}): {len(before)} before, {len(after)} "
        f"after, {len(differ)} differ.\n"
    )
    write_section("numbers_speed", "## Numbers: scan speed against an earlier revision\n\n" + body)
    print(body)


if __name__ == "__main__":
    main()
