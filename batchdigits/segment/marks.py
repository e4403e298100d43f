"""Punctuation standing alone in a number: dots, commas, dashes, slashes,
and the tick written after a checked amount.

A number's marks are not digits and are left out of its pieces; a 1 must
not be taken for one, so each test asks for what only the mark has.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

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
    last: bool = False,
) -> bool:
    """A piece standing alone that is punctuation, not a digit: a dot or
    comma (small), a dash (flat), a slash (a straight stroke leaning well
    over), or, as the number's ``last`` piece, a tick (:func:`is_tick`). A
    slash separates: at either end of the number (``at_end``: no digit-tall
    piece beyond it) a stroke leaning well over is a 1 written fast, and
    only a slash taller than the digits counts as one there."""
    tall, wide = piece.shape
    if max(tall, wide) < _MARK * height:
        return True
    if tall < 0.35 * height and wide >= 1.5 * tall:
        return True
    if last and is_tick(piece):
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


def is_tick(piece: np.ndarray) -> bool:
    """A tick (a check mark): a short arm down to a low point and a long arm
    up and to the right from it, the two parted by paper.

    Read as a digit it is a 1 (or a 7), so each test asks for what no digit
    has: the piece's lowest point is in its left half with ink rising to
    its left; its highest ink is at its right edge, joined to the low point
    by a straight stroke with no ink beyond it on the right; rows low down
    cross two strokes, which meet near the bottom, with paper between them
    open to the top (the V); and the upper part is one stroke (the short
    arm has ended). A 1's foot lies flat, a 0's or a 6's loop closes,
    a 5's or a 3's way up crosses their bowls, a 7's and a 4's tops reach to
    the left, and an open 4's stem goes on down past its bar."""
    tall, wide = piece.shape
    if tall < 8 or not 0.35 * tall <= wide <= 2 * tall:
        return False
    rows = np.flatnonzero(piece.any(axis=1))
    bottom = piece[max(0, tall - max(2, tall // 10)) :]
    vertex = float(np.nonzero(bottom)[1].mean())
    if vertex > 0.55 * wide:
        return False
    top = piece[: max(2, int(0.15 * tall))]
    top_cols = np.nonzero(top)[1]
    if len(top_cols) == 0 or top_cols.min() < vertex + 0.2 * wide:
        return False
    if top_cols.max() < 0.85 * (wide - 1):
        return False
    left_arm = piece[: int(0.8 * tall), : max(1, int(vertex - 0.15 * wide))]
    if not left_arm.any():
        return False
    arm_rows = np.flatnonzero(left_arm.any(axis=1))
    if arm_rows.max() > rows.max() - max(2, 0.1 * tall):
        return False  # the ink left of the low point lies flat: a foot
    low = next((row for row in range(int(0.6 * tall), int(0.9 * tall)) if _two(piece[row])), 0)
    if not low or len(_runs(piece[int(0.2 * tall)])) != 1:
        return False
    merged = next((row for row in range(low, tall) if not _two(piece[row])), tall)
    if rows.max() - merged > 0.25 * tall:
        return False  # a 4's stem: it goes on down past where the strokes meet
    tip = (0.0, float(top_cols.mean()))
    paper, _ = ndimage.label(~piece)
    opening = all(_open(piece[row], paper[row], paper[0]) for row in range(low, merged))
    return opening and _straight(piece, (float(rows.max()), vertex), tip)


def _two(row: np.ndarray) -> bool:
    """Whether a row crosses two strokes or more."""
    return len(_runs(row)) >= 2


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """The runs of ink a row crosses: (first column, last column + 1)."""
    padded = np.concatenate([[False], row, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _open(row: np.ndarray, paper: np.ndarray, top: np.ndarray) -> bool:
    """Whether the paper between the first two strokes a ``row`` of the piece
    crosses reaches its ``top`` (``paper``: the labelled paper of that row
    and of the top row): a V's opening all the way down, where a 6's or a
    0's loop holds it in."""
    runs = _runs(row)
    inside = paper[runs[0][1]] if len(runs) >= 2 else 0
    return bool(inside and (top == inside).any())


def _straight(piece: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> bool:
    """Whether ink runs straight from ``start`` to ``end`` (row, column) and
    none lies beyond that line on its right: a tick's long arm is its right
    edge, where a 5's or a 3's bowl and a 6's loop stand out past the line
    from their lowest point to their highest."""
    reach = max(1, round(0.05 * piece.shape[0]))
    near = ndimage.binary_dilation(piece, iterations=reach)
    steps = np.linspace(0.0, 1.0, 25)
    rows = np.round(start[0] + (end[0] - start[0]) * steps).astype(int)
    cols = np.round(start[1] + (end[1] - start[1]) * steps).astype(int)
    if near[rows, cols].mean() < 0.9:
        return False
    ys, xs = np.nonzero(piece)
    along = np.array([end[0] - start[0], end[1] - start[1]])
    along /= np.hypot(*along)
    right = (xs - start[1]) * -along[0] - (ys - start[0]) * -along[1]  # distance to the right
    return bool(np.mean(right > 0.12 * piece.shape[0]) < 0.03)
