"""Hand styles the shipped model misread on real scans, drawn as pen strokes.

Real scans showed these failure classes (issue "engine v2"):

- a 1 with a long up-stroke (flag) and no base, read as 7;
- a 9 with a round loop and a short or curled tail, like a "q" or a "rho",
  read as 8, 2 or 4;
- a small, wide, flat 0, read as 8 or 9;
- a 4, open or closed at the top, read as 9 or 6;
- an open 7 (no bar across its stem) with a hooked or curved top, read as 4.

MNIST has few of them. Each style here is a small parametric model of how
a hand writes that digit; its parameters (flag length and angle, loop
roundness, tail length and curl, aspect ratio, slant, pen width) are drawn
at random over the range a person still reads as that digit, and no wider:
a flag shallower than about 30 degrees, or a 7's hook taller than a fifth
of its height, becomes a different digit, and training on it would teach
a wrong answer. benchmarks/style_classes.py measures these classes with a
generator of its own, so the model is not tuned to this one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

Stroke = list[tuple[float, float]]


def arc(
    cx: float, cy: float, rx: float, ry: float, start: float, sweep: float, n: int = 28
) -> Stroke:
    """Points along an elliptical arc; angles in degrees, 0 = right, 90 = down
    (y grows downward, as on the page); a negative ``sweep`` runs anticlockwise."""
    angles = np.deg2rad(start + np.linspace(0.0, sweep, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


def _segment(p: tuple[float, float], q: tuple[float, float], n: int = 8) -> Stroke:
    return [(p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t) for t in np.linspace(0, 1, n)]


def one_flag(rng: np.random.Generator) -> list[Stroke]:
    """A 1 as many Europeans write it without the base: a long up-stroke into
    the top of the stem. The flag rises 35-65 degrees over 20-55% of the
    height and reaches at most 0.38 of it to the left; a shallower, longer
    one is a 7's bar."""
    angle = np.deg2rad(rng.uniform(35, 65))
    length = min(rng.uniform(0.2, 0.55), 0.38 / np.cos(angle))
    start = (-length * np.cos(angle), length * np.sin(angle))
    bend = rng.uniform(-0.06, 0.04) * length  # a slightly hollow or bowed flag
    middle = (start[0] / 2 + bend * np.sin(angle), start[1] / 2 + bend * np.cos(angle))
    foot = (rng.uniform(-0.1, 0.06), 1.0)
    flag = [start, middle, (0.0, 0.0)]
    if rng.random() < 0.5:  # one movement: flag and stem without lifting the pen
        return [[*flag, foot]]
    return [flag, [(rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.03)), foot]]


def nine_loop_tail(rng: np.random.Generator) -> list[Stroke]:
    """A 9 as a round loop and a tail: from the loop's right side (a "q") or
    further round toward its bottom (a "rho"), short or long, straight,
    hooked back to the left or flicked to the right."""
    ry = 0.5
    rx = ry * rng.uniform(0.8, 1.25)  # roundness
    begin = rng.uniform(-20, 20)  # where the pen starts, on the right side
    loop = arc(0.0, 0.0, rx, ry, begin, -rng.uniform(345, 375))
    leave = np.deg2rad(rng.uniform(-5, 70))  # where the tail leaves the loop
    top = (rx * np.cos(leave), ry * np.sin(leave))
    length = rng.uniform(0.3, 1.1)  # below the loop's bottom, in loop heights
    end = (top[0] + rng.uniform(-0.25, 0.08), ry + length)
    tail = _segment(top, end)
    curl = rng.random()
    if curl < 0.35:  # hooked back to the left, like a J
        r = rng.uniform(0.12, 0.25)
        tail = tail[:-2] + arc(end[0] - r, end[1] - r, r, r, 0, rng.uniform(60, 140), 10)
    elif curl < 0.55:  # a short flick to the right, as in a q
        tail.append((end[0] + rng.uniform(0.08, 0.2), end[1] - rng.uniform(0.0, 0.1)))
    return [loop + tail]


def zero_flat(rng: np.random.Generator) -> list[Stroke]:
    """A small, wide, flat 0: an oval 1.1-1.9 times as wide as tall, begun at
    the top and closed with a small overlap or gap, its sides a little
    uneven as a quick hand leaves them."""
    aspect = rng.uniform(1.1, 1.9)
    start = -90 + rng.uniform(-35, 35)
    sweep = -rng.uniform(345, 385) if rng.random() < 0.8 else rng.uniform(345, 385)
    points = arc(0.0, 0.0, 0.5 * aspect, 0.5, start, sweep, 40)
    wobble = 1 + 0.06 * np.sin(np.linspace(0, 2 * np.pi, 40) * 2 + rng.uniform(0, 6))
    return [[(x * w, y * w) for (x, y), w in zip(points, wobble, strict=True)]]


def four_open_closed(rng: np.random.Generator) -> list[Stroke]:
    """A 4 with a closed top (the diagonal meets the stem: the printed form,
    or bowed out as some hands write it) or an open one (a left stroke
    down, then across; the stem apart), its stem rising above the crossbar
    and the crossbar running past it."""
    bar_y = rng.uniform(0.55, 0.75)
    stem_x = rng.uniform(0.55, 0.75)
    bar_end = (stem_x + rng.uniform(0.08, 0.3), bar_y + rng.uniform(-0.04, 0.04))
    foot = (stem_x + rng.uniform(-0.06, 0.04), 1.0)
    kind = rng.random()
    if kind < 0.2:  # closed, the diagonal bowed out: a quarter oval from the stem's top
        corner = (rng.uniform(0.0, 0.12), bar_y)
        top_y = rng.uniform(0.0, 0.05)
        rx, ry = stem_x - corner[0], bar_y - top_y
        side = arc(stem_x, bar_y, rx, ry, -90, -rng.uniform(80, 95), 12)
        return [[*side, bar_end], [(stem_x, top_y), foot]]
    if kind < 0.55:
        apex = (stem_x + rng.uniform(-0.05, 0.02), rng.uniform(0.0, 0.05))
        corner = (rng.uniform(0.0, 0.12), bar_y)
        if rng.random() < 0.5:  # one movement: apex, corner, across; then the stem
            return [[apex, corner, bar_end], [(apex[0], apex[1] + 0.02), foot]]
        return [[foot, apex, corner, bar_end]]
    top_left = (rng.uniform(0.05, 0.3), rng.uniform(0.0, 0.1))
    corner = (top_left[0] - rng.uniform(0.0, 0.12), bar_y)
    stem_top = (stem_x + rng.uniform(-0.03, 0.03), rng.uniform(0.0, 0.3))
    return [[top_left, corner, bar_end], [stem_top, foot]]


def seven_open(rng: np.random.Generator) -> list[Stroke]:
    """An open 7 (no bar across the stem) with a hooked or curved top: a
    small down-tick where the bar begins, or the bar itself bowed; the
    stem straight or a little hollow."""
    width = rng.uniform(0.55, 0.9)
    bar_start = (0.0, rng.uniform(0.0, 0.06))
    bar_end = (width, rng.uniform(-0.03, 0.04))
    bow = rng.uniform(-0.1, 0.04)  # negative bows the bar upward
    bar = [bar_start, (width / 2, (bar_start[1] + bar_end[1]) / 2 + bow), bar_end]
    kind = rng.random()
    if kind < 0.45:  # a hook: the pen comes down a little before going across
        bar.insert(0, (rng.uniform(-0.04, 0.05), bar_start[1] + rng.uniform(0.06, 0.2)))
    elif kind < 0.7:  # a curled start, rising into the bar
        r = rng.uniform(0.04, 0.09)
        bar = arc(r, bar_start[1] + r, r, r, 180 - rng.uniform(0, 60), 90, 8) + bar[1:]
    foot = (width * rng.uniform(0.15, 0.6), 1.0)
    sag = rng.uniform(-0.06, 0.1)
    middle = ((bar_end[0] + foot[0]) / 2 + sag, 0.5)
    return [[*bar, middle, foot]]


#: Style name -> (digit, strokes). The names are the benchmark's classes.
STYLES: dict[str, tuple[int, Callable[[np.random.Generator], list[Stroke]]]] = {
    "one_flag": (1, one_flag),
    "nine_loop_tail": (9, nine_loop_tail),
    "zero_flat": (0, zero_flat),
    "four_closed_or_open": (4, four_open_closed),
    "seven_open": (7, seven_open),
}


def render_style(name: str, rng: np.random.Generator, height: int = 84) -> np.ndarray:
    """One digit in style ``name``: white ink on black, about ``height`` px
    tall (a flat 0 less, as written), slanted (mostly forward) and turned a
    little, pen width 5-13% of the height, each point jittered as a hand does."""
    _, draw_strokes = STYLES[name]
    strokes = [np.array(s, dtype=np.float64) for s in draw_strokes(rng)]
    slant, turn = rng.uniform(-0.1, 0.25), np.deg2rad(rng.uniform(-7, 7))
    rotate = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    for i, s in enumerate(strokes):
        s = s + rng.normal(0, 0.012, s.shape)
        s[:, 0] -= slant * (s[:, 1] - 0.5)
        strokes[i] = s @ rotate.T
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    size = max(high[1] - low[1], 1e-6)
    scale = height / size
    if name == "zero_flat":
        scale *= rng.uniform(0.45, 0.7) / max(1.0, (high[0] - low[0]) / size)
    pen = max(2, round(height * rng.uniform(0.05, 0.13)))
    pad = pen + height // 4
    shape = ((high - low) * scale).astype(int) + 2 * pad
    canvas = Image.new("L", (int(shape[0]), int(shape[1])), 0)
    draw = ImageDraw.Draw(canvas)
    for s in strokes:
        xy = [(float(x), float(y)) for x, y in (s - low) * scale + pad]
        draw.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return np.asarray(canvas, dtype=np.float32)
