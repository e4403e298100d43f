"""The ink's pieces: found, ranked, and joined into the digit."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from .shapes import Slices, as_uint8, bbox, extent

#: The smallest digit, in original pixels, that a picture can hold.
SMALLEST_DIGIT = 12
#: A solid speck smaller than this share of the biggest piece of ink is a
#: dot of dust beside the digit, not part of it.
DOT = 0.3
#: Pieces under this share of the biggest piece's area are left out of the
#: digit; the whole-page reading keeps thinner strokes' pieces too.
SMALLEST_PIECE = 0.06
WHOLE_PAGE_SMALLEST = 0.02


@dataclass(frozen=True)
class Pieces:
    """The ink's connected pieces, ranked with the digit's main stroke first."""

    labels: np.ndarray  # each ink pixel's piece, 0 off the ink, within ``window``
    window: Slices  # where ``labels`` lies in the working copy
    shape: tuple[int, int]  # the working copy's
    count: int
    areas: np.ndarray
    ranked: list[tuple[bool, float, int, Slices]]  # (stroke, weight, label, box)


def find_pieces(mask: np.ndarray, ink: np.ndarray, scale: float) -> Pieces | None:
    """Label and rank the ink's pieces, scanner borders left out; both
    readings join them from here (:func:`join_pieces`).

    ``scale`` is the working copy's size over the original's. A piece too
    small to be a digit in the working copy still counts when the original
    holds it at a size a digit can be written at: a small digit on a big
    page, which the caller then reads again from the original pixels.
    """
    if not mask.any():
        return None
    height, width = mask.shape
    reach = max(1, round(0.015 * max(height, width)))
    # Only the ink's box, with room for the grouping below, is worked on:
    # the paper around it changes nothing (no pixel there is within
    # ``reach`` of ink).
    rows, cols = bbox(mask)
    window = (
        slice(max(0, rows.start - reach), min(height, rows.stop + reach)),
        slice(max(0, cols.start - reach), min(width, cols.stop + reach)),
    )
    mask, ink = mask[window], ink[window]
    # Pieces closer than ``reach`` belong together (broken pencil strokes).
    near = cv2.dilate(as_uint8(mask), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8))
    count, grouped = cv2.connectedComponents(near, connectivity=8, ltype=cv2.CV_32S)
    count -= 1
    labels = np.where(mask, grouped, 0)
    inked = np.flatnonzero(mask)
    flat = labels.ravel()[inked]
    areas = np.bincount(flat, minlength=count + 1)[1:].astype(np.float64)
    masses = np.bincount(flat, weights=ink.ravel()[inked], minlength=count + 1)[1:]
    top, left = window[0].start, window[1].start
    boxes = [
        None if box is None else _shifted(box, top, left)
        for box in ndimage.find_objects(labels, max_label=count)
    ]
    pieces = [
        (label, box)
        for label, box in enumerate(boxes, start=1)
        if box is not None and areas[label - 1] > 0 and not is_border_artefact(box, height, width)
    ]
    if not pieces:
        return None
    # Measured without scanner borders: beside one, a small digit would look like a dot.
    largest = max(extent(box) for _, box in pieces)
    ranked: list[tuple[bool, float, int, Slices]] = []
    for label, box in pieces:
        area, mass = areas[label - 1], masses[label - 1]
        centre_y = (box[0].start + box[0].stop) / 2 / height - 0.5
        centre_x = (box[1].start + box[1].stop) / 2 / width - 0.5
        centrality = 1.0 - 0.8 * min(1.0, np.hypot(centre_y, centre_x) / 0.7071)
        dot = is_dot(box, area, largest)
        ranked.append((not dot, float(mass) * centrality, label, box))
    ranked.sort(reverse=True)  # a dot is never the digit
    _, _, main_label, main_box = ranked[0]
    tiny = areas[main_label - 1] < max(6.0, 0.0004 * height * width)
    if tiny and extent(main_box) / scale < SMALLEST_DIGIT:
        return None
    return Pieces(labels, window, (height, width), count, areas, ranked)


def _shifted(box: Slices, top: int, left: int) -> Slices:
    return slice(box[0].start + top, box[0].stop + top), slice(
        box[1].start + left, box[1].stop + left
    )


def join_pieces(pieces: Pieces, *, whole_page: bool = False) -> np.ndarray:
    """The main stroke and the pieces that belong with it, as a mask:
    specks and dust dropped.

    ``whole_page`` keeps every stroke however far from the biggest piece,
    and smaller ones: the whole-page reading (see ``reading.read_page``).
    """
    labels, areas, ranked = pieces.labels, pieces.areas, pieces.ranked
    width = pieces.shape[1]
    _, _, main_label, main_box = ranked[0]
    main_area = float(areas[main_label - 1])
    keep = [main_label]
    top, bottom = main_box[0].start, main_box[0].stop
    left, right = main_box[1].start, main_box[1].stop
    smallest = (WHOLE_PAGE_SMALLEST if whole_page else SMALLEST_PIECE) * main_area
    for stroke, _, label, box in ranked[1:]:
        if areas[label - 1] < smallest:
            continue
        size = max(bottom - top, right - left)
        if is_neighbour_fragment(box, left, right, width, size):
            continue
        gap_y = max(0, box[0].start - bottom, top - box[0].stop)
        gap_x = max(0, box[1].start - right, left - box[1].stop)
        # A dot counts only close to the digit: a broken end of its stroke.
        if (stroke and whole_page) or max(gap_y, gap_x) <= (0.25 if stroke else 0.08) * size:
            keep.append(label)
            top, bottom = min(top, box[0].start), max(bottom, box[0].stop)
            left, right = min(left, box[1].start), max(right, box[1].stop)
    kept = np.zeros(pieces.count + 1, dtype=bool)
    kept[keep] = True
    joined = np.zeros(pieces.shape, dtype=bool)
    joined[pieces.window] = kept[labels]
    return joined


def is_dot(box: Slices, area: float, largest: int) -> bool:
    """A small solid speck: dust, or a blob where a stroke broke.

    Solid and squat, where most pieces of a broken stroke are long and thin,
    and under a third of the size of the biggest piece, so a small digit on
    its own is never taken for one. Digits have no dots, so a dot away from
    the digit is dust.
    """
    box_height, box_width = box[0].stop - box[0].start, box[1].stop - box[1].start
    size = max(box_height, box_width)
    return (
        size < DOT * largest
        and area >= 0.5 * box_height * box_width
        and size <= 2 * min(box_height, box_width)
    )


def is_neighbour_fragment(box: Slices, left: int, right: int, width: int, size: int) -> bool:
    """A piece cut by the left or right edge, wholly beside the digit with
    paper between: a neighbouring digit of a string, cropped in.

    Digits in a string stand side by side, so this looks sideways only.
    """
    start, stop = box[1].start, box[1].stop
    gap = max(2, 0.05 * size)  # paper between them, wider than a crack in a stroke
    return (start == 0 and stop + gap <= left) or (stop == width and start >= right + gap)


def is_border_artefact(box: Slices, height: int, width: int) -> bool:
    """A thin band lying along an edge of the image: a scanner border or shadow edge."""
    rows, cols = box
    box_height, box_width = rows.stop - rows.start, cols.stop - cols.start
    touches_side = cols.start == 0 or cols.stop == width
    touches_end = rows.start == 0 or rows.stop == height
    along_side = touches_side and box_height >= 0.8 * height and box_width <= 0.2 * width
    along_end = touches_end and box_width >= 0.8 * width and box_height <= 0.2 * height
    return along_side or along_end
