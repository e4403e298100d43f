"""A page's readings: the stages run in order, and small digits read again.

The order is the picture's: working size, the paper's surroundings cropped
(:mod:`.borders`), ink turned bright on dark paper (:mod:`.paper`), the ink's
pixels found (:mod:`.ink`), paper lines erased (:mod:`.lines`), the ink's
pieces joined into the digit (:mod:`.pieces`), and the digit put in MNIST
form (:mod:`.mnist_form`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .borders import crop_scanner_borders, crop_to_sheet
from .ink import ink_mask
from .lines import remove_ruled_lines
from .mnist_form import shape_digit
from .paper import dense_ink, ink_up, remove_paper
from .pieces import find_pieces, join_pieces
from .scale import WORK_MAX, to_work_scale
from .shapes import Slices, bbox, extent, longest_side

#: The finer size a big picture is searched at when nothing turned up at
#: working size (blank pages only, so its cost stays rare).
SEARCH_MAX = 1024
#: A digit smaller than this (longest side, working pixels) inside a larger
#: original is re-read from the original at full resolution.
REFINE_BELOW = 48
#: Ink covering more of the picture than this is a marker or a tight crop,
#: whose strokes hide the paper from the first background estimate.
THICK_INK = 0.12

#: A box in a picture: (top, left, bottom, right), in its pixels.
Box = tuple[int, int, int, int]


class PageReading(NamedTuple):
    """What preprocessing read on one page."""

    first: np.ndarray | None  # the 28x28 reading, None for a blank page
    whole_page: np.ndarray | None  # the whole-page reading, where it differs
    box: Box | None  # where the first reading's ink lies on the page


@dataclass(frozen=True)
class Ink:
    """The working copy's ink, found once and shared by both readings."""

    mask: np.ndarray
    ink: np.ndarray
    scale: float  # working copy's size over the original's
    top: int  # where the working copy's crop starts in it
    left: int


class DigitTooSmall(Exception):
    """The digit is smaller than the caller's ``min_digit``."""


def read_page(gray: np.ndarray, *, min_digit: int = 0, whole_page: bool = True) -> PageReading:
    """The page's readings in MNIST form, and where the digit was found.

    The first reading keeps the digit's biggest piece and the strokes close
    to it. A digit written with a pen that skips, or faint enough to break
    up when thresholded, leaves pieces further apart than that, and the
    first reading keeps a fragment. The whole-page reading takes every
    stroke on the page (scanner borders, dust specks and neighbours cut by
    the edge still excluded) as the digit, since a page holds one digit. It
    is ``None`` where it is the same picture, or with ``whole_page=False``;
    the pipeline asks the model about it only when the first reading is
    unsure (see ``pipeline.SECOND_READING_BELOW``). The box lets a reviewer
    be shown the digit as written (the review workbook's thumbnails).

    ``min_digit`` is for a caller holding a sharper copy of the picture (a
    JPEG decoded at reduced size): no reading when the digit found is
    shorter than this many pixels of ``gray``, so that the caller tries the
    sharper copy.
    """
    image = np.asarray(gray)
    if image.dtype != np.uint8:
        image = image.astype(np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {image.shape}")
    try:
        readings = readings_of(image, refine=True, min_digit=min_digit, whole_page=whole_page)
    except DigitTooSmall:
        return PageReading(None, None, None)
    if readings.first is None and max(image.shape) > 2 * WORK_MAX and not min_digit:
        # Nothing at working size may still be a small digit on a big page,
        # shrunk there to a few faint pixels: search again at a finer size.
        readings = readings_of(image, refine=True, work_max=SEARCH_MAX, whole_page=whole_page)
    first, second = readings.first, readings.whole_page
    if first is None or second is None or np.array_equal(first, second):
        return PageReading(first, None, readings.box if first is not None else None)
    return readings


def find_ink(image: np.ndarray, work_max: int, ruled_lines: bool = True) -> Ink | None:
    """The ink of the picture at working size. ``ruled_lines=False`` keeps
    straight lines that ruled paper would explain: in a number, two 1s are
    two parallel lines (segment.remove_field_lines knows fields instead)."""
    work, scale = to_work_scale(image, work_max)
    (top, left), work = crop_scanner_borders(work)
    (sheet_top, sheet_left), work = crop_to_sheet(work)
    top, left = top + sheet_top, left + sheet_left
    inked = ink_up(work)
    if inked is None:
        return None
    ink = remove_paper(inked)
    mask = ink_mask(ink)
    if mask is None:
        return None
    dense = dense_ink(inked)
    if np.count_nonzero(mask) > THICK_INK * mask.size or dense is not None:
        # Thick strokes cover most of the window the first background
        # estimate looks at; estimate the paper again with the ink masked out.
        # Where ink covers most of the picture (a bold digit cropped tight),
        # the first estimate sees ink as paper and leaves only the strokes'
        # edges: mask the ink by its level against the paper at the edges.
        ink = remove_paper(inked, mask if dense is None else dense)
        mask = ink_mask(ink)
        if mask is None:
            return None
    if ruled_lines:
        mask = remove_ruled_lines(mask, ink)
    return Ink(mask, ink, scale, top, left)


def readings_of(
    image: np.ndarray,
    refine: bool,
    work_max: int = WORK_MAX,
    min_digit: int = 0,
    whole_page: bool = False,
) -> PageReading:
    """The first reading, and with ``whole_page`` the whole-page one (``None``
    where it keeps the same pieces), and the first one's box in ``image``.
    The ink is found once for both."""
    if min(image.shape) < 2:
        return PageReading(None, None, None)
    found = find_ink(image, work_max)
    pieces = None if found is None else find_pieces(found.mask, found.ink, found.scale)
    if found is None or pieces is None:
        return PageReading(None, None, None)
    selected = join_pieces(pieces)
    if longest_side(selected) / found.scale < min_digit:
        raise DigitTooSmall
    box = original_box(image.shape, found, selected)
    everything = join_pieces(pieces, whole_page=True) if whole_page else None
    if everything is not None and np.array_equal(everything, selected):
        everything = None
    if everything is not None and longest_side(everything) / found.scale < min_digit:
        everything = None
    region = _refine_region(image.shape, found, selected) if refine else None
    if region is None:
        first = shape_digit(selected, reread=not refine)
        if everything is None:
            return PageReading(first, None, box)
        return PageReading(first, shape_digit(everything, reread=not refine), box)
    # A small digit in a big picture: read it again from the original
    # pixels around it, where it has the detail the working copy lost.
    if everything is None and whole_page:
        again = readings_of(image[region], refine=False, whole_page=True)
        return again._replace(box=_within(again.box, region) or box)
    again = readings_of(image[region], refine=False)
    first, box = again.first, _within(again.box, region) or box
    if everything is None:
        return PageReading(first, None, box)
    other = _refine_region(image.shape, found, everything)
    if other is None:
        return PageReading(first, shape_digit(everything), box)
    second = readings_of(image[other], refine=False, whole_page=True)
    return PageReading(first, second.first if second.whole_page is None else second.whole_page, box)


def original_box(shape: tuple[int, ...], found: Ink, mask: np.ndarray) -> Box:
    """Where ``mask`` (the working copy's) lies in the original picture."""
    rows, cols = bbox(mask)
    scale = found.scale
    return (
        max(0, int((rows.start + found.top) / scale)),
        max(0, int((cols.start + found.left) / scale)),
        min(shape[0], int(np.ceil((rows.stop + found.top) / scale))),
        min(shape[1], int(np.ceil((cols.stop + found.left) / scale))),
    )


def _within(box: Box | None, region: Slices) -> Box | None:
    """A box found in ``image[region]``, in ``image``'s pixels."""
    if box is None:
        return None
    top, left = region[0].start, region[1].start
    return box[0] + top, box[1] + left, box[2] + top, box[3] + left


def _refine_region(shape: tuple[int, ...], found: Ink, mask: np.ndarray) -> Slices | None:
    """Where in the original to read a digit small in the working copy again."""
    rows, cols = bbox(mask)
    scale = found.scale
    if scale >= 1.0 or extent((rows, cols)) >= REFINE_BELOW:
        return None
    height = (rows.stop - rows.start) / scale
    width = (cols.stop - cols.start) / scale
    margin = max(height, width) * 0.6
    top = max(0, int((rows.start + found.top) / scale - margin))
    left = max(0, int((cols.start + found.left) / scale - margin))
    bottom = min(shape[0], int((rows.stop + found.top) / scale + margin) + 1)
    right = min(shape[1], int((cols.stop + found.left) / scale + margin) + 1)
    return slice(top, bottom), slice(left, right)
