"""Hands beyond MNIST's for the numbers the helper models train on.

The split and string models of ``scan --numbers`` learn from numbers
composed of digits (:func:`batchdigits.splits.compose_number`). Composed from
MNIST alone, they learn MNIST's writers: on the numbers benchmark's fonts
split (handwriting no model trains on) the string model trained longer read
*fewer* overlapping numbers, fitting MNIST's hands better and others' worse.
So a share of the composed numbers is written in one of the digit model's
training hands instead (:mod:`batchdigits.synthetic`: handwriting fonts, the
European stroke styles and the hand styles real scans showed), one hand per
number as one person writes it. The held-out fonts of the benchmarks are
never among them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Share of composed numbers written in another hand than MNIST's.
OTHER_HANDS = 0.3
#: In such a number, the share of digits drawn from the stroke styles (where
#: the digit has one) rather than the number's font: European hands mix them.
STROKE_DIGITS = 0.25
#: Renders per font and digit, and per stroke-drawn digit, for the full
#: recipe (fewer when training on a smaller number of numbers).
PER_FONT_DIGIT = 30
PER_STROKE_DIGIT = 200
#: The numbers the full recipe composes per epoch; smaller runs render fewer hands.
FULL_NUMBERS = 30000


@dataclass(frozen=True)
class Hands:
    """Digits in MNIST form (white on black, 28 x 28), with the indices of
    each hand's renders of each digit: ``pools[hand, digit]``, where a hand
    is a font's index or ``strokes`` for the stroke-drawn digits."""

    images: np.ndarray
    labels: np.ndarray
    pools: dict[tuple[int, int], np.ndarray]
    fonts: tuple[int, ...]
    strokes: int

    @classmethod
    def of(cls, images: np.ndarray, labels: np.ndarray, hands: np.ndarray, strokes: int) -> Hands:
        pools = {}
        for hand in np.unique(hands):
            for digit in range(10):
                found = np.flatnonzero((hands == hand) & (labels == digit))
                if len(found):
                    pools[int(hand), digit] = found
        fonts = tuple(sorted({hand for hand, _ in pools if hand != strokes}))
        return cls(images, labels, pools, fonts, strokes)

    def write(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` random digits as one writer writes them: one font (or the
        stroke styles alone, where no font is installed), with some digits
        in a stroke style."""
        fonts = self.fonts
        hand = fonts[int(rng.integers(len(fonts)))] if fonts else self.strokes
        chosen = []
        labels = []
        while len(chosen) < count:
            digit = int(rng.integers(10))
            stroke = (self.strokes, digit) in self.pools and rng.random() < STROKE_DIGITS
            pool = self.pools.get((self.strokes if stroke else hand, digit))
            if pool is None:
                continue
            chosen.append(int(pool[int(rng.integers(len(pool)))]))
            labels.append(digit)
        return self.images[chosen], np.array(labels, dtype=self.labels.dtype)


def render_hands(numbers: int, seed: int, jobs: int) -> Hands:
    """The digit model's training hands, rendered and put in MNIST form by
    the scan preprocessing (distorted as its training digits are); fewer
    renders when fewer than the full recipe's numbers are composed."""
    from .synthetic import find_fonts, synthetic_digits
    from .train import prepare_digits

    scale = min(1.0, numbers / FULL_NUMBERS)
    fonts = find_fonts()
    per_font = max(1, round(PER_FONT_DIGIT * scale))
    per_stroke = max(1, round(PER_STROKE_DIGIT * scale))
    images, labels = synthetic_digits(fonts, per_font, per_stroke, seed=seed)
    hands = np.full(len(images), len(fonts), dtype=np.int32)
    hands[: len(fonts) * 10 * per_font] = np.repeat(np.arange(len(fonts)), 10 * per_font)
    prepared = prepare_digits(images, jobs, seed=seed + 303, zoom=1)
    kept = prepared.reshape(len(prepared), -1).max(axis=1) > 0  # renders the preprocessing lost
    return Hands.of(prepared[kept], labels[kept], hands[kept], len(fonts))


def pick_digits(
    rng: np.random.Generator,
    digits: np.ndarray,
    labels: np.ndarray,
    count: int,
    hands: Hands | None,
    share: float = OTHER_HANDS,
) -> tuple[np.ndarray, np.ndarray]:
    """The digits of one composed number: ``count`` of MNIST's ``digits``,
    or, for a ``share`` of numbers, written in one of ``hands``."""
    if hands is not None and rng.random() < share:
        return hands.write(rng, count)
    picked = rng.integers(0, len(digits), count)
    return digits[picked], labels[picked]


def describe(hands: Hands | None, share: float = OTHER_HANDS) -> dict[str, object]:
    """What the models' metadata says of the other hands."""
    if hands is None or not share:
        return {"share": 0.0}
    return {
        "share": share,
        "fonts": len(hands.fonts),
        "stroke_digit_share": STROKE_DIGITS,
        "digits": len(hands.images),
    }
