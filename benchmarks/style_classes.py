"""Style-class benchmark: the hands real scans showed the model misreading.

Usage:
  python benchmarks/style_classes.py --label before           # shipped model
  python benchmarks/style_classes.py --model PATH --label after
  python benchmarks/style_classes.py --sheet                   # also a contact sheet of failures

Classes (issue "engine v2"), each rendered as scans and photos under the
scan benchmark's conditions (benchmarks/scanlike.py: pens, papers, light,
encodings), cached under benchmarks/_work/style_classes/:

- one_flag: a 1 with a long up-stroke (flag) and no base (seen read as 7);
- nine_loop_tail: a 9 as a round loop and a short or curled tail, like a
  "q" or a "rho" (seen read as 8, 2 or 4);
- zero_flat: a small, wide, flat 0 (seen read as 8 or 9);
- four_closed_or_open: a 4 closed or open at the top (seen read as 9 or 6);
- seven_open: a 7 with no bar across its stem and a hooked or curved top
  (seen read as 4);
- faint_palette: MNIST test digits in faint pencil (the stroke 10-20 grey
  levels darker than the paper) on grey paper, saved as 16-colour palette
  PNGs: a person reads them plainly;
- mnist_control: MNIST test digits under the same conditions, so a drop in
  a style class can be told from a drop in the conditions.

The style drawings are this file's own, independent of the training renders
(batchdigits/synthetic.py, batchdigits/styles.py) so that a model is not
scored on the generator it was taught with: centre-lines are chains of cubic
Bezier curves, drawn at two to four times the final size with a pen whose
width follows a pressure profile (landing, wavering, lifting off), then
reduced to the digit's size. No real scan is copied.

Scored through the real pipeline (batchdigits.pipeline.run_scan) as
scan_benchmark.py does. The issue's target for each style class: at least
98% read right and at most 0.5% of unflagged rows wrong.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, REPO, mnist_test, rendered_once, table, write_section
from scanlike import (
    CONDITIONS,
    Style,
    blank_paper,
    encoding_for,
    ink_alpha,
    ink_and_finish,
    render_condition,
    save,
    style_for,
)

WORK = REPO / "benchmarks" / "_work" / "style_classes"
PER_CLASS = 240
SEED = 20261202
MNIST_CONTROL_FIRST = 7000  # MNIST test digits 7000-7239: no other benchmark renders them
MNIST_FAINT_FIRST = 7300  # and 7300-7539
ACCURACY_TARGET, UNFLAGGED_ERROR_TARGET = 0.98, 0.005

Path2 = np.ndarray  # (N, 2) points, x right, y down, digit height about 1


# --- drawing: Bezier centre-lines, pressure-varying pen, high resolution ---


def cubic(p0: object, p1: object, p2: object, p3: object, n: int = 40) -> Path2:
    """Points along one cubic Bezier curve."""
    t = np.linspace(0, 1, n)[:, None]
    a, b, c, d = (np.asarray(p, float) for p in (p0, p1, p2, p3))
    return (1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t**2 * c + t**3 * d


def elliptic(
    cx: float, cy: float, rx: float, ry: float, start: float, sweep: float, rng: np.random.Generator
) -> Path2:
    """An elliptical arc as cubic Beziers of at most 90 degrees each (angles in
    degrees, 90 = down), every control point nudged so no two loops match."""
    pieces = max(1, int(np.ceil(abs(sweep) / 90)))
    step = np.deg2rad(sweep / pieces)
    k = 4 / 3 * np.tan(step / 4)
    out = []
    for i in range(pieces):
        a0, a1 = np.deg2rad(start) + i * step, np.deg2rad(start) + (i + 1) * step
        s0, s1 = rng.uniform(0.95, 1.05, 2)
        p0 = np.array([cx + rx * s0 * np.cos(a0), cy + ry * s0 * np.sin(a0)])
        p3 = np.array([cx + rx * s1 * np.cos(a1), cy + ry * s1 * np.sin(a1)])
        d0 = np.array([-rx * s0 * np.sin(a0), ry * s0 * np.cos(a0)])
        d1 = np.array([-rx * s1 * np.sin(a1), ry * s1 * np.cos(a1)])
        out.append(cubic(p0, p0 + k * d0, p3 - k * d1, p3, 30)[(1 if i else 0) :])
    return np.concatenate(out)


def bowed(p: object, q: object, bow: float) -> Path2:
    """A near-straight stroke from ``p`` to ``q``, bowed sideways by ``bow``
    of its length (positive: to the left of the direction of travel)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    normal = np.array([(q - p)[1], -(q - p)[0]])
    return cubic(p, p + (q - p) / 3 + normal * bow, p + 2 * (q - p) / 3 + normal * bow, q)


def pressure(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pen width along a stroke, relative: the pen lands, wavers, lifts off."""
    t = np.linspace(0, 1, n)
    land, lift = rng.uniform(0.03, 0.15), rng.uniform(0.05, 0.25)
    ramp = np.minimum(1, 0.5 + 0.5 * t / land) * np.minimum(1, 0.35 + 0.65 * (1 - t) / lift)
    waver = 1 + rng.uniform(0.05, 0.2) * np.sin(
        2 * np.pi * rng.uniform(0.5, 2) * t + rng.uniform(0, 6)
    )
    return ramp * waver


def draw_hi(strokes: list[Path2], side: int, pen: float, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0..1) of the strokes drawn ``side`` px tall with discs
    stamped every half pixel; the caller reduces it to the final size."""
    pts = np.concatenate(strokes)
    low, high = pts.min(axis=0), pts.max(axis=0)
    scale = side / max(high[1] - low[1], 1e-6)
    margin = pen * side * 1.5 + 2
    size = ((high - low) * scale + 2 * margin).astype(int) + 1
    canvas = Image.new("L", (int(size[0]), int(size[1])), 0)
    draw = ImageDraw.Draw(canvas)
    for stroke in strokes:
        xy = (stroke - low) * scale + margin
        steps = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        along = np.concatenate([[0], np.cumsum(steps)])
        dense = np.arange(0, along[-1] + 0.5, 0.5)
        xy = np.column_stack([np.interp(dense, along, xy[:, 0]), np.interp(dense, along, xy[:, 1])])
        radius = pressure(len(xy), rng) * pen * side / 2
        for (x, y), r in zip(xy, radius, strict=True):
            r = max(r, 0.6)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(canvas, np.float32) / 255


# --- the classes' shapes, each a list of Bezier strokes about 1 tall ---


def one_flag(rng: np.random.Generator) -> list[Path2]:
    angle = np.deg2rad(rng.uniform(32, 62))
    length = min(rng.uniform(0.22, 0.55), 0.4 / np.cos(angle))
    flag_start = (-length * np.cos(angle), length * np.sin(angle))
    apex, foot = (0.0, 0.0), (rng.uniform(-0.07, 0.07), 1.0)
    flag = bowed(flag_start, apex, rng.uniform(-0.12, 0.08))
    stem = bowed(apex, foot, rng.uniform(-0.04, 0.04))
    if rng.random() < 0.6:  # written in one movement: a pointed or slightly rounded apex
        return [np.concatenate([flag, stem])]
    return [flag, stem + rng.normal(0, 0.01, 2)]


def nine_loop_tail(rng: np.random.Generator) -> list[Path2]:
    ry = 0.5 * rng.uniform(0.85, 1.0)
    rx = ry * rng.uniform(0.75, 1.3)
    # The pen starts a little below where the tail will leave, goes up and
    # round (anticlockwise on the page) and, the loop closed, leaves from there.
    leave = rng.uniform(-10, 100)
    begin = leave + rng.uniform(-5, 30)
    loop = elliptic(0, 0, rx, ry, begin, leave - 360 - rng.uniform(0, 10) - begin, rng)
    top = loop[-1]
    end = top + np.array([rng.uniform(-0.3, 0.1), ry - top[1] + 2 * ry * rng.uniform(0.2, 0.9)])
    tail = bowed(top, end, rng.uniform(-0.15, 0.15))
    curl = rng.random()
    if curl < 0.3:  # hooked back left and up
        hook = rng.uniform(0.1, 0.3)
        tail = np.concatenate(
            [
                tail,
                cubic(
                    end,
                    end + np.array([0, hook * 0.6]),
                    end - np.array([hook, -hook * 0.6]),
                    end - np.array([hook * 1.4, hook * 0.2]),
                ),
            ]
        )
    elif curl < 0.5:  # flicked right, as in a q
        tail = np.concatenate(
            [tail, bowed(end, end + np.array([rng.uniform(0.1, 0.22), -0.05]), 0.1)]
        )
    return [np.concatenate([loop, tail])]


def zero_flat(rng: np.random.Generator) -> list[Path2]:
    aspect = rng.uniform(1.15, 2.0)
    sweep = rng.uniform(340, 395) * (-1 if rng.random() < 0.75 else 1)
    return [elliptic(0, 0, 0.5 * aspect, 0.5, -90 + rng.uniform(-40, 40), sweep, rng)]


def four_closed_or_open(rng: np.random.Generator) -> list[Path2]:
    bar_y, stem_x = rng.uniform(0.5, 0.75), rng.uniform(0.5, 0.75)
    bar_end = (stem_x + rng.uniform(0.1, 0.3), bar_y + rng.uniform(-0.05, 0.03))
    stem_top = (stem_x + rng.uniform(-0.03, 0.03), rng.uniform(-0.05, 0.05))
    stem = bowed(stem_top, (stem_x + rng.uniform(-0.08, 0.03), 1.0), rng.uniform(-0.05, 0.05))
    kind = rng.random()
    if kind < 0.2:  # closed with a round top: the stem curves over into the left side
        corner = np.array([rng.uniform(-0.05, 0.12), bar_y])
        over = cubic(
            (stem_x, bar_y - rng.uniform(0.05, 0.25)),
            (stem_x + rng.uniform(-0.05, 0.08), -0.05),
            (corner[0] - rng.uniform(0.0, 0.15), rng.uniform(0.0, 0.2)),
            corner,
        )
        across = bowed(corner, bar_end, rng.uniform(-0.05, 0.05))
        return [np.concatenate([over, across]), stem]
    if kind < 0.55:  # closed: the diagonal runs from the stem's top
        corner = (rng.uniform(-0.05, 0.1), bar_y)
        diagonal = bowed(stem_top, corner, rng.uniform(-0.1, 0.06))
        across = bowed(corner, bar_end, rng.uniform(-0.05, 0.05))
        return [np.concatenate([diagonal, across]), stem]
    top_left = (rng.uniform(0.0, 0.3), rng.uniform(0.0, 0.12))
    corner = (top_left[0] + rng.uniform(-0.15, 0.02), bar_y)
    down = bowed(top_left, corner, rng.uniform(-0.08, 0.08))
    across = bowed(corner, bar_end, rng.uniform(-0.05, 0.05))
    stem = stem.copy()
    stem[:, 1] = np.maximum(stem[:, 1], rng.uniform(0.0, 0.3))  # an open 4's stem may start low
    return [np.concatenate([down, across]), stem]


def seven_open(rng: np.random.Generator) -> list[Path2]:
    width = rng.uniform(0.55, 0.95)
    start, corner = (
        np.array([0.0, rng.uniform(0, 0.05)]),
        np.array([width, rng.uniform(-0.04, 0.04)]),
    )
    bar = bowed(start, corner, -rng.uniform(-0.03, 0.12))  # mostly bowed upward
    kind = rng.random()
    if kind < 0.45:  # hooked: a short down-stroke before the bar
        tick = start + np.array([rng.uniform(-0.05, 0.04), rng.uniform(0.06, 0.28)])
        bar = np.concatenate([bowed(tick, start, rng.uniform(-0.2, 0.2)), bar])
    elif kind < 0.7:  # the bar begins in a small curl
        r = rng.uniform(0.03, 0.08)
        bar = np.concatenate([elliptic(start[0] + r, start[1] + r, r, r, 90, 180, rng), bar])
    foot = (width * rng.uniform(0.1, 0.6), 1.0)
    down = bowed(corner, foot, rng.uniform(-0.12, 0.06))
    return [np.concatenate([bar, down])]


SHAPES: dict[str, tuple[int, Callable[[np.random.Generator], list[Path2]]]] = {
    "one_flag": (1, one_flag),
    "nine_loop_tail": (9, nine_loop_tail),
    "zero_flat": (0, zero_flat),
    "four_closed_or_open": (4, four_closed_or_open),
    "seven_open": (7, seven_open),
}
#: blank_page: paper under every scan-like condition with nothing written on
#: it, whose right answer is blank: the other side of the faint class, so a
#: blank test that reads faint pencil is seen not to read paper texture too.
CLASSES = (*SHAPES, "faint_palette", "mnist_control", "blank_page")
BLANK = -1


def slant_and_turn(strokes: list[Path2], rng: np.random.Generator) -> list[Path2]:
    """The writer's slant (mostly forward) and a small turn of the sheet."""
    shear, turn = rng.uniform(-0.08, 0.22), np.deg2rad(rng.normal(0, 3))
    rotate = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    out = []
    for s in strokes:
        s = s.copy()
        s[:, 0] += shear * (0.5 - s[:, 1])
        out.append(s @ rotate.T)
    return out


def style_ink(name: str, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Coverage (0..1) of one style-class digit at the condition's size, pen and pencil."""
    strokes = slant_and_turn(SHAPES[name][1](rng), rng)
    height = style.digit_height
    if name == "zero_flat":  # small: a flat 0 is written in a fraction of a line's height
        height = max(14, int(height * rng.uniform(0.4, 0.75)))
    pen = rng.uniform(0.06, 0.12) * {-2: 0.4, -1: 0.75, 1: 1.3}.get(style.stroke, 1.0)
    if style.stroke >= 3:
        pen = rng.uniform(0.16, 0.22)
    if name == "zero_flat":  # the same pen as the rest of the line: thick on a small 0
        pen *= style.digit_height / height
    side = max(160, 3 * height)
    hi = draw_hi(strokes, side, pen, rng)
    if style.rotation:
        hi = np.clip(ndimage.rotate(hi, style.rotation, reshape=True, order=1), 0, 1)
    factor = height / side
    shape = (max(3, round(hi.shape[1] * factor)), max(3, round(hi.shape[0] * factor)))
    alpha = np.asarray(Image.fromarray(hi, "F").resize(shape, Image.Resampling.BOX))
    if style.pencil:
        alpha = alpha * rng.uniform(0.45, 1.0, alpha.shape) * rng.uniform(0.55, 0.85)
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.05), np.flatnonzero(alpha.max(axis=0) > 0.05)
    return np.clip(alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 0, 1).astype(np.float32)


def page_with(alpha: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """An RGB page with ``alpha`` written on it, laid out as scanlike.render_page does."""
    ah, aw = alpha.shape
    pad = round(style.margin * max(ah, aw))
    height, width = ah + 2 * pad + 2, aw + 2 * pad + 2
    if rng.random() < 0.5:
        width = int(width * rng.uniform(1.0, 1.5))
    top = int(np.clip((height - ah) / 2 + style.offset[0] * (height - ah) / 2, 0, height - ah))
    left = int(np.clip((width - aw) / 2 + style.offset[1] * (width - aw) / 2, 0, width - aw))
    coverage = np.zeros((height, width), np.float32)
    coverage[top : top + ah, left : left + aw] = alpha
    return ink_and_finish(
        blank_paper((height, width), style, rng, max(ah, aw)), coverage, style, rng
    )


def faint_page(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Faint pencil on grey paper: the stroke's core 10-20 levels darker."""
    style = style_for("clean", rng)
    level = int(rng.integers(150, 215))
    style.paper = (level, level, level - int(rng.integers(0, 4)))
    darker = int(rng.integers(10, 21))
    style.ink = tuple(max(0, v - darker) for v in style.paper)  # type: ignore[assignment]
    style.noise, style.texture = float(rng.uniform(0.5, 1.5)), float(rng.uniform(0.5, 2.0))
    alpha = ink_alpha(digit, style, rng)
    alpha = alpha * rng.uniform(0.8, 1.0, alpha.shape)  # a little graphite grain
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.05), np.flatnonzero(alpha.max(axis=0) > 0.05)
    return page_with(alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], style, rng)


def generate(data: Path) -> tuple[Path, list[dict[str, str]]]:
    """Render every class once (fixed seeds); later runs reuse the files."""

    def render(folder: Path) -> list[tuple[str, int, str, str]]:
        digits, labels = mnist_test(data)
        rows = []
        for c, name in enumerate(CLASSES):
            rng = np.random.default_rng([SEED, c])
            for i in range(PER_CLASS):
                condition = CONDITIONS[i % len(CONDITIONS)]
                stem = folder / f"{name}_{i:04d}_{condition}"
                if name == "mnist_control":
                    index = MNIST_CONTROL_FIRST + i
                    label, path = (
                        int(labels[index]),
                        render_condition(digits[index], condition, rng, stem),
                    )
                elif name == "blank_page":
                    style = style_for(condition, rng)
                    height = int(style.digit_height * rng.uniform(1.6, 3.0))
                    width = int(height * rng.uniform(0.8, 1.5))
                    paper = blank_paper((height, width), style, rng, style.digit_height)
                    nothing = np.zeros((height, width), np.float32)
                    page = ink_and_finish(paper, nothing, style, rng)
                    label, path = BLANK, save(page, stem, encoding_for(condition, rng), rng)
                elif name == "faint_palette":
                    index, condition = MNIST_FAINT_FIRST + i, "palette_png"
                    stem = folder / f"{name}_{i:04d}"
                    label, page = int(labels[index]), faint_page(digits[index], rng)
                    path = save(page, stem, "palette_png", rng)
                else:
                    style = style_for(condition, rng)
                    page = page_with(style_ink(name, style, rng), style, rng)
                    label, path = (
                        SHAPES[name][0],
                        save(page, stem, encoding_for(condition, rng), rng),
                    )
                rows.append((path.name, label, name, condition))
        return rows

    folder = WORK
    settings = {"per_class": PER_CLASS, "seed": SEED, "classes": list(CLASSES), "version": 4}
    return folder, rendered_once(folder, settings, render, column=("class", "condition"))


def contact_sheet(folder: Path, failures: list[tuple[str, str, int, object]], out: Path) -> None:
    """Each failure: the page, the 28x28 reading the model saw, truth and answer."""
    from batchdigits.load import load_pages
    from batchdigits.preprocess import read_page

    tiles = []
    for file, name, label, digit in failures:
        pixels = load_pages(folder / file)[0].pixels
        reading = read_page(pixels).first
        tile = Image.new("L", (200, 110), 255)
        page = Image.fromarray(np.asarray(pixels, np.uint8))
        page.thumbnail((96, 84))
        tile.paste(page, (2, 2))
        if reading is not None:
            tile.paste(
                Image.fromarray(255 - reading).resize((84, 84), Image.Resampling.NEAREST), (110, 2)
            )
        ImageDraw.Draw(tile).text((2, 92), f"{name[:14]} {label}->{digit}", fill=0)
        tiles.append(np.asarray(tile))
    if not tiles:
        return
    columns = 6
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.vstack([np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)])
    Image.fromarray(grid).save(out)


def expected(row: dict[str, str]) -> int | None:
    """The right answer for a row: its digit, or None for a blank page."""
    label = int(row["label"])
    return None if label == BLANK else label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_MNIST)
    parser.add_argument(
        "--model", type=Path, default=None, help="score this model (default: shipped)"
    )
    parser.add_argument(
        "--label", default=None, help="names the RESULTS.md section (e.g. before, after)"
    )
    parser.add_argument(
        "--sheet", action="store_true", help="contact sheet of failures under _work/"
    )
    args = parser.parse_args()
    from batchdigits.options import ScanOptions
    from batchdigits.pipeline import run_scan

    label = args.label or ("shipped" if args.model is None else args.model.stem)

    folder, rows = generate(args.data)
    truth = {row["file"]: row for row in rows}
    started = time.perf_counter()
    report = run_scan(ScanOptions(folder=folder, model=args.model, progress=False))
    seconds = time.perf_counter() - started
    results = [r for r in report.results if r.file in truth]

    table_rows, failures = [], []
    summary: dict[str, list[float]] = {}
    for name in (*CLASSES, "all style classes", "all"):
        if name == "all":
            picked = results
        elif name == "all style classes":
            picked = [r for r in results if truth[r.file]["class"] in SHAPES]
        else:
            picked = [r for r in results if truth[r.file]["class"] == name]
        right = np.array([r.digit == expected(truth[r.file]) for r in picked])
        unflagged = np.array([not r.needs_review for r in picked])
        wrong_unflagged = (~right & unflagged).sum() / max(1, unflagged.sum())
        blank = sum(r.digit is None for r in picked)
        read_as = Counter(
            r.digit for r in picked if r.digit is not None and r.digit != expected(truth[r.file])
        )
        meets = (
            name in SHAPES
            and right.mean() >= ACCURACY_TARGET
            and wrong_unflagged <= UNFLAGGED_ERROR_TARGET
        )
        table_rows.append(
            [
                name,
                len(picked),
                f"{right.mean():.1%}",
                f"{unflagged.mean():.1%}",
                f"{wrong_unflagged:.2%}",
                blank,
                ", ".join(f"{d}: {n}" for d, n in read_as.most_common(4)) or "-",
                ("yes" if meets else "**no**") if name in SHAPES else "",
            ]
        )
        summary[name] = [right.mean(), wrong_unflagged]
        if name in CLASSES:
            wrong = [r for r, ok in zip(picked, right, strict=True) if not ok]
            failures += [(r.file, name, int(truth[r.file]["label"]), r.digit) for r in wrong[:12]]

    body = "\n".join(
        [
            f"{len(results)} images ({PER_CLASS} per class, seed {SEED}); "
            f"model `{report.model_id}`; review threshold {report.review_below}; "
            f"scan time {seconds:.1f} s (API, model load included). "
            f"Target per style class: >= {ACCURACY_TARGET:.0%} right and <= "
            f"{UNFLAGGED_ERROR_TARGET:.1%} of unflagged rows wrong.",
            "",
            table(
                [
                    "class",
                    "images",
                    "right",
                    "not flagged",
                    "wrong among unflagged",
                    "blank",
                    "misread as (count)",
                    "meets target",
                ],
                table_rows,
            ),
        ]
    )
    print(body)
    write_section(f"style_classes_{label}", f"## Style classes ({label})\n\n" + body)
    if args.sheet:
        out = REPO / "benchmarks" / "_work" / f"style_classes_failures_{label}.png"
        contact_sheet(folder, failures, out)
        print(f"contact sheet: {out}")


if __name__ == "__main__":
    main()
