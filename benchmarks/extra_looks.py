"""Looks the main scan benchmark lacks: cheque print, sheets photographed on a
table, digits cropped from form boxes, digits cropped tight to their ink,
small digits on big pages, and digits cropped out of a written number.

Usage: python benchmarks/extra_looks.py

Renders MNIST test digits 7000-7599 (used by no other benchmark, never
trained on): over security-print backgrounds as on bank cheques (light
pastel, and a strong print that competes with the ink), and as phone photos
of the written sheet lying on a darker table, and as crops from a printed
form with the digit's whole box, or two of its edges, in the picture, and
cropped tight to the ink (dark on light, and negatives), and 20-60 px tall on
a page 1,000-3,000 px tall, and cut out of a row of three with up to a third
of each neighbour in the picture. Saves them as JPEG, scans them
and reports accuracy beside the naive pipeline with the tutorial's model.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, mnist_test, rendered_once, table, write_section
from _scoring import scan_and_score
from scanlike import (
    render_in_form_box,
    render_on_pattern,
    render_on_table,
    render_small_on_big_page,
    render_string_crop,
    render_tight_crop,
)

FIRST, COUNT, SEED = 7000, 1800, 13
KINDS = (
    "light_print",
    "strong_print",
    "sheet_on_table",
    "form_box",
    "form_box_corner",
    "tight_crop",
    "tight_crop_negative",
    "small_on_big_page",
    "string_crop",
)
FOLDER = REPO / "benchmarks" / "_work" / "extra_looks"


def render(folder: Path) -> list[tuple[str, int, str]]:
    rng = np.random.default_rng(SEED)
    digits, labels = mnist_test()
    rows = []
    for i in range(COUNT):
        kind = KINDS[i % len(KINDS)]
        if kind == "sheet_on_table":
            page = render_on_table(digits[FIRST + i], rng)
        elif kind == "string_crop":
            page = render_string_crop(digits[FIRST + i - 1 : FIRST + i + 2], rng)
        elif kind == "small_on_big_page":
            page = render_small_on_big_page(digits[FIRST + i], rng)
        elif kind.startswith("tight_crop"):
            page = render_tight_crop(digits[FIRST + i], rng, negative=kind.endswith("negative"))
        elif kind.startswith("form_box"):
            page = render_in_form_box(digits[FIRST + i], rng, whole=kind == "form_box")
        else:
            page = render_on_pattern(digits[FIRST + i], rng, dark=kind == "strong_print")
        name = f"{i:05d}_{kind}.jpg"
        Image.fromarray(page).save(folder / name, quality=int(rng.integers(80, 95)))
        rows.append((name, int(labels[FIRST + i]), kind))
    return rows


def generate() -> dict[str, tuple[int, str]]:
    """Render the images once; later runs reuse them."""
    settings = {"first": FIRST, "count": COUNT, "seed": SEED, "kinds": list(KINDS)}
    return {
        r["file"]: (int(r["label"]), r["condition"])
        for r in rendered_once(FOLDER, settings, render)
    }


def main() -> None:
    truth = generate()
    scored = scan_and_score(FOLDER, {f: label for f, (label, _) in truth.items()})
    results, evaluation = scored.results, scored.evaluation
    kinds = np.array([truth[r.file][1] for r in results])
    blank = np.array([r.digit is None for r in results])
    rows = []
    for kind in KINDS:
        name, count, right, naive_right = scored.row(kind, kinds == kind)
        rows.append([name, count, right, int(blank[kinds == kind].sum()), naive_right])
    body = "\n".join(
        [
            f"{len(results)} images, MNIST test digits {FIRST}-{FIRST + COUNT - 1}; "
            f"model `{scored.report.model_id}`.",
            "",
            f"- batchdigits accuracy: **{evaluation.accuracy:.2%}**; rows not flagged: "
            f"{evaluation.coverage:.1%}, wrong among them: {evaluation.unflagged_error:.2%}",
            "",
            table(
                ["look", "images", "batchdigits", "read as blank", "naive + tutorial model"], rows
            ),
        ]
    )
    print(body)
    write_section(
        "extra_looks",
        "## Extra looks: cheque print, sheets on a table, form boxes, tight crops, "
        "small digits on big pages, crops from a written number\n\n" + body,
    )


if __name__ == "__main__":
    main()
