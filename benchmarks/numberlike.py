"""Render handwritten numbers (2-8 MNIST test digits) as scanned form fields (seeded).

Each image is a crop of one field (now and then a whole page) with one
number written left to right. Its label is the digits only: separators,
currency signs, ticks and lines drawn around them are not part of it. Every
image is rendered under one of CONDITIONS on top of scanlike's variation of
pen, pencil, paper, light, noise and encoding:

- plain: ordinary spacing (gaps 10-40% of the digit height); 10% whole pages
- touching: neighbours' strokes meet; overlapping: boxes overlap 10-25%
- wide: gaps 60-150% of the height
- slant_drift: whole-number slant, baseline slope or wave, sizes +-15%
- separators: . , - / = and $ EUR GBP signs (as pen strokes) in and around it
- underline: a ruled or printed line under or touching it, sometimes a tick
- comb: a printed comb or boxed field, one box per digit
- cheque: guilloche security print, small digits, greyscale, sometimes a $ box
- faint_small: pencil or faint pen on grey paper, digits 12-25 px, 30% 16-colour PNG
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scanlike import (
    Style,
    base_style,
    blank_paper,
    cropped_ink,
    ink_and_finish,
    printed_pattern,
    push_condition,
    save,
)
from scipy import ndimage

_FIELD = ("plain", "touching", "overlapping", "wide", "slant_drift", "separators", "underline")
CONDITIONS = (*_FIELD, "comb", "cheque", "faint_small")
LOOKS = ("pencil", "coloured_ink", "grey_paper", "yellow_paper", "textured_paper")
LOOKS += ("uneven_light", "shadow", "blur", "noise_and_dust")


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> str:
    angles = np.radians(np.linspace(start, stop, 10))
    return " ".join(
        f"{x:.3f},{y:.3f}"
        for x, y in zip(cx + rx * np.cos(angles), cy - ry * np.sin(angles), strict=True)
    )


# Marks that are not digits, as pen strokes ("x,y x,y ...", strokes split by
# ";") in the digit line's box: x right, y down, in digit heights; y=0 is the
# digits' top, y=1 their baseline.
_MARKS = {
    ".": "0.06,0.93 0.09,0.96",
    ",": "0.1,0.9 0.11,0.98 0.04,1.15",
    "-": "0.03,0.55 0.38,0.52",
    "=": "0.03,0.45 0.38,0.43; 0.03,0.63 0.38,0.61",
    "/": "0.6,-0.12 0.02,1.1",
    "$": _arc(0.3, 0.27, 0.24, 0.19, 10, 270)
    + " "
    + _arc(0.3, 0.71, 0.25, 0.22, 90, -170)
    + "; 0.31,-0.1 0.3,1.1",
    "€": _arc(0.45, 0.5, 0.38, 0.48, 55, 305) + "; 0,0.42 0.5,0.42; 0,0.6 0.45,0.6",
    "£": "0.6,0.18 0.5,0.03 0.32,0.05 0.24,0.25 0.24,0.6 0.18,0.85 0.04,1 0.62,1; "
    "0.04,0.52 0.45,0.52",
    "tick": "0,0.55 0.25,0.9 0.72,-0.05",
    "#": "0.18,0.05 0.1,0.95; 0.42,0.05 0.34,0.95; 0.0,0.33 0.55,0.31; -0.03,0.66 0.5,0.64",
}
MARKS = {
    name: [[tuple(map(float, xy.split(","))) for xy in line.split()] for line in spec.split(";")]
    for name, spec in _MARKS.items()
}
Item = tuple[np.ndarray, int, int]  # coverage, left, top (px, in the digit line's coordinates)


def stroke_ink(
    lines: list, size: float, pen: float, rng: np.random.Generator, style: Style, jitter=0.025
) -> Item:
    """Polylines (coordinates times ``size`` px) drawn by a pen ``pen`` px wide,
    jittered by hand: coverage cropped to the ink, with its left and top."""
    points = [np.asarray(p) * size + rng.normal(0, jitter * size, (len(p), 2)) for p in lines]
    low = np.min([p.min(0) for p in points], 0) - pen - 2
    k = 4  # drawn 4x larger, then averaged down: smooth edges
    extent = np.ceil(np.max([p.max(0) for p in points], 0) + pen + 2 - low).astype(int)
    canvas = Image.new("L", tuple(int(v) * k for v in extent), 0)
    draw = ImageDraw.Draw(canvas)
    radius = pen * k / 2
    for p in points:
        xy = [(float(x), float(y)) for x, y in (p - low) * k]
        draw.line(xy, fill=255, width=max(1, round(pen * k)), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round pen ends
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    alpha = np.asarray(canvas.resize(tuple(extent), Image.Resampling.BOX), np.float32) / 255
    if style.pencil:  # grain and lighter pressure, as scanlike's pencil
        alpha = alpha * rng.uniform(0.45, 1.0, alpha.shape) * rng.uniform(0.55, 0.85)
    rows, cols = np.flatnonzero(alpha.max(1) > 0.05), np.flatnonzero(alpha.max(0) > 0.05)
    alpha = alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    return alpha, round(low[0] + cols[0]), round(low[1] + rows[0])


def sheared(alpha: np.ndarray, shear: float) -> np.ndarray:
    """``alpha`` slanted about its baseline (positive leans right)."""
    h = alpha.shape[0]
    low = min(0.0, shear * (h - 1))
    out = (h, alpha.shape[1] + int(np.ceil(abs(shear) * h)) + 1)
    slanted = ndimage.affine_transform(
        alpha, [[1, 0], [shear, 1]], offset=[0, low - shear * (h - 1)], output_shape=out, order=1
    )
    cols = np.flatnonzero(slanted.max(0) > 0.05)
    return np.clip(slanted[:, cols[0] : cols[-1] + 1], 0, 1)


def contact_gap(a: np.ndarray, a_top: int, b: np.ndarray, b_top: int) -> int:
    """The gap between the boxes of ``a`` and ``b`` (b right of a) at which
    their strokes first touch; 0 when they share no row of ink."""
    top, bottom = max(a_top, b_top), min(a_top + a.shape[0], b_top + b.shape[0])
    if bottom <= top:
        return 0
    ink_a, ink_b = a[top - a_top : bottom - a_top] > 0.3, b[top - b_top : bottom - b_top] > 0.3
    both = ink_a.any(1) & ink_b.any(1)
    if not both.any():
        return 0
    right = a.shape[1] - 1 - np.argmax(ink_a[:, ::-1], 1)
    return int(1 - np.min((a.shape[1] + np.argmax(ink_b, 1) - right)[both]))


def digit_gap(condition: str, a: Item, b: Item, h: int, rng: np.random.Generator) -> int:
    width = (a[0].shape[1] + b[0].shape[1]) / 2
    touch = contact_gap(a[0], a[2], b[0], b[2])
    if condition == "touching":  # strokes meet (pressed in by up to 4% of a width), unless
        # that would slide one digit deep under the other
        return min(0, max(touch - round(rng.uniform(0, 0.04) * width), -int(0.15 * width)))
    if condition == "overlapping":  # boxes overlap; strokes cross a little at most
        return max(-round(rng.uniform(0.10, 0.25) * width), touch - round(0.05 * h))
    low, high = (0.6, 1.5) if condition == "wide" else (0.1, 0.4)
    return round(rng.uniform(low, high) * h)


def separator_tokens(n: int, rng: np.random.Generator) -> list[str]:
    """Digits ("d") with marks that are not digits: $1.234,56  12/05  €45,-  120-45."""
    tokens = ["d"] * n
    kind = rng.choice(["thousands", "decimal", "dash"]) if rng.random() < 0.8 else ""
    if kind == "thousands" and n >= 4:
        sep = str(rng.choice([".", ","]))
        for cut in range(n - 3, 0, -3):
            tokens.insert(cut, sep)
    elif kind == "decimal" and n >= 3:
        tokens.insert(n - 2, str(rng.choice([",", "."])))
    elif kind and n in (4, 6) and rng.random() < 0.5:  # a date: 12/05, 12/05/19
        for cut in range(n - 2, 0, -2):
            tokens.insert(cut, "/")
    elif kind:
        tokens.insert(int(rng.integers(1, n)), "-")
    if rng.random() < 0.4 or tokens.count("d") == len(tokens):
        tokens.insert(0, str(rng.choice(["$", "€", "£"])))
    if rng.random() < 0.25:
        tokens.append(str(rng.choice(["-", "="])))
    return tokens


def _line(left: int, top: int, length: int, thick: int) -> Item:
    return np.ones((thick, max(1, length)), np.float32), left, top


def assemble(ink: list[Item], printed: list[Item], margins: tuple[int, ...]) -> list[np.ndarray]:
    """Ink and print coverage on one canvas: everything plus margins (t, b, l, r)."""
    both = ink + printed
    y0, x0 = min(t for _, _, t in both), min(x for _, x, _ in both)
    y1 = max(t + a.shape[0] for a, _, t in both)
    x1 = max(x + a.shape[1] for a, x, _ in both)
    top, bottom, left, right = margins
    shape = (y1 - y0 + top + bottom, x1 - x0 + left + right)
    layers = []
    for items in (ink, printed):
        layer = np.zeros(shape, np.float32)
        for alpha, x, t in items:
            region = layer[t - y0 + top :, x - x0 + left :][: alpha.shape[0], : alpha.shape[1]]
            np.maximum(region, alpha, out=region)
        layers.append(layer)
    return layers


def render_number(
    images: np.ndarray,
    condition: str,
    rng: np.random.Generator,
    tokens: list[str] | None = None,
) -> np.ndarray:
    """One number written on a scanned field: an RGB uint8 page. ``tokens``
    (digits as "d", marks by name) lays the number out as written; without
    them the condition does (separators, or the digits alone)."""
    style = base_style(rng)
    looks = LOOKS if condition not in ("cheque", "faint_small") else ("uneven_light", "blur")
    if condition in ("touching", "overlapping"):  # blur on top would merge them past reading
        looks = tuple(look for look in LOOKS if look != "blur")
    for look in rng.choice(looks, size=int(rng.choice([0, 1, 1, 2])), replace=False):
        push_condition(style, str(look), rng)
    h = int(rng.integers(24, 100))
    page = condition == "plain" and rng.random() < 0.1
    if page:
        h = int(rng.integers(25, 61))
    elif condition == "cheque":
        h, style.pencil = int(rng.integers(15, 36)), False
        style.ink = [(20, 20, 30), (25, 35, 110), (15, 15, 15)][int(rng.integers(3))]
        style.paper = tuple(int(v) for v in rng.integers([225, 230, 220], [250, 252, 250]))
    elif condition == "faint_small":
        h, grey = int(rng.integers(12, 26)), int(rng.integers(165, 211))
        style.paper, style.stroke = (grey, grey, grey - 3), 0
        if rng.random() < 0.5:
            push_condition(style, "pencil", rng)
        else:
            faint = int(rng.integers(95, 135))
            style.ink = [(faint, faint, faint + 5), (faint - 20, faint - 10, faint + 40)][
                int(rng.integers(2))
            ]
    style.digit_height = h
    pen = max(1.0, h * rng.uniform(0.09, 0.13) * (1 + 0.3 * style.stroke))
    slant = condition == "slant_drift"
    shear = float(rng.uniform(-0.35, 0.35)) if slant else 0.0
    spread = 0.15 if slant else 0.05
    raised = [token == "c" for token in tokens or () if token in ("d", "c")] or [False] * len(
        images
    )
    ink: list[Item] = []
    for image, small in zip(images, raised, strict=True):
        scale = float(rng.uniform(1 - spread, 1 + spread))
        if small:  # cents written small and raised: their tops near the digits' tops
            scale *= float(rng.uniform(0.5, 0.7))
        alpha = cropped_ink(
            image, replace(style, digit_height=round(h * scale), rotation=rng.uniform(-4, 4)), rng
        )
        alpha = sheared(alpha, shear) if shear else alpha
        top = h - alpha.shape[0] + round(rng.normal(0, 0.025 * h))
        ink.append((alpha, 0, round(rng.uniform(-0.1, 0.1) * h) if small else top))
    printed: list[Item] = []
    if condition == "comb":
        printed, ink = comb_field(ink, h, rng)
    else:
        if tokens is None:
            tokens = (
                separator_tokens(len(ink), rng) if condition == "separators" else ["d"] * len(ink)
            )
        queue, placed, x = iter(ink), [], 0
        for token in tokens:
            if token == "_":  # a line under the raised cents
                cents = [item for item, kind in placed[-2:] if kind == "c"]
                placed.append((cents_line(cents, h, pen, rng, style), token))
                continue
            digit = token in ("d", "c")
            item = next(queue) if digit else stroke_ink(MARKS[token], h, pen, rng, style)
            if placed:
                prev = placed[-1] if placed[-1][1] != "_" else placed[-2]
                both_digits = digit and prev[1] in ("d", "c")
                gap = (
                    digit_gap(condition, prev[0], item, h, rng)
                    if both_digits
                    else round(rng.uniform(0.03, 0.25) * h)
                )
                x += prev[0][0].shape[1] + gap
            placed.append(((item[0], x, item[2]), token))
        ink = [item for item, _ in placed]
    end = max(x + a.shape[1] for a, x, _ in ink)
    if slant:  # the baseline drifts: a slope or a wave of up to a quarter of a digit
        rise, period, phase = rng.uniform(0.1, 0.25) * h * rng.choice([-1, 1]), 0.0, 0.0
        if rng.random() < 0.5:
            period, phase = rng.uniform(0.6, 1.5) * end, rng.uniform(0, 2 * np.pi)
        drift = [np.sin(2 * np.pi * x / period + phase) if period else x / end for _, x, _ in ink]
        ink = [(a, x, t + round(rise * d)) for (a, x, t), d in zip(ink, drift, strict=True)]
    if condition == "underline":
        ink, printed = underline(ink, end, h, pen, rng, style)
    if condition == "cheque":
        printed = cheque_box(ink, end, h, rng, style)
    if page:  # a whole page, the number somewhere on it
        span = max(t + a.shape[0] for a, _, t in ink) - min(t for _, _, t in ink)
        height = int(rng.integers(900, 2000))
        width = max(int(height / 1.414), end + 80)
        top = int(rng.integers(20, height - span - 20))
        left = int(rng.integers(20, width - end - 20))
        margins = (top, height - top - span, left, width - left - end)
    else:
        spans = [(0.15, 0.7)] * 2 + [(0.2, 1.2)] * 2
        margins = tuple(round(h * rng.uniform(*span)) for span in spans)
    coverage, print_cover = assemble(ink, printed, margins)
    paper = blank_paper(coverage.shape, style, rng, h)
    if condition == "cheque":  # security print in light colours
        tint = rng.integers([150, 170, 160], [215, 225, 230]).astype(np.float32)
        pattern = printed_pattern(coverage.shape, rng)[..., None] * rng.uniform(0.35, 0.8)
        paper = paper * (1 - pattern) + tint * pattern
    if printed:
        level = rng.integers(20, 100) if rng.random() < 0.6 else rng.integers(130, 190)
        colour = np.array([level, level, level + rng.integers(0, 25)], np.float32)
        paper = paper * (1 - print_cover[..., None]) + colour * print_cover[..., None]
    return ink_and_finish(paper, coverage, style, rng)


def cents_line(cents: list[Item], h: int, pen: float, rng, style) -> Item:
    """A line drawn by hand under raised cents, from under the first to past the last."""
    left = min(x for _, x, _ in cents) - round(rng.uniform(0.0, 0.15) * h)
    right = max(x + a.shape[1] for a, x, _ in cents) + round(rng.uniform(0.0, 0.2) * h)
    y = max(t + a.shape[0] for a, _, t in cents) + rng.uniform(0.05, 0.15) * h
    xs = np.linspace(0, right - left, 4)
    ys = rng.normal(0, 0.02 * h, 4) + xs * rng.uniform(-0.05, 0.05)
    alpha, dx, dy = stroke_ink([list(zip(xs, ys, strict=True))], 1.0, pen, rng, style)
    return alpha, left + dx, round(y) + dy


def comb_field(digits: list[Item], h: int, rng: np.random.Generator) -> tuple[list, list]:
    """A printed comb or boxed field, one box per digit (now and then spare
    boxes), the digits written in their boxes, sometimes touching a line."""
    box_w, box_h = h * rng.uniform(0.95, 1.35), h * rng.uniform(1.15, 1.5)
    thick = max(1, round(h * rng.uniform(0.012, 0.035)))
    boxes = len(digits) + (int(rng.integers(1, 3)) if rng.random() < 0.25 else 0)
    first = 0 if rng.random() < 0.6 else boxes - len(digits)
    base = round(1.1 * h)
    top = round(base - box_h)
    ticks = rng.random() < 0.35  # a comb: a base line and short teeth
    printed = [_line(0, base, round(boxes * box_w) + thick, thick)]
    if not ticks:
        printed.append(_line(0, top, round(boxes * box_w) + thick, thick))
    tooth = round(box_h * rng.uniform(0.25, 0.45)) if ticks else base - top
    printed += [
        (np.ones((tooth, thick), np.float32), round(i * box_w), base - tooth)
        for i in range(boxes + 1)
    ]
    written = []
    for i, (alpha, _, _) in enumerate(digits, start=first):
        ah, aw = alpha.shape
        x = round((i + 0.5) * box_w - aw / 2 + rng.uniform(-0.1, 0.1) * box_w)
        bottom = base - round(rng.uniform(0.05, 0.2) * box_h)
        touch = rng.random()
        if touch < 0.12:
            bottom = base + thick // 2 + 1
        elif touch < 0.2:
            x = round(i * box_w) + thick
        elif touch < 0.28:
            x = round((i + 1) * box_w) - aw
        written.append((alpha, x, max(top + thick, bottom - ah)))
    return printed, written


def underline(ink: list[Item], end: int, h: int, pen: float, rng, style) -> tuple[list, list]:
    """A line under (or touching) the number: ruled by hand or a printed form
    baseline; sometimes a tick after it."""
    y = h + round(rng.uniform(-0.03, 0.15) * h)
    start, stop = -round(rng.uniform(0.05, 0.8) * h), end + round(rng.uniform(0.1, 1.2) * h)
    printed: list[Item] = []
    if rng.random() < 0.5:
        printed.append(_line(start, y, stop - start, max(1, round(h * rng.uniform(0.015, 0.04)))))
    else:
        xs = np.linspace(start, stop, 6)
        ys = y + xs * rng.uniform(-0.03, 0.03) + rng.normal(0, 0.015 * h, 6)
        alpha, left, top = stroke_ink([list(zip(xs, ys, strict=True))], 1.0, pen, rng, style)
        ink = [*ink, (alpha, left, top)]
    if rng.random() < 0.4:
        size = h * rng.uniform(0.6, 1.0)
        alpha, left, top = stroke_ink(MARKS["tick"], size, pen, rng, style)
        ink = [*ink, (alpha, end + round(rng.uniform(0.3, 1.0) * h) + left, top + round(h - size))]
    return ink, printed


def cheque_box(ink: list[Item], end: int, h: int, rng, style) -> list[Item]:
    """Sometimes the printed box of a cheque's amount, with its printed $."""
    if rng.random() < 0.5:
        return []
    pad, thick = round(0.3 * h), 1
    top = min(t for _, _, t in ink) - pad
    bottom = max(t + a.shape[0] for a, _, t in ink) + pad
    pen = max(1.0, 0.07 * h)
    dollar = stroke_ink(MARKS["$"], 0.7 * h, pen, rng, replace(style, pencil=False), 0)
    left = -2 * pad - dollar[0].shape[1]
    right = end + pad + round(rng.uniform(0, 2) * h)
    side = np.ones((bottom - top, thick), np.float32)
    box = [_line(left, top, right - left, thick), _line(left, bottom, right - left, thick)]
    sign = (dollar[0], left + pad // 2, round(0.15 * h) + dollar[2])
    return [*box, (side, left, top), (side, right, top), sign]


def encode(page: np.ndarray, stem: Path, condition: str, rng: np.random.Generator) -> Path:
    """Saved as a scanner or phone would: JPEG or PNG, colour or greyscale, or a
    16-colour palette PNG (30% of faint_small)."""
    if condition == "faint_small" and rng.random() < 0.3:
        return save(page, stem, "palette_png", rng)
    kind = "grey" if condition == "cheque" else str(rng.choice(["rgb", "rgb", "rgb", "grey"]))
    if kind == "rgb":
        return save(page, stem, "jpeg" if rng.random() < 0.6 else "png", rng)
    grey = Image.fromarray(page, "RGB").convert("L")
    if rng.random() < 0.5:
        grey.save(path := stem.with_suffix(".jpg"), quality=int(rng.integers(70, 95)))
    else:
        grey.save(path := stem.with_suffix(".png"))
    return path


def contact_sheet(files: list[Path], captions: list[str], out: Path, columns: int = 5) -> None:
    """A grid of images with captions, for looking at."""
    cell_w, cell_h, text_h = 380, 130, 18
    rows = -(-len(files) // columns)
    sheet = Image.new("RGB", (columns * cell_w, rows * (cell_h + text_h)), (255, 255, 255))
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=13)
    for i, (file, caption) in enumerate(zip(files, captions, strict=True)):
        x, y = (i % columns) * cell_w, (i // columns) * (cell_h + text_h)
        with Image.open(file) as image:
            thumb = image.convert("RGB")
        scale = min((cell_w - 8) / thumb.width, (cell_h - 4) / thumb.height, 3.0)  # small: larger
        size = (max(1, round(thumb.width * scale)), max(1, round(thumb.height * scale)))
        thumb = thumb.resize(size, Image.Resampling.LANCZOS)
        sheet.paste(thumb, (x + 4, y + 2))
        draw.text((x + 4, y + cell_h), caption, fill=(200, 0, 0), font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
