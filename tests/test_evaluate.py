"""evaluate: accuracy, confusions and the review trade-off against labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdigits import cli
from batchdigits.errors import InputError
from batchdigits.evaluate import evaluate_results, read_labels
from batchdigits.results import ScanResult

from .conftest import SAMPLE_SCANS


def row(file: str, digit: int | None, confidence: float | None, error: str = "") -> ScanResult:
    return ScanResult(
        file=file,
        page=None,
        digit=digit,
        confidence=confidence,
        runner_up=None,
        runner_up_confidence=None,
        needs_review=False,
        reason="",
        error=error,
        model_id="m",
        file_size=1,
        file_mtime_ns=1,
    )


def test_metrics_on_known_results() -> None:
    results = [
        row("a.png", 1, 0.99),
        row("b.png", 2, 0.98),
        row("c.png", 3, 0.60),  # wrong, low confidence
        row("d.png", 7, 0.995),  # wrong, confident
        row("e.png", None, None, error="broken"),
        row("extra.png", 5, 0.9),
    ]
    labels = {"a.png": 1, "b.png": 2, "c.png": 8, "d.png": 1, "e.png": 4}
    evaluation = evaluate_results(results, labels, review_below=0.9)
    assert evaluation.labelled == 5 and evaluation.unlabelled == ["extra.png"]
    assert evaluation.accuracy == pytest.approx(2 / 5)
    assert evaluation.per_digit[1] == (1, 2) and evaluation.per_digit[4] == (0, 1)
    assert evaluation.confusion[1, 7] == 1 and evaluation.confusion[4, 10] == 1
    assert evaluation.confusion.sum() == 5
    # Not flagged at 0.9: a, b, d -> coverage 3/5, one of them wrong.
    assert evaluation.coverage == pytest.approx(3 / 5)
    assert evaluation.unflagged_error == pytest.approx(1 / 3)
    strictest = next(p for p in evaluation.curve if p.threshold == 0.999)
    assert strictest.coverage == 0.0 and strictest.error == 0.0
    assert "accuracy 40.00%" in evaluation.to_text()
    json.dumps(evaluation.to_dict())


def test_labels_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("name,digit\na.png,1\n")
    with pytest.raises(InputError, match="file and label"):
        read_labels(bad)
    with pytest.raises(InputError, match="cannot read labels"):
        read_labels(tmp_path / "missing.csv")


@pytest.mark.slow
def test_evaluate_cli_on_sample_scans(tmp_path: Path) -> None:
    plot = tmp_path / "curve.png"
    result = CliRunner().invoke(
        cli.app,
        [
            "evaluate",
            str(SAMPLE_SCANS),
            "--labels",
            str(SAMPLE_SCANS / "labels.csv"),
            "--plot",
            str(plot),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["labelled"] == 100 and report["unlabelled_files"] == []
    assert report["accuracy"] >= 0.97
    assert np.array(report["confusion_matrix"]).sum() == 100
    with Image.open(plot) as image:
        assert image.size == (720, 480)
