"""Small pictures of what was read, for a person reviewing the rows, and
the grey pixels ``learn`` keeps of each correction to read it again.

Made in the worker that decoded the page (the pixels are there then; the
workbook never decodes a file again) and kept only for the rows that go in
the review workbook (or, for ``learn``, the labelled pages).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .preprocess import Box

#: Longest side of a thumbnail, in pixels: a digit reads at a glance at this
#: size, and a JPEG of it is 1-4 KB.
THUMBNAIL_SIDE = 96
#: Most a small crop is enlarged to fill the thumbnail.
MAX_ENLARGE = 4.0
#: Paper kept around the digit's box, as a share of its longer side: enough
#: to show a neighbour or a ruled line that may explain a misreading.
MARGIN = 0.35
#: The 28x28 picture the model saw, enlarged this many times (pixels kept sharp).
READING_ZOOM = 3
#: Longest side, in pixels, of the page ``learn`` keeps of each correction:
#: the preprocessing looks for the digit at this size (a 256-pixel working
#: copy), so a later one finds at least as much detail as this one did.
KEPT_SIDE = 256
#: Paper kept around the digit's box for that, as a share of its longer side:
#: room for the paper, ruled lines and cut-off neighbours that preprocessing
#: reads the page by.
KEPT_MARGIN = 1.0


def thumbnail(pixels: np.ndarray, box: Box | None) -> bytes:
    """A JPEG of the page cropped around ``box`` (the whole page without one)."""
    height, width = pixels.shape
    if box is not None:
        top, left, bottom, right = box
        margin = int(max(bottom - top, right - left) * MARGIN) + 4
        pixels = pixels[
            max(0, top - margin) : min(height, bottom + margin),
            max(0, left - margin) : min(width, right + margin),
        ]
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), "L")
    # Small crops are enlarged too (up to 4x), so a tiny digit reads at a glance.
    scale = min(MAX_ENLARGE, THUMBNAIL_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def kept_source(pixels: np.ndarray, box: Box | None, side: int = KEPT_SIDE) -> np.ndarray:
    """The grey page (``pixels``), cropped around ``box`` where it is bigger
    than ``side`` and shrunk to fit ``side``: what ``learn`` keeps of a
    correction, to read it again when the preprocessing changes."""
    pixels = np.asarray(pixels)
    height, width = pixels.shape
    if box is not None and max(height, width) > side:
        top, left, bottom, right = box
        margin = int(max(bottom - top, right - left) * KEPT_MARGIN) + 4
        pixels = pixels[
            max(0, top - margin) : min(height, bottom + margin),
            max(0, left - margin) : min(width, right + margin),
        ]
    return shrink(pixels, side)


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` as uint8, resized (Lanczos) so that the longest side is at most ``side``."""
    pixels = np.ascontiguousarray(np.clip(pixels, 0, 255), dtype=np.uint8)
    if max(pixels.shape) <= side:
        return pixels
    image = Image.fromarray(pixels, "L")
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def reading_png(reading: np.ndarray, zoom: int = READING_ZOOM) -> bytes:
    """The model's 28x28 input (a number's digits side by side: 28 x 28n) as
    a PNG, enlarged, white ink on black as it saw it."""
    image = Image.fromarray(np.asarray(reading, dtype=np.uint8), "L")
    size = (reading.shape[1] * zoom, reading.shape[0] * zoom)
    image = image.resize(size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
