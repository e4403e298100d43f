"""Digits written fainter than the rest of their number, found again.

The ink threshold is chosen for the whole field; a digit written with less
pressure (a thin pencil 1 beside firm 8s and 4s) can fall below it and
leave only specks, which the pieces then drop as dust. Both readers agreed
on the number without it, and the row went unflagged.

Such a digit is often broken too: its strokes thin to nothing where the
pressure eased (many of MNIST's own digits fade so), so its fragments are
grouped before their size is judged (:func:`pieces.joined`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..preprocess.ink import noise_level, smooth_ink
from .pieces import joined, overlap, touches_edge

#: The faint level is at least this share of the field's ink threshold:
#: a digit at a quarter of its neighbours' contrast is still a digit a
#: person reads at a glance on a clean page (the paper's noise and texture
#: set the other bounds). At half, the broken 4 of a "403" beside a bold
#: 0 came back as dashes too short for a digit.
FAINT_SHARE = 0.25
#: Fragments closer than this share of the digits' height are one stroke.
FAINT_JOIN = 0.1
#: Ink this long (a share of the digits' height) at a crop's edge is
#: something cut, not a speck.
SIDE_INK = 0.15


def faint_strokes(
    ink: np.ndarray, mask: np.ndarray, band: tuple[int, int], height: float
) -> np.ndarray:
    """Strokes of a digit's size in the digits' ``band`` of rows (top,
    bottom) that reach a share of the ink threshold (:data:`FAINT_SHARE`)
    but that ``mask`` mostly misses, as a mask like ``mask``.

    That share of the threshold, far above the picture's noise, and twice the level
    that the paper's own texture reaches away from the ink (a cheque's
    security print): a lighter pen, not the paper. A digit's size, and a
    stroke's width (each row crossing under half a digit's height of ink,
    on average): not a printed pattern, a shadow or a smudge. They go to
    the string model alone (see :func:`segment.segment_number`).
    """
    found = np.zeros_like(mask)
    faint = faint_ink(ink, mask)
    if faint is None or height <= 0:
        return found
    labels = joined(faint, FAINT_JOIN * height)
    top, bottom = band
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        tall, wide = rows.stop - rows.start, cols.stop - cols.start
        if not (0.6 * height <= tall <= 1.3 * height and wide <= 1.2 * height):
            continue
        if overlap(rows, slice(top, bottom)) < 0.5 * tall or touches_edge((rows, cols), mask.shape):
            continue
        stroke = labels[rows, cols] == index
        area = int(stroke.sum())
        if area > 0.45 * height * tall or mask[rows, cols][stroke].sum() > 0.5 * area:
            continue
        found[rows, cols] |= stroke
    return found


def faint_ink(ink: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The pixels whose smoothed ink reaches the faint level (see
    :func:`faint_strokes`), as a mask like ``mask``; None where that level
    is not under the field's ink threshold (a paper whose texture is as
    dark as the ink leaves nothing to find)."""
    if not mask.any():
        return None
    smooth = smooth_ink(ink)
    threshold = float(smooth[mask].min())
    paper = smooth[~ndimage.binary_dilation(mask, iterations=3)]
    texture = float(np.percentile(paper, 95)) if paper.size else threshold
    low = max(FAINT_SHARE * threshold, 6.0 * noise_level(ink), 2.0 * texture)
    if low >= threshold:
        return None
    return smooth > low


def faint_at_right(ink: np.ndarray, mask: np.ndarray, band: tuple[int, int], height: float) -> bool:
    """Whether ink at the faint level (or in ``mask``) reaches the right edge
    of ``ink``, or comes closer to it than a stroke's gap
    (:data:`FAINT_JOIN`), within the digits' ``band`` of rows, at least
    :data:`SIDE_INK` of the digits' height of it: a crop around the
    number's pieces cut through something after them. A last digit written
    lighter or smaller than the rest is no piece, so only its ink says the
    crop should grow to take it in whole.

    Only the right: before a number stand printed signs ($, No., #), and a
    crop grown over a cheque's ``$`` gave it to the string model, which read
    it as a leading 1 or 8 (four of the numbers benchmark's test split)."""
    faint = faint_ink(ink, mask)
    labels = joined(mask if faint is None else faint | mask, FAINT_JOIN * height)
    top, bottom = band
    reach = FAINT_JOIN * height
    for rows, cols in ndimage.find_objects(labels):
        if max(rows.stop - rows.start, cols.stop - cols.start) < SIDE_INK * height:
            continue
        if rows.start < top - reach or rows.stop > bottom + reach:
            continue  # a field's box or a line under it, not a digit
        if cols.stop >= labels.shape[1] - reach:
            return True
    return False
