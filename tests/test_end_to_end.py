"""End to end with the shipped model: sample_scans/ read right, MNIST still right."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

import batchdigits
from batchdigits.model import load_classifier, resolve_model
from batchdigits.train import prepare_digits

from .conftest import SAMPLE_SCANS

pytestmark = pytest.mark.slow


def test_sample_scans_accuracy_through_the_api() -> None:
    with (SAMPLE_SCANS / "labels.csv").open(encoding="utf-8", newline="") as stream:
        labels = {row["file"]: int(row["label"]) for row in csv.DictReader(stream)}
    frame = batchdigits.scan(SAMPLE_SCANS)
    assert sorted(frame["file"]) == sorted(labels)  # one row per image, labels.csv skipped
    correct = frame["digit"].eq(frame["file"].map(labels)).fillna(False).astype(bool)
    accuracy = correct.mean()
    assert accuracy >= 0.97, f"sample_scans accuracy {accuracy:.1%}"
    # Confidence is honest: a wrong answer rarely slips through unflagged.
    wrong_unflagged = frame[~frame["needs_review"] & ~correct]
    assert len(wrong_unflagged) <= 1, wrong_unflagged[["file", "digit", "confidence"]]


def test_shipped_model_metadata_is_true(mnist_path: Path) -> None:
    """The MNIST test accuracy in the metadata is what the model really scores."""
    ref = resolve_model()
    assert ref.source == "shipped"
    claimed = ref.metadata["mnist_test_accuracy"]
    assert claimed >= 0.993
    with np.load(mnist_path) as data:
        x_test, y_test = data["x_test"][:2000], data["y_test"][:2000]
    classifier = load_classifier()
    predicted = classifier.predict(prepare_digits(x_test, jobs=1)).argmax(axis=1)
    assert np.mean(predicted == y_test) >= claimed - 0.01
