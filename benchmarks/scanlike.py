"""Render MNIST test digits as realistic scans and phone photos (seeded).

Each image is rendered under one named *condition* (pencil, ruled paper,
shadow, 16-bit TIFF, ...) on top of mild random variation of everything
else, so accuracy can be reported per condition. Only MNIST *test* digits
are rendered: the model never trained on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

# Conditions that change how the page looks.
LOOK_CONDITIONS = (
    "clean",
    "pencil",
    "coloured_ink",
    "grey_paper",
    "yellow_paper",
    "textured_paper",
    "ruled_paper",
    "squared_paper",
    "uneven_light",
    "shadow",
    "off_centre",
    "tight_margin",
    "wide_margin",
    "tiny_digit",
    "large_digit",
    "rotated",
    "hairline",
    "marker",
    "blur",
    "low_quality_jpeg",
    "noise_and_dust",
    "scanner_border",
    "negative",
)
# Conditions that change how the file is encoded.
ENCODING_CONDITIONS = (
    "exif_rotated_jpeg",
    "rgba_png",
    "palette_png",
    "tiff16",
    "cmyk_jpeg",
    "grey_alpha_png",
    "bmp",
    "gif",
    "webp",
)
CONDITIONS = LOOK_CONDITIONS + ENCODING_CONDITIONS


@dataclass
class Style:
    """Everything that decides one rendering; defaults are a plain clean scan."""

    digit_height: int = 80
    margin: float = 0.6  # blank space around the digit, relative to its height
    offset: tuple[float, float] = (0.0, 0.0)  # -1..1 of the free space
    rotation: float = 0.0
    stroke: int = 0  # >0 thicker, <0 thinner, in units of the digit's own scale
    ink: tuple[int, int, int] = (25, 25, 35)
    pencil: bool = False
    paper: tuple[int, int, int] = (245, 245, 242)
    texture: float = 2.0
    lines: str = ""  # "", "ruled", "squared"
    line_colour: tuple[int, int, int] = (150, 170, 215)
    lighting: float = 0.0  # strength of a smooth brightness gradient
    shadow: float = 0.0
    blur: float = 0.0
    noise: float = 2.0
    specks: int = 0
    border: int = 0
    negative: bool = False
    extras: dict[str, float] = field(default_factory=dict)


def style_for(condition: str, rng: np.random.Generator) -> Style:
    """A mildly varied style with one condition pushed to its range."""
    return push_condition(base_style(rng), condition, rng)


def compound_style(conditions: list[str], rng: np.random.Generator) -> Style:
    """A mildly varied style with several conditions pushed at once, as real
    photos bring them: pencil on squared paper in a shadow, say."""
    style = base_style(rng)
    for condition in conditions:
        push_condition(style, condition, rng)
    return style


def base_style(rng: np.random.Generator) -> Style:
    """Mild random variation of everything: a plain scan, never the same twice."""
    return Style(
        digit_height=int(rng.integers(40, 160)),
        margin=float(rng.uniform(0.3, 1.0)),
        offset=(float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.5))),
        rotation=float(rng.uniform(-6, 6)),
        stroke=int(rng.integers(-1, 2)),
        ink=_pick(rng, [(20, 20, 30), (25, 35, 110), (15, 15, 15), (40, 40, 60)]),
        paper=tuple(int(v) for v in rng.integers(232, 252, size=3)),  # type: ignore[arg-type]
        texture=float(rng.uniform(0.5, 3.0)),
        noise=float(rng.uniform(0.5, 3.0)),
    )


def push_condition(s: Style, condition: str, rng: np.random.Generator) -> Style:
    """Push one condition of ``s`` to its range (in place); returns ``s``."""
    if condition == "pencil":
        s.pencil, s.ink = True, _pick(rng, [(90, 90, 95), (110, 110, 115), (70, 70, 80)])
    elif condition == "coloured_ink":
        s.ink = _pick(rng, [(30, 60, 170), (170, 30, 30), (20, 110, 50), (90, 30, 140)])
    elif condition == "grey_paper":
        level = int(rng.integers(150, 205))
        s.paper = (level, level, level - 3)
    elif condition == "yellow_paper":
        s.paper = (
            int(rng.integers(235, 252)),
            int(rng.integers(215, 240)),
            int(rng.integers(120, 175)),
        )
    elif condition == "textured_paper":
        s.texture = float(rng.uniform(8, 16))
    elif condition == "ruled_paper":
        s.lines = "ruled"
    elif condition == "squared_paper":
        s.lines = "squared"
    elif condition == "uneven_light":
        s.lighting = float(rng.uniform(0.3, 0.55))
    elif condition == "shadow":
        s.shadow = float(rng.uniform(0.35, 0.6))
    elif condition == "off_centre":
        s.margin = float(rng.uniform(1.0, 1.8))
        s.offset = (float(rng.choice([-1, 1]) * rng.uniform(0.7, 1.0)), float(rng.uniform(-1, 1)))
    elif condition == "tight_margin":
        s.margin = float(rng.uniform(0.0, 0.08))
    elif condition == "wide_margin":
        s.margin = float(rng.uniform(2.5, 5.0))
    elif condition == "tiny_digit":
        s.digit_height = int(rng.integers(15, 26))
    elif condition == "large_digit":
        s.digit_height = int(rng.integers(300, 500))
    elif condition == "rotated":
        s.rotation = float(rng.choice([-1, 1]) * rng.uniform(10, 20))
    elif condition == "hairline":
        s.stroke = -2
        s.digit_height = int(rng.integers(120, 260))
    elif condition == "marker":
        s.stroke = int(rng.integers(3, 5))
    elif condition == "blur":
        s.blur = float(rng.uniform(0.025, 0.045))
    elif condition == "noise_and_dust":
        s.noise, s.specks = float(rng.uniform(8, 16)), int(rng.integers(5, 25))
    elif condition == "scanner_border":
        s.border = int(rng.integers(1, 5))
    elif condition == "negative":
        s.negative = True
    return s


def _pick(rng: np.random.Generator, options: list[tuple[int, int, int]]) -> tuple[int, int, int]:
    return options[int(rng.integers(len(options)))]


def ink_alpha(digit: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """The digit as ink coverage (0..1) at its final height, rotated and weighted."""
    scale = style.digit_height / 20.0  # MNIST digits are 20 px tall inside 28
    work = max(scale, 4.0)
    big = (
        np.asarray(
            Image.fromarray(digit).resize(
                (round(28 * work), round(28 * work)), Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        / 255.0
    )
    # Turn MNIST's soft grey edges into pen ink: a smooth threshold.
    alpha = np.clip((big - 0.35) / 0.3, 0, 1)
    if style.stroke:
        radius = abs(style.stroke) * work * 0.35
        inside = alpha > 0.5
        if style.stroke > 0:
            grown = ndimage.distance_transform_edt(~inside) <= radius
            alpha = np.maximum(
                alpha, ndimage.gaussian_filter(grown.astype(np.float32), work * 0.15)
            )
        else:
            shrunk = ndimage.distance_transform_edt(inside) > radius
            if shrunk.sum() > 0.2 * inside.sum():
                alpha = ndimage.gaussian_filter(shrunk.astype(np.float32), work * 0.1)
    if style.rotation:
        alpha = ndimage.rotate(alpha, style.rotation, reshape=True, order=1, mode="constant")
    alpha = np.clip(alpha, 0, 1)
    if work != scale:
        factor = scale / work
        shape = (max(3, round(alpha.shape[0] * factor)), max(3, round(alpha.shape[1] * factor)))
        alpha = np.asarray(
            Image.fromarray(alpha.astype(np.float32), mode="F").resize(
                (shape[1], shape[0]), Image.Resampling.BOX
            )
        )
    if style.pencil:
        grain = rng.uniform(0.45, 1.0, alpha.shape).astype(np.float32)
        alpha = alpha * grain * float(rng.uniform(0.55, 0.85))
    return np.clip(alpha, 0, 1).astype(np.float32)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, scale: float) -> np.ndarray:
    small = rng.standard_normal((max(2, int(shape[0] / scale)), max(2, int(shape[1] / scale))))
    field = np.asarray(
        Image.fromarray(small.astype(np.float32), mode="F").resize(
            (shape[1], shape[0]), Image.Resampling.BICUBIC
        )
    )
    return field / (np.abs(field).max() + 1e-6)


def cropped_ink(digit: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """The digit's ink coverage cropped to its bounding box, so that margins
    are measured from the ink."""
    alpha = ink_alpha(digit, style, rng)
    rows = np.flatnonzero(alpha.max(axis=1) > 0.05)
    cols = np.flatnonzero(alpha.max(axis=0) > 0.05)
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def render_page(digit: np.ndarray, style: Style, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 page with the digit written on it."""
    alpha = cropped_ink(digit, style, rng)
    ah, aw = alpha.shape
    pad = round(style.margin * max(ah, aw))
    height, width = ah + 2 * pad + 2, aw + 2 * pad + 2
    # Wider-than-tall pages, like a phone photo of a form field.
    if rng.random() < 0.5:
        width = int(width * rng.uniform(1.0, 1.5))
    top = int((height - ah) / 2 + style.offset[0] * (height - ah) / 2)
    left = int((width - aw) / 2 + style.offset[1] * (width - aw) / 2)
    top, left = int(np.clip(top, 0, height - ah)), int(np.clip(left, 0, width - aw))
    coverage = np.zeros((height, width), np.float32)
    coverage[top : top + ah, left : left + aw] = alpha
    paper = blank_paper((height, width), style, rng, max(ah, aw))
    return ink_and_finish(paper, coverage, style, rng)


def blank_paper(
    shape: tuple[int, int], style: Style, rng: np.random.Generator, size: int
) -> np.ndarray:
    """The paper (RGB float32): colour, texture and any ruled or squared lines,
    spaced relative to ``size`` (the writing's height)."""
    height, width = shape
    paper = np.empty((height, width, 3), np.float32)
    paper[:] = style.paper
    paper += (_smooth_field((height, width), rng, 6) * style.texture)[..., None]
    if style.lines:
        spacing = max(6, int(size * rng.uniform(0.35, 0.7)))
        thickness = max(1, round(spacing * rng.uniform(0.03, 0.08)))
        phase = int(rng.integers(spacing))
        line_mask = np.zeros((height, width), bool)
        for y in range(phase, height, spacing):
            line_mask[y : y + thickness] = True
        if style.lines == "squared":
            for x in range(phase, width, spacing):
                line_mask[:, x : x + thickness] = True
        strength = float(rng.uniform(0.5, 1.0))
        paper[line_mask] = (
            paper[line_mask] * (1 - strength) + np.array(style.line_colour) * strength
        )
    return paper


def ink_and_finish(
    paper: np.ndarray, coverage: np.ndarray, style: Style, rng: np.random.Generator
) -> np.ndarray:
    """The ink (``coverage`` 0..1) laid on ``paper``, then light, shadow, specks,
    blur, scanner border, noise and negative: an RGB uint8 page."""
    height, width = coverage.shape
    ink = np.array(style.ink, np.float32)
    page = paper * (1 - coverage[..., None]) + ink * coverage[..., None]
    if style.lighting:
        ramp = np.linspace(-1, 1, width)[None, :] * np.cos(rng.uniform(0, np.pi))
        ramp = ramp + np.linspace(-1, 1, height)[:, None] * np.sin(rng.uniform(0, np.pi))
        page *= (
            1 - style.lighting / 2 + style.lighting / 2 * ramp / max(1e-6, np.abs(ramp).max())
        )[..., None]
    if style.shadow:
        yy, xx = np.mgrid[0:height, 0:width]
        angle = rng.uniform(0, 2 * np.pi)
        edge = (xx - width * rng.uniform(0.2, 0.8)) * np.cos(angle) + (
            yy - height * rng.uniform(0.2, 0.8)
        ) * np.sin(angle)
        soft = max(2.0, 0.08 * max(height, width))
        page *= (1 - style.shadow / (1 + np.exp(-edge / soft)))[..., None]
    if style.specks:
        for _ in range(style.specks):
            y, x = int(rng.integers(height)), int(rng.integers(width))
            r = max(1, int(rng.integers(1, 3) * max(1, style.digit_height / 60)))
            page[max(0, y - r) : y + r, max(0, x - r) : x + r] *= rng.uniform(0.2, 0.6)
    if style.blur:
        page = ndimage.gaussian_filter(page, sigma=(style.blur * style.digit_height,) * 2 + (0,))
    if style.border:
        depth = max(2, int(min(height, width) * rng.uniform(0.02, 0.06)))
        sides = rng.permutation(4)[: style.border]
        shade = float(rng.uniform(0, 40))
        for side in sides:
            if side == 0:
                page[:depth] = shade
            elif side == 1:
                page[-depth:] = shade
            elif side == 2:
                page[:, :depth] = shade
            else:
                page[:, -depth:] = shade
    page += rng.standard_normal(page.shape).astype(np.float32) * style.noise
    page = np.clip(page, 0, 255)
    if style.negative:
        page = 255 - page
    return page.astype(np.uint8)


def save(page: np.ndarray, path_stem: Path, encoding: str, rng: np.random.Generator) -> Path:
    """Write ``page`` (RGB uint8) in the given encoding; returns the path written."""
    image = Image.fromarray(page, "RGB")
    if encoding == "jpeg":
        path = path_stem.with_suffix(".jpg")
        image.save(path, quality=int(rng.integers(70, 95)))
    elif encoding == "low_quality_jpeg":
        path = path_stem.with_suffix(".jpg")
        image.save(path, quality=int(rng.integers(8, 25)))
    elif encoding == "exif_rotated_jpeg":
        # Pixels stored sideways, with the EXIF tag a camera writes to undo it.
        orientation, stored = _pick_orientation(image, rng)
        exif = Image.Exif()
        exif[0x0112] = orientation
        path = path_stem.with_suffix(".jpg")
        stored.save(path, quality=90, exif=exif)
    elif encoding == "rgba_png":
        # Ink on a transparent sheet: the paper colour is lost, ink stays.
        grey = np.asarray(image.convert("L"), np.float32)
        alpha = np.clip((255 - grey) * 1.6, 0, 255).astype(np.uint8)
        rgba = np.dstack([page, alpha])
        path = path_stem.with_suffix(".png")
        Image.fromarray(rgba, "RGBA").save(path)
    elif encoding == "grey_alpha_png":
        grey = np.asarray(image.convert("L"), np.float32)
        alpha = np.clip((255 - grey) * 1.6, 0, 255).astype(np.uint8)
        path = path_stem.with_suffix(".png")
        Image.fromarray(np.dstack([grey.astype(np.uint8), alpha]), "LA").save(path)
    elif encoding == "palette_png":
        path = path_stem.with_suffix(".png")
        image.quantize(colors=16).save(path)
    elif encoding == "tiff16":
        grey = np.asarray(image.convert("L"), np.uint16) * 257
        path = path_stem.with_suffix(".tif")
        Image.fromarray(grey.astype(np.uint16)).save(path)  # mode I;16
    elif encoding == "cmyk_jpeg":
        path = path_stem.with_suffix(".jpg")
        image.convert("CMYK").save(path, quality=90)
    elif encoding == "bmp":
        path = path_stem.with_suffix(".bmp")
        image.save(path)
    elif encoding == "gif":
        path = path_stem.with_suffix(".gif")
        image.convert("L").save(path)
    elif encoding == "webp":
        path = path_stem.with_suffix(".webp")
        image.save(path, quality=85)
    else:
        path = path_stem.with_suffix(".png")
        image.save(path)
    return path


def _pick_orientation(image: Image.Image, rng: np.random.Generator) -> tuple[int, Image.Image]:
    orientation = int(rng.choice([3, 6, 8]))
    # Store the inverse of what exif_transpose will apply.
    inverse = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }
    return orientation, image.transpose(inverse[orientation])


def encoding_for(condition: str, rng: np.random.Generator) -> str:
    if condition in ENCODING_CONDITIONS:
        return condition
    if condition == "low_quality_jpeg":
        return "low_quality_jpeg"
    return "jpeg" if rng.random() < 0.6 else "png"


def render_condition(
    digit: np.ndarray, condition: str, rng: np.random.Generator, path_stem: Path
) -> Path:
    """Render one digit under ``condition`` and save it; returns the file written."""
    style = style_for(condition, rng)
    page = render_page(digit, style, rng)
    return save(page, path_stem, encoding_for(condition, rng), rng)


def printed_pattern(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Security-print background as on a bank cheque: one or two families of
    fine wavy lines (coverage 0..1), 5-12 px apart."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    period = rng.uniform(5, 12)
    amplitude, wavelength = rng.uniform(3, 15), rng.uniform(30, 90)
    pattern = np.zeros(shape, np.float32)
    for _ in range(int(rng.integers(1, 3))):
        angle = rng.uniform(0, np.pi)
        along = xx * np.cos(angle) + yy * np.sin(angle)
        across = -xx * np.sin(angle) + yy * np.cos(angle)
        phase = (
            across + amplitude * np.sin(along / wavelength * 2 * np.pi + rng.uniform(0, 6))
        ) / period
        width = rng.uniform(0.8, 1.8)
        line = np.clip(1 - np.abs(phase - np.round(phase)) * period / width, 0, 1)
        pattern = np.maximum(pattern, line)
    return pattern


def render_on_pattern(digit: np.ndarray, rng: np.random.Generator, dark: bool) -> np.ndarray:
    """An RGB page: the digit written over a printed cheque pattern, light
    pastel or (``dark``) a strong print that competes with the ink."""
    style = style_for("clean", rng)
    alpha = cropped_ink(digit, style, rng)
    ah, aw = alpha.shape
    pad = round(style.margin * max(ah, aw))
    height, width = ah + 2 * pad + 2, int((aw + 2 * pad + 2) * rng.uniform(1.0, 1.6))
    coverage = np.zeros((height, width), np.float32)
    top, left = (height - ah) // 2, int(rng.integers(0, width - aw + 1))
    coverage[top : top + ah, left : left + aw] = alpha
    base = rng.integers([225, 230, 220], [250, 252, 250]).astype(np.float32)
    low, high = ([60, 80, 80], [150, 160, 170]) if dark else ([120, 150, 140], [200, 210, 220])
    print_colour = rng.integers(low, high).astype(np.float32)
    pattern = printed_pattern((height, width), rng) * rng.uniform(0.4, 0.9)
    paper = base * (1 - pattern[..., None]) + print_colour * pattern[..., None]
    ink = np.array(style.ink, np.float32)
    page = paper * (1 - coverage[..., None]) + ink * coverage[..., None]
    page += rng.standard_normal((height, width, 1)).astype(np.float32) * 2
    return np.clip(page, 0, 255).astype(np.uint8)


def render_on_table(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB phone photo: the written sheet, turned a little, lying on a
    darker, mottled table that fills the rest of the frame."""
    style = style_for("clean", rng)
    style.margin = float(rng.uniform(0.6, 1.2))
    sheet = Image.fromarray(render_page(digit, style, rng))
    sheet = sheet.rotate(float(rng.uniform(-12, 12)), expand=True, fillcolor=(1, 2, 3))
    pixels = np.asarray(sheet).astype(np.float32)
    height, width = pixels.shape[:2]
    frame_h = int(height * rng.uniform(1.3, 2.0))
    frame_w = int(width * rng.uniform(1.3, 2.0))
    table = np.empty((frame_h, frame_w, 3), np.float32)
    table[:] = rng.integers(40, 120, 3)
    table += (_smooth_field((frame_h, frame_w), rng, 8) * 25)[..., None]
    top = int(rng.integers(0, frame_h - height + 1))
    left = int(rng.integers(0, frame_w - width + 1))
    region = table[top : top + height, left : left + width]
    paper = ~(pixels == [1, 2, 3]).all(axis=-1)
    region[paper] = pixels[paper]
    return np.clip(table, 0, 255).astype(np.uint8)


def render_in_form_box(digit: np.ndarray, rng: np.random.Generator, whole: bool) -> np.ndarray:
    """A crop from a printed form: the digit written in its box, cut out with
    either the whole box or only two of its edges (a corner) in the picture.
    The edges are printed dark or grey, thin or as thick as the writing."""
    style = style_for("clean", rng)
    style.margin = float(rng.uniform(0.25, 0.6))
    page = render_page(digit, style, rng).astype(np.float32)
    height, width = page.shape[:2]
    thickness = max(1, int(min(height, width) * rng.uniform(0.01, 0.03)))
    inset = int(min(height, width) * rng.uniform(0.02, 0.08))
    colour = rng.integers(0, 140, 3)
    near, far_h, far_w = inset, height - inset - thickness, width - inset - thickness
    if whole:
        page[near : near + thickness, near : width - near] = colour
        page[far_h : far_h + thickness, near : width - near] = colour
        page[near : height - near, near : near + thickness] = colour
        page[near : height - near, far_w : far_w + thickness] = colour
    else:
        top = near if rng.random() < 0.5 else far_h
        left = near if rng.random() < 0.5 else far_w
        page[top : top + thickness, :] = colour
        page[:, left : left + thickness] = colour
    return np.clip(page, 0, 255).astype(np.uint8)


def render_tight_crop(digit: np.ndarray, rng: np.random.Generator, negative: bool) -> np.ndarray:
    """A digit cropped to its ink, as a segmenter or a hurried person cuts it
    out: strokes touch the edges and may cover most of the picture. In pen,
    marker, pencil or coloured ink; ``negative`` gives light ink on dark."""
    style = style_for(str(rng.choice(["clean", "marker", "pencil", "coloured_ink"])), rng)
    style.margin, style.negative = 0.0, negative
    page = render_page(digit, style, rng)
    gray = page.astype(np.float32).mean(axis=-1)
    inked = np.abs(gray - np.median(gray)) > 40
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    return page[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def render_small_on_big_page(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone photo or page scan in which the digit is small: 20 to 60 px
    tall, anywhere on a page 1,000 to 3,000 px tall."""
    style = style_for(str(rng.choice(["clean", "pencil", "coloured_ink", "grey_paper"])), rng)
    style.digit_height = int(rng.integers(20, 61))
    style.margin = (float(rng.uniform(1000, 3000)) / style.digit_height - 1) / 2
    style.offset = (float(rng.uniform(-0.9, 0.9)), float(rng.uniform(-0.9, 0.9)))
    return render_page(digit, style, rng)


def render_string_crop(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The middle one of three digits written in a row (an amount on a cheque,
    a number on a form), cropped with a margin that takes in up to a third of
    each neighbour: what a digit segmenter often hands over."""
    style = style_for(str(rng.choice(["clean", "pencil", "coloured_ink", "grey_paper"])), rng)
    inks = [cropped_ink(digit, style, rng) for digit in digits]
    height = max(ink.shape[0] for ink in inks)
    gap = max(2, int(style.digit_height * rng.uniform(0.05, 0.3)))
    width = sum(ink.shape[1] for ink in inks) + 2 * gap
    coverage = np.zeros((height, width), np.float32)
    left = 0
    for ink in inks:
        top = (height - ink.shape[0]) // 2
        coverage[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
        left += ink.shape[1] + gap
    middle = inks[1].shape[1]
    start = inks[0].shape[1] + gap
    into = [int(rng.uniform(0, 0.33) * ink.shape[1]) for ink in (inks[0], inks[2])]
    window = coverage[:, max(0, start - gap - into[0]) : start + middle + gap + into[1]]
    pad = int(height * rng.uniform(0.1, 0.4))
    window = np.pad(window, ((pad, pad), (0, 0)))
    page = np.empty((*window.shape, 3), np.float32)
    page[:] = style.paper
    page += (_smooth_field(window.shape, rng, 6) * style.texture)[..., None]
    page = page * (1 - window[..., None]) + np.array(style.ink, np.float32) * window[..., None]
    page += rng.standard_normal(page.shape).astype(np.float32) * style.noise
    return np.clip(page, 0, 255).astype(np.uint8)
