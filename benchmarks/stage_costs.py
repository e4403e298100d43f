"""Where scan's CPU time goes: each stage timed alone, in one process.

Usage: python benchmarks/stage_costs.py [--files 600] [--rounds 3]
       [--baseline REV|none] [--folder PATH]

Takes a sample of the throughput folder (run benchmarks/throughput.py first)
and measures the CPU time (all threads of this process) each stage costs per
file, with nothing else running: decoding as the decode ceiling does it
(full size, colour converted to grey), decoding as scan does it (JPEG draft
mode), preprocessing (both readings), and the model (batches of 256). In a
scan these run side by side on all cores, so per-stage times measured inside
a scan include waiting for a core; these do not, and they add up to the CPU
time a file costs.

Preprocessing and the model are also timed for a baseline revision
(default 1af046d, the version before engine v2): its `batchdigits/` package
is extracted with `git archive` and run by benchmarks/_stage_timing.py in a
child process of the same interpreter (PYTHONPATH pointing at it), on the
same decoded pages, its own shipped model in batches of 256, baseline and
current in turn over a few rounds so that machine noise hits both. Engine
v2's targets: preprocessing at least 2.5x and the model at least 2x cheaper
per file than the baseline.

For comparison it also runs the model's network under Keras (scan runs
its LiteRT twin, batchdigits/lite.py), and times
whole files as a worker prepares them (decode and preprocessing, the
pipeline's re-decode at full size included) for pages with no digit on
them, against the pages with one: on a page where nothing turns up, scan
searches again at a finer size for a small digit.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table, write_section
from _stage_timing import StageTimer, per_file_ms, save_pages
from throughput import WORK, decode_only, image_files

from batchdigits.discover import SourceFile
from batchdigits.load import MAX_PIXELS, Page, load_pages
from batchdigits.model import DigitClassifier
from batchdigits.pipeline import TRUST_REDUCED_ABOVE, prepare_file
from batchdigits.preprocess import mnist_readings
from batchdigits.preprocess import reading as preprocess_reading

FOLDER = WORK / "throughput_10000"
Item = TypeVar("Item")
# Today's version, before engine v2, and what engine v2 must beat it by.
BASELINE = "1af046d"
TARGETS = {"preprocessing": 2.5, "model": 2.0}
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


def keras_runtime(classifier: DigitClassifier, batch: np.ndarray) -> tuple[float, float, float]:
    """The same model under Keras, as scan ran it before its LiteRT twin
    (one thread). Returns CPU ms per image for scan's runtime and for Keras,
    and the largest difference in their logits."""
    keras = DigitClassifier(classifier.ref, threads=1, runtime="keras")
    difference = float(np.abs(keras.logits(batch) - classifier.logits(batch)).max())
    scan_ms = per_file_ms([batch] * 8, classifier.logits) / len(batch)
    keras_ms = per_file_ms([batch] * 8, keras.logits) / len(batch)
    return scan_ms, keras_ms, difference


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


class Baseline:
    """Another revision's `batchdigits`, extracted with `git archive` and timed
    by benchmarks/_stage_timing.py in a child process (same interpreter),
    which keeps its pages and model loaded between rounds."""

    def __init__(self, revision: str, tmp: Path, pages: list[tuple[np.ndarray, bool]]) -> None:
        commit = subprocess.run(
            ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if commit.returncode:
            sys.exit(f"--baseline {revision}: not a revision of {REPO}")
        self.revision = revision
        self.commit = commit.stdout.strip()
        root = tmp / "baseline"
        root.mkdir()
        archive = subprocess.run(
            ["git", "archive", self.commit, "batchdigits"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
        pages_path = tmp / "pages.npz"
        save_pages(pages_path, pages)
        self.log = (tmp / "baseline.log").open("w+")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve().with_name("_stage_timing.py")),
                str(pages_path),
                str(root / "batchdigits" / "models" / "digits.keras"),
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.ready = self._answer()

    def _answer(self) -> dict[str, object]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.log.seek(0)
            tail = "".join(self.log.readlines()[-15:])
            sys.exit(f"the baseline ({self.revision}) failed:\n{tail}")
        return json.loads(line)

    def measure(self) -> dict[str, float]:
        assert self.process.stdin is not None
        self.process.stdin.write("measure\n")
        self.process.stdin.flush()
        return self._answer()  # type: ignore[return-value]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()
        self.log.close()


def shown(path: Path) -> str:
    return path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)


def versus_baseline(
    baseline: Baseline, measured: dict[str, list[dict[str, float]]], blank: int, model_id: str
) -> list[str]:
    """The body lines comparing today's preprocessing and model with the baseline's."""

    def median(side: str, stage: str) -> float:
        return float(np.median([figures[stage] for figures in measured[side]]))

    rows = []
    for stage, key in (("preprocessing", "preprocess"), ("model", "model")):
        before, now = median("baseline", key), median("current", key)
        ratio = before / now
        wanted = TARGETS[stage]
        rows.append(
            [
                stage,
                f"{before:.2f}",
                f"{now:.2f}",
                f"{ratio:.2f}x",
                f">= {wanted:g}x",
                "met" if ratio >= wanted else "**not met**",
            ]
        )
    rounds = [
        [
            str(i + 1),
            f"{b['preprocess']:.2f}",
            f"{c['preprocess']:.2f}",
            f"{b['model']:.3f}",
            f"{c['model']:.3f}",
        ]
        for i, (b, c) in enumerate(zip(measured["baseline"], measured["current"], strict=True))
    ]
    short = baseline.commit[:7]
    named = (
        baseline.revision
        if baseline.revision.startswith(short)
        else f"{baseline.revision}, {short}"
    )
    return [
        f"Against the baseline `{named}` (extracted with `git archive`, "
        "timed in a child process of the same interpreter, on the same decoded pages, "
        "baseline and current in turn; CPU milliseconds per file, medians):",
        "",
        table(
            ["stage", f"baseline {short}", "current", "baseline / current", "target", ""],
            rows,
        ),
        "",
        table(
            [
                "round",
                "preprocessing, baseline",
                "preprocessing, current",
                "model, baseline",
                "model, current",
            ],
            rounds,
        ),
        "",
        f"Models: baseline `{baseline.ready['model_id']}` (its shipped digits.keras), current "
        f"`{model_id}`. Pages with no digit read: baseline "
        f"{int(measured['baseline'][-1]['blank'])}, current {blank}.",
        "",
    ]


def _kernel_name(name: str) -> str:
    """``<method 'partition' of 'numpy.ndarray' objects>`` -> ``partition``."""
    if name.startswith("<method '"):
        return name.split("'")[1]
    return name.removeprefix("<built-in method ").removesuffix(">").rsplit(".", 1)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument(
        "--folder",
        type=Path,
        default=FOLDER,
        help="the scans to sample (default: the standard throughput folder; "
        "benchmarks/_work/throughput_harder_10000 is the harder one)",
    )
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        metavar="REV",
        help=f"git revision to compare preprocessing and the model with (default {BASELINE}, "
        "the version before engine v2); 'none' to skip",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of preprocessing and model timing, baseline and current in turn",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    folder = args.folder.resolve()
    files = image_files(folder)
    if not files:
        sys.exit(f"no files in {folder}: run benchmarks/throughput.py first")
    random.Random(0).shuffle(files)
    sample = files[: args.files]
    jpegs = [p for p in sample if p.suffix == ".jpg"]
    pngs = [p for p in sample if p.suffix == ".png"]

    for path in sample[:20]:  # warm the page cache and the imports
        load_pages(path)
    rows = []
    for name, group in (("JPEG", jpegs), ("PNG", pngs)):
        if not group:
            continue
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
    decoded = [(page.pixels, page.reduced) for page in pages]

    def read(page: Page) -> np.ndarray | None:
        min_digit = TRUST_REDUCED_ABOVE if page.reduced else 0
        return mnist_readings(page.pixels, min_digit=min_digit)[0]

    # Preprocessing and the model, today's code and the baseline's in turn
    # (the baseline in a child process), on the same decoded pages.
    current = StageTimer(decoded)
    measured: dict[str, list[dict[str, float]]] = {"baseline": [], "current": []}
    baseline = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline.lower() != "none":
            baseline = Baseline(args.baseline, Path(tmp), decoded)
        try:
            for round_ in range(args.rounds):
                for side in ("baseline", "current")[:: 1 if round_ % 2 == 0 else -1]:
                    if side == "current":
                        figures = {"preprocess": current.preprocess(), "model": current.model()}
                        measured["current"].append(figures)
                    elif baseline is not None:
                        measured["baseline"].append(baseline.measure())
        finally:
            if baseline is not None:
                baseline.close()

    def median(side: str, stage: str) -> float:
        return float(np.median([figures[stage] for figures in measured[side]]))

    preprocess = median("current", "preprocess")
    model = median("current", "model")
    kernels, costliest = compiled_ms(pages, read)
    rows.append(["preprocess (both readings)", "", f"{preprocess:.2f}"])
    classifier = current.classifier
    batch = current.batch
    rows.append(
        [f"model, first readings in batches of 256 (`{classifier.model_id}`)", "", f"{model:.2f}"]
    )
    versus = (
        versus_baseline(baseline, measured, current.blank, classifier.model_id)
        if baseline is not None
        else []
    )
    runtime_ms, keras_ms, runtime_difference = keras_runtime(classifier, batch)
    total = decode + preprocess + model
    rows.append(["**total per file**", f"**{ceiling:.2f}**", f"**{total:.2f}**"])

    # Not what scan does: the same preprocessing at half the working size,
    # to show how much of its cost is per-call overhead rather than pixels.
    def prepare_small(page: Page) -> None:
        image = np.asarray(page.pixels, dtype=np.float32)
        with contextlib.suppress(preprocess_reading.DigitTooSmall):
            preprocess_reading.readings_of(image, refine=True, work_max=128, whole_page=True)

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
            f"{len(sample)} files from `{shown(folder)}`, one process, "
            "CPU milliseconds per file (preprocessing and the model: medians of "
            f"{args.rounds} rounds):",
            "",
            table(["stage", "decode ceiling", "batchdigits scan"], rows),
            "",
            f"On these figures scan can reach at most {ceiling / total:.0%} "
            "of the ceiling, start-up and hand-offs left out.",
            "",
            *versus,
            f"Of preprocessing's {preprocess:.2f} ms, {kernels:.2f} ms run inside compiled "
            "functions of numpy, scipy, Pillow and OpenCV (measured under cProfile), and about "
            f"{max(0.0, preprocess - kernels):.2f} ms in the Python around them: the most that "
            "compiling that Python could save while the kernels do the same work. The "
            "costliest kernels (ms per file): "
            + ", ".join(f"`{_kernel_name(name)}` {ms:.2f}" for name, ms in costliest)
            + ".",
            "",
            f"The same preprocessing at half the working size (128 px instead of "
            f"{preprocess_reading.WORK_MAX}, a quarter of the pixels; not what scan does): "
            f"{half:.2f} ms against {preprocess:.2f} ms, {half_kernels:.2f} ms of it in "
            "compiled functions. Most of its cost does not scale with the working size: "
            "per-call overhead, the first shrinking, which reads every decoded pixel, and "
            "digits small at that size, which are read again from the original at the usual size.",
            "",
            f"The model's network alone, logits only, one thread: {runtime_ms:.2f} ms per "
            f"image on scan's runtime ({classifier.runtime}) against {keras_ms:.2f} ms under "
            f"Keras, which scan used before; the logits differ by at most "
            f"{runtime_difference:.1e}.",
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
