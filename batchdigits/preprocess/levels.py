"""Grey-level statistics: medians, percentiles and thresholds of a picture.

Pictures here are in the 0-255 range, so order statistics of a whole picture
are taken from a histogram (one pass, no sort) wherever a grey level's
precision is all a decision needs; :func:`percentile` keeps numpy's exact
interpolation for the places where smaller differences matter.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Above this many values a median comes from a histogram, to a grey level
#: (see :func:`level_percentile`); below it, a partition is as cheap and exact.
_EXACT_UP_TO = 2048


def median(values: np.ndarray) -> float:
    """The median of all values (grey levels, 0-255): exact for a few, to a
    grey level for a whole picture's worth."""
    flat = np.ravel(values)
    if flat.size > _EXACT_UP_TO:
        return level_percentile(flat, 50)
    middle = flat.size // 2
    if flat.size % 2:
        return float(np.partition(flat, middle)[middle])
    return float(np.mean(np.partition(flat, (middle - 1, middle))[middle - 1 : middle + 1]))


def level_percentile(values: np.ndarray, percent: float, step: float = 1.0) -> float:
    """A percentile of non-negative levels, to within ``step``.

    From a 256-bin histogram of the levels counted in steps (levels beyond
    255 steps count as the top bin): one pass over 8-bit data, where a
    partition of a whole picture costs several times more.
    """
    flat = np.ravel(values)
    counted = cv2.convertScaleAbs(flat[None], alpha=1.0 / step)
    hist = cv2.calcHist([counted], [0], None, [256], [0, 256]).ravel()
    rank = percent / 100 * (flat.size - 1)
    index = int(np.searchsorted(np.cumsum(hist), rank + 1))
    return min(index, 255) * step


def percentile(values: np.ndarray, percent: float, axis: int | None = None) -> np.ndarray:
    """np.percentile(values, percent, axis=axis) with its default (linear)
    method, without its per-call overhead: the same two order statistics and
    numpy's own interpolation formula, so the same result to the bit."""
    if axis is None:
        values, axis = np.ravel(values), 0
    count = values.shape[axis]
    index = (count - 1) * (percent / 100)
    below = min(int(np.floor(index)), count - 1)
    above = min(below + 1, count - 1)
    ordered = np.partition(values, (below, above), axis=axis)
    low, high = np.take(ordered, below, axis=axis), np.take(ordered, above, axis=axis)
    gamma = index - below
    if gamma >= 0.5:
        return high - (high - low) * (1 - gamma)
    return low + (high - low) * gamma


def low_percentile_above(values: np.ndarray, percent: float, level: float) -> bool:
    """Whether ``np.percentile(values, percent) > level``, mostly by counting."""
    # The percentile lies between the sorted values at ``rank`` and the next;
    # a margin of one covers rounding in numpy's own index arithmetic.
    below = int(np.count_nonzero(values <= level))
    rank = int(np.floor(percent / 100 * (values.size - 1)))
    if below <= rank - 1:
        return True
    if below >= rank + 3:
        return False
    return bool(percentile(values, percent) > level)


def otsu(values: np.ndarray, above: float | None = None) -> float:
    """The level that best splits ``values`` in two (Otsu, 128 bins over
    their range); with ``above``, of the values above that level only."""
    flat = np.ascontiguousarray(values, dtype=np.float32)
    if flat.ndim != 2:
        flat = flat.reshape(1, -1)
    mask = None
    if above is not None:
        mask = cv2.threshold(flat, above, 1, cv2.THRESH_BINARY)[1].astype(np.uint8)
        if not mask.any():
            return float(above)
    low, high, _, _ = cv2.minMaxLoc(flat, mask)
    if high <= low:
        return float(low)
    step = (high - low) / 128
    hist = cv2.calcHist([flat], [0], mask, [128], [low, high + 1e-3 * step]).ravel()
    centres = low + step * (np.arange(128) + 0.5)
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(hist * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def outer_ring(image: np.ndarray) -> np.ndarray:
    """The pixels of the two outermost rows and columns on each side."""
    return np.concatenate(
        [image[:2].ravel(), image[-2:].ravel(), image[:, :2].ravel(), image[:, -2:].ravel()]
    )
