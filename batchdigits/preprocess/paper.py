"""The paper: which way round the ink is, and the paper's level under it.

Subtracting the paper level leaves ink as positive contrast on 0, whatever
the paper's colour, texture, shading or lighting.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .ink import MIN_CONTRAST
from .levels import level_percentile, median, outer_ring, percentile
from .scale import resize, scaled_shape

#: Below this range of grey levels (0-255 scale) there is nothing a person
#: would call writing: the page is blank.
MIN_RANGE = 6.0
#: Ink covering more than this of the picture, judged against the paper at
#: its edges, is a bold digit cropped tight.
DENSE_INK = 0.3


def smooth3(image: np.ndarray) -> np.ndarray:
    """A 3x3 mean: keeps single noisy pixels out of a picture's extremes."""
    return cv2.blur(image, (3, 3), borderType=cv2.BORDER_REPLICATE)


def ink_up(image: np.ndarray) -> np.ndarray | None:
    """The image with ink bright and paper dark, or None if it is flat
    (whether the ink is dark: :func:`ink_is_dark`)."""
    dark = ink_is_dark(image)
    if dark is None:
        return None
    return 255.0 - image if dark else image.copy()


def ink_is_dark(image: np.ndarray) -> bool | None:
    """Whether the ink is darker than the paper; None if the picture is flat.

    Ink is the extreme furthest from the paper level: below it for pen on
    paper, above it for a negative. The paper level is judged three ways:

    - a local level around each pixel: right under shadows and uneven
      light, but a marker digit filling the crop dominates its own
      neighbourhood and then looks like light ink;
    - the median of the whole picture (ink is a minority of pixels, except
      in a bold digit cropped tight to its ink), and
    - the median of the outer ring (scanner borders are already cropped, and
      a digit rarely covers half the ring): both fooled by a large shadow.

    When the ring sits at one extreme by a wide margin, it decides: that is
    the paper, even where a tight crop's ink outweighs it in the picture.
    Otherwise, dark ink on light paper being by far the common case, ink is
    dark when both medians say so, or when the local rule says so unless
    both medians say "light" by a wide margin: a dense white digit on black
    (MNIST itself, a negative) fools the local rule, never the medians; a
    shadow fools the medians only narrowly.
    """
    smooth = smooth3(image)
    low, high, _, _ = cv2.minMaxLoc(smooth)
    if high - low < MIN_RANGE:
        return None
    ring = outer_ring(image)
    residual = smooth - background(image, 50)
    least, most, _, _ = cv2.minMaxLoc(residual)
    locally_dark = -least > most
    papers = (median(image[::2, ::2]), median(ring))
    medians_dark = all(paper - low > high - paper for paper in papers)
    surely_light = [high - paper > 3 * (paper - low) for paper in papers]
    ring_surely_dark = papers[1] - low > 3 * (high - papers[1])
    return ring_surely_dark or (
        not surely_light[1] and (medians_dark or (locally_dark and not all(surely_light)))
    )


def background(image: np.ndarray, percent: int) -> np.ndarray:
    """The paper level under every pixel: :func:`coarse_level` smoothed and
    brought back to full size."""
    return resize(smooth3(coarse_level(image, percent)), image.shape)


def coarse_level(image: np.ndarray, percent: int) -> np.ndarray:
    """A percentile of the picture's neighbourhoods, one per block of 4x4
    pixels of a copy 48 px on its longer side: the paper level, blind to
    strokes.

    The copy is made by halving the picture with a Gaussian pyramid first,
    which costs a fraction of an area resize over all its pixels. Each
    block's percentile is taken, then the percentile over a window of 5x5
    blocks, about a third of the picture. Far cheaper than a percentile
    filter over pixels, and just as blind to strokes.
    """
    block = 4
    rows, cols = scaled_shape(image.shape, 12)
    small = image
    while min(small.shape) >= 4 and max(small.shape) >= 4 * block * max(rows, cols):
        small = cv2.pyrDown(small)
    small = resize(small, (rows * block, cols * block))
    cells = small.reshape(rows, block, cols, block).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    level = percentile(cells, percent, axis=2).astype(np.float32)
    padded = cv2.copyMakeBorder(level, 2, 2, 2, 2, cv2.BORDER_REPLICATE)
    windows = sliding_window_view(padded, (5, 5)).reshape(rows, cols, 25)
    rank = 25 * percent // 100  # the order statistic scipy's percentile_filter takes
    return np.partition(windows, rank, axis=2)[..., rank]


def remove_paper(inked: np.ndarray, ink_mask: np.ndarray | None = None) -> np.ndarray:
    """Ink as positive contrast over the local paper level, paper at 0.

    Without a mask, a low percentile over a wide window sees paper even
    where strokes cover most of the window. With a mask of the ink found so
    far, the paper level is interpolated under the ink from the paper around
    it (normalised convolution), so even a marker digit filling the crop
    keeps its middle.
    """
    if ink_mask is None:
        return np.maximum(inked - background(inked, 20), 0.0)
    small_side = 32
    shape = scaled_shape(inked.shape, small_side)
    grown = cv2.dilate(np.ascontiguousarray(ink_mask).view(np.uint8), np.ones((5, 5), np.uint8))
    paper = resize((grown == 0).astype(np.float32), shape)
    if paper.max() <= 0.05:
        return np.maximum(inked - background(inked, 20), 0.0)
    level = resize(np.where(grown > 0, 0.0, inked).astype(np.float32), shape)
    sigma = max(1.0, small_side / 8)
    weight = cv2.GaussianBlur(paper, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    filled = cv2.GaussianBlur(level, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    filled /= np.maximum(weight, 1e-3)
    return np.maximum(inked - resize(filled, inked.shape), 0.0)


def dense_ink(inked: np.ndarray) -> np.ndarray | None:
    """The ink, by its level against the paper at the picture's edges, when
    it covers more than ``DENSE_INK`` of the picture; else None."""
    paper = median(outer_ring(inked))
    top = level_percentile(inked[::2, ::2], 99)
    if top - paper < MIN_CONTRAST:
        return None
    dense = inked > paper + 0.5 * (top - paper)
    return dense if np.count_nonzero(dense) > DENSE_INK * dense.size else None
