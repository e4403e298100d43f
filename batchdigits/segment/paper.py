"""The paper of a number's field made even: light falling off across a strip."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..preprocess.scale import resize


def flatten_paper(image: np.ndarray) -> np.ndarray:
    """The picture with the paper's light made even, dark strokes kept.

    A number's field is a strip: the digit preprocessing's background
    estimate, made for pictures about as tall as wide, sees a strip's height
    as one cell and leaves light falling off across it (a shadow, a curled
    page) as ink. The paper under dark strokes is their surroundings'
    brightest level (a grey closing wider than any stroke); dividing by it
    leaves the strokes on an even paper. Whether the strokes are the dark
    or the light thin features decides whether to (a negative is left as it
    is).
    """
    short = min(image.shape)
    size = max(7, short // 4) | 1
    small = image[::2, ::2] if short >= 64 else image
    step = 2 if short >= 64 else 1
    window = (size // step) | 1
    paper = ndimage.grey_closing(small, size=window)
    dark = float(np.percentile(paper - small, 99.5))
    light = float(np.percentile(small - ndimage.grey_opening(small, size=window), 99.5))
    if light > dark:
        return image  # light strokes on dark: a negative; the page stages know those
    paper = ndimage.uniform_filter(paper, size=max(3, window // 2) | 1)
    if step > 1:
        paper = resize(paper, image.shape)
    level = float(np.percentile(paper, 90))
    # Light falls on paper and ink alike: divide it out, so writing in the
    # shade keeps the contrast it has in the light.
    return np.clip(image / np.maximum(paper, 8.0) * level, 0.0, 255.0).astype(np.float32)
