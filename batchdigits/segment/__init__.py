"""Split a picture of a handwritten number into candidate digits.

The page stages of :mod:`batchdigits.preprocess` find the ink (paper,
polarity, contrast, scanner borders, the sheet in a photo). From there a
number needs its own cleanup and cutting:

- the lines of a form field (an underline, the boxes of a comb field) run
  through and under the digits, so they are taken out, and strokes they
  crossed are joined again;
- marks that are not digits (``.``, ``,``, ``-``, ``/``, specks) are left out
  by their shape and place against the digits' height;
- the rest is over-segmented: each connected piece of ink wider than a digit
  is cut along the cheapest paths through it (touching and overlapping
  digits), and broken strokes stay separate pieces.

Which pieces make which digit is not decided here: :func:`segment_number`
returns every plausible run of neighbouring pieces as a 28x28 reading, with
a prior for its shape, and :mod:`batchdigits.numbers` lets the digit model
score them and picks the best path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..preprocess import Box
from ..preprocess.reading import Ink, find_ink
from ..preprocess.scale import resize
from ..strings import to_strip
from .candidates import candidate_digits
from .cuts import cut_wide_pieces
from .faint import faint_at_right, faint_strokes
from .field_lines import field_lines, remove_field_lines, without_field_lines
from .paper import flatten_paper
from .pieces import Piece, find_pieces, number_ink

__all__ = [
    "Piece",
    "Segmentation",
    "candidate_digits",
    "cut_wide_pieces",
    "field_lines",
    "find_pieces",
    "flatten_paper",
    "remove_field_lines",
    "segment_number",
]

# The working size: a strip's shorter side is brought to at least this many
# pixels (a small cheque crop), and a big picture's longer side down to
# this: a number may be written small on a whole page.
_WORK_SHORT_MIN = 64
_WORK_LONG_MAX = 1024
# Digits shorter than this (working pixels) on a page shrunk to the working
# size are read again from the original pixels around them...
_REFINE_BELOW = 40
# ... to about this height, enlarging at most this much.
_REFINE_TO = 64
_MOST_ZOOM = 4.0


@dataclass(frozen=True)
class Segmentation:
    """A number's candidate digits: runs of neighbouring pieces of its ink."""

    count: int  # pieces, left to right
    spans: list[tuple[int, int]]  # candidate digits: pieces start..stop-1
    images: np.ndarray  # (len(spans), 28, 28) uint8: each candidate in MNIST form
    priors: np.ndarray  # (len(spans),) log-prior of each candidate's shape as one digit
    #: Strokes crossed between piece i-1 and piece i (0 where paper parts
    #: them, and at both ends), for i in 0..count.
    cuts: np.ndarray
    #: Each piece's longer side over the digits' height: what leaving it out
    #: of the number as a mark costs (:data:`numbers.SKIP`).
    sizes: np.ndarray
    box: Box | None  # where the number lies in the original picture
    #: The number's ink as the string model's strip (:func:`strings.to_strip`):
    #: the pieces, and the fragments too small to be pieces between them
    #: (:func:`pieces.number_ink`), read whole.
    strip: np.ndarray | None = None


def segment_number(gray: np.ndarray) -> Segmentation | None:
    """The candidate digits of the number in ``gray`` (2-D, 0 = black), or
    None when the picture holds no ink."""
    image = np.asarray(gray, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {image.shape}")
    return _segment(image, refine=True)


def _segment(
    image: np.ndarray,
    refine: bool,
    factor: float | None = None,
    cut: tuple[bool, bool] = (False, False),
    reached: list[bool] | None = None,
) -> Segmentation | None:
    if min(image.shape) < 4:
        return None
    work, scale = _to_work_size(image, factor)
    found = find_ink(flatten_paper(work), max(work.shape), ruled_lines=False)
    if found is None:
        return None
    mask = without_field_lines(found)
    pieces, height = find_pieces(mask)
    if any(cut):
        pieces = _whole_pieces(pieces, mask, found, work.shape[1], cut, reached)
    if not pieces:
        return None
    box = _original_box(pieces, found, scale, image.shape)
    wanted = min(_MOST_ZOOM, scale * found.scale * _REFINE_TO / max(height, 1.0))
    if refine and height < _REFINE_BELOW and wanted > 1.2 * scale * found.scale:
        # Digits only a few pixels tall here (a small number on a big page,
        # a small crop): read them again from the original pixels around
        # them, resized so that their strokes have room.
        again = _refine(image, box, wanted)
        if again is not None and again.box is not None:
            return again
    # Strokes fainter than the threshold go to the string model alone: among
    # them are a cheque's printed $ and a box's corner, which the digit model
    # reads as 8s and 1s when they are pieces. A faint digit in the strip
    # alone still makes the two readers disagree, which the confidence shows.
    band = (min(p.top for p in pieces), max(p.bottom for p in pieces))
    if reached is not None:
        _faint_reached(found, mask, band, height, work.shape[1], cut, reached)
    fainter = faint_strokes(found.ink, mask, band, height)
    strip = to_strip(number_ink(mask | fainter, pieces, height))
    pieces = cut_wide_pieces(pieces, height)
    spans, images, priors = candidate_digits(pieces, height)
    if not spans:
        return None
    cuts = np.array([0.0] + [piece.cut for piece in pieces[1:]] + [0.0])
    sizes = np.array([max(piece.mask.shape) / height for piece in pieces])
    return Segmentation(len(pieces), spans, images, priors, cuts, sizes, box, strip)


def _refine(image: np.ndarray, box: Box, factor: float) -> Segmentation | None:
    """The number in ``box`` read again from the original pixels around it.

    The crop reaches half the number's height beyond it. Where a piece runs
    into the crop's edge, the crop grows on that side (twice at most), so
    that a digit in a lighter pen beside the number, missed at the working
    size, is read whole; what still runs into the edge is left out."""
    margin = int((box[2] - box[0]) * 0.5) + 2
    top, bottom = max(0, box[0] - margin), box[2] + margin
    sides = [margin, margin]
    for _ in range(3):
        left, right = max(0, box[1] - sides[0]), min(image.shape[1], box[3] + sides[1])
        crop = image[top:bottom, left:right]
        wanted = min(factor, 2 * _WORK_LONG_MAX / max(crop.shape))
        reached = [False, False]
        cut = (left > 0, right < image.shape[1])
        again = _segment(crop, refine=False, factor=wanted, cut=cut, reached=reached)
        if not any(reached):
            break
        sides = [side + (box[2] - box[0]) * grow for side, grow in zip(sides, reached, strict=True)]
    if again is None or again.box is None:
        return None
    moved = (again.box[0] + top, again.box[1] + left, again.box[2] + top, again.box[3] + left)
    return replace(again, box=moved)


def _whole_pieces(
    pieces: list[Piece],
    mask: np.ndarray,
    found: Ink,
    width: int,
    cut: tuple[bool, bool],
    reached: list[bool] | None = None,
) -> list[Piece]:
    """The pieces, without those the refined reading's crop cut through
    (``cut``: whether its left and right edges cut the original): a part of
    something beside the number, such as the bar of a cheque's $, which alone
    reads as a 1. Their ink goes from ``mask`` too, so the string model does
    not read them either. ``reached`` is set for each side where one was."""
    kept = []
    for piece in pieces:
        at_left = cut[0] and piece.left + found.left <= 0
        at_right = cut[1] and piece.right + found.left >= width
        if reached is not None:
            reached[0] |= at_left
            reached[1] |= at_right
        if at_left or at_right:
            mask[piece.top : piece.bottom, piece.left : piece.right] &= ~piece.mask
        else:
            kept.append(piece)
    return kept


def _faint_reached(
    found: Ink,
    mask: np.ndarray,
    band: tuple[int, int],
    height: float,
    width: int,
    cut: tuple[bool, bool],
    reached: list[bool],
) -> None:
    """Set ``reached`` on the right where the refined reading's crop cut
    through ink at the faint level in the digits' rows
    (:func:`faint.faint_at_right`; the crop's edge is the picture's, not
    ``found``'s trimmed borders)."""
    if cut[1] and found.left + mask.shape[1] >= width:
        reached[1] |= faint_at_right(found.ink, mask, band, height)


def _to_work_size(image: np.ndarray, factor: float | None = None) -> tuple[np.ndarray, float]:
    """The picture at a size where digits are tens of pixels tall (or
    resized by ``factor``); and its size over the original's."""
    short, long = min(image.shape), max(image.shape)
    if factor is None:
        factor = min(1.0, _WORK_LONG_MAX / long)
        if short * factor < _WORK_SHORT_MIN:
            factor = min(_WORK_SHORT_MIN / short, 2 * _WORK_LONG_MAX / long)
    if abs(factor - 1.0) < 0.02:
        return image, 1.0
    shape = (max(2, round(image.shape[0] * factor)), max(2, round(image.shape[1] * factor)))
    return resize(image, shape), factor


def _original_box(pieces: list[Piece], found: Ink, scale: float, shape: tuple[int, ...]) -> Box:
    """Where the pieces lie in the original picture."""
    top = min(p.top for p in pieces) + found.top
    left = min(p.left for p in pieces) + found.left
    bottom = max(p.bottom for p in pieces) + found.top
    right = max(p.right for p in pieces) + found.left
    factor = scale * found.scale
    return (
        max(0, int(top / factor)),
        max(0, int(left / factor)),
        min(shape[0], int(np.ceil(bottom / factor))),
        min(shape[1], int(np.ceil(right / factor))),
    )
