"""Training digits beyond MNIST's writers: handwriting fonts and European stroke styles.

MNIST was written by American census staff and students: its 1 is a bare
stroke and its 7 is never crossed. Real forms also hold European digits (a 1
with a long flag and a base line, a crossed 7, an open 4) and many hands
that fonts imitate, and real scans showed further hands the model misread
(batchdigits.styles: flag 1s without a base, loop-and-tail 9s, flat 0s,
open 7s, 4s). These renders are distorted like MNIST digits and go through
the same preprocessing before training.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .styles import STYLES, render_style

#: Handwriting-style fonts from Debian packages (apt-get install fonts-...):
#: fonts-dkg-handwriting fonts-breip fonts-bwht fonts-ecolier-court
#: fonts-humor-sans fonts-klee fonts-kristi fonts-comic-neue
#: fonts-dancingscript fonts-kaushanscript. Outline-only fonts are left out:
#: their hollow digits are not how anyone writes.
FONT_PACKAGES = (
    "fonts-dkg-handwriting",
    "fonts-breip",
    "fonts-bwht",
    "fonts-ecolier-court",
    "fonts-humor-sans",
    "fonts-klee",
    "fonts-kristi",
    "fonts-comic-neue",
    "fonts-dancingscript",
    "fonts-kaushanscript",
)
FONT_FILES = (
    "dkg.ttf",
    "dkgBI.ttf",
    "dkgBd.ttf",
    "dkgIt.ttf",
    "Breip.ttf",
    "breipfont.ttf",
    "BecauseWeBuild-Regular.otf",
    "BecauseWeConnect-Regular.otf",
    "BecauseWeCreate-Regular.otf",
    "BecauseWeLearn-Regular.otf",
    "BecauseWeMentor-Regular.otf",
    "BecauseWeOrganize-Regular.otf",
    "Ecolier-court.ttf",
    "Humor-Sans.ttf",
    "KleeOne-Regular.ttf",
    "KleeOne-SemiBold.ttf",
    "Kristi.ttf",
    "ComicNeue-Bold.otf",
    "ComicNeue-BoldItalic.otf",
    "ComicNeue-Italic.otf",
    "ComicNeue-Light.otf",
    "ComicNeue-LightItalic.otf",
    "ComicNeue-Regular.otf",
    "DancingScript-Bold.otf",
    "DancingScript-Regular.otf",
    "KaushanScript-Regular.otf",
)
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")

# Pen strokes on a unit square (x right, y down), for styles MNIST lacks.
# Each entry is one way of writing the digit: a list of polylines.
_STROKES: dict[int, list[list[list[tuple[float, float]]]]] = {
    1: [
        [[(0.25, 0.3), (0.6, 0.0), (0.6, 1.0)], [(0.3, 1.0), (0.9, 1.0)]],  # flag and base
        [[(0.2, 0.35), (0.6, 0.0), (0.6, 1.0)]],  # long flag
        [[(0.3, 0.25), (0.55, 0.0), (0.55, 1.0)], [(0.35, 1.0), (0.75, 1.0)]],
    ],
    7: [
        [[(0.1, 0.1), (0.9, 0.0), (0.4, 1.0)], [(0.35, 0.5), (0.85, 0.5)]],  # crossed
        [[(0.1, 0.2), (0.1, 0.0), (0.9, 0.0), (0.35, 1.0)], [(0.3, 0.55), (0.8, 0.5)]],
        [[(0.05, 0.05), (0.95, 0.05), (0.5, 1.0)], [(0.45, 0.48), (0.9, 0.48)]],
    ],
    4: [
        [[(0.65, 1.0), (0.65, 0.0), (0.05, 0.7), (0.95, 0.7)]],  # closed, one stroke
        [[(0.2, 0.0), (0.1, 0.6), (0.9, 0.6)], [(0.7, 0.2), (0.7, 1.0)]],  # open
    ],
    9: [
        [[(0.85, 0.3), (0.6, 0.0), (0.2, 0.1), (0.15, 0.4), (0.5, 0.5), (0.85, 0.3), (0.8, 1.0)]],
    ],
}


def find_fonts(extra_dirs: Iterable[Path] = ()) -> list[Path]:
    """The handwriting fonts installed on this machine (possibly none)."""
    wanted = set(FONT_FILES)
    found: dict[str, Path] = {}
    for folder in (*extra_dirs, *FONT_DIRS):
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.name in wanted and path.name not in found:
                    found[path.name] = path
    return [found[name] for name in FONT_FILES if name in found]


def render_font_digit(
    font: Path, digit: int, rng: np.random.Generator, height: int = 84
) -> np.ndarray:
    """One digit in one font: white ink on black, about ``height`` px tall."""
    size = int(height * rng.uniform(0.9, 1.2))
    typeface = ImageFont.truetype(str(font), size)
    canvas = Image.new("L", (size * 2, size * 2), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text((size // 2, size // 3), str(digit), font=typeface, fill=255)
    return np.asarray(canvas, dtype=np.float32)


def render_stroke_digit(digit: int, rng: np.random.Generator, height: int = 84) -> np.ndarray:
    """A digit drawn from one of the stroke styles, with jittered points and pen width."""
    variants = _STROKES[digit]
    strokes = variants[int(rng.integers(len(variants)))]
    width = height * rng.uniform(0.45, 0.75)
    pad = height // 3
    canvas = Image.new("L", (int(width) + 2 * pad, height + 2 * pad), 0)
    draw = ImageDraw.Draw(canvas)
    pen = max(2, int(height * rng.uniform(0.06, 0.13)))
    for line in strokes:
        points = [
            (
                pad + (x + rng.normal(0, 0.04)) * width,
                pad + (y + rng.normal(0, 0.03)) * height,
            )
            for x, y in line
        ]
        draw.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return np.asarray(canvas, dtype=np.float32)


def synthetic_digits(
    fonts: list[Path],
    per_font_digit: int,
    strokes_per_digit: int,
    seed: int,
    per_style: int | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Renders (white on black, various sizes) and their labels.

    ``per_style`` renders of each hand style in batchdigits.styles follow;
    by default half of ``strokes_per_digit``, so that they scale with it
    (``train --limit``, the held-out set) and stay a modest share: the
    shipped recipe's 1,500 stroke renders give 750 per style, against
    tens of thousands of MNIST digits of the same labels. 0 leaves them out.
    """
    rng = np.random.default_rng(seed)
    images: list[np.ndarray] = []
    labels: list[int] = []
    for font in fonts:
        for digit in range(10):
            for _ in range(per_font_digit):
                images.append(render_font_digit(font, digit, rng))
                labels.append(digit)
    for digit in _STROKES:
        for _ in range(strokes_per_digit):
            images.append(render_stroke_digit(digit, rng))
            labels.append(digit)
    if per_style is None:
        per_style = strokes_per_digit // 2
    # A generator of its own, so that adding styles leaves the renders above unchanged.
    style_rng = np.random.default_rng([seed, 1])
    for name, (digit, _) in STYLES.items():
        for _ in range(per_style):
            images.append(render_style(name, style_rng))
            labels.append(digit)
    return images, np.array(labels, dtype=np.uint8)
