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

from .corrections import read_corrections
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
            f"review below {self.review_below}: {self.coverage:.1%} of rows not flagged, "
            f"{self.unflagged_error:.2%} of those wrong",
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
        lines += ["", "threshold  coverage  error when not flagged"]
        for point in self.curve:
            lines.append(f"  {point.threshold:<8} {point.coverage:>8.1%}  {point.error:>8.2%}")
        return "\n".join(lines)


def read_labels(path: Path) -> dict[str, int]:
    """The label of each file: a ``file,label`` CSV or a reviewed workbook
    (see :mod:`batchdigits.corrections`)."""
    return {c.file: c.label for c in read_corrections(path)}


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

    def point(threshold: float) -> ThresholdPoint:
        kept = (confidence >= threshold) & ~problem
        coverage = float(kept.mean()) if len(kept) else 0.0
        error = float(1 - correct[kept].mean()) if kept.any() else 0.0
        return ThresholdPoint(threshold, coverage, error)

    current = point(review_below)
    return Evaluation(
        labelled=len(rows),
        unlabelled=unlabelled,
        accuracy=float(correct.mean()) if len(rows) else 0.0,
        per_digit=per_digit,
        confusion=confusion,
        review_below=review_below,
        coverage=current.coverage,
        unflagged_error=current.error,
        curve=[point(t) for t in sorted({*thresholds, review_below})],
    )


def evaluate(options: ScanOptions, labels_path: Path) -> Evaluation:
    """Scan ``options.folder`` exactly as ``scan`` does, then compare with the labels."""
    labels = read_labels(labels_path)
    options.exclude = (*options.exclude, labels_path.name)
    report = run_scan(options)
    return evaluate_results(report.results, labels, options.review_below)


def plot_curve(evaluation: Evaluation, path: Path) -> None:
    """A PNG of error among unflagged rows against coverage, one point per threshold."""
    from PIL import Image, ImageDraw

    width, height, margin = 720, 480, 70
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    points = [p for p in evaluation.curve if p.coverage > 0]
    top_error = max([p.error for p in points] + [0.01]) * 1.15
    low_coverage = min([p.coverage for p in points] + [0.9])
    low_coverage = max(0.0, np.floor(low_coverage * 20) / 20 - 0.05)

    def xy(coverage: float, error: float) -> tuple[float, float]:
        x = margin + (coverage - low_coverage) / (1 - low_coverage) * (width - 2 * margin)
        y = height - margin - error / top_error * (height - 2 * margin)
        return x, y

    draw.line([xy(low_coverage, 0), xy(1, 0)], fill="black")
    draw.line([xy(low_coverage, 0), xy(low_coverage, top_error)], fill="black")
    for k in range(5):
        c = low_coverage + (1 - low_coverage) * k / 4
        x, y = xy(c, 0)
        draw.text((x - 14, y + 6), f"{c:.0%}", fill="black")
        e = top_error * k / 4
        x, y = xy(low_coverage, e)
        draw.text((x - 50, y - 6), f"{e:.2%}", fill="black")
    draw.text(
        (width / 2 - 150, height - 30), "coverage (rows not flagged for review)", fill="black"
    )
    draw.text((10, 20), "error among rows not flagged", fill="black")
    line = [xy(p.coverage, p.error) for p in points]
    if len(line) > 1:
        draw.line(line, fill=(30, 90, 200), width=2)
    for p in points:
        x, y = xy(p.coverage, p.error)
        current = p.threshold == evaluation.review_below
        r = 5 if current else 3
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(200, 40, 40) if current else (30, 90, 200))
        draw.text((x + 6, y - 14), f"{p.threshold:g}", fill="black")
    draw.text(
        (width - 330, 20),
        f"accuracy {evaluation.accuracy:.2%}; red: --review-below {evaluation.review_below}",
        fill="black",
    )
    image.save(path)
