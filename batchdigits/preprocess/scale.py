"""Bring a picture to the size a stage works at."""

from __future__ import annotations

import cv2
import numpy as np

#: The working resolution: big enough that thin strokes survive
#: thresholding, small enough that the morphology stays cheap.
WORK_MAX = 256
WORK_MIN = 96


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-average when shrinking, bilinear when enlarging (float32).

    Area averaging is what a scanner's lower resolution does: no thin stroke
    falls between samples and vanishes.
    """
    height, width = shape
    if height * width < image.shape[0] * image.shape[1]:
        return _shrink(np.ascontiguousarray(image), height, width).astype(np.float32, copy=False)
    source = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.resize(source, (width, height), interpolation=cv2.INTER_LINEAR)


def _shrink(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging by way of whole-number factors.

    OpenCV averages areas several times faster (40x on a page) when the
    factor is a whole number: blocks of whole pixels. A page is first
    averaged in the largest whole blocks that leave it at least the size
    wanted (dropping the few pixels beyond the last whole block); what is
    left, under twice the size wanted, is enlarged bilinearly to twice it
    and averaged down by two. Enlarging loses nothing, so a thin stroke still comes out as its
    share of each output pixel, as exact area averaging makes it.
    """
    factor = max(image.shape[0] / height, image.shape[1] / width)
    blocks = int(factor)
    if blocks > 1:
        rows, cols = image.shape[0] // blocks, image.shape[1] // blocks
        image = cv2.resize(
            image[: rows * blocks, : cols * blocks], (cols, rows), interpolation=cv2.INTER_AREA
        )
    whole = int(np.ceil(max(image.shape[0] / height, image.shape[1] / width) - 1e-9))
    if whole > 1 and (image.shape[0] != height * whole or image.shape[1] != width * whole):
        image = cv2.resize(image, (width * whole, height * whole), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def scaled_shape(shape: tuple[int, ...], longest: float) -> tuple[int, int]:
    """``shape`` scaled so its longer side is ``longest``, at least 2x2."""
    factor = longest / max(shape)
    return max(2, round(shape[0] * factor)), max(2, round(shape[1] * factor))


def to_work_scale(image: np.ndarray, work_max: int = WORK_MAX) -> tuple[np.ndarray, float]:
    """The picture at working size, and that size over the original's."""
    longest = max(image.shape)
    if longest > work_max:
        target = work_max
    elif longest < WORK_MIN:
        target = WORK_MIN
    else:
        return np.asarray(image, dtype=np.float32), 1.0
    return resize(image, scaled_shape(image.shape, target)), target / longest
