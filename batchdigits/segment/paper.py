"""The paper of a number's field made even: light falling off across a strip."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..preprocess.paper import ink_is_dark
from ..preprocess.scale import resize


def flatten_paper(image: np.ndarray) -> np.ndarray:
    """The picture with the paper's light made even, dark strokes kept.

    A number's field is a strip: the digit preprocessing's background
    estimate, made for pictures about as tall as wide, sees a strip's height
    as one cell and leaves light falling off across it (a shadow, a curled
    page) as ink. The paper under dark strokes is their surroundings'
    brightest level (a grey closing wider than any stroke); dividing by it
    leaves the strokes on an even paper. A negative (light strokes) is left
    as it is: the page stages' polarity rule decides. Comparing the depth of
    the dark and the light thin features cannot: the paper between dense
    dark strokes is as thin as they are, and that test called one field in
    seven a negative, leaving its shadow for the sheet finder to crop away
    with the digits in it.
    """
    if not ink_is_dark(image):
        return image
    short = min(image.shape)
    size = max(7, short // 4) | 1
    small = image[::2, ::2] if short >= 64 else image
    step = 2 if short >= 64 else 1
    window = (size // step) | 1
    paper = ndimage.grey_closing(small, size=window)
    paper = ndimage.uniform_filter(paper, size=max(3, window // 2) | 1)
    if step > 1:
        paper = resize(paper, image.shape)
    level = float(np.percentile(paper, 90))
    # Light falls on paper and ink alike: divide it out, so writing in the
    # shade keeps the contrast it has in the light.
    return np.clip(image / np.maximum(paper, 8.0) * level, 0.0, 255.0).astype(np.float32)
