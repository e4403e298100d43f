"""Accuracy and time of `batchdigits scan` on sample_scans/, beside the naive pipeline.

Usage: python benchmarks/sample_accuracy.py [--model PATH]

Runs the CLI end to end as a user does (a subprocess, start-up included),
then, in the same run, feeds the same files the naive way (raw file ->
grayscale -> 28x28, no inversion, no cropping) to the tutorial's model and to
ours. Also re-measures the model's MNIST test accuracy when MNIST is
available: through the scan preprocessing, and on the raw MNIST digits.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, REPO, mnist_test, naive_images, read_labels, table, write_section
from tutorial_model import tutorial_model

from batchdigits.model import load_classifier, resolve_model
from batchdigits.parallel import available_cores
from batchdigits.pipeline import SECOND_READING_BELOW, choose_readings
from batchdigits.preprocess import mnist_readings
from batchdigits.train import prepare_digits

SAMPLES = REPO / "sample_scans"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="timed CLI runs (median reported)")
    args = parser.parse_args()
    labels = read_labels(SAMPLES / "labels.csv")
    model_args = ["--model", str(args.model)] if args.model else []

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.csv"
        for _ in range(args.repeats):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "batchdigits",
                    "scan",
                    str(SAMPLES),
                    "--out",
                    str(out),
                    "-q",
                    *model_args,
                ],
                check=True,
            )
            times.append(time.perf_counter() - started)
        with out.open(encoding="utf-8-sig", newline="") as stream:
            rows = list(csv.DictReader(stream))
    right = sum(row["digit"] != "" and int(row["digit"]) == labels[row["file"]] for row in rows)
    flagged = [row for row in rows if row["needs_review"] == "true"]
    unflagged_wrong = sum(
        row["needs_review"] == "false" and int(row["digit"]) != labels[row["file"]] for row in rows
    )
    wrong = [
        f"{row['file']} read {row['digit'] or '-'} ({row['confidence'] or '-'}), "
        f"is {labels[row['file']]}"
        for row in rows
        if row["digit"] == "" or int(row["digit"]) != labels[row["file"]]
    ]

    classifier = load_classifier(args.model)
    files = sorted(labels)
    raw_files = naive_images([SAMPLES / f for f in files])
    naive = classifier.predict(raw_files).argmax(axis=1)
    naive_right = int(sum(int(p) == labels[f] for p, f in zip(naive, files, strict=True)))
    tutorial_lines: list[list[object]] = []
    if DEFAULT_MNIST.is_file():
        tutorial = tutorial_model(DEFAULT_MNIST)
        naive_tutorial = tutorial.predict(raw_files).argmax(axis=1)
        tutorial_right = int(
            sum(int(p) == labels[f] for p, f in zip(naive_tutorial, files, strict=True))
        )
        tutorial_lines.append(
            [
                f"naive, tutorial's model (MNIST test {tutorial.mnist_test_accuracy:.2%})",
                f"{tutorial_right}/{len(files)}",
                f"{tutorial_right / len(files):.1%}",
            ]
        )

    ref = resolve_model(args.model)
    mnist_line = "MNIST not available: test accuracy not re-measured."
    if DEFAULT_MNIST.is_file():
        x_test, y_test = mnist_test()
        prepared = prepare_digits(x_test, available_cores())
        probabilities = np.concatenate(
            [classifier.predict(prepared[i : i + 1000]) for i in range(0, len(prepared), 1000)]
        )
        predicted = probabilities.argmax(axis=1)
        # As scan reads them: a whole-page reading where the model is unsure.
        unsure = np.flatnonzero(probabilities.max(axis=1) < SECOND_READING_BELOW)
        whole_pages = [mnist_readings(x_test[i])[1] for i in unsure]
        as_scanned = predicted.copy()
        as_scanned[unsure] = choose_readings(
            classifier, prepared[unsure], whole_pages
        ).probabilities.argmax(axis=1)
        raw = np.concatenate(
            [
                classifier.predict(x_test[i : i + 1000]).argmax(axis=1)
                for i in range(0, len(x_test), 1000)
            ]
        )
        mnist_line = (
            f"MNIST test set (10,000 digits), through the scan preprocessing: "
            f"**{np.mean(predicted == y_test):.2%}** (metadata says "
            f"{ref.metadata.get('mnist_test_accuracy', float('nan')):.2%}); "
            f"as scan reads them, with a whole-page reading for the {len(unsure)} the model "
            f"is unsure of: **{np.mean(as_scanned == y_test):.2%}**; "
            f"raw MNIST digits fed directly: **{np.mean(raw == y_test):.2%}**."
        )

    body = "\n".join(
        [
            f"Model: `{classifier.model_id}` ({ref.source}).",
            "",
            table(
                ["pipeline", "right", "accuracy"],
                [
                    ["batchdigits scan", f"{right}/{len(rows)}", f"**{right / len(rows):.1%}**"],
                    *tutorial_lines,
                    [
                        "naive (raw file resized to 28x28), our model",
                        f"{naive_right}/{len(files)}",
                        f"{naive_right / len(files):.1%}",
                    ],
                ],
            ),
            "",
            f"`batchdigits scan sample_scans` end to end (subprocess, start-up included), "
            f"median of {len(times)}: **{np.median(times):.2f} s** for {len(rows)} images "
            f"(runs: {', '.join(f'{t:.2f}' for t in times)} s).",
            f"Flagged for review: {len(flagged)}; wrong but not flagged: {unflagged_wrong}.",
            "",
            mnist_line,
            "",
            "Misread: " + ("; ".join(wrong) if wrong else "none") + ".",
        ]
    )
    print(body)
    write_section("sample_accuracy", "## sample_scans/: accuracy and time\n\n" + body)


if __name__ == "__main__":
    main()
