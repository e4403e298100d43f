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
from scipy import ndimage

from . import preprocess as pp
from .preprocess import Box

# The working size: a strip's shorter side is brought to at least this many
# pixels (a small cheque crop), and a big picture's longer side down to
# this: a number may be written small on a whole page.
_WORK_SHORT_MIN = 64
_WORK_LONG_MAX = 1024
# Digits shorter than this (working pixels) on a page shrunk to the working
# size are read again from the original pixels around them.
_REFINE_BELOW = 40
# ... to about this height, enlarging at most this much.
_REFINE_TO = 64
_MOST_ZOOM = 4.0
# Pieces of a run of more than this many are never one digit.
_MOST_PIECES = 4
# A piece wider than this share of the digits' height may hold two digits.
_CUT_WIDER_THAN = 0.75
# Specks smaller than this share of the digits' height are dust.
_SPECK = 0.15
# Marks standing alone under this share of the digits' height are
# punctuation (a decimal point, a comma, a short dash).
_MARK = 0.4


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


@dataclass(frozen=True)
class Segmentation:
    """A number's candidate digits: runs of neighbouring pieces of its ink."""

    count: int  # pieces, left to right
    height: float  # the digits' height, working pixels
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


def segment_number(gray: np.ndarray) -> Segmentation | None:
    """The candidate digits of the number in ``gray`` (2-D, 0 = black), or
    None when the picture holds no ink."""
    image = np.asarray(gray, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {image.shape}")
    return _segment(image, refine=True)


def _segment(image: np.ndarray, refine: bool, factor: float | None = None) -> Segmentation | None:
    if min(image.shape) < 4:
        return None
    work, scale = _to_work_size(image, factor)
    found = pp._find_ink(work, max(work.shape), ruled_lines=False)
    if found is None:
        return None
    mask = remove_field_lines(found.mask)
    pieces, height = find_pieces(mask)
    if not pieces:
        return None
    box = _original_box(pieces, found, scale, image.shape)
    wanted = min(_MOST_ZOOM, scale * found.scale * _REFINE_TO / max(height, 1.0))
    if refine and height < _REFINE_BELOW and wanted > 1.2 * scale * found.scale:
        # Digits only a few pixels tall here (a small number on a big page,
        # a small crop): read them again from the original pixels around
        # them, resized so that their strokes have room.
        margin = int((box[2] - box[0]) * 0.5) + 2
        top, left = max(0, box[0] - margin), max(0, box[1] - margin)
        crop = image[top : box[2] + margin, left : box[3] + margin]
        wanted = min(wanted, 2 * _WORK_LONG_MAX / max(crop.shape))
        again = _segment(crop, refine=False, factor=wanted)
        if again is not None and again.box is not None:
            moved = (
                again.box[0] + top,
                again.box[1] + left,
                again.box[2] + top,
                again.box[3] + left,
            )
            return replace(again, box=moved)
    pieces = cut_wide_pieces(pieces, height)
    spans, images, priors = candidate_digits(pieces, height)
    if not spans:
        return None
    cuts = np.array([0.0] + [piece.cut for piece in pieces[1:]] + [0.0])
    sizes = np.array([max(piece.mask.shape) / height for piece in pieces])
    return Segmentation(len(pieces), height, spans, images, priors, cuts, sizes, box)


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
    return pp._resize(image, shape), factor


def _original_box(pieces: list[Piece], found: pp._Ink, scale: float, shape: tuple[int, ...]) -> Box:
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


def remove_field_lines(mask: np.ndarray) -> np.ndarray:
    """The ink without the printed lines of a form field: lines spanning half
    the field or more, level or slightly skewed (underlines, box edges,
    ruled paper), and the vertical ticks of a comb field (three or more
    thin, straight, evenly spaced lines of the same height). Strokes a line
    crossed are joined again across it."""
    height, width = mask.shape
    lines = _long_lines(mask, max(8, 0.5 * width))
    cleaned = _erase_lines(mask, lines, thickest=max(3.0, 0.2 * height)) if lines.any() else mask
    if not cleaned.any():
        return mask
    ink_rows = np.flatnonzero(cleaned.any(axis=1))
    ink_height = ink_rows[-1] - ink_rows[0] + 1
    columns = (pp._run_lengths(cleaned.T) >= max(8, 0.6 * ink_height)).T
    if columns.any():
        ticks = _comb_ticks(columns, thickest=max(3, int(0.04 * width)))
        if ticks.any():
            cleaned = _erase_lines(cleaned.T, ticks.T, thickest=float(width)).T
    return cleaned if cleaned.any() else mask


def _long_lines(mask: np.ndarray, longest: float, steepest: float = 0.07) -> np.ndarray:
    """The pixels of near-horizontal runs at least ``longest`` long, at slopes
    up to ``steepest`` (a skewed scan, a ruler held askew), with a pixel of
    give either way for a wavering line."""
    height, width = mask.shape
    columns = np.broadcast_to(np.arange(width), (height, width))
    found = np.zeros_like(mask)
    for slope in np.linspace(-steepest, steepest, 15):
        shift = np.round(slope * (np.arange(width) - width / 2)).astype(np.int64)
        rows = np.arange(height)[:, None] + shift[None, :]
        inside = (rows >= 0) & (rows < height)
        sheared = np.zeros_like(mask)
        sheared[inside] = mask[rows[inside], columns[inside]]
        tolerant = sheared.copy()
        tolerant[1:] |= sheared[:-1]
        tolerant[:-1] |= sheared[1:]
        runs = (pp._run_lengths(tolerant) >= longest) & sheared
        if runs.any():
            found[rows[runs], columns[runs]] = True
    return found & mask


def _erase_lines(mask: np.ndarray, lines: np.ndarray, thickest: float) -> np.ndarray:
    """``mask`` without the (near-horizontal) line pixels of lines no thicker
    than ``thickest`` on average, with the strokes that crossed them bridged."""
    labels, _ = ndimage.label(lines, structure=np.ones((3, 3), dtype=bool))
    band = np.zeros_like(mask)
    thickness = 0.0
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        line = labels[box] == index
        across = float(line.sum()) / max(1, int(line.any(axis=0).sum()))
        if across > thickest:
            continue
        band[box] |= line
        thickness = max(thickness, across)
    if not band.any():
        return mask
    band = ndimage.binary_dilation(band, structure=np.ones((3, 1), dtype=bool)) & mask
    rest = mask & ~band
    bridge = np.ones((int(np.ceil(thickness)) + 5, 1), dtype=bool)
    bridged = ndimage.binary_closing(rest, structure=bridge)
    return rest | (bridged & band)


def _comb_ticks(columns: np.ndarray, thickest: int) -> np.ndarray:
    """The vertical lines among ``columns`` that form a comb: at least three,
    thin, of about the same height and top, evenly spaced. A written 1 is
    rarely all of these at once."""
    labels, _ = ndimage.label(columns, structure=np.ones((3, 3), dtype=bool))
    lines = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or box[1].stop - box[1].start > thickest:
            continue
        lines.append((index, box[0].start, box[0].stop, (box[1].start + box[1].stop) / 2))
    if len(lines) < 3:
        return np.zeros_like(columns)
    tall = float(np.median([stop - start for _, start, stop, _ in lines]))
    top = float(np.median([start for _, start, _, _ in lines]))
    aligned = [
        line
        for line in lines
        if abs((line[2] - line[1]) - tall) <= 0.15 * tall and abs(line[1] - top) <= 0.15 * tall
    ]
    if len(aligned) < 3:
        return np.zeros_like(columns)
    xs = np.array(sorted(line[3] for line in aligned))
    step = float(np.median(np.diff(xs)))
    if step <= 0:
        return np.zeros_like(columns)
    on_grid = [
        line
        for line in aligned
        if abs((line[3] - xs[0]) / step - round((line[3] - xs[0]) / step)) <= 0.12
    ]
    if len(on_grid) < 3:
        return np.zeros_like(columns)
    keep = np.zeros(labels.max() + 1, dtype=bool)
    keep[[line[0] for line in on_grid]] = True
    return keep[labels]


def find_pieces(mask: np.ndarray) -> tuple[list[Piece], float]:
    """The ink's pieces that may belong to digits, left to right, and the
    digits' height; dust and punctuation standing alone left out.

    Connected components that one digit is likely made of are grouped into
    one piece: a stroke broken by a skipping pen or a faint pencil (pieces
    almost touching), and a digit written in two strokes (a 5's flag, a 4's
    upright), which stand over the same columns. Small marks low down (a
    comma or a point under the digit before it) are never grouped.
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
    found = [
        (index, box)
        for index, box in found
        if not (_alone(index, box, found) and _is_mark(labels[box] == index, height))
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
        _overlap(box[1], other[1]) >= 0.5 * width
        for other_index, other in found
        if other_index != index and _extent(other) > _extent(box)
    )


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
    if _overlap(a[1], b[1]) >= 0.6 * narrower:
        return True
    gap_y = max(0, b[0].start - a[0].stop, a[0].start - b[0].stop)
    gap_x = max(0, b[1].start - a[1].stop, a[1].start - b[1].stop)
    return max(gap_x, gap_y) <= 0.05 * height


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
    the edge of uneven light, the table beside the sheet, a scanner lid;
    never a stroke of ink (strokes cover well under half of their box, even
    with their gaps closed)."""
    rows, cols = box
    touches = rows.start == 0 or cols.start == 0 or rows.stop == shape[0] or cols.stop == shape[1]
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
    return float(filled.sum()) > 0.6 * float(spans.sum())


def _digit_height(boxes: list[tuple[slice, slice] | None], areas: np.ndarray) -> float:
    """The height of the digits: the median height of the substantial pieces."""
    biggest = float(areas.max())
    heights = [
        box[0].stop - box[0].start
        for box, area in zip(boxes, areas, strict=True)
        if box is not None and area >= 0.15 * biggest
    ]
    return float(np.median(heights))


def _overlap(a: slice, b: slice) -> int:
    return max(0, min(a.stop, b.stop) - max(a.start, b.start))


def _extent(box: tuple[slice, slice]) -> int:
    return max(box[0].stop - box[0].start, box[1].stop - box[1].start)


def _is_mark(piece: np.ndarray, height: float) -> bool:
    """A piece standing alone that is punctuation, not a digit: a dot or
    comma (small), a dash (flat), or a slash (a straight stroke leaning
    well over)."""
    tall, wide = piece.shape
    if max(tall, wide) < _MARK * height:
        return True
    if tall < 0.35 * height and wide >= 1.5 * tall:
        return True
    return _is_slash(piece, height)


def _is_slash(piece: np.ndarray, height: float) -> bool:
    """A thin straight stroke, taller than wide, leaning more than 40 degrees
    from upright (handwritten 1s lean up to about 35)."""
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
    return bool(lean > 40)


def cut_wide_pieces(pieces: list[Piece], height: float) -> list[Piece]:
    """Pieces wider than a digit, cut along the cheapest paths through them."""
    cut: list[Piece] = []
    for piece in pieces:
        if piece.mask.shape[1] <= _CUT_WIDER_THAN * height:
            cut.append(piece)
            continue
        cut.extend(_cut(piece, height))
    cut.sort(key=lambda piece: piece.centre)
    return cut


def _cut(piece: Piece, height: float) -> list[Piece]:
    """The piece cut along its cheapest paths from top to bottom, at most one
    per 0.3 digit heights of its width and none crossing more than about two
    strokes' worth of ink; the piece whole when no path is cheap enough."""
    mask = piece.mask
    rows, width = mask.shape
    margin = max(2, int(0.2 * height))
    profile = ndimage.uniform_filter1d(mask.sum(axis=0).astype(np.float32), 3)
    stroke = max(1.0, pp._stroke_width(mask))
    candidates = []
    for column in range(margin, width - margin):
        window = profile[max(0, column - 2) : column + 3]
        if profile[column] <= window.min() + 1e-6:
            candidates.append(column)
    paths: list[np.ndarray] = []
    costs: list[float] = []
    for column in candidates:
        path, cost = _cheapest_path(mask, column, max(2, int(0.2 * height)))
        paths.append(path)
        costs.append(cost)
    chosen: list[tuple[float, int, np.ndarray]] = []
    spacing = 0.2 * height
    for order in np.argsort(costs):
        if costs[order] > 3.0 * stroke * 1.5:
            break
        column = candidates[order]
        if all(abs(column - other) >= spacing for _, other, _ in chosen):
            chosen.append((costs[order], column, paths[order]))
        if len(chosen) >= max(1, int(width / (0.3 * height))):
            break
    if not chosen:
        return [piece]
    chosen.sort(key=lambda item: item[1])
    columns = np.arange(width)[None, :]
    region = np.zeros(mask.shape, dtype=np.int32)
    previous = np.full(rows, -1)
    for _, _, path in chosen:
        path = np.maximum(path, previous + 1)
        region += columns > path[:, None]
        previous = path
    parts = []
    crossed = [0.0] + [cost / stroke for cost, _, _ in chosen]
    for index in range(len(chosen) + 1):
        part = mask & (region == index)
        if not part.any():
            continue
        r, c = pp._bbox(part)
        parts.append(Piece(part[r, c], piece.top + r.start, piece.left + c.start, crossed[index]))
    return parts


def _cheapest_path(mask: np.ndarray, column: int, reach: int) -> tuple[np.ndarray, float]:
    """The top-to-bottom path near ``column`` crossing the least ink, moving at
    most one column per row (a cut between touching or leaning digits)."""
    rows, width = mask.shape
    low, high = max(0, column - reach), min(width, column + reach + 1)
    cost = mask[:, low:high].astype(np.float32)
    # A slight preference for staying near the chosen column.
    cost += 0.02 * np.abs(np.arange(low, high) - column)[None, :]
    total = cost.copy()
    step = np.zeros(cost.shape, dtype=np.int8)
    for row in range(1, rows):
        above = total[row - 1]
        left = np.concatenate([[np.inf], above[:-1]])
        right = np.concatenate([above[1:], [np.inf]])
        options = np.stack([left, above, right])
        best = np.argmin(options, axis=0)
        total[row] += options[best, np.arange(high - low)]
        step[row] = best.astype(np.int8) - 1
    path = np.zeros(rows, dtype=np.int64)
    position = int(np.argmin(total[-1]))
    for row in range(rows - 1, -1, -1):
        path[row] = position + low
        position += int(step[row, position])
    ink = float(mask[np.arange(rows), path].sum())
    return path, ink


def candidate_digits(
    pieces: list[Piece], height: float
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Every run of up to four neighbouring pieces that could be one digit:
    its span, its 28x28 reading and a log-prior for its shape."""
    spans: list[tuple[int, int]] = []
    images: list[np.ndarray] = []
    priors: list[float] = []
    for start in range(len(pieces)):
        for stop in range(start + 1, min(len(pieces), start + _MOST_PIECES) + 1):
            group = pieces[start:stop]
            prior = _shape_prior(group, height)
            if prior is None:
                if _too_wide(group, height):
                    break
                continue
            reading = _reading(group)
            if reading is None:
                continue
            spans.append((start, stop))
            images.append(reading)
            priors.append(prior)
    if not spans:
        return [], np.zeros((0, 28, 28), np.uint8), np.zeros(0)
    return spans, np.stack(images), np.array(priors)


def _too_wide(group: list[Piece], height: float) -> bool:
    left = min(p.left for p in group)
    right = max(p.right for p in group)
    return right - left > 1.6 * height


def _shape_prior(group: list[Piece], height: float) -> float | None:
    """Log-prior that these pieces are one digit, from the box they make
    against the digits' height; None where they cannot be."""
    if _too_wide(group, height):
        return None
    spans = sorted((p.left, p.right) for p in group)
    reach = spans[0][1]
    for left, right in spans[1:]:
        if left - reach > 0.25 * height:
            return None  # paper between them: two digits, or a digit and a mark
        reach = max(reach, right)
    top = min(p.top for p in group)
    bottom = max(p.bottom for p in group)
    left, right = spans[0][0], max(right for _, right in spans)
    tall, wide = (bottom - top) / height, (right - left) / height
    prior = 0.0
    if tall < 0.75:
        prior -= 4.0 * (0.75 - tall)
    if wide > 1.0:
        prior -= 6.0 * (wide - 1.0)
    return prior


def _reading(group: list[Piece]) -> np.ndarray | None:
    """The pieces together, in MNIST form."""
    top = min(p.top for p in group)
    left = min(p.left for p in group)
    bottom = max(p.bottom for p in group)
    right = max(p.right for p in group)
    canvas = np.zeros((bottom - top, right - left), dtype=bool)
    for piece in group:
        rows = slice(piece.top - top, piece.bottom - top)
        cols = slice(piece.left - left, piece.right - left)
        canvas[rows, cols] |= piece.mask
    return pp._shape_digit(canvas)
