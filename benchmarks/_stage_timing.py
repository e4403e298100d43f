"""CPU cost per file of preprocessing and of the model, for whichever
`batchdigits` this process imports.

stage_costs.py imports this module to time the current code, and runs it
as a script, with PYTHONPATH set to an extracted older revision, to time
that revision the same way on the same decoded pages (the baseline):

    python _stage_timing.py PAGES.npz MODEL.keras

The child loads the pages (``pixels_0``, ``pixels_1``, ... and ``reduced``)
and the model, warms up, and writes one JSON line to stdout: ``{"ready":
true, "batchdigits": where it was imported from, "model_id": ...}``. Then,
for each line read from stdin, it times both stages once and writes one
JSON line: ``{"preprocess": ms, "model": ms, "blank": pages}``. It exits at
the end of stdin. Anything else it or TensorFlow prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

Item = TypeVar("Item")
BATCH = 256
MODEL_BATCHES = 8


def per_file_ms(work: Sequence[Item], function: Callable[[Item], object]) -> float:
    """CPU milliseconds (all threads of this process) per item."""
    started = time.process_time()
    for item in work:
        function(item)
    return (time.process_time() - started) / len(work) * 1e3


class StageTimer:
    """Times this process's `batchdigits` on decoded pages: preprocessing
    (both readings, as a scan worker reads a page) and the model (its first
    readings in batches of 256, one thread)."""

    def __init__(self, pages: Sequence[tuple[np.ndarray, bool]], model: Path | None = None) -> None:
        from batchdigits.model import load_classifier
        from batchdigits.preprocess import mnist_readings

        try:
            from batchdigits.pipeline import TRUST_REDUCED_ABOVE
        except ImportError:  # a revision without it: read every page alike
            TRUST_REDUCED_ABOVE = 0  # noqa: N806

        self.pages = list(pages)
        self._readings = mnist_readings
        self._trust = TRUST_REDUCED_ABOVE
        self.readings: list[np.ndarray] = []
        self.classifier = load_classifier(model, threads=1)
        self.preprocess()  # warm: imports, caches, the first model call
        self.model()

    def read(self, page: tuple[np.ndarray, bool]) -> np.ndarray | None:
        pixels, reduced = page
        return self._readings(pixels, min_digit=self._trust if reduced else 0)[0]

    def preprocess(self) -> float:
        readings: list[np.ndarray] = []

        def prepare(page: tuple[np.ndarray, bool]) -> None:
            first = self.read(page)
            if first is not None:
                readings.append(first)

        ms = per_file_ms(self.pages, prepare)
        self.readings = readings
        return ms

    @property
    def batch(self) -> np.ndarray:
        if not self.readings:
            raise SystemExit(
                "no digit found on any page of the sample: nothing to time the model on"
            )
        return np.stack((self.readings * (BATCH // len(self.readings) + 1))[:BATCH])

    def model(self) -> float:
        batch = self.batch
        self.classifier.predict(batch)
        return per_file_ms([batch] * MODEL_BATCHES, self.classifier.predict) / len(batch)

    @property
    def blank(self) -> int:
        return len(self.pages) - len(self.readings)


def save_pages(path: Path, pages: Sequence[tuple[np.ndarray, bool]]) -> None:
    arrays: dict[str, Any] = {f"pixels_{i}": pixels for i, (pixels, _) in enumerate(pages)}
    np.savez(path, reduced=np.array([reduced for _, reduced in pages], bool), **arrays)


def load_pages_file(path: Path) -> list[tuple[np.ndarray, bool]]:
    with np.load(path) as data:
        reduced = data["reduced"]
        return [(data[f"pixels_{i}"], bool(flag)) for i, flag in enumerate(reduced)]


def child(pages_path: Path, model: Path) -> None:
    """The baseline side of stage_costs.py (see the module docstring)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else is printed, from Python or C, goes to stderr
    sys.stdout = sys.stderr

    import batchdigits

    where = Path(batchdigits.__file__).resolve()
    expected = [Path(p).resolve() for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if not any(where.is_relative_to(root) for root in expected):
        raise SystemExit(f"the baseline imported batchdigits from {where}, not from PYTHONPATH")

    timer = StageTimer(load_pages_file(pages_path), model)
    ready = {"ready": True, "batchdigits": str(where.parent), "model_id": timer.classifier.model_id}
    print(json.dumps(ready), file=protocol)
    for _ in sys.stdin:
        preprocess = timer.preprocess()
        model_ms = timer.model()
        print(
            json.dumps({"preprocess": preprocess, "model": model_ms, "blank": timer.blank}),
            file=protocol,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python _stage_timing.py PAGES.npz MODEL.keras")
    child(Path(sys.argv[1]), Path(sys.argv[2]))
