"""A form field's printed lines: underlines, box edges, ruled lines and the
ticks of a comb field, found and taken out of the ink, with the strokes
they crossed joined again."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..preprocess.ink import ink_mask
from ..preprocess.lines import long_runs, run_lengths
from ..preprocess.reading import Ink
from ..preprocess.shapes import stroke_width


def remove_field_lines(mask: np.ndarray) -> np.ndarray:
    """The ink without the printed lines of a form field: lines spanning half
    the field or more, level or slightly skewed (underlines, box edges,
    ruled paper), and the vertical ticks of a comb field (three or more
    thin, straight, evenly spaced lines of the same height). Strokes a line
    crossed are joined again across it."""
    return _erase_lines(mask, field_lines(mask))


def field_lines(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` that are a form field's printed lines (see
    :func:`remove_field_lines`)."""
    height, width = mask.shape
    inked = np.flatnonzero(mask.sum(axis=0) >= max(2, 0.03 * height))  # dust left out
    if len(inked) == 0:
        return np.zeros_like(mask)
    span = inked[-1] - inked[0] + 1  # a field's line may be printed fainter than half its length
    rows = np.flatnonzero(mask.sum(axis=1) >= max(2, 0.03 * width))
    tall = rows[-1] - rows[0] + 1 if len(rows) else 0
    # ... but never shorter than the ink is tall: a digit's bar (a 7's, a
    # 5's) is shorter than the digit, a field's line spans more than one.
    lines = _long_lines(mask, max(8, min(0.5 * width, 0.6 * span), tall))
    lines = _thin_lines(lines, thickest=max(3.0, 0.2 * height))
    rest = mask & ~lines
    busy = np.flatnonzero(rest.sum(axis=1) >= max(2, 0.02 * width))
    if len(busy) == 0:
        return lines
    ink_height = busy[-1] - busy[0] + 1
    runs = run_lengths(rest.T).T
    columns = runs >= max(8, 0.6 * ink_height)
    # A comb's teeth are often short (a quarter of the digits' height); what
    # tells them from a digit's strokes is the line they stand on, their
    # number, and their spacing (_comb_ticks), not their height.
    stubs = runs >= max(4, 0.2 * ink_height)
    thickest = max(3, int(0.04 * width))
    # A tooth's foot is often lost where it joins the line (the threshold, JPEG).
    reach = max(3, int(0.08 * ink_height))
    # The lower parts of digits written on an underline stand on it too,
    # often evenly spaced: a tooth is a printed line, thinner than the pen's
    # strokes. A box holds a digit: teeth stand at least half a digit apart.
    thinnest = max(3.0, 0.6 * stroke_width(rest))
    ticks = _comb_ticks(stubs, thickest, lines, reach, 0.5 * ink_height, thinnest)
    return lines | ticks | _box_edges(columns, lines, thickest, ink_height)


def _box_edges(
    columns: np.ndarray, lines: np.ndarray, thickest: int, shortest: float
) -> np.ndarray:
    """The vertical lines among ``columns`` that are the sides of a box: those
    joining two horizontal field lines, top and bottom, and those meeting
    one at its end, a corner (a box whose other line the threshold broke
    into dashes, a faint print) and at least ``shortest`` long, the
    writing's height, as a box is taller than what it holds. A written 1
    seldom meets both lines, and where it touches one, it touches it inside,
    not at its end; the side of a 6 under a run of digits' tops taken for a
    line is shorter than the digits."""
    labels, _ = ndimage.label(columns, structure=np.ones((3, 3), dtype=bool))
    level: tuple[np.ndarray, list[tuple[slice, slice] | None]] | None = None
    edges = np.zeros_like(columns)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or box[1].stop - box[1].start > thickest:
            continue
        if not all(_ends_on(lines, box, reach=3)):
            if box[0].stop - box[0].start < shortest:
                continue
            if level is None:  # labelled once, and only where a side may stand at a corner
                labelled, _ = ndimage.label(lines, structure=np.ones((3, 3), dtype=bool))
                level = (labelled, ndimage.find_objects(labelled))
            if not _at_corner(*level, box, reach=3):
                continue
        edges[box] |= labels[box] == index
    return edges


def _at_corner(
    level: np.ndarray,
    extents: list[tuple[slice, slice] | None],
    box: tuple[slice, slice],
    reach: int,
) -> bool:
    """Whether the top or the bottom of a vertical line's ``box`` meets one of
    the labelled ``level`` lines at that line's left or right end, that line
    half as long again as the vertical one or more: a box around a number
    is wider than tall, while a 7's bar, joined to a 1 beside it and taken
    for a line, is about as long as the 1."""
    longest = 1.5 * (box[0].stop - box[0].start)
    near = slice(max(0, box[1].start - reach), box[1].stop + reach)
    for end in (box[0].start, box[0].stop):
        for label in np.unique(level[max(0, end - reach) : end + reach, near]):
            extent = extents[label - 1] if label else None
            if (
                extent is not None
                and extent[1].stop - extent[1].start >= longest
                and (
                    abs(extent[1].start - box[1].start) <= reach
                    or abs(extent[1].stop - box[1].stop) <= reach
                )
            ):
                return True
    return False


def _ends_on(level: np.ndarray, box: tuple[slice, slice], reach: int) -> tuple[bool, bool]:
    """Whether the top and the bottom of a vertical line's ``box`` meet one
    of the ``level`` lines (within ``reach`` pixels either way)."""
    near = slice(max(0, box[1].start - reach), box[1].stop + reach)
    top, bottom = (
        bool(level[max(0, end - reach) : end + reach, near].any())
        for end in (box[0].start, box[0].stop)
    )
    return top, bottom


def _thin_lines(lines: np.ndarray, thickest: float) -> np.ndarray:
    """The lines among ``lines`` (near-horizontal) no thicker than ``thickest``
    on average: a bar of ink is not a printed line."""
    labels, _ = ndimage.label(lines, structure=np.ones((3, 3), dtype=bool))
    keep = np.zeros_like(lines)
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        line = labels[box] == index
        if float(line.sum()) / max(1, int(line.any(axis=0).sum())) <= thickest:
            keep[box] |= line
    return keep


def _erase_lines(mask: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """``mask`` without ``lines`` (and their fringe), with the strokes that
    crossed them bridged."""
    if not lines.any():
        return mask
    band = ndimage.binary_dilation(lines, structure=np.ones((3, 3), dtype=bool)) & mask
    rest = mask & ~band
    thickness = max(3, int(np.ceil(_line_thickness(band))))
    bridged = ndimage.binary_closing(rest, structure=np.ones((thickness + 4,) * 2, dtype=bool))
    cleaned = rest | (bridged & band)
    return cleaned if cleaned.any() else mask


def _line_thickness(band: np.ndarray) -> float:
    """A band's thickness: its area over its length."""
    return float(band.sum()) / max(1, int(band.any(axis=0).sum()), int(band.any(axis=1).sum()))


def _long_lines(mask: np.ndarray, longest: float, steepest: float = 0.07) -> np.ndarray:
    """The pixels of near-horizontal runs at least ``longest`` long, at slopes
    up to ``steepest`` (a skewed scan, a ruler held askew), with a pixel of
    give either way for a wavering line.

    Each slope shears the mask level, a block of columns at a time (columns
    shifted alike move together), and keeps its long runs. A run covers
    that many neighbouring columns with ink, so where no such stretch of
    columns exists (digits with paper between them: most numbers) there is
    nothing to search."""
    height, width = mask.shape
    found = np.zeros_like(mask)
    if _widest_inked_columns(mask) < longest:
        return found
    for slope in np.linspace(-steepest, steepest, 15):
        shift = np.round(slope * (np.arange(width) - width / 2)).astype(np.int64)
        blocks = [block for block in _column_blocks(shift) if abs(block[0]) < height]
        moves = _sheared_rows(blocks, height)
        sheared = np.zeros_like(mask)
        for rows, sheared_rows, columns in moves:
            sheared[sheared_rows, columns] = mask[rows, columns]
        tolerant = sheared.copy()
        tolerant[1:] |= sheared[:-1]
        tolerant[:-1] |= sheared[1:]
        runs = long_runs(tolerant, math.ceil(longest), axis=1) & sheared
        if runs.any():
            for rows, sheared_rows, columns in moves:
                found[rows, columns] |= runs[sheared_rows, columns]
    return found & mask


def _widest_inked_columns(mask: np.ndarray) -> int:
    """The most neighbouring columns that all hold ink."""
    inked = np.concatenate(([False], mask.any(axis=0), [False]))
    edges = np.flatnonzero(inked[1:] != inked[:-1])
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def _column_blocks(shift: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of columns with the same ``shift``: (shift, first, stop)."""
    edges = np.flatnonzero(np.diff(shift)) + 1
    starts = np.concatenate(([0], edges))
    stops = np.concatenate((edges, [len(shift)]))
    return [(int(shift[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _sheared_rows(
    blocks: list[tuple[int, int, int]], height: int
) -> list[tuple[slice, slice, slice]]:
    """For each block of columns shifted by k: the mask's rows, the sheared
    picture's rows they land on (row r there holds row r + k here), and the
    columns."""
    return [
        (slice(max(0, k), height + min(0, k)), slice(max(0, -k), height - max(0, k)), slice(a, b))
        for k, a, b in blocks
    ]


def _comb_ticks(
    columns: np.ndarray,
    thickest: int,
    level: np.ndarray,
    reach: int,
    narrowest: float,
    thinnest: float,
) -> np.ndarray:
    """The vertical lines among ``columns`` that form a comb: at least three,
    thin, standing on (or hanging from, within ``reach``) one of the
    ``level`` field lines, of about the same height and top, evenly spaced
    (a tooth may be missing), ``narrowest`` apart or more, and on average no
    wider than ``thinnest``. A written 1 is rarely all of these at once;
    the stems of 4s and 1s in one number can be all but the first, so the
    line is what tells a comb's teeth from them."""
    labels, _ = ndimage.label(columns, structure=np.ones((3, 3), dtype=bool))
    lines = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or box[1].stop - box[1].start > thickest:
            continue
        if np.count_nonzero(labels[box] == index) / (box[0].stop - box[0].start) > thinnest:
            continue
        if not any(_ends_on(level, box, reach)):
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

    def on(grid: float, line: tuple[int, float, float, float]) -> bool:
        return abs((line[3] - xs[0]) / grid - round((line[3] - xs[0]) / grid)) <= 0.12

    step = float(np.median(np.diff(xs)))
    if step < narrowest:
        return np.zeros_like(columns)
    on_grid = [line for line in aligned if on(step, line)]
    if len(on_grid) < 3:
        return np.zeros_like(columns)
    # A tooth broken at the top is shorter than the others, but stands in its place.
    on_grid += [
        line
        for line in lines
        if line not in on_grid and 0.5 * tall <= line[2] - line[1] <= 1.15 * tall and on(step, line)
    ]
    keep = np.zeros(labels.max() + 1, dtype=bool)
    keep[[line[0] for line in on_grid]] = True
    return keep[labels]


def without_field_lines(found: Ink) -> np.ndarray:
    """The ink found, without a field's printed lines. Dark lines beside
    light writing (a comb field printed in black, filled in with a grey
    pencil) take the ink threshold for themselves; with them gone, the
    threshold is chosen again from the writing alone."""
    lines = field_lines(found.mask)
    if not lines.any():
        return found.mask
    gone = ndimage.binary_dilation(lines, iterations=2)
    ink = np.where(gone, 0.0, found.ink).astype(np.float32)
    again = ink_mask(ink)
    mask = found.mask if again is None else (again | (found.mask & gone))
    return _erase_lines(mask, lines & mask)
