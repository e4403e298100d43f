"""Does decoding JPEGs in Pillow's draft mode change results?

Usage: python benchmarks/draft_mode.py

`scan` decodes colour JPEGs straight to grey (the decoder's luma channel),
and a JPEG whose longer side exceeds twice DRAFT_MIN_SIDE also at 1/2, 1/4
or 1/8 scale (never below DRAFT_MIN_SIDE), decoding it again at full size
when nothing, or only a small digit, was found. This script takes every JPEG
in the labelled benchmark folders (the scan benchmark's two splits and
extra_looks; run those first), prepares each both ways (as `scan` does, and
from a full-size colour decode converted to grey) and compares the model's
answers: how often the digit differs, how far the confidence moves, and the
accuracy each way, for all JPEGs and for the big ones alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, read_labels, table, write_section

from batchdigits.discover import SourceFile
from batchdigits.load import DRAFT_MIN_SIDE, load_pages
from batchdigits.model import load_classifier
from batchdigits.parallel import available_cores, ordered_map
from batchdigits.pipeline import prepare_file
from batchdigits.preprocess import MNIST_SIDE, to_mnist

FOLDERS = ("scans_test", "scans_calibration", "extra_looks")
WORK = REPO / "benchmarks" / "_work"


def labelled_jpegs() -> list[tuple[Path, int, bool]]:
    """(path, label, whether it is big enough to be decoded at reduced size)."""
    found = []
    for name in FOLDERS:
        folder = WORK / name
        if not (folder / "labels.csv").exists():
            continue
        for file, label in read_labels(folder / "labels.csv").items():
            path = folder / file
            if path.suffix.lower() not in (".jpg", ".jpeg"):
                continue
            with Image.open(path) as image:
                found.append((path, label, max(image.size) > 2 * DRAFT_MIN_SIDE))
    return found


def prepare_both(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(draft, full) MNIST-form images; blank pages as all-zero images."""
    blank = np.zeros((MNIST_SIDE, MNIST_SIDE), np.uint8)
    drafted, full = [], []
    for path in paths:
        source = SourceFile.of(path)
        (page,) = prepare_file(source, max_pixels=10**9)
        drafted.append(blank if page.image is None else page.image)
        image = to_mnist(load_pages(path, draft=False)[0].pixels)
        full.append(blank if image is None else image)
    return np.stack(drafted), np.stack(full)


def main() -> None:
    files = labelled_jpegs()
    if not files:
        sys.exit("no labelled JPEGs: run scan_benchmark.py and extra_looks.py first")
    paths = [path for path, _, _ in files]
    labels = np.array([label for _, label, _ in files])
    big = np.array([is_big for _, _, is_big in files])
    chunks = [paths[i : i + 50] for i in range(0, len(paths), 50)]
    with ordered_map(prepare_both, chunks, available_cores()) as results:
        parts = list(results)
    drafted = np.concatenate([part[0] for part in parts])
    full = np.concatenate([part[1] for part in parts])
    classifier = load_classifier()
    p_draft, p_full = classifier.predict(drafted), classifier.predict(full)
    digit_draft, digit_full = p_draft.argmax(axis=1), p_full.argmax(axis=1)
    confidence_shift = np.abs(p_draft.max(axis=1) - p_full.max(axis=1))
    right_draft, right_full = digit_draft == labels, digit_full == labels
    rows = []
    for name, subset in (
        ("all JPEGs", np.ones(len(files), bool)),
        (f"JPEGs over {2 * DRAFT_MIN_SIDE} px (also reduced)", big),
    ):
        shift = confidence_shift[subset]
        rows += [
            [f"**{name}**", f"{int(subset.sum())}"],
            ["digit differs", f"{int((digit_draft != digit_full)[subset].sum())}"],
            [
                "confidence shift, median / 99th percentile",
                f"{np.median(shift):.4f} / {np.percentile(shift, 99):.4f}",
            ],
            ["accuracy, draft mode (as scan runs)", f"{right_draft[subset].mean():.2%}"],
            ["accuracy, full-size colour decode", f"{right_full[subset].mean():.2%}"],
        ]
    body = "\n".join(
        [
            f"Folders: {', '.join(FOLDERS)} (benchmarks/_work); model `{classifier.model_id}`.",
            "",
            table(["", ""], rows),
        ]
    )
    print(body)
    title = "## JPEG draft mode (grey, reduced size) against full-size colour decoding"
    write_section("draft_mode", f"{title}\n\n{body}")


if __name__ == "__main__":
    main()
