"""Where scan's CPU time goes: each stage timed alone, in one process.

Usage: python benchmarks/stage_costs.py [--files 600]

Takes a sample of the throughput folder (run benchmarks/throughput.py first)
and measures the CPU time (all threads of this process) each stage costs per
file, with nothing else running: decoding as the decode ceiling does it
(full size, colour converted to grey), decoding as scan does it (JPEG draft
mode), preprocessing (both readings), and the model (batches of 256). In a
scan these run side by side on all cores, so per-stage times measured inside
a scan include waiting for a core; these do not, and they add up to the CPU
time a file costs.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table, write_section
from throughput import WORK, decode_only, image_files

from batchdigits import preprocess as preprocess_module
from batchdigits.load import load_pages
from batchdigits.model import load_classifier
from batchdigits.preprocess import mnist_readings

FOLDER = WORK / "throughput_10000"


def per_file_ms(work: list, function: object) -> float:
    """CPU milliseconds (all threads of this process) per item."""
    started = time.process_time()
    for item in work:
        function(item)  # type: ignore[operator]
    return (time.process_time() - started) / len(work) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=600)
    args = parser.parse_args()
    files = image_files(FOLDER)
    if not files:
        sys.exit(f"no files in {FOLDER}: run benchmarks/throughput.py first")
    random.Random(0).shuffle(files)
    sample = files[: args.files]
    jpegs = [p for p in sample if p.suffix == ".jpg"]
    pngs = [p for p in sample if p.suffix == ".png"]

    for path in sample[:20]:  # warm the page cache and the imports
        load_pages(path)
    rows = []
    for name, group in (("JPEG", jpegs), ("PNG", pngs)):
        rows.append(
            [
                f"decode {name} ({len(group)} files)",
                f"{per_file_ms(group, decode_only):.2f}",
                f"{per_file_ms(group, load_pages):.2f}",
            ]
        )
    ceiling = per_file_ms(sample, decode_only)
    decode = per_file_ms(sample, load_pages)
    rows.append(["decode, all files", f"{ceiling:.2f}", f"{decode:.2f}"])

    pages = [load_pages(path)[0] for path in sample]
    readings: list[np.ndarray] = []

    def prepare(page: object) -> None:
        first, _ = mnist_readings(page.pixels, min_digit=48 if page.reduced else 0)  # type: ignore[attr-defined]
        if first is not None:
            readings.append(first)

    preprocess = per_file_ms(pages, prepare)
    rows.append(["preprocess (both readings)", "", f"{preprocess:.2f}"])

    classifier = load_classifier(threads=1)
    batch = np.stack((readings * (256 // len(readings) + 1))[:256])
    classifier.predict(batch)
    model = per_file_ms([batch] * 8, classifier.predict) / len(batch)
    rows.append(
        [f"model, first readings in batches of 256 (`{classifier.model_id}`)", "", f"{model:.2f}"]
    )
    total = decode + preprocess + model
    rows.append(["**total per file**", f"**{ceiling:.2f}**", f"**{total:.2f}**"])

    # Not what scan does: the same preprocessing at half the working size,
    # to show how much of its cost is per-call overhead rather than pixels.
    def prepare_small(page: object) -> None:
        image = np.asarray(page.pixels, dtype=np.float32)  # type: ignore[attr-defined]
        with contextlib.suppress(preprocess_module._DigitTooSmall):
            preprocess_module._readings(image, refine=True, work_max=128, whole_page=True)

    half = per_file_ms(pages, prepare_small)
    body = "\n".join(
        [
            f"{len(sample)} files from `{FOLDER.relative_to(FOLDER.parents[2])}`, one process, "
            "CPU milliseconds per file:",
            "",
            table(["stage", "decode ceiling", "batchdigits scan"], rows),
            "",
            f"On these figures scan can reach at most {ceiling / total:.0%} "
            "of the ceiling, start-up and hand-offs left out.",
            "",
            f"The same preprocessing at half the working size (128 px instead of "
            f"{preprocess_module._WORK_MAX}, a quarter of the pixels; not what scan does): "
            f"{half:.2f} ms against {preprocess:.2f} ms. Most of its cost is per call, "
            "not per pixel.",
        ]
    )
    print(body)
    write_section("stage_costs", "## CPU time per file, stage by stage\n\n" + body)


if __name__ == "__main__":
    main()
