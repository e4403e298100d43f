"""MNIST form: the digit fitted in a 20x20 box, centred by mass in 28x28,
strokes as wide as MNIST's; and the model's normalisation of that picture."""

from __future__ import annotations

import cv2
import numpy as np

from .scale import resize
from .shapes import as_uint8, bbox, stroke_width

MNIST_SIDE = 28
DIGIT_BOX = 20
#: Stroke width in the 20x20 box, in pixels, that MNIST digits fall between
#: (measured on the MNIST training set by benchmarks/mnist_stroke_width.py).
STROKE_MIN = 2.2
STROKE_MAX = 4.0
#: Stroke width over size above which ink is a blot, not writing (a solid
#: disc: 0.5; marker digits stay under 0.3).
BLOT = 0.4


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Normalise a batch of (N, 28, 28) uint8 MNIST-form images for the CNN."""
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim == 2:
        batch = batch[None]
    return (batch / 255.0)[..., None]


def shape_digit(mask: np.ndarray, reread: bool = False) -> np.ndarray | None:
    """The digit's pieces, cropped to their box, as the 28x28 picture.

    ``reread``: the picture is a crop of a big one, read again because the
    digit was small there; a round blot or a dust speck the small-digit
    search picked up is not writing, and gives None.
    """
    mask = mask[bbox(mask)]
    if reread and stroke_width(mask) > BLOT * max(mask.shape):
        return None
    return fit_and_centre(normalise_stroke_width(mask))


def _distance_to_paper(mask: np.ndarray) -> np.ndarray:
    """Each ink pixel's distance to the nearest paper pixel (the 5x5 mask's
    approximation of Euclidean distance: within a few percent, at a
    fraction of the exact transform's cost)."""
    return cv2.distanceTransform(as_uint8(mask), cv2.DIST_L2, cv2.DIST_MASK_5)


def normalise_stroke_width(mask: np.ndarray) -> np.ndarray:
    """Thin marker strokes and thicken hairlines to MNIST's range.

    The range is in pixels of the final 20x20 box, so the correction depends
    on how much the digit will be scaled.
    """
    scale = DIGIT_BOX / max(mask.shape)
    width = stroke_width(mask)
    scaled = width * scale
    if STROKE_MIN <= scaled <= STROKE_MAX:
        return mask
    padded = np.pad(mask, 2 + int(np.ceil(STROKE_MIN / scale)))
    if scaled > STROKE_MAX:
        radius = (width - STROKE_MAX / scale) / 2
        thinned = _distance_to_paper(padded) > radius
        # Never erode a stroke away entirely.
        result = thinned if np.count_nonzero(thinned) >= 0.25 * np.count_nonzero(padded) else padded
    else:
        radius = (STROKE_MIN / scale - width) / 2
        result = _distance_to_paper(~padded) <= radius
    if not result.any():
        return mask
    rows, cols = bbox(result)
    return result[rows, cols]


def fit_and_centre(mask: np.ndarray) -> np.ndarray:
    """The mask scaled into the 20x20 box and placed in 28x28 by its centre
    of mass, as MNIST's digits were."""
    height, width = mask.shape
    scale = DIGIT_BOX / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    digit = resize(mask.astype(np.float32) * 255.0, shape)
    total = float(digit.sum())
    canvas = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    if total <= 0:
        return canvas.astype(np.uint8)
    centre_y = float(digit.sum(axis=1) @ np.arange(shape[0])) / total
    centre_x = float(digit.sum(axis=0) @ np.arange(shape[1])) / total
    top = min(max(round(MNIST_SIDE / 2 - centre_y), 0), MNIST_SIDE - shape[0])
    left = min(max(round(MNIST_SIDE / 2 - centre_x), 0), MNIST_SIDE - shape[1])
    canvas[top : top + shape[0], left : left + shape[1]] = digit
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
