"""Writers for the style-shift benchmark: hands whose digits share a style.

Each digit is drawn as pen strokes through control points on a unit square
(x right, y down), smoothed, with the writer's slant, width, pen and
jitter. Most digits use a plain shape; each group of writers has its own
way with a few digits, and those are the styles the shipped model misreads
(measured when they were chosen; RESULTS.md reports the figures):

- a 1 with a long, shallow up-stroke and no base (read as 7), as the issue
  saw in one region's cheques; its writers cross their 7s, as such hands do;
- a 9 like a rho: round loop, tail from its lower left (read as 8);
- a 4 with a round, closed top (read as 9);
- a 1 flag leaning into a slanted stem (read as 7 a quarter of the time).

The strokes here are not the ones synthetic.py trains on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

Stroke = list[tuple[float, float]]


def ellipse(cx: float, cy: float, rx: float, ry: float, start: float = -90, n: int = 14) -> Stroke:
    angles = np.deg2rad(np.linspace(start, start + 360, n + 1))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


@dataclass(frozen=True)
class Shape:
    strokes: list[Stroke]
    sharp: bool = False  # corners kept (no smoothing)


PLAIN: dict[int, Shape] = {
    0: Shape([ellipse(0.5, 0.5, 0.38, 0.5)]),
    1: Shape([[(0.45, 0.0), (0.5, 1.0)]], sharp=True),
    2: Shape(
        [
            [
                (0.15, 0.25),
                (0.35, 0.02),
                (0.7, 0.02),
                (0.85, 0.25),
                (0.75, 0.5),
                (0.1, 1.0),
                (0.9, 1.0),
            ]
        ]
    ),
    3: Shape(
        [
            [
                (0.15, 0.1),
                (0.5, 0.0),
                (0.8, 0.15),
                (0.75, 0.35),
                (0.45, 0.48),
                (0.8, 0.6),
                (0.85, 0.85),
                (0.5, 1.0),
                (0.15, 0.9),
            ]
        ]
    ),
    4: Shape([[(0.7, 1.0), (0.7, 0.0), (0.1, 0.65), (0.9, 0.65)]], sharp=True),
    5: Shape(
        [
            [
                (0.8, 0.0),
                (0.25, 0.0),
                (0.2, 0.45),
                (0.6, 0.4),
                (0.85, 0.65),
                (0.7, 0.95),
                (0.4, 1.0),
                (0.15, 0.9),
            ]
        ]
    ),
    6: Shape(
        [
            [
                (0.75, 0.05),
                (0.4, 0.2),
                (0.2, 0.6),
                (0.3, 0.95),
                (0.65, 0.98),
                (0.8, 0.75),
                (0.6, 0.55),
                (0.3, 0.6),
                (0.2, 0.7),
            ]
        ]
    ),
    7: Shape([[(0.1, 0.0), (0.9, 0.0), (0.4, 1.0)]], sharp=True),
    8: Shape(
        [
            [
                (0.5, 0.5),
                (0.8, 0.25),
                (0.5, 0.0),
                (0.2, 0.25),
                (0.5, 0.5),
                (0.85, 0.75),
                (0.5, 1.0),
                (0.15, 0.75),
                (0.5, 0.5),
            ]
        ]
    ),
    9: Shape([[(0.8, 0.3), (0.5, 0.02), (0.2, 0.25), (0.35, 0.5), (0.8, 0.35), (0.75, 1.0)]]),
}

SHALLOW_FLAG_ONE = Shape([[(-0.1, 0.3), (0.65, 0.0), (0.55, 1.0)]], sharp=True)
LEANING_FLAG_ONE = Shape([[(0.0, 0.4), (0.8, 0.0), (0.45, 1.0)]], sharp=True)
CROSSED_SEVEN = Shape([[(0.1, 0.05), (0.9, 0.0), (0.4, 1.0)], [(0.3, 0.5), (0.8, 0.5)]], sharp=True)
RHO_NINE = Shape(
    [
        [
            (0.35, 0.6),
            (0.25, 0.3),
            (0.5, 0.05),
            (0.8, 0.25),
            (0.7, 0.55),
            (0.35, 0.6),
            (0.28, 0.8),
            (0.2, 1.0),
        ]
    ]
)
ROUND_TOP_FOUR = Shape([[(0.7, 0.6), (0.2, 0.62), (0.25, 0.2), (0.6, 0.0), (0.7, 0.3), (0.7, 1.0)]])


@dataclass(frozen=True)
class Hand:
    """A group of writers: their shared traits and their own shapes."""

    name: str
    slant: float  # degrees, positive leans right
    aspect: float  # width over height
    pen: float  # pen width over height
    jitter: float  # control-point jitter, unit square
    shapes: dict[int, Shape] = field(default_factory=dict)

    def shape(self, digit: int) -> Shape:
        return self.shapes.get(digit, PLAIN[digit])


HANDS = (
    Hand(
        "flag-ones",
        slant=8,
        aspect=0.55,
        pen=0.08,
        jitter=0.03,
        shapes={1: SHALLOW_FLAG_ONE, 7: CROSSED_SEVEN},
    ),
    Hand("rho-nines", slant=0, aspect=0.7, pen=0.1, jitter=0.035, shapes={9: RHO_NINE}),
    Hand("round-fours", slant=-6, aspect=0.6, pen=0.09, jitter=0.03, shapes={4: ROUND_TOP_FOUR}),
    Hand(
        "mixed",
        slant=12,
        aspect=0.5,
        pen=0.12,
        jitter=0.04,
        shapes={1: LEANING_FLAG_ONE, 7: CROSSED_SEVEN, 9: RHO_NINE, 4: ROUND_TOP_FOUR},
    ),
)


def _smooth(points: np.ndarray, steps: int = 8) -> np.ndarray:
    """A Catmull-Rom curve through the points."""
    if len(points) < 3:
        return points
    p = np.vstack([points[0], points, points[-1]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, steps, endpoint=False):
            out.append(
                0.5
                * (
                    2 * p1
                    + (p2 - p0) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                    + (3 * p1 - p0 - 3 * p2 + p3) * t**3
                )
            )
    out.append(p[-2])
    return np.array(out)


def write(hand: Hand, digit: int, rng: np.random.Generator, height: int = 84) -> np.ndarray:
    """One digit in this hand: white ink on black, float32, about ``height`` px tall."""
    shape = hand.shape(digit)
    width = height * hand.aspect * rng.uniform(0.9, 1.1)
    pad = height // 3
    canvas = Image.new("L", (int(width + height * 0.5) + 2 * pad, height + 2 * pad), 0)
    draw = ImageDraw.Draw(canvas)
    pen = max(2, int(height * hand.pen * rng.uniform(0.8, 1.2)))
    shear = np.tan(np.deg2rad(hand.slant + rng.normal(0, 3)))
    for stroke in shape.strokes:
        points = np.array(stroke, float) + rng.normal(0, hand.jitter, (len(stroke), 2))
        if not shape.sharp:
            points = _smooth(points)
        xy = [
            (pad + height * 0.25 + (x + (1 - y) * shear) * width, pad + y * height)
            for x, y in points
        ]
        draw.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return np.asarray(canvas, np.float32)
