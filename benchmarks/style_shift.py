"""Style-shift benchmark: does `learn` teach the model a group of writers?

Usage: python benchmarks/style_shift.py [--pool 40] [--test 30] [--k 5 10 20] [--jobs 0]

For each hand of benchmarks/writers.py (a group of writers sharing styles
the shipped model misreads), renders as scans (the scan benchmark's look
conditions, PNG and JPEG; cached under benchmarks/_work/style_shift/) a
pool of ``--pool`` images per digit to correct and a held-out part of
``--test`` per digit, then measures on the held-out part:

  - the shipped model (before);
  - after `learn` from k corrected images per digit of the pool, for each k;
  - the review loop as it runs for real: scan the pool with the shipped
    model, correct exactly the rows it flagged, `learn`, scan the held-out part;

and, for the k = 10 models, what the memory costs elsewhere: MNIST test
(10,000 digits) and the scan benchmark's test split (2,400 scans), read as
scan reads them (both readings), against the shipped model in the same run.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, REPO, rendered_once, table, write_section
from scan_benchmark import generate
from scanlike import LOOK_CONDITIONS, render_condition
from writers import HANDS, Hand, write

from batchdigits.discover import discover_files
from batchdigits.learn import LearnOptions, learn
from batchdigits.model import DigitClassifier, resolve_model
from batchdigits.options import ScanOptions
from batchdigits.parallel import available_cores, ordered_map
from batchdigits.pipeline import choose_readings, prepare_files, run_scan
from batchdigits.train import prepare_digits

WORK = REPO / "benchmarks" / "_work" / "style_shift"
SEED = 20261129


def square(ink: np.ndarray) -> np.ndarray:
    """The render centred on a square canvas (the scan renderer expects MNIST's square)."""
    side = max(ink.shape)
    canvas = np.zeros((side, side), np.float32)
    top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
    canvas[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return canvas


def render_hand(hand: Hand, part: str, per_digit: int) -> Path:
    folder = WORK / hand.name / part
    seed = SEED + HANDS.index(hand) * 101 + (0 if part == "pool" else 7)

    def render(folder: Path) -> list[tuple[str, int, str]]:
        rng = np.random.default_rng(seed)
        rows = []
        for i in range(per_digit * 10):
            digit = i % 10
            condition = LOOK_CONDITIONS[int(rng.integers(len(LOOK_CONDITIONS)))]
            stem = folder / f"{i:04d}_{digit}_{condition}"
            path = render_condition(square(write(hand, digit, rng)), condition, rng, stem)
            rows.append((path.name, digit, condition))
        return rows

    settings = {"hand": hand.name, "part": part, "per_digit": per_digit, "seed": seed}
    rendered_once(folder, settings, render)
    return folder


def read_labels(folder: Path) -> dict[str, int]:
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as stream:
        return {row["file"]: int(row["label"]) for row in csv.DictReader(stream)}


def scan_accuracy(folder: Path, model: Path | None, jobs: int) -> tuple[float, float, float, list]:
    """Accuracy, share not flagged, wrong among those; and the report's rows."""
    options = ScanOptions(
        folder=folder, model=model, jobs=jobs, progress=False, exclude=("labels.csv",)
    )
    results = run_scan(options).results
    labels = read_labels(folder)
    right = np.array([r.digit == labels[r.file] for r in results])
    kept = np.array([not r.needs_review for r in results])
    wrong_kept = float(np.mean(~right[kept])) if kept.any() else 0.0
    return float(right.mean()), float(kept.mean()), wrong_kept, results


def write_corrections(path: Path, rows: list[tuple[str, int]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return path


def _prepare(chunk):  # type: ignore[no-untyped-def]
    from batchdigits.load import MAX_PIXELS

    return prepare_files(chunk, max_pixels=MAX_PIXELS)


class Elsewhere:
    """MNIST test and the scan benchmark's test split, prepared once, read by any model."""

    def __init__(self, jobs: int) -> None:
        with np.load(DEFAULT_MNIST) as data:
            self.mnist = prepare_digits(data["x_test"], jobs)
            self.mnist_labels = data["y_test"]
        folder = generate("test", DEFAULT_MNIST)
        with (folder / "labels.csv").open(encoding="utf-8", newline="") as stream:
            truth = {row["file"]: int(row["label"]) for row in csv.DictReader(stream)}
        files = [f for f in discover_files(folder).files if f.relative in truth]
        chunks = [files[i : i + 64] for i in range(0, len(files), 64)]
        pages = [p for chunk in ordered_map(_prepare, chunks, jobs) for p in chunk]
        self.scans = [p for p in pages if p.image is not None]
        self.scan_count = len(pages)
        self.scan_labels = np.array([truth[p.source.relative] for p in self.scans])

    def accuracies(self, model: Path | None) -> tuple[float, float]:
        classifier = DigitClassifier(resolve_model(model))
        mnist = np.argmax(classifier.predict(self.mnist), axis=1) == self.mnist_labels
        scans = choose_readings(
            classifier, [p.image for p in self.scans], [p.whole_page for p in self.scans]
        ).probabilities
        right = int(np.sum(np.argmax(scans, axis=1) == self.scan_labels))
        return float(mnist.mean()), right / self.scan_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=40, help="images per digit to correct from")
    parser.add_argument("--test", type=int, default=30, help="held-out images per digit")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--hands", nargs="+", default=[h.name for h in HANDS], help="a subset")
    args = parser.parse_args()
    jobs = args.jobs or available_cores()
    started = time.perf_counter()
    elsewhere = Elsewhere(jobs)
    shipped_mnist, shipped_scans = elsewhere.accuracies(None)
    print(f"shipped: MNIST test {shipped_mnist:.2%}, scan benchmark {shipped_scans:.2%}")

    rows, cost_rows = [], []
    worst_after10 = 1.0
    with tempfile.TemporaryDirectory() as tmp:
        for hand in [h for h in HANDS if h.name in args.hands]:
            pool, test = render_hand(hand, "pool", args.pool), render_hand(hand, "test", args.test)
            pool_labels = read_labels(pool)
            before, kept, wrong, _ = scan_accuracy(test, None, jobs)
            row = [hand.name, f"{before:.1%} ({wrong:.1%} of {kept:.0%} unflagged wrong)"]
            rng = np.random.default_rng(SEED)
            by_digit = {
                d: sorted(f for f, label in pool_labels.items() if label == d) for d in range(10)
            }
            for k in args.k:
                chosen = [
                    (f, d) for d in range(10) for f in rng.choice(by_digit[d], k, replace=False)
                ]
                labels = write_corrections(Path(tmp) / f"{hand.name}-{k}.csv", chosen)
                out = Path(tmp) / f"{hand.name}-{k}"
                learn(LearnOptions(folder=pool, labels=labels, out_dir=out, jobs=jobs), log=print)
                after, kept, wrong, _ = scan_accuracy(test, out / "digits.keras", jobs)
                row.append(f"{after:.1%} ({wrong:.1%} of {kept:.0%})")
                print(f"{hand.name} k={k}: {before:.1%} -> {after:.1%}")
                if k == 10:
                    worst_after10 = min(worst_after10, after)
                    mnist, scans = elsewhere.accuracies(out / "digits.keras")
                    cost_rows.append(
                        [
                            hand.name,
                            f"{mnist:.2%} ({(mnist - shipped_mnist) * 100:+.2f})",
                            f"{scans:.2%} ({(scans - shipped_scans) * 100:+.2f})",
                        ]
                    )
            # The review loop: correct what scan flagged in the pool, nothing else.
            _, _, _, results = scan_accuracy(pool, None, jobs)
            flagged = [(r.file, pool_labels[r.file]) for r in results if r.needs_review]
            loop = f"{len(flagged)} flagged"
            if len(flagged) >= 10:
                labels = write_corrections(Path(tmp) / f"{hand.name}-loop.csv", flagged)
                out = Path(tmp) / f"{hand.name}-loop"
                learn(LearnOptions(folder=pool, labels=labels, out_dir=out, jobs=jobs), log=print)
                after, kept, wrong, _ = scan_accuracy(test, out / "digits.keras", jobs)
                loop += f": {after:.1%} ({wrong:.1%} of {kept:.0%})"
            row.append(loop)
            rows.append(row)

    header = ["hand", "before"] + [f"k = {k} per digit" for k in args.k] + ["review loop"]
    body = [
        f"{len(rows)} hands (benchmarks/writers.py), {args.pool} images per digit to correct "
        f"from and {args.test} held-out per digit each, rendered as scans. Cells: accuracy on "
        "the held-out part (wrong among unflagged rows, of the share not flagged). "
        f"Run time {time.perf_counter() - started:.0f} s.",
        "",
        table(header, rows),
        "",
        f"Weakest hand after 10 corrections per digit: **{worst_after10:.1%}**.",
        "",
        "What the k = 10 models read elsewhere (change against the shipped model, in points):",
        "",
        table(
            ["hand", "MNIST test", "scan benchmark (test split)"],
            [["shipped", f"{shipped_mnist:.2%}", f"{shipped_scans:.2%}"], *cost_rows],
        ),
    ]
    write_section("style_shift", "\n".join(body))


if __name__ == "__main__":
    main()
