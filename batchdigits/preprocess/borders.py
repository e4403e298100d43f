"""What surrounds the paper: scanner borders, and the table under a photo's sheet."""

from __future__ import annotations

import cv2
import numpy as np

from .levels import level_percentile, low_percentile_above, median, otsu, outer_ring
from .paper import smooth3
from .shapes import as_uint8, bbox, erode, extent, longest_side, solidity, stroke_width


def crop_scanner_borders(image: np.ndarray) -> tuple[tuple[int, int], np.ndarray]:
    """Crop away solid bands along the edges: the scanner lid or table
    around the paper. Returns the (top, left) offset and the cropped image.

    An edge line counts as border when 97% of it is far from the paper
    level (in either direction: this runs before the polarity is known),
    corner to corner; a digit stroke at the edge of a tight crop rarely
    spans that. At most a quarter of each side is cropped, plus one line of
    fringe. Cropping first keeps borders from misleading the polarity test.
    """
    paper = median(image[::2, ::2])
    deviation = np.abs(image - paper)
    strong = 0.5 * float(deviation.max())
    keep = [0, image.shape[0], 0, image.shape[1]]  # top, bottom, left, right
    for side in range(4):
        lines = deviation[keep[0] : keep[1], keep[2] : keep[3]]
        lines = (lines, lines[::-1], lines.T, lines.T[::-1])[side]
        limit = int(0.25 * lines.shape[0])
        depth = 0
        while depth < limit and low_percentile_above(lines[depth], 3, strong):
            depth += 1
        if depth:
            depth += 1
            keep[side] += depth if side in (0, 2) else -depth
    top, bottom, left, right = keep
    if bottom - top < 2 or right - left < 2:
        return (0, 0), image
    return (top, left), image[top:bottom, left:right]


def fill_holes(region: np.ndarray) -> np.ndarray:
    """The region with every hole in it filled: its outer outlines, drawn solid."""
    contours, _ = cv2.findContours(as_uint8(region), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(region.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.view(bool)


def crop_to_sheet(image: np.ndarray) -> tuple[tuple[int, int], np.ndarray]:
    """Crop a phone photo to the sheet of paper lying on a darker table.

    To the polarity test, a white sheet in a dark surround looks like a big
    light stroke on black. It is a sheet when the largest bright region is
    much brighter than the picture's edges, covers a good part of the
    picture, is convex once its holes are filled (a sheet has straight
    edges; a light 8 or 0 on black is measurably less convex), and encloses
    dark marks covering little of it, shaped like writing, not like the
    blob inside a light 0. Returns the (top, left) offset and the crop to
    the sheet's bounding box.
    """
    height, width = image.shape
    ring = outer_ring(image)
    if level_percentile(image[::2, ::2], 90) - median(ring) < 60:
        return (0, 0), image  # the edges are as light as the paper: no table
    smooth = smooth3(image)
    bright = smooth > otsu(smooth.ravel())
    count, labels, stats, _ = cv2.connectedComponentsWithStats(as_uint8(bright), connectivity=4)
    if count <= 1:
        return (0, 0), image
    sheet = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    filled = fill_holes(sheet)
    marks = filled & ~bright
    rows, cols = bbox(filled)
    area = height * width
    if not (
        0.1 * area <= np.count_nonzero(sheet)
        and (rows.stop - rows.start) * (cols.stop - cols.start) <= 0.85 * area
        and 0.0005 * area <= np.count_nonzero(marks) <= 0.15 * np.count_nonzero(filled)
        and solidity(filled) >= 0.97
    ):
        return (0, 0), image
    if stroke_width(marks) > 0.3 * longest_side(marks):
        return (0, 0), image  # a blob, like the hole of a light 0: not writing
    # The sheet's own edge is a dark line to the ink test: paint over a band
    # along it, and the table beyond it, in the paper's grey.
    inset = max(2, round(0.03 * extent((rows, cols))))
    inner = erode(filled, iterations=inset)
    if not inner.any():
        return (0, 0), image
    paper = median(image[sheet])
    crop = np.where(inner[rows, cols], image[rows, cols], paper)
    return (rows.start, cols.start), crop.astype(np.float32)
