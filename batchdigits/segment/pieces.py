"""The ink's pieces that may belong to digits: dust, shadows and punctuation
standing alone left out, the strokes one digit is made of grouped."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from ..preprocess.shapes import as_uint8, stroke_width
from .marks import digit_band, is_mark, is_tick

# Specks smaller than this share of the digits' height are dust.
_SPECK = 0.15
# Specks smaller than this share are left out even of the string model's strip.
_DUST = 0.1
# Strokes beside the number this share of the digits' height apart or
# closer are one: a digit broken where its pen lifted or its pencil faded.
_BESIDE_JOIN = 0.2


@dataclass(frozen=True)
class Piece:
    """A piece of ink: a connected component, or part of one between cuts."""

    mask: np.ndarray  # bool, the piece within its box
    top: int
    left: int
    #: Strokes crossed by the cut that made this piece's left side (0: paper).
    cut: float = 0.0

    @property
    def bottom(self) -> int:
        return self.top + self.mask.shape[0]

    @property
    def right(self) -> int:
        return self.left + self.mask.shape[1]

    @property
    def centre(self) -> float:
        return self.left + self.mask.shape[1] / 2


def find_pieces(mask: np.ndarray) -> tuple[list[Piece], float]:
    """The ink's pieces that may belong to digits, left to right, and the
    digits' height; dust and punctuation standing alone left out.

    Connected components that one digit is likely made of are grouped into
    one piece: a stroke broken by a skipping pen or a faint pencil (pieces
    almost touching), and a short stroke standing over part of a bigger
    piece (a 5's flag). Pieces of a digit's height are never grouped that
    way: in a slanted or crowded number, whole digits stand over each
    other's columns. Small marks low down (a comma or a point under the
    digit before it) are never grouped.
    """
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return [], 0.0
    boxes = ndimage.find_objects(labels)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    found: list[tuple[int, tuple[slice, slice]]] = []
    for index, box in enumerate(boxes, start=1):
        if box is None or _is_shadow(labels[box] == index, mask.shape, box):
            continue
        found.append((index, box))
    if not found:
        return [], 0.0
    height = _digit_height([box for _, box in found], areas[[index - 1 for index, _ in found]])
    found = [(index, box) for index, box in found if _extent(box) >= _SPECK * height]
    band = digit_band([box for _, box in found], height)
    found = [
        (index, box)
        for index, box in found
        if not (
            _alone(index, box, found)
            and is_mark(labels[box] == index, height, band, box, *_ends(box, found, height))
        )
    ]
    if not found:
        return [], height
    low = _low_line(found, areas, height)
    group = list(range(len(found)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i, (_, a) in enumerate(found):
        for j in range(i + 1, len(found)):
            b = found[j][1]
            if _belongs_together(a, b, height, low):
                group[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(len(found)):
        members.setdefault(root(i), []).append(i)
    pieces = [_union([found[i] for i in indices], labels) for indices in members.values()]
    pieces.sort(key=lambda piece: piece.centre)
    return pieces, height


def _alone(
    index: int, box: tuple[slice, slice], found: list[tuple[int, tuple[slice, slice]]]
) -> bool:
    """No bigger piece stands over half of this one's columns."""
    width = box[1].stop - box[1].start
    return not any(
        overlap(box[1], other[1]) >= 0.5 * width
        for other_index, other in found
        if other_index != index and _extent(other) > _extent(box)
    )


def _ends(
    box: tuple[slice, slice], found: list[tuple[int, tuple[slice, slice]]], height: float
) -> tuple[bool, bool]:
    """Whether the piece stands at either end of the number, and whether at
    its last: no piece of a digit's height has its middle on one side of
    this one's (for the last, on its right)."""
    middle = (box[1].start + box[1].stop) / 2
    others = [
        (other[1].start + other[1].stop) / 2
        for _, other in found
        if other is not box and _extent(other) >= 0.6 * height
    ]
    last = all(other < middle for other in others)
    return last or all(other > middle for other in others), last


def _low_line(
    found: list[tuple[int, tuple[slice, slice]]], areas: np.ndarray, height: float
) -> float:
    """The row below which a small piece is punctuation, not part of a digit:
    70% of the way down the digits' band."""
    biggest = max(areas[index - 1] for index, _ in found)
    tops = [box[0].start for index, box in found if areas[index - 1] >= 0.15 * biggest]
    return float(np.median(tops)) + 0.7 * height


def _is_low_mark(box: tuple[slice, slice], height: float, low: float) -> bool:
    centre = (box[0].start + box[0].stop) / 2
    return _extent(box) < 0.45 * height and centre > low


def _belongs_together(
    a: tuple[slice, slice], b: tuple[slice, slice], height: float, low: float
) -> bool:
    """Two components of one digit: over the same columns, or almost touching."""
    if _is_low_mark(a, height, low) or _is_low_mark(b, height, low):
        return False
    narrower = min(a[1].stop - a[1].start, b[1].stop - b[1].start)
    if overlap(a[1], b[1]) >= 0.6 * narrower and min(_extent(a), _extent(b)) < 0.6 * height:
        return True  # a stroke over part of a digit: never a whole digit beside it
    gap_y = max(0, b[0].start - a[0].stop, a[0].start - b[0].stop)
    gap_x = max(0, b[1].start - a[1].stop, a[1].start - b[1].stop)
    return max(gap_x, gap_y) <= 0.05 * height


def together(pieces: list[Piece]) -> np.ndarray:
    """The pieces' ink in one mask, cropped to them."""
    top, left = min(p.top for p in pieces), min(p.left for p in pieces)
    canvas = np.zeros(
        (max(p.bottom for p in pieces) - top, max(p.right for p in pieces) - left), dtype=bool
    )
    for piece in pieces:
        canvas[piece.top - top : piece.bottom - top, piece.left - left : piece.right - left] |= (
            piece.mask
        )
    return canvas


def number_ink(mask: np.ndarray, pieces: list[Piece], height: float) -> np.ndarray:
    """All the ink within the pieces' box, for the string model to read whole.

    The pieces leave out fragments too small to stand for a digit, yet a
    faint or thin digit is often nothing but such fragments: a pencil 1
    broken at the threshold into three dashes. Read one by one they are
    specks; read in the strip beside the digits they belong to, they still
    make a 1 to the string model, which learnt from whole numbers. Only dust
    (under :data:`_DUST` of the digits' height) is left out.

    The box reaches out to the tall strokes standing beside the pieces too
    (:func:`_beside`): a 1 leaning like a slash is left out of the pieces
    as a date's ``/``, and when it is the number's first or last digit, the
    string model (which learnt slashes among digits) must see it to say
    which it is."""
    top, left = min(p.top for p in pieces), min(p.left for p in pieces)
    bottom, right = max(p.bottom for p in pieces), max(p.right for p in pieces)
    for box in _beside(mask, (top, left, bottom, right), height):
        top, left = min(top, box[0].start), min(left, box[1].start)
        bottom, right = max(bottom, box[0].stop), max(right, box[1].stop)
    window = mask[top:bottom, left:right]
    labels, count = ndimage.label(window, structure=np.ones((3, 3), dtype=bool))
    keep = np.zeros(count + 1, dtype=bool)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        keep[index] = box is not None and _extent(box) >= _DUST * height
    return keep[labels]  # the pieces' own components are all longer than dust


def _beside(
    mask: np.ndarray, box: tuple[int, int, int, int], height: float
) -> list[tuple[slice, slice]]:
    """The boxes of strokes as tall as a digit (60% of its height or more)
    beside ``box`` (top, left, bottom, right): in its rows, at most a
    digit's height left or right of it, and clear of the picture's edges
    (where shadows are). A tick after the number is no digit to read.

    A digit broken into fragments, none of them tall alone (an 8 faded to
    a dash, a blob and a stroke), counts as one stroke
    (:func:`joined`): left out, it was the number's last digit lost, and
    both readers agreed on the rest at 0.97."""
    top, left, bottom, right = box
    labels = joined(mask, _BESIDE_JOIN * height)
    found = []
    for index, found_box in enumerate(ndimage.find_objects(labels), start=1):
        if found_box is None:
            continue
        rows, cols = found_box
        tall = rows.stop - rows.start
        shared = overlap(rows, slice(top, bottom))
        gap = max(left - cols.stop, cols.start - right)
        near = gap <= height and (cols.start < left or cols.stop > right)
        edge = touches_edge((rows, cols), mask.shape)
        if not (near and not edge and tall >= 0.6 * height and shared >= 0.5 * tall):
            continue
        if cols.start >= right and is_tick(labels[found_box] == index):
            continue
        found.append((rows, cols))
    return found


def joined(mask: np.ndarray, reach: float) -> np.ndarray:
    """Labels of ``mask``'s pixels, where ink less than ``reach`` pixels
    apart is one component (connected after a dilation by ``reach``); 0
    off the ink, so each label's box is that of its own pixels. The same
    grouping as :func:`preprocess.pieces.find_pieces` makes of broken
    strokes, with a round kernel."""
    size = max(3, round(reach) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    grown = cv2.dilate(as_uint8(mask), kernel)
    _, labels = cv2.connectedComponents(grown, connectivity=8, ltype=cv2.CV_32S)
    labels[~mask] = 0
    return labels


def _union(parts: list[tuple[int, tuple[slice, slice]]], labels: np.ndarray) -> Piece:
    top = min(box[0].start for _, box in parts)
    left = min(box[1].start for _, box in parts)
    bottom = max(box[0].stop for _, box in parts)
    right = max(box[1].stop for _, box in parts)
    window = labels[top:bottom, left:right]
    mask = np.isin(window, [index for index, _ in parts])
    return Piece(mask, top, left)


def _is_shadow(component: np.ndarray, shape: tuple[int, ...], box: tuple[slice, slice]) -> bool:
    """A region from an edge of the picture, solid or speckled: a shadow,
    the edge of uneven light, the table beside the sheet, a scanner lid.
    With its speckles closed it is a solid: its rows are filled between
    their ends, and it is thick for its size, where a stroke of ink (even a
    digit's bar, whose rows are filled too) is thin."""
    touches = touches_edge(box, shape)
    tall, wide = component.shape
    if not touches or max(tall / shape[0], wide / shape[1]) <= 0.3:
        return False
    if min(tall, wide) < 0.1 * min(shape):
        return False  # a stroke: a 1 in a tight crop
    closed = ndimage.binary_closing(np.pad(component, 2), iterations=2)
    filled = closed.sum(axis=1)
    lines = closed.any(axis=1)
    first = closed.argmax(axis=1)
    last = closed.shape[1] - 1 - closed[:, ::-1].argmax(axis=1)
    spans = np.where(lines, last - first + 1, 0)
    thick = stroke_width(closed) > 0.3 * min(tall, wide)
    return thick and float(filled.sum()) > 0.6 * float(spans.sum())


def _digit_height(boxes: list[tuple[slice, slice] | None], areas: np.ndarray) -> float:
    """The height of the digits: the median height of the substantial pieces."""
    biggest = float(areas.max())
    heights = [
        box[0].stop - box[0].start
        for box, area in zip(boxes, areas, strict=True)
        if box is not None and area >= 0.15 * biggest
    ]
    return float(np.median(heights))


def touches_edge(box: tuple[slice, slice], shape: tuple[int, ...]) -> bool:
    """Whether ``box`` reaches an edge of a picture of ``shape``."""
    rows, cols = box
    return rows.start == 0 or cols.start == 0 or rows.stop == shape[0] or cols.stop == shape[1]


def overlap(a: slice, b: slice) -> int:
    """How many rows (or columns) two ranges share."""
    return max(0, min(a.stop, b.stop) - max(a.start, b.start))


def _extent(box: tuple[slice, slice]) -> int:
    return max(box[0].stop - box[0].start, box[1].stop - box[1].start)
