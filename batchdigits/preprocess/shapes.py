"""Measurements of a mask's shape: its box, extent, stroke width, convexity."""

from __future__ import annotations

import cv2
import numpy as np

#: A rectangle of a picture, as the slices that cut it out.
Slices = tuple[slice, slice]


def as_uint8(mask: np.ndarray) -> np.ndarray:
    """A boolean mask as the 0/1 uint8 image OpenCV's kernels take (no copy)."""
    return np.ascontiguousarray(mask).view(np.uint8)


def bbox(mask: np.ndarray) -> Slices:
    """The box around a mask's True pixels (the mask must hold some)."""
    left, top, width, height = cv2.boundingRect(as_uint8(mask))
    return slice(top, top + height), slice(left, left + width)


def extent(box: Slices) -> int:
    """A box's longer side."""
    rows, cols = box
    return max(rows.stop - rows.start, cols.stop - cols.start)


def longest_side(mask: np.ndarray) -> int:
    return extent(bbox(mask))


def erode(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """Binary erosion by a 3x3 cross, with nothing beyond the picture's edge
    (as scipy.ndimage.binary_erosion does it)."""
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    eroded = cv2.erode(
        as_uint8(mask), cross, iterations=iterations, borderType=cv2.BORDER_CONSTANT, borderValue=0
    )
    return eroded.view(bool)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width: twice the area over the boundary's length."""
    area = float(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    boundary = area - float(np.count_nonzero(erode(mask)))
    return 2.0 * area / max(1.0, boundary)


def solidity(region: np.ndarray) -> float:
    """Area of a region over the area of its convex hull (1.0: convex),
    both counted in whole pixels."""
    contours, _ = cv2.findContours(as_uint8(region), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return 0.0
    points = np.concatenate(contours).reshape(-1, 2)
    if len(points) < 2:
        return 0.0
    # Each boundary pixel's four corners: the hull of the pixels' squares.
    offsets = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.int32)
    corners = (points[None] + offsets[:, None]).reshape(-1, 1, 2).astype(np.int32)
    hull = cv2.convexHull(corners)
    return float(np.count_nonzero(region)) / max(1.0, float(cv2.contourArea(hull)))
