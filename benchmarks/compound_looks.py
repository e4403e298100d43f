"""Scans with several hard conditions at once, as real photos bring them.

Usage: python benchmarks/compound_looks.py [--model PATH]

The scan benchmark pushes one condition per image, so each weak spot shows on
its own. Real photos combine them: pencil on squared paper in a shadow, a
small blurred digit on grey paper. This renders MNIST test digits 8800-9899
(used by no other benchmark, never trained on), each with two or three
conditions drawn from different groups (paper, ruling, ink, light,
placement, size, stroke, and single ones such as blur or rotation), and
reports accuracy overall, per number of conditions and per condition taking
part, beside the naive pipeline with the tutorial's model. Nothing here was
used to choose any setting: it is a check that the fixes made one condition
at a time hold when conditions meet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, mnist_test, rendered_once, table, write_section
from _scoring import scan_and_score
from scanlike import compound_style, render_page, save

FIRST, COUNT, SEED = 8800, 1100, 17
#: Conditions within a group exclude each other (a page is not both tiny and large).
GROUPS: tuple[tuple[str, ...], ...] = (
    ("grey_paper", "yellow_paper", "textured_paper"),
    ("ruled_paper", "squared_paper"),
    ("pencil", "coloured_ink"),
    ("uneven_light", "shadow"),
    ("off_centre", "tight_margin", "wide_margin"),
    ("tiny_digit", "large_digit"),
    ("hairline", "marker"),
    ("rotated",),
    ("blur",),
    ("noise_and_dust",),
    ("scanner_border",),
    ("negative",),
    ("low_quality_jpeg",),
)
FOLDER = REPO / "benchmarks" / "_work" / "compound_looks"


def pick_conditions(rng: np.random.Generator) -> list[str]:
    """Two or three conditions, each from a different group."""
    groups = rng.choice(len(GROUPS), size=int(rng.integers(2, 4)), replace=False)
    return [GROUPS[g][int(rng.integers(len(GROUPS[g])))] for g in sorted(groups)]


def render(folder: Path) -> list[tuple[str, int, str]]:
    rng = np.random.default_rng(SEED)
    digits, labels = mnist_test()
    rows = []
    for i in range(COUNT):
        conditions = pick_conditions(rng)
        page = render_page(digits[FIRST + i], compound_style(conditions, rng), rng)
        encoding = "low_quality_jpeg" if "low_quality_jpeg" in conditions else "jpeg"
        if encoding == "jpeg" and rng.random() < 0.4:
            encoding = "png"
        path = save(page, folder / f"{i:05d}", encoding, rng)
        rows.append((path.name, int(labels[FIRST + i]), "+".join(conditions)))
    return rows


def generate() -> dict[str, tuple[int, list[str]]]:
    """Render the images once; later runs reuse them."""
    settings = {"first": FIRST, "count": COUNT, "seed": SEED, "groups": [list(g) for g in GROUPS]}
    rows = rendered_once(FOLDER, settings, render, column="conditions")
    return {r["file"]: (int(r["label"]), r["conditions"].split("+")) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the one scan uses")
    args = parser.parse_args()
    truth = generate()
    scored = scan_and_score(FOLDER, {f: label for f, (label, _) in truth.items()}, args.model)
    results, evaluation, right = scored.results, scored.evaluation, scored.right
    conditions = [truth[r.file][1] for r in results]
    row = scored.row

    by_count = [row(f"{n} conditions", np.array([len(c) == n for c in conditions])) for n in (2, 3)]
    names = sorted({c for group in GROUPS for c in group})
    by_condition = sorted(
        (row(name, np.array([name in c for c in conditions])) for name in names),
        key=lambda r: float(str(r[2]).rstrip("%")),
    )
    wrong = [
        f"{r.file} ({'+'.join(truth[r.file][1])}): read {r.digit}, is {truth[r.file][0]}"
        for r, ok in zip(results, right, strict=True)
        if not ok
    ]
    headers = ["images with", "images", "batchdigits", "naive + tutorial model"]
    body = "\n".join(
        [
            f"{len(results)} images, MNIST test digits {FIRST}-{FIRST + COUNT - 1}, two or "
            f"three conditions each; model `{scored.report.model_id}`.",
            "",
            f"- batchdigits accuracy: **{evaluation.accuracy:.2%}**; rows not flagged: "
            f"{evaluation.coverage:.1%}, wrong among them: {evaluation.unflagged_error:.2%}",
            f"- naive pipeline with the tutorial's model: {scored.naive_right.mean():.2%}",
            "",
            table(headers, by_count),
            "",
            "Per condition taking part (weakest first):",
            "",
            table(headers, by_condition),
        ]
    )
    print(body)
    print("\n".join(wrong), file=sys.stderr)
    write_section("compound_looks", "## Compound looks: several conditions in one image\n\n" + body)


if __name__ == "__main__":
    main()
