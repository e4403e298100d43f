"""Whether a change left single-digit ``scan`` alone: the same rows, before and after.

Usage:
  python benchmarks/digits_unchanged.py --before REV [FOLDER ...]

Scans each folder with the code at git revision REV (checked out into a
temporary worktree) and with the working tree, the same shipped model, and
compares every row's digit, confidence, flag and reason. Default folders:
sample_scans/, the scan benchmark's test split and the throughput folder of
2,000 mixed scans (render them first with scan_benchmark.py and
throughput.py). Written for ``scan --numbers``, which must not change what
a digit scan reads.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table, write_section

DEFAULT_FOLDERS = (
    REPO / "sample_scans",
    REPO / "benchmarks" / "_work" / "scans_test",
    REPO / "benchmarks" / "_work" / "throughput_2000",
)
COMPARED = ("digit", "confidence", "needs_review", "reason", "error")


def scan(code: Path, folder: Path, out: Path) -> dict[str, tuple[str, ...]]:
    """The rows ``batchdigits scan`` of the code in ``code`` writes for ``folder``."""
    command = [sys.executable, "-m", "batchdigits", "scan", str(folder), "--out", str(out), "-q"]
    command += ["--exclude", "labels.csv", "--exclude", "generated.json"]
    environment = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run(command, cwd=code, env=environment, check=False)
    with out.open(encoding="utf-8-sig", newline="") as stream:
        return {
            row["file"] + "#" + row["page"]: tuple(row[c] for c in COMPARED)
            for row in csv.DictReader(stream)
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("folders", nargs="*", type=Path, default=list(DEFAULT_FOLDERS))
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        old = work / "before"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(old), args.before],
            cwd=REPO,
            check=True,
        )
        try:
            for folder in args.folders:
                if not folder.is_dir():
                    print(f"skipping {folder}: not there (render it first)")
                    continue
                before = scan(old, folder, work / "before.csv")
                after = scan(REPO, folder, work / "after.csv")
                differ = sorted(
                    k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
                )
                print(
                    f"{folder}: {len(before)} rows before, {len(after)} after, {len(differ)} differ"
                )
                for key in differ[:10]:
                    print(f"  {key}: {before.get(key)} -> {after.get(key)}")
                lines.append(
                    [folder.relative_to(REPO).as_posix(), len(before), len(after), len(differ)]
                )
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False
            )
    body = (
        f"Single-digit `scan` at `{args.before}` against the working tree, same shipped model; "
        f"compared per row: {', '.join(COMPARED)}.\n\n"
        + table(["folder", "rows before", "rows after", "rows that differ"], lines)
    )
    write_section("digits_unchanged", "## Single-digit scan unchanged\n\n" + body)
    print(body)


if __name__ == "__main__":
    main()
