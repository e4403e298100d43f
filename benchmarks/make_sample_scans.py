"""Make sample_scans/: 100 scan-like images of MNIST test digits, with labels.csv.

Usage: python benchmarks/make_sample_scans.py [--data ../shared/data/mnist.npz] [--out sample_scans]

The digits are MNIST test digits 9900-9999, which no model here trains on,
and which the scan benchmark (digits from 0 upwards) does not use either.
Each image gets one look condition (pencil, grey paper, ruled paper,
off-centre, ...) and is saved as PNG or JPEG.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import mnist_test
from scanlike import LOOK_CONDITIONS, render_condition

FIRST_DIGIT = 9900
COUNT = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/mnist.npz"))
    parser.add_argument("--out", type=Path, default=Path("sample_scans"))
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    digits, labels = mnist_test(args.data)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    conditions = [c for c in LOOK_CONDITIONS if c != "large_digit"]  # keep the folder small
    for i in range(COUNT):
        index = FIRST_DIGIT + i
        condition = conditions[i % len(conditions)]
        stem = args.out / f"scan_{i:03d}_{condition}"
        path = render_condition(digits[index], condition, rng, stem)
        rows.append((path.name, int(labels[index])))
    with (args.out / "labels.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} images and labels.csv to {args.out}")


if __name__ == "__main__":
    main()
