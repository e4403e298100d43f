"""Write batchdigits/models/replay.npz: MNIST training digits in MNIST form.

Usage: python benchmarks/make_replay.py [--count 5000]

``learn`` calibrates its memory on these (see batchdigits/learn.py): the
radius at which stored corrections start to override the network is set so
that they change almost none of these digits' answers. They are the last
``--count`` digits of MNIST's training set, run through the scan
preprocessing exactly as training and ``batchdigits train`` run them.
MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST

from batchdigits.learn import replay_path
from batchdigits.parallel import available_cores
from batchdigits.train import prepare_digits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()
    with np.load(DEFAULT_MNIST) as data:
        digits, labels = data["x_train"][-args.count :], data["y_train"][-args.count :]
    images = prepare_digits(digits, available_cores())
    usable = images.reshape(len(images), -1).any(axis=1)
    np.savez_compressed(replay_path(), images=images[usable], labels=labels[usable])
    size = replay_path().stat().st_size
    print(f"wrote {replay_path()}: {int(usable.sum())} digits ({size:,} bytes)")


if __name__ == "__main__":
    main()
