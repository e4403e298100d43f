"""Calibrate the model's confidence (temperature scaling) on the calibration split.

Usage: python benchmarks/calibrate.py [--model batchdigits/models/digits.keras] [--write]

Fits one temperature T (softmax(logits / T)) that minimises the negative log
likelihood on the scan benchmark's calibration split (MNIST test digits
5000-6199 rendered as scans; never trained on), reports the expected
calibration error (ECE) before and after on both splits, and with --write
stores T in the model's metadata, where scan picks it up.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, table, write_section
from scan_benchmark import expected_calibration_error, generate

from batchdigits.discover import discover_files
from batchdigits.load import MAX_PIXELS
from batchdigits.model import (
    DigitClassifier,
    ModelRef,
    metadata_path,
    read_metadata,
    resolve_model,
    softmax,
)
from batchdigits.parallel import available_cores, ordered_map
from batchdigits.pipeline import prepare_files


def split_logits(classifier: DigitClassifier, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels of every readable, non-blank image of a split."""
    import csv

    folder = generate(split, DEFAULT_MNIST)
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as stream:
        truth = {row["file"]: int(row["label"]) for row in csv.DictReader(stream)}
    files = [f for f in discover_files(folder).files if f.relative in truth]
    chunks = [files[i : i + 64] for i in range(0, len(files), 64)]
    pages = [p for chunk in ordered_map(_prepare, chunks, available_cores()) for p in chunk]
    pages = [p for p in pages if p.image is not None]
    logits = classifier.logits(np.stack([p.image for p in pages]))
    return logits, np.array([truth[p.source.relative] for p in pages])


def _prepare(chunk):  # type: ignore[no-untyped-def]
    return prepare_files(chunk, max_pixels=MAX_PIXELS)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    probabilities = softmax(logits / temperature)
    return float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels] + 1e-12)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 400))
    return float(grid[int(np.argmin([nll(logits, labels, t) for t in grid]))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="store T in the model metadata")
    args = parser.parse_args()
    ref = resolve_model(args.model)
    uncalibrated = ModelRef(ref.path, ref.source, {**ref.metadata, "temperature": 1.0})
    classifier = DigitClassifier(uncalibrated)

    cal_logits, cal_labels = split_logits(classifier, "calibration")
    test_logits, test_labels = split_logits(classifier, "test")
    temperature = fit_temperature(cal_logits, cal_labels)

    rows = []
    figures: dict[str, dict[str, float]] = {}
    for name, logits, labels in (
        ("calibration", cal_logits, cal_labels),
        ("test", test_logits, test_labels),
    ):
        entry = {}
        for label, t in (("before", 1.0), ("after", temperature)):
            probabilities = softmax(logits / t)
            confidence = probabilities.max(axis=1)
            correct = probabilities.argmax(axis=1) == labels
            entry[f"ece_{label}"] = expected_calibration_error(confidence, correct)
            entry[f"nll_{label}"] = nll(logits, labels, t)
        figures[name] = entry
        rows.append(
            [
                name,
                len(labels),
                f"{entry['ece_before']:.4f}",
                f"{entry['ece_after']:.4f}",
                f"{entry['nll_before']:.4f}",
                f"{entry['nll_after']:.4f}",
            ]
        )
    body = "\n".join(
        [
            f"Model `{ref.path.name}`; fitted temperature **T = {temperature:.3f}** "
            "(minimum NLL on the calibration split).",
            "",
            table(["split", "images", "ECE before", "ECE after", "NLL before", "NLL after"], rows),
        ]
    )
    print(body)
    write_section("calibration", "## Confidence calibration (temperature scaling)\n\n" + body)
    if args.write:
        metadata = read_metadata(ref.path)
        metadata["temperature"] = round(temperature, 4)
        metadata["calibration"] = {
            "method": "temperature scaling, minimum NLL",
            "data": "scan benchmark calibration split (MNIST test digits 5000-6199 as scans)",
            **{
                f"{split}_{k}": round(v, 5)
                for split, entry in figures.items()
                for k, v in entry.items()
            },
        }
        metadata_path(ref.path).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        print(f"wrote temperature {temperature:.4f} to {metadata_path(ref.path)}")


if __name__ == "__main__":
    main()
