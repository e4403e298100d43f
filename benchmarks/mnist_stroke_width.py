"""Measure MNIST's stroke width, which preprocessing normalises scans to.

Usage: python benchmarks/mnist_stroke_width.py [--data ../shared/data/mnist.npz]

Stroke width is estimated as 2 * area / boundary length of the digit's ink
(pixels over 127) in its 28x28 image, where the digit is fitted into 20x20.
preprocess.mnist_form.STROKE_MIN and STROKE_MAX are the 10th and 90th percentiles.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, write_section

from batchdigits.preprocess.mnist_form import STROKE_MAX, STROKE_MIN
from batchdigits.preprocess.shapes import stroke_width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    args = parser.parse_args()
    with np.load(args.data) as data:
        digits = data["x_train"]
    widths = np.array([stroke_width(digit > 127) for digit in digits])
    p10, p50, p90 = np.percentile(widths, [10, 50, 90])
    body = (
        f"Stroke width of the {len(digits):,} MNIST training digits (pixels of the 20x20 box): "
        f"10th percentile {p10:.2f}, median {p50:.2f}, 90th percentile {p90:.2f}. "
        f"Preprocessing keeps strokes within [{STROKE_MIN}, {STROKE_MAX}]."
    )
    print(body)
    write_section("mnist_stroke_width", "## MNIST stroke width\n\n" + body)


if __name__ == "__main__":
    main()
