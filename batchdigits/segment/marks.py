"""Punctuation standing alone in a number: dots, commas, dashes, slashes.

A number's marks are not digits and are left out of its pieces; a 1 must
not be taken for one, so each test asks for what only the mark has.
"""

from __future__ import annotations

import numpy as np

# Marks standing alone under this share of the digits' height are
# punctuation (a decimal point, a comma, a short dash).
_MARK = 0.4


def digit_band(boxes: list[tuple[slice, slice]], height: float) -> tuple[float, float]:
    """The rows the digits stand in: the median top and bottom of the pieces
    of a digit's height."""
    tall = [box for box in boxes if box[0].stop - box[0].start >= 0.6 * height]
    if not tall:
        return 0.0, height
    return (
        float(np.median([box[0].start for box in tall])),
        float(np.median([box[0].stop for box in tall])),
    )


def is_mark(
    piece: np.ndarray,
    height: float,
    band: tuple[float, float],
    box: tuple[slice, slice],
    at_end: bool = False,
) -> bool:
    """A piece standing alone that is punctuation, not a digit: a dot or
    comma (small), a dash (flat), or a slash (a straight stroke leaning
    well over). A slash separates: at either end of the number (``at_end``:
    no digit-tall piece beyond it) a stroke leaning well over is a 1 written
    fast, and only a slash taller than the digits counts as one there."""
    tall, wide = piece.shape
    if max(tall, wide) < _MARK * height:
        return True
    if tall < 0.35 * height and wide >= 1.5 * tall:
        return True
    beyond = 0.05 * height
    reaches = box[0].start < band[0] - beyond and box[0].stop > band[1] + beyond
    return _is_slash(piece, height, reaches, at_end)


def _is_slash(piece: np.ndarray, height: float, reaches: bool, at_end: bool) -> bool:
    """A thin straight stroke, taller than wide, leaning more than 40 degrees
    from upright (handwritten 1s lean up to about 35), or more than 15 and
    taller than the digits, ``reaches``-ing above and below their band (a
    date's slash). Taller alone is not enough: in a slanted number whose
    baseline drifts, a 1 leaning with the writing stands taller than the
    digits' median height at one end only."""
    if piece.shape[0] < 0.6 * height or piece.shape[1] > piece.shape[0]:
        return False
    ys, xs = np.nonzero(piece)
    if len(ys) < 5:
        return False
    ys = ys - ys.mean()
    xs = xs - xs.mean()
    cov = np.cov(np.stack([xs, ys]))
    values, vectors = np.linalg.eigh(cov)
    if values[0] <= 0 or values[1] / values[0] < 20:
        return False
    dx, dy = vectors[:, 1]
    lean = np.degrees(np.arctan2(abs(dx), abs(dy)))
    return bool(
        (lean > 40 and not at_end) or (lean > 15 and reaches and piece.shape[0] > 1.15 * height)
    )
