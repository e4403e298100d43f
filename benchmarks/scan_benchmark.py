"""The scan benchmark: MNIST test digits rendered as scans and photos, per condition.

Usage:
  python benchmarks/scan_benchmark.py                     # test split, report
  python benchmarks/scan_benchmark.py --split calibration # choose the review threshold
  python benchmarks/scan_benchmark.py --split holdout     # a fresh check of a change

Splits use disjoint MNIST *test* digits (never trained on): "test" digits
0-2399, "calibration" digits 5000-6199, "holdout" digits 2400-4999.
sample_scans/ uses 9900-9999. The review threshold and any temperature are
chosen on the calibration split only, then reported on the test split. The
holdout split was rendered after the others, with its own seed, to check
the whole-page reading (pipeline.SECOND_READING_BELOW) on images that had
shaped none of the preprocessing.

The same run measures the naive pipeline (raw file -> grayscale -> 28x28, no
inversion, no cropping) with the tutorial's model (benchmarks/tutorial_model.py)
and with our model, so the gain shows side by side.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from _common import (
    DEFAULT_MNIST,
    REPO,
    mnist_test,
    naive_images,
    rendered_once,
    table,
    write_section,
)
from scanlike import CONDITIONS, render_condition
from tutorial_model import tutorial_model

from batchdigits.evaluate import evaluate_results
from batchdigits.model import load_classifier
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan

SPLITS = {  # first digit, count, seed
    "test": (0, 2400, 7),
    "calibration": (5000, 1200, 11),
    "holdout": (2400, 2600, 23),
}
WORK = REPO / "benchmarks" / "_work"
UNFLAGGED_ERROR_TARGET = 0.005


def generate(split: str, data: Path) -> Path:
    """Render the split's images once; later runs reuse them."""
    first, count, seed = SPLITS[split]
    folder = WORK / f"scans_{split}"

    def render(folder: Path) -> list[tuple[str, int, str]]:
        digits, labels = mnist_test(data)
        rng = np.random.default_rng(seed)
        rows = []
        for i in range(count):
            index = first + i
            condition = CONDITIONS[i % len(CONDITIONS)]
            path = render_condition(digits[index], condition, rng, folder / f"{i:05d}_{condition}")
            rows.append((path.name, int(labels[index]), condition))
        return rows

    settings = {"first": first, "count": count, "seed": seed, "conditions": list(CONDITIONS)}
    rendered_once(folder, settings, render)
    return folder


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return total


THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="test")
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--review-below", type=float, default=None)
    args = parser.parse_args()

    folder = generate(args.split, args.data)
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as stream:
        truth = {
            row["file"]: (int(row["label"]), row["condition"]) for row in csv.DictReader(stream)
        }

    options = ScanOptions(folder=folder, model=args.model, progress=False)
    if args.review_below is not None:
        options.review_below = args.review_below
    started = time.perf_counter()
    report = run_scan(options)
    seconds = time.perf_counter() - started
    results = [r for r in report.results if r.file in truth]
    labels = np.array([truth[r.file][0] for r in results])
    conditions = [truth[r.file][1] for r in results]
    predicted = np.array([-1 if r.digit is None else r.digit for r in results])
    confidence = np.array([0.0 if r.confidence is None else r.confidence for r in results])
    correct = predicted == labels
    flagged = np.array([r.needs_review for r in results])
    evaluation = evaluate_results(
        results,
        {file: label for file, (label, _) in truth.items()},
        report.review_below,
        THRESHOLDS,
    )

    classifier = load_classifier(args.model)
    tutorial = tutorial_model(args.data)
    files = [folder / r.file for r in results]
    naive_parts, tutorial_parts = [], []
    for i in range(0, len(files), 500):
        raw_files = naive_images(files[i : i + 500])
        naive_parts.append(classifier.predict(raw_files).argmax(axis=1))
        tutorial_parts.append(tutorial.predict(raw_files).argmax(axis=1))
    naive_correct = np.concatenate(naive_parts) == labels
    tutorial_correct = np.concatenate(tutorial_parts) == labels

    by_condition: dict[str, list[int]] = defaultdict(list)
    for i, condition in enumerate(conditions):
        by_condition[condition].append(i)
    condition_rows = []
    for condition in CONDITIONS:
        idx = np.array(by_condition[condition])
        condition_rows.append(
            [
                condition,
                len(idx),
                f"{correct[idx].mean():.1%}",
                f"{tutorial_correct[idx].mean():.1%}",
                f"{naive_correct[idx].mean():.1%}",
                f"{flagged[idx].mean():.0%}",
            ]
        )
    weakest = min(CONDITIONS, key=lambda c: correct[np.array(by_condition[c])].mean())
    meeting = [p.threshold for p in evaluation.curve if p.error <= UNFLAGGED_ERROR_TARGET]
    recommended = meeting[0] if meeting else None
    body = "\n".join(
        [
            f"Split **{args.split}**: {len(results)} images, MNIST test digits "
            f"{SPLITS[args.split][0]}-{SPLITS[args.split][0] + SPLITS[args.split][1] - 1}; "
            f"model `{report.model_id}`; review threshold {report.review_below}.",
            "",
            f"- batchdigits accuracy: **{correct.mean():.2%}** (weakest condition: "
            f"{weakest}, {correct[np.array(by_condition[weakest])].mean():.1%})",
            f"- naive pipeline with the tutorial's model (MNIST test "
            f"{tutorial.mnist_test_accuracy:.2%}): **{tutorial_correct.mean():.2%}**",
            f"- naive pipeline with our model: {naive_correct.mean():.2%}",
            f"- rows not flagged: {evaluation.coverage:.1%} (coverage); wrong among them: "
            f"**{evaluation.unflagged_error:.2%}**",
            f"- expected calibration error: {expected_calibration_error(confidence, correct):.4f}",
            f"- scan time (API, model load included): {seconds:.1f} s",
            "",
            table(
                [
                    "condition",
                    "images",
                    "batchdigits",
                    "naive + tutorial model",
                    "naive + our model",
                    "flagged",
                ],
                condition_rows,
            ),
            "",
            "Coverage and error among unflagged rows by threshold:",
            "",
            table(
                ["review below", "coverage", "error when not flagged"],
                [[p.threshold, f"{p.coverage:.1%}", f"{p.error:.2%}"] for p in evaluation.curve],
            ),
            "",
            f"Smallest threshold with unflagged error <= {UNFLAGGED_ERROR_TARGET:.1%}: "
            f"{recommended}.",
        ]
    )
    print(body)
    write_section(
        f"scan_benchmark_{args.split}", f"## Scan benchmark ({args.split} split)\n\n" + body
    )


if __name__ == "__main__":
    main()
