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

For comparison it also runs the model under TensorFlow Lite, and times
whole files as a worker prepares them (decode and preprocessing, the
pipeline's re-decode at full size included) for pages with no digit on
them, against the pages with one: on a page where nothing turns up, scan
searches again at a finer size for a small digit.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import table, write_section
from throughput import WORK, decode_only, image_files

from batchdigits import preprocess as preprocess_module
from batchdigits.discover import SourceFile
from batchdigits.load import MAX_PIXELS, Page, load_pages
from batchdigits.model import KerasClassifier, load_classifier
from batchdigits.pipeline import TRUST_REDUCED_ABOVE, prepare_file
from batchdigits.preprocess import mnist_readings, to_model_input

FOLDER = WORK / "throughput_10000"
Item = TypeVar("Item")
BLANK_FOLDER = WORK / "blank_pages"
BLANK_SIDES = (500, 1000, 2000)


def blank_pages() -> list[Path]:
    """Pages of paper with no writing: light grey with grain, JPEG and PNG."""
    BLANK_FOLDER.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for side in BLANK_SIDES:
        paper = np.clip(rng.normal(225, 6, (side, round(side * 0.77))), 0, 255)
        image = Image.fromarray(paper.astype(np.uint8))
        for suffix in (".jpg", ".png"):
            path = BLANK_FOLDER / f"blank_{side}{suffix}"
            if not path.exists():
                if suffix == ".jpg":
                    image.convert("RGB").save(path, quality=90)
                else:
                    image.save(path)
            paths.append(path)
    return paths


def lite_runtime(classifier: KerasClassifier, batch: np.ndarray) -> tuple[float, float, float]:
    """Not what scan does: the same model converted to TensorFlow Lite and run
    by its XNNPACK CPU kernels, one thread. Returns CPU ms per image for Keras
    and for TensorFlow Lite, and the largest difference in their logits."""
    import tensorflow as tf

    model = classifier._model
    with contextlib.redirect_stdout(sys.stderr):  # the converter prints its export log
        converted = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    interpreter = tf.lite.Interpreter(model_content=converted, num_threads=1)
    (source,), (target,) = interpreter.get_input_details(), interpreter.get_output_details()
    inputs = to_model_input(batch)
    interpreter.resize_tensor_input(source["index"], inputs.shape)
    interpreter.allocate_tensors()

    def lite(values: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(source["index"], values)
        interpreter.invoke()
        return interpreter.get_tensor(target["index"])

    difference = float(np.abs(lite(inputs) - classifier.logits(batch)).max())
    keras_ms = per_file_ms([batch] * 8, classifier.logits) / len(batch)
    lite_ms = per_file_ms([inputs] * 8, lite) / len(batch)
    return keras_ms, lite_ms, difference


def prepare_as_worker(path: Path) -> None:
    """A file as a scan worker prepares it: decode, preprocess, re-decode if needed."""
    prepare_file(SourceFile.of(path), max_pixels=MAX_PIXELS)


def compiled_ms(
    work: Sequence[Item], function: Callable[[Item], object]
) -> tuple[float, list[tuple[str, float]]]:
    """Milliseconds per item spent inside compiled code (numpy, scipy and
    Pillow's C functions), and the costliest of those functions.

    Measured under cProfile, whose overhead lands on the Python calls
    around the kernels, not on the kernels' own time. What is left of the
    unprofiled cost is Python: the most that compiling the code around the
    kernels could save while they do the same work.
    """
    profile = cProfile.Profile()
    profile.enable()
    for item in work:
        function(item)
    profile.disable()
    stats = pstats.Stats(profile).stats
    kernels = {key[2]: value[2] for key, value in stats.items() if key[0] == "~"}
    kernels = {name: seconds / len(work) * 1e3 for name, seconds in kernels.items()}
    costliest = sorted(kernels.items(), key=lambda item: -item[1])[:6]
    return sum(kernels.values()), costliest


def per_file_ms(work: Sequence[Item], function: Callable[[Item], object]) -> float:
    """CPU milliseconds (all threads of this process) per item."""
    started = time.process_time()
    for item in work:
        function(item)
    return (time.process_time() - started) / len(work) * 1e3


def _kernel_name(name: str) -> str:
    """``<method 'partition' of 'numpy.ndarray' objects>`` -> ``partition``."""
    if name.startswith("<method '"):
        return name.split("'")[1]
    return name.removeprefix("<built-in method ").removesuffix(">").rsplit(".", 1)[-1]


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

    def read(page: Page) -> np.ndarray | None:
        min_digit = TRUST_REDUCED_ABOVE if page.reduced else 0
        return mnist_readings(page.pixels, min_digit=min_digit)[0]

    def prepare(page: Page) -> None:
        first = read(page)
        if first is not None:
            readings.append(first)

    preprocess = per_file_ms(pages, prepare)
    kernels, costliest = compiled_ms(pages, read)
    rows.append(["preprocess (both readings)", "", f"{preprocess:.2f}"])

    classifier = load_classifier(threads=1)
    batch = np.stack((readings * (256 // len(readings) + 1))[:256])
    classifier.predict(batch)
    model = per_file_ms([batch] * 8, classifier.predict) / len(batch)
    rows.append(
        [f"model, first readings in batches of 256 (`{classifier.model_id}`)", "", f"{model:.2f}"]
    )
    keras_ms, lite_ms, lite_difference = lite_runtime(classifier, batch)
    total = decode + preprocess + model
    rows.append(["**total per file**", f"**{ceiling:.2f}**", f"**{total:.2f}**"])

    # Not what scan does: the same preprocessing at half the working size,
    # to show how much of its cost is per-call overhead rather than pixels.
    def prepare_small(page: Page) -> None:
        image = np.asarray(page.pixels, dtype=np.float32)
        with contextlib.suppress(preprocess_module._DigitTooSmall):
            preprocess_module._readings(image, refine=True, work_max=128, whole_page=True)

    half = per_file_ms(pages, prepare_small)
    half_kernels, _ = compiled_ms(pages, prepare_small)

    with_digit = per_file_ms(sample, prepare_as_worker)
    blank_rows = [["a page with a digit (the sample above)", f"{with_digit:.1f}", "1.0x"]]
    for path in blank_pages():
        prepare_as_worker(path)
        cost = per_file_ms([path] * 3, prepare_as_worker)
        side = path.stem.split("_")[1]
        blank_rows.append(
            [
                f"blank page, {side} px, {path.suffix[1:].upper()}",
                f"{cost:.1f}",
                f"{cost / with_digit:.1f}x",
            ]
        )
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
            f"Of preprocessing's {preprocess:.2f} ms, {kernels:.2f} ms run inside compiled "
            "functions of numpy, scipy and Pillow (measured under cProfile), and about "
            f"{max(0.0, preprocess - kernels):.2f} ms in the Python around them: the most that "
            "compiling that Python could save while the kernels do the same work. The "
            "costliest kernels (ms per file): "
            + ", ".join(f"`{_kernel_name(name)}` {ms:.2f}" for name, ms in costliest)
            + ".",
            "",
            f"The same preprocessing at half the working size (128 px instead of "
            f"{preprocess_module._WORK_MAX}, a quarter of the pixels; not what scan does): "
            f"{half:.2f} ms against {preprocess:.2f} ms, {half_kernels:.2f} ms of it in "
            "compiled functions. Most of its cost does not scale with the working size: "
            "per-call overhead, the first shrinking, which reads every decoded pixel, and "
            "digits small at that size, which are read again from the original at the usual size.",
            "",
            f"The same model under TensorFlow Lite's XNNPACK kernels (not what scan does; "
            f"one thread, logits only): {lite_ms:.2f} ms per image against {keras_ms:.2f} ms "
            f"under Keras; the logits differ by at most {lite_difference:.1e}.",
            "",
            "Pages with no digit, decoded and prepared as a scan worker does it "
            "(CPU milliseconds per file; the longest side given):",
            "",
            table(["page", "ms", "against a page with a digit"], blank_rows),
        ]
    )
    print(body)
    write_section("stage_costs", "## CPU time per file, stage by stage\n\n" + body)


if __name__ == "__main__":
    main()
