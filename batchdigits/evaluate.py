"""Measure the pipeline against known labels: accuracy, confusions, review trade-off.

``batchdigits evaluate DIR --labels labels.csv`` runs exactly what ``scan``
runs, then compares with the labels. The coverage / error table shows what
a review threshold costs (rows a person must check) and buys (how often an
unchecked row is wrong), so a user can pick one for their own scans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .corrections import read_corrections, read_number_labels
from .options import ScanOptions
from .pipeline import run_scan
from .results import ScanResult

THRESHOLDS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)


@dataclass
class ThresholdPoint:
    threshold: float
    coverage: float  # share of rows not flagged
    error: float  # share of unflagged rows that are wrong


@dataclass
class Evaluation:
    """What ``evaluate`` measured; text, dict and plot all come from here."""

    labelled: int
    unlabelled: list[str]
    accuracy: float
    per_digit: dict[int, tuple[int, int]]  # true digit -> (right, total)
    confusion: np.ndarray  # 10 x 11: true digit x read digit (column 10: none)
    review_below: float
    coverage: float
    unflagged_error: float
    curve: list[ThresholdPoint] = field(default_factory=list)
    #: Models asked for and not used (an older preprocessing): the shipped one read.
    outdated_models: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled,
            "unlabelled_files": self.unlabelled,
            "accuracy": self.accuracy,
            "per_digit_accuracy": {d: r / t if t else None for d, (r, t) in self.per_digit.items()},
            "confusion_matrix": self.confusion.tolist(),
            "review_below": self.review_below,
            "coverage": self.coverage,
            "unflagged_error": self.unflagged_error,
            "curve": [vars(point) for point in self.curve],
        }

    def to_text(self) -> str:
        lines = [
            f"{self.labelled} labelled images; accuracy {self.accuracy:.2%}",
            _review_line(self.review_below, self.coverage, self.unflagged_error),
        ]
        if self.unlabelled:
            lines.append(f"{len(self.unlabelled)} scanned files have no label and were left out")
        lines += ["", "per digit:"]
        for digit, (right, total) in self.per_digit.items():
            share = f"{right / total:.1%}" if total else "-"
            lines.append(f"  {digit}: {share} ({right}/{total})")
        lines += ["", "confusion (rows: true digit; columns: read digit, '-' none):"]
        lines.append("      " + " ".join(f"{c:>5}" for c in [*map(str, range(10)), "-"]))
        for digit in range(10):
            lines.append(f"  {digit}:  " + " ".join(f"{n:>5}" for n in self.confusion[digit]))
        return "\n".join([*lines, "", *_curve_lines(self.curve)])


def read_labels(path: Path) -> dict[str, int]:
    """The label of each file: a ``file,label`` CSV or a reviewed workbook
    (see :mod:`batchdigits.corrections`)."""
    return {c.file: c.label for c in read_corrections(path)}


def trade_off(
    confidence: np.ndarray,
    problem: np.ndarray,
    correct: np.ndarray,
    review_below: float,
    thresholds: tuple[float, ...],
) -> tuple[ThresholdPoint, list[ThresholdPoint]]:
    """Rows not flagged, and wrong among them, at ``review_below`` and at each
    threshold: rows with a problem (blank, unreadable) are always flagged."""

    def point(threshold: float) -> ThresholdPoint:
        kept = (confidence >= threshold) & ~problem
        coverage = float(kept.mean()) if len(kept) else 0.0
        error = float(1 - correct[kept].mean()) if kept.any() else 0.0
        return ThresholdPoint(threshold, coverage, error)

    return point(review_below), [point(t) for t in sorted({*thresholds, review_below})]


def evaluate_results(
    results: list[ScanResult],
    labels: dict[str, int],
    review_below: float,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> Evaluation:
    rows = [r for r in results if r.file in labels]
    unlabelled = sorted({r.file for r in results if r.file not in labels})
    truth = np.array([labels[r.file] for r in rows], dtype=int)
    read = np.array([-1 if r.digit is None else r.digit for r in rows], dtype=int)
    confidence = np.array([0.0 if r.confidence is None else r.confidence for r in rows])
    problem = np.array([bool(r.error) or r.digit is None for r in rows], dtype=bool)
    correct = read == truth
    confusion = np.zeros((10, 11), dtype=int)
    for t, r in zip(truth, read, strict=True):
        confusion[t, r if r >= 0 else 10] += 1
    per_digit = {d: (int(correct[truth == d].sum()), int((truth == d).sum())) for d in range(10)}
    current, curve = trade_off(confidence, problem, correct, review_below, thresholds)
    return Evaluation(
        labelled=len(rows),
        unlabelled=unlabelled,
        accuracy=float(correct.mean()) if len(rows) else 0.0,
        per_digit=per_digit,
        confusion=confusion,
        review_below=review_below,
        coverage=current.coverage,
        unflagged_error=current.error,
        curve=curve,
    )


@dataclass
class NumberEvaluation:
    """What ``evaluate --numbers`` measured: whole strings and their digits."""

    labelled: int
    unlabelled: list[str]
    accuracy: float  # strings exactly right
    digit_accuracy: float  # 1 - edit distance / length, averaged
    per_length: dict[int, tuple[int, int]]  # digits in the label -> (right, total)
    review_below: float
    coverage: float
    unflagged_error: float
    curve: list[ThresholdPoint] = field(default_factory=list)
    #: Models asked for and not used (an older preprocessing): the shipped one read.
    outdated_models: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled,
            "unlabelled_files": self.unlabelled,
            "accuracy": self.accuracy,
            "digit_accuracy": self.digit_accuracy,
            "per_length_accuracy": {n: r / t for n, (r, t) in self.per_length.items()},
            "review_below": self.review_below,
            "coverage": self.coverage,
            "unflagged_error": self.unflagged_error,
            "curve": [vars(point) for point in self.curve],
        }

    def to_text(self) -> str:
        lines = [
            f"{self.labelled} labelled numbers; {self.accuracy:.2%} exactly right, "
            f"digits {self.digit_accuracy:.2%} right",
            _review_line(self.review_below, self.coverage, self.unflagged_error),
        ]
        if self.unlabelled:
            lines.append(f"{len(self.unlabelled)} scanned files have no label and were left out")
        lines += ["", "per length (digits):"]
        for length, (right, total) in self.per_length.items():
            lines.append(f"  {length}: {right / total:.1%} ({right}/{total})")
        return "\n".join([*lines, "", *_curve_lines(self.curve)])


def _review_line(review_below: float, coverage: float, error: float) -> str:
    return (
        f"review below {review_below}: {coverage:.1%} of rows not flagged, "
        f"{error:.2%} of those wrong"
    )


def _curve_lines(curve: list[ThresholdPoint]) -> list[str]:
    """The trade-off table: rows not flagged, and wrong among them, by threshold."""
    lines = ["threshold  coverage  error when not flagged"]
    for point in curve:
        lines.append(f"  {point.threshold:<8} {point.coverage:>8.1%}  {point.error:>8.2%}")
    return lines


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: digits inserted, dropped or misread."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def evaluate_numbers_results(
    results: list[ScanResult],
    labels: dict[str, str],
    review_below: float,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> NumberEvaluation:
    rows = [r for r in results if r.file in labels]
    unlabelled = sorted({r.file for r in results if r.file not in labels})
    truth = [labels[r.file] for r in rows]
    read = [r.number or "" for r in rows]
    correct = np.array([t == n for t, n in zip(truth, read, strict=True)], dtype=bool)
    digits = [max(0.0, 1 - edit_distance(t, n) / len(t)) for t, n in zip(truth, read, strict=True)]
    confidence = np.array([0.0 if r.confidence is None else r.confidence for r in rows])
    problem = np.array([bool(r.error) or r.number is None for r in rows], dtype=bool)
    lengths = np.array([len(t) for t in truth], dtype=int)
    per_length = {
        int(n): (int(correct[lengths == n].sum()), int((lengths == n).sum()))
        for n in sorted(set(lengths.tolist()))
    }
    current, curve = trade_off(confidence, problem, correct, review_below, thresholds)
    return NumberEvaluation(
        labelled=len(rows),
        unlabelled=unlabelled,
        accuracy=float(correct.mean()) if len(rows) else 0.0,
        digit_accuracy=float(np.mean(digits)) if digits else 0.0,
        per_length=per_length,
        review_below=review_below,
        coverage=current.coverage,
        unflagged_error=current.error,
        curve=curve,
    )


def evaluate(options: ScanOptions, labels_path: Path) -> Evaluation | NumberEvaluation:
    """Scan ``options.folder`` exactly as ``scan`` does, then compare with the
    labels (digit strings with ``options.numbers``)."""
    if options.numbers:
        numbers = {label.file: label.label for label in read_number_labels(labels_path)}
    else:
        digits = read_labels(labels_path)
    options.exclude = (*options.exclude, labels_path.name)
    report = run_scan(options)
    evaluation: Evaluation | NumberEvaluation
    if options.numbers:
        evaluation = evaluate_numbers_results(report.results, numbers, options.review_below)
    else:
        evaluation = evaluate_results(report.results, digits, options.review_below)
    evaluation.outdated_models = report.outdated_models
    return evaluation


def plot_curve(evaluation: Evaluation | NumberEvaluation, path: Path) -> None:
    """A PNG of error among unflagged rows against coverage, one point per threshold."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    points = [p for p in evaluation.curve if p.coverage > 0]
    figure, axes = plt.subplots(figsize=(7.2, 4.8), dpi=100, layout="constrained")
    try:
        axes.plot(
            [p.coverage for p in points],
            [p.error for p in points],
            marker="o",
            markersize=4,
            color="tab:blue",
        )
        for p in points:
            current = p.threshold == evaluation.review_below
            if current:
                axes.plot(p.coverage, p.error, "o", color="tab:red", markersize=8, zorder=3)
            axes.annotate(
                f"{p.threshold:g}",
                (p.coverage, p.error),
                textcoords="offset points",
                xytext=(5, 5),
                fontsize=8,
                color="tab:red" if current else "black",
            )
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))
        axes.set_ylim(bottom=0)
        axes.set_xlabel("coverage (rows not flagged for review)")
        axes.set_ylabel("error among rows not flagged")
        axes.set_title(
            f"accuracy {evaluation.accuracy:.2%}; red: --review-below {evaluation.review_below}",
            fontsize=10,
        )
        axes.grid(True, alpha=0.3)
        figure.savefig(path)
    finally:
        plt.close(figure)
