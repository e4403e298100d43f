"""Choose the shipped model's cascade (model.SecondOpinion) on data no benchmark scores.

Usage: python benchmarks/second_opinion.py [--data ../shared/data/mnist.npz]

The network consults the v1 ensemble where its calibrated confidence is under
a threshold, mixing in the ensemble's probabilities at a weight. Both are
chosen here, on two sets nothing is scored on: fresh renders of the training
style generator (batchdigits/styles.py, a seed training never used, distorted
as training distorts), where the ensemble is weakest, and the scan
benchmark's calibration split as scan reads it (first readings, and the
whole-page reading where the model is unsure), where it is strongest. The
benchmarks (scan benchmark test and holdout, style classes, ...) then score
the choice.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, table, write_section
from scan_benchmark import WORK, generate

from batchdigits.lite import lite_path
from batchdigits.load import load_pages
from batchdigits.model import (
    DigitClassifier,
    ModelRef,
    consulted_entries,
    metadata_path,
    read_metadata,
    shipped_model_path,
)
from batchdigits.pipeline import choose_readings
from batchdigits.preprocess import read_page, to_mnist
from batchdigits.recipe import TEACHER_FILENAME
from batchdigits.styles import STYLES, render_style
from batchdigits.train import distort

SEED = 987654
PER_STYLE = 200
THRESHOLDS = (0.95, 0.99, 0.999)
WEIGHTS = (0.25, 0.5, 0.75)


def style_renders() -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray | None]]:
    rng = np.random.default_rng(SEED)
    images, labels = [], []
    for name, (label, _) in STYLES.items():
        for _ in range(PER_STYLE):
            reading = to_mnist(distort(render_style(name, rng), rng, zoom=1))
            if reading is not None:
                images.append(reading)
                labels.append(label)
    return images, np.array(labels), [None] * len(images)


def calibration_split(
    data: Path,
) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray | None]]:
    folder = generate("calibration", data)
    with (folder / "labels.csv").open(encoding="utf-8", newline="") as stream:
        truth = {row["file"]: int(row["label"]) for row in csv.DictReader(stream)}
    firsts, wholes, labels = [], [], []
    for name in sorted(truth):
        reading = read_page(load_pages(folder / name)[0].pixels)
        if reading.first is None:
            continue
        firsts.append(reading.first)
        wholes.append(reading.whole_page)
        labels.append(truth[name])
    return firsts, np.array(labels), wholes


def scored(
    classifier: DigitClassifier,
    images: list[np.ndarray],
    labels: np.ndarray,
    wholes: list[np.ndarray | None],
) -> list[str]:
    """Right, not flagged and wrong among unflagged, read as scan reads: the
    classifier's own answer (second opinion and all), and the whole-page
    reading where it is unsure (pipeline.choose_readings)."""
    probabilities = choose_readings(classifier, images, wholes).probabilities
    right = probabilities.argmax(1) == labels
    unflagged = probabilities.max(1) >= 0.95
    wrong = (~right & unflagged).sum() / max(1, unflagged.sum())
    return [f"{right.mean():.2%}", f"{unflagged.mean():.1%}", f"{wrong:.2%}"]


def consulted_sets(
    shipped: Path, metadata: dict, peer: Path | None
) -> tuple[Path, dict[str, list[dict]]]:
    """The models a cascade may consult, by name (the v1 ensemble, the peer
    network: the recipe's network from another seed, and both), and the
    shipped model's path in a folder where they all lie beside it."""
    spec = metadata["second_opinion"]
    entries = consulted_entries(spec)
    ensemble = next((e for e in entries if e["file"] == TEACHER_FILENAME), entries[-1])
    peers = [entry for entry in entries if entry is not ensemble]
    folder = WORK / "cascade_candidates"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in shipped.parent.iterdir():
        (folder / source.name).symlink_to(source.resolve())
    if peer is not None:
        if (folder / peer.name).exists():
            raise SystemExit(f"--peer {peer}: name it apart from the shipped files")
        for source in (peer, metadata_path(peer), lite_path(peer)):
            if source.is_file():
                (folder / source.name).symlink_to(source.resolve())
        temperature = read_metadata(peer).get("temperature", 1.0)
        peers = [{"file": peer.name, "temperature": temperature}]
    sets = {"ensemble": [ensemble]}
    if peers:
        sets["peer"] = peers
        sets["peer and ensemble"] = [*peers, ensemble]
    return folder / shipped.name, sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument(
        "--peer",
        type=Path,
        default=None,
        help="a second network to try as (part of) the second opinion; "
        "default: the one the shipped model names, if any",
    )
    args = parser.parse_args()
    shipped = shipped_model_path()
    metadata = read_metadata(shipped)
    spec = metadata["second_opinion"]
    alone = {key: value for key, value in metadata.items() if key != "second_opinion"}
    network = DigitClassifier(ModelRef(shipped, "shipped", alone))
    shipped, sets = consulted_sets(shipped, metadata, args.peer)
    singles = {
        f"{name} alone": DigitClassifier(
            ModelRef(
                shipped,
                "shipped",
                {**alone, "second_opinion": {"models": models, "below": 1.01, "weight": 1.0}},
            )
        )
        for name, models in sets.items()
    }
    cascades = {
        (name, below, weight): DigitClassifier(
            ModelRef(
                shipped,
                "shipped",
                {**alone, "second_opinion": {"models": models, "below": below, "weight": weight}},
            )
        )
        for name, models in sets.items()
        for below in THRESHOLDS
        for weight in WEIGHTS
    }
    rows = []
    for set_name, (images, labels, wholes) in (
        ("style renders (held-out seed)", style_renders()),
        ("scan benchmark calibration split", calibration_split(args.data)),
    ):
        sure = network.predict(np.stack(images)).max(1)
        for setting, classifier, consulted in (
            ("network alone", network, ""),
            *((name, single, "") for name, single in singles.items()),
            *(
                (f"{name}: below {below}, weight {weight}", cascade, f"{(sure < below).mean():.1%}")
                for (name, below, weight), cascade in cascades.items()
            ),
        ):
            rows.append(
                [
                    set_name,
                    len(labels),
                    setting,
                    consulted,
                    *scored(classifier, images, labels, wholes),
                ]
            )
    shipped_models = ", ".join(f"`{Path(e['file']).name}`" for e in consulted_entries(spec))
    body = (
        f"Shipped network with its second opinion {shipped_models}; shipped setting: below "
        f"{spec['below']}, weight {spec['weight']}. Review threshold 0.95. Consulted: the "
        "share of images the cascade asks the second opinion about.\n\n"
        + table(
            [
                "set",
                "images",
                "cascade",
                "consulted",
                "right",
                "not flagged",
                "wrong among unflagged",
            ],
            rows,
        )
    )
    print(body)
    write_section("second_opinion", "## Choosing the second opinion (cascade)\n\n" + body)


if __name__ == "__main__":
    main()
