"""Ruled and squared paper: long straight lines that are not the digit."""

from __future__ import annotations

import cv2
import numpy as np

from .shapes import Slices, as_uint8, stroke_width


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """For each True pixel, the length of the horizontal run of True it lies in."""

    def forward(m: np.ndarray) -> np.ndarray:
        count = np.cumsum(m, axis=1, dtype=np.int32)
        reset = np.maximum.accumulate(np.where(m, 0, count), axis=1)
        return count - reset

    ahead = forward(mask)
    behind = forward(mask[:, ::-1])[:, ::-1]
    return np.where(mask, ahead + behind - 1, 0)


def long_runs(mask: np.ndarray, run: int, axis: int) -> np.ndarray:
    """The pixels lying in runs of at least ``run`` along ``axis`` (1 = rows):
    an opening by a line that long, which keeps exactly those runs.

    The dilation's anchor mirrors the erosion's, so that an even-length line
    puts every run back where it was (OpenCV's own opening does not).
    """
    line = np.ones((1, run) if axis == 1 else (run, 1), np.uint8)
    ahead, behind = run // 2, run - 1 - run // 2
    anchors = ((ahead, 0), (behind, 0)) if axis == 1 else ((0, ahead), (0, behind))
    border = {"borderType": cv2.BORDER_CONSTANT, "borderValue": 0}
    eroded = cv2.erode(as_uint8(mask), line, anchor=anchors[0], **border)
    return cv2.dilate(eroded, line, anchor=anchors[1], **border).view(bool)


def line_bands(mask: np.ndarray, axis: int) -> list[Slices]:
    """Thin straight runs spanning most of the image along ``axis`` (1 = rows)."""
    length = mask.shape[axis]
    run = max(8, int(0.5 * length))
    if np.count_nonzero(mask, axis=axis).max() < run:
        return []  # no row (column) holds enough ink to contain such a run
    lines = long_runs(mask, run, axis)
    count, _, stats, _ = cv2.connectedComponentsWithStats(as_uint8(lines), connectivity=4)
    across = mask.shape[1 - axis]
    bands = []
    for left, top, width, height, _ in stats[1:count]:
        box = slice(top, top + height), slice(left, left + width)
        thickness = height if axis == 1 else width
        if thickness <= max(3, 0.06 * across):
            bands.append(box)
    return bands


def widen(box: Slices, axis: int, pixels: int, shape: tuple[int, ...]) -> Slices:
    """``box`` of a line along ``axis`` grown by ``pixels`` across the line."""
    across = box[1 - axis]
    grown = slice(max(0, across.start - pixels), min(shape[1 - axis], across.stop + pixels))
    return (grown, box[1]) if axis == 1 else (box[0], grown)


def _is_paper_line(cleaned: np.ndarray, ink: np.ndarray, band: Slices, axis: int) -> Slices | None:
    """A single line is paper when it reaches well beyond the rest of the ink
    and is thinner or fainter than the strokes, or when it runs beside the
    ink without touching it (the edge of a form box, however dark and
    thick); otherwise it is likely part of the digit (the bar of a tightly
    cropped 7). Returns the band to erase, or None to keep it."""
    band_mask = np.zeros_like(cleaned)
    band_mask[band] = cleaned[band]
    rest = cleaned & ~band_mask
    span = band[axis].stop - band[axis].start
    rest_span = np.flatnonzero(rest.any(axis=1 - axis))
    rest_extent = rest_span[-1] - rest_span[0] + 1
    thickness = band[1 - axis].stop - band[1 - axis].start
    thinner = thickness < 0.75 * stroke_width(rest)
    fainter = ink[band_mask].mean() < 0.6 * ink[rest].mean()
    # A line beside the ink, not touching it, is the edge of a form box; a
    # digit's own bar (a 7's, a 1's base) joins its stroke. Lines across this
    # one (the other side of a box corner) and the line's own anti-aliased
    # fringe do not count.
    fringe = widen(band, axis, 2, cleaned.shape)
    core = rest.copy()
    core[fringe] = False
    for other in line_bands(cleaned, 1 - axis):
        core[widen(other, 1 - axis, 2, cleaned.shape)] = False
    reach = 0.3 * cleaned.shape[axis]
    across = np.flatnonzero(core.any(axis=axis))
    along = np.flatnonzero(core.any(axis=1 - axis))
    beside = (
        across.size > 0
        and span > along[-1] - along[0] + 1 + reach
        and (fringe[1 - axis].stop < across[0] or fringe[1 - axis].start > across[-1] + 1)
    )
    if beside:
        return fringe
    if span > rest_extent + reach and (thinner or fainter):
        return band
    return None


def remove_ruled_lines(mask: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Erase ruled or squared paper lines without eating the digit.

    Two or more parallel lines are paper; a single line only as
    :func:`_is_paper_line` says. Where squared paper's lines were erased both
    ways, what is left wholly inside them (the blots where two lines cross,
    thicker than either) goes too: a stroke crossing a line reaches out of it.
    """
    cleaned = mask
    grid = np.zeros_like(mask)
    ways = 0
    for axis in (1, 0):
        bands = line_bands(cleaned, axis)
        if not bands:
            continue
        band_mask = np.zeros_like(cleaned)
        for box in bands:
            band_mask[box] = cleaned[box]
        rest = cleaned & ~band_mask
        if len(bands) == 1 and rest.any():
            erased = _is_paper_line(cleaned, ink, bands[0], axis)
            if erased is None:
                continue
            bands = [erased]
            band_mask[erased] = cleaned[erased]
            rest = cleaned & ~band_mask
        if not rest.any():
            # Nothing but the lines: two or more parallel ones are ruled
            # paper with nothing written on it; a lone one may be a 1.
            return np.zeros_like(cleaned) if len(bands) > 1 else cleaned
        if len(bands) > 1:
            ways += 1
            for box in bands:
                grid[widen(box, axis, 2, grid.shape)] = True
        # Re-join strokes the erased line cut through.
        thickness = max(box[1 - axis].stop - box[1 - axis].start for box in bands)
        bridge = (thickness + 3, 1) if axis == 1 else (1, thickness + 3)
        bridged = cv2.morphologyEx(as_uint8(rest), cv2.MORPH_CLOSE, np.ones(bridge, np.uint8))
        cleaned = rest | (bridged.view(bool) & band_mask)
    return _without_crossings(cleaned, grid) if ways == 2 else cleaned


def _without_crossings(mask: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``mask`` without the pieces that lie wholly inside ``grid``."""
    count, labels = cv2.connectedComponents(as_uint8(mask), connectivity=8)
    outside = np.zeros(count, dtype=bool)
    outside[labels[mask & ~grid]] = True
    outside[0] = False
    return outside[labels]
