"""Scan a labelled benchmark folder and score it beside the naive pipeline
with the tutorial's model: the part the benchmark scripts share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import naive_images
from tutorial_model import tutorial_model

from batchdigits.evaluate import Evaluation, evaluate_results
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan
from batchdigits.results import ScanReport, ScanResult


@dataclass
class Scored:
    report: ScanReport
    results: list[ScanResult]  # the labelled files' rows, in scan order
    evaluation: Evaluation
    right: np.ndarray  # per row: batchdigits read the label
    naive_right: np.ndarray  # per row: the naive pipeline with the tutorial's model did

    def row(self, name: str, picked: np.ndarray) -> list[object]:
        """A table row: name, images, accuracy of each pipeline over ``picked`` rows."""
        return [
            name,
            int(picked.sum()),
            f"{self.right[picked].mean():.1%}",
            f"{self.naive_right[picked].mean():.1%}",
        ]


def scan_and_score(folder: Path, labels: dict[str, int], model: Path | None = None) -> Scored:
    """``batchdigits scan`` over ``folder`` as a user runs it, then both pipelines scored."""
    report = run_scan(ScanOptions(folder=folder, model=model, progress=False))
    results = [r for r in report.results if r.file in labels]
    evaluation = evaluate_results(results, labels, report.review_below)
    naive = tutorial_model().predict(naive_images([folder / r.file for r in results]))
    return Scored(
        report,
        results,
        evaluation,
        np.array([r.digit == labels[r.file] for r in results]),
        np.array(
            [int(n) == labels[r.file] for n, r in zip(naive.argmax(axis=1), results, strict=True)]
        ),
    )
