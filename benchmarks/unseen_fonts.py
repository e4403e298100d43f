"""Digit shapes from writers the model never saw: handwriting fonts left out of training.

Usage: python benchmarks/unseen_fonts.py

Every other benchmark renders MNIST test digits, so its writers are MNIST's
writers. Real scans come from other hands. This renders the digits of
handwriting-style fonts that no model here trained on (Debian packages
fonts-staypuft fonts-tomsontalks fonts-rufscript fonts-seto fonts-kiloji;
training uses the fonts in batchdigits.synthetic.FONT_FILES), fitted into MNIST's 20x20 box,
then as scans under the main benchmark's look conditions in turn. It
reports accuracy per font and per digit, beside the naive pipeline with the
tutorial's model. Fonts not installed are skipped and named.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, rendered_once, table, write_section
from _scoring import scan_and_score
from scanlike import LOOK_CONDITIONS, encoding_for, render_page, save, style_for

from batchdigits.synthetic import FONT_FILES, render_font_digit

#: Package, font file. None of them is in FONT_FILES (checked in main).
#: Outline fonts (fonts-femkeklaver, fonts-cabinsketch) are left out, as in
#: training: their hollow digits are not how anyone writes.
HELD_OUT = (
    ("fonts-staypuft", Path("/usr/share/fonts/truetype/staypuft/StayPuft.ttf")),
    ("fonts-tomsontalks", Path("/usr/share/fonts/truetype/tomsontalks/TomsonTalks.ttf")),
    ("fonts-rufscript", Path("/usr/share/fonts/truetype/rufscript/Rufscript010.ttf")),
    ("fonts-seto", Path("/usr/share/fonts/truetype/seto/setofont.ttf")),
    ("fonts-kiloji", Path("/usr/share/fonts/truetype/kiloji/kiloji.ttf")),
)
PER_DIGIT, SEED = 20, 23
FOLDER = REPO / "benchmarks" / "_work" / "unseen_fonts"


def mnist_form(glyph: np.ndarray) -> np.ndarray:
    """A white-on-black glyph as MNIST holds a digit: fitted into 20x20, centred in 28x28."""
    rows = np.flatnonzero(glyph.max(axis=1) > 40)
    cols = np.flatnonzero(glyph.max(axis=0) > 40)
    ink = glyph[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20 / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    small = np.asarray(
        Image.fromarray(ink.astype(np.uint8)).resize(size, Image.Resampling.LANCZOS), np.uint8
    )
    canvas = np.zeros((28, 28), np.uint8)
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    return canvas


def installed() -> list[tuple[str, Path]]:
    return [(package, path) for package, path in HELD_OUT if path.is_file()]


def render(folder: Path) -> list[tuple[str, int, str]]:
    rng = np.random.default_rng(SEED)
    rows = []
    for package, font in installed():
        for digit in range(10):
            for k in range(PER_DIGIT):
                condition = LOOK_CONDITIONS[(digit * PER_DIGIT + k) % len(LOOK_CONDITIONS)]
                source = mnist_form(render_font_digit(font, digit, rng))
                page = render_page(source, style_for(condition, rng), rng)
                stem = folder / f"{font.stem}_{digit}_{k:02d}_{condition}"
                path = save(page, stem, encoding_for(condition, rng), rng)
                rows.append((path.name, digit, package))
    return rows


def main() -> None:
    trained_on = set(FONT_FILES)
    assert not trained_on & {path.name for _, path in HELD_OUT}, "a held-out font is trained on"
    fonts = installed()
    missing = [package for package, path in HELD_OUT if not path.is_file()]
    if not fonts:
        sys.exit(f"none of the held-out fonts is installed: apt-get install {' '.join(missing)}")
    settings = {"fonts": [p for p, _ in fonts], "per_digit": PER_DIGIT, "seed": SEED}
    truth = {
        r["file"]: (int(r["label"]), r["font"])
        for r in rendered_once(FOLDER, settings, render, column="font")
    }
    scored = scan_and_score(FOLDER, {f: label for f, (label, _) in truth.items()})
    results, evaluation, right = scored.results, scored.evaluation, scored.right
    labels = np.array([truth[r.file][0] for r in results])
    font_of = np.array([truth[r.file][1] for r in results])
    row = scored.row

    headers = ["", "images", "batchdigits", "naive + tutorial model"]
    wrong = sorted(
        f"{r.file}: read {r.digit} (confidence {r.confidence})"
        for r, ok in zip(results, right, strict=True)
        if not ok
    )
    body = "\n".join(
        [
            f"{len(results)} images: digits of {len(fonts)} handwriting fonts no model trained on, "
            f"{PER_DIGIT} per digit and font, as scans under the look conditions in turn; "
            f"model `{scored.report.model_id}`."
            + (f" Not installed, skipped: {', '.join(missing)}." if missing else ""),
            "",
            f"- batchdigits accuracy: **{evaluation.accuracy:.2%}**; rows not flagged: "
            f"{evaluation.coverage:.1%}, wrong among them: {evaluation.unflagged_error:.2%}",
            f"- naive pipeline with the tutorial's model: {scored.naive_right.mean():.2%}",
            "",
            table(headers, [row(package, font_of == package) for package, _ in fonts]),
            "",
            table(headers, [row(f"digit {d}", labels == d) for d in range(10)]),
        ]
    )
    print(body)
    print("\n".join(wrong), file=sys.stderr)
    write_section(
        "unseen_fonts", "## Unseen writers: handwriting fonts no model trained on\n\n" + body
    )


if __name__ == "__main__":
    main()
