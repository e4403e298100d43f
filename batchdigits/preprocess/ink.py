"""Which pixels are ink: a threshold on the ink's contrast, and the blank test."""

from __future__ import annotations

import cv2
import numpy as np

from .levels import level_percentile, otsu

#: Ink this far above the paper (0-255 scale) is writing wherever the
#: picture's noise leaves it standing out; fainter ink (pencil pressed
#: lightly, a faded copy) only where it stands far out of the noise.
MIN_CONTRAST = 24.0
#: Below this contrast nothing is writing, however clean the picture: a
#: person barely sees 5 grey levels.
FAINTEST = 5.0


def smooth_ink(ink: np.ndarray) -> np.ndarray:
    """The ink under a Gaussian of one pixel: speckle does not reach the
    threshold, strokes do (a 9x9 kernel, as scipy's truncation at 4 sigma)."""
    return cv2.GaussianBlur(ink, (9, 9), 1.0, borderType=cv2.BORDER_REFLECT)


def noise_level(ink: np.ndarray) -> float:
    """The picture's pixel-to-pixel noise, as a standard deviation.

    Pixel-to-pixel differences measure noise and texture; shading and
    shadows, which vary slowly, do not count.
    """
    steps = np.abs(np.diff(ink[::2], axis=1))
    # Noise is a few grey levels: its median is counted in tenths of one.
    return 1.4826 * level_percentile(steps, 50, step=0.1) / np.sqrt(2)


def ink_mask(ink: np.ndarray) -> np.ndarray | None:
    """The ink's pixels, or None where nothing stands out: a blank page.

    Blank is judged against the picture's own noise, not against a fixed
    contrast: faint pencil on a clean scan (10 grey levels on paper whose
    pixels vary by less than one) is writing a person reads at a glance,
    while a grainy photo's specks of 30 levels are not.
    """
    smooth = smooth_ink(ink)
    _, peak, _, _ = cv2.minMaxLoc(smooth)
    noise = noise_level(ink)
    if peak < max(FAINTEST, 4.0 * noise):
        return None
    if peak < MIN_CONTRAST and (
        peak < 8.0 * noise or peak < 6.0 * level_percentile(smooth, 75, step=0.1)
    ):
        # Faint ink counts only far above the noise and above the paper's
        # own texture and shading, which cover far more of the page than
        # writing does and so lift its upper quartile.
        return None
    if peak < 8.0 * noise:
        # Fine printed patterns (cheques, forms) raise the pixel-to-pixel
        # noise without being ink. Ink still stands far above the bulk of
        # the picture; noise alone does not.
        clutter = level_percentile(smooth[::2, ::2], 90)
        if peak < 3.0 * clutter:
            return None
    threshold = float(np.clip(otsu(smooth, above=0.05 * peak), 0.25 * peak, 0.6 * peak))
    threshold = max(threshold, 4.0 * noise)
    mask = smooth > threshold
    return mask if mask.any() else None
