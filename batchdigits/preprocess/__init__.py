"""Turn a grayscale picture of one handwritten digit into MNIST form.

MNIST digits are white ink on black, anti-aliased from bilevel scans, fitted
into a 20x20 box and placed in 28x28 by centre of mass. A model trained on
MNIST is only as good as our ability to make a scan look like that, so this
package is the heart of batchdigits. Its modules are the stages, named for
what they do to the picture (see :mod:`.reading` for their order); the
kernels are OpenCV's, the field's standard library for this work, several
times faster than the same filters in scipy or Pillow.

Training runs every MNIST digit through :func:`to_mnist` too, so training and
inference see exactly the same kind of picture, and :func:`to_model_input`
owns the model's normalisation so that the two cannot drift apart.
"""

from __future__ import annotations

import cv2
import numpy as np

from .mnist_form import DIGIT_BOX, MNIST_SIDE, to_model_input
from .reading import Box, PageReading, read_page

# Pages are small: a scan's parallelism is its worker processes, and
# OpenCV's own threads would only compete with them for the same cores.
cv2.setNumThreads(1)

#: Bumped whenever a change here changes what the model sees; recorded in
#: model metadata so a model can be matched with the preprocessing it
#: was trained with.
PREPROCESS_VERSION = 12

__all__ = [
    "DIGIT_BOX",
    "MNIST_SIDE",
    "PREPROCESS_VERSION",
    "Box",
    "PageReading",
    "mnist_readings",
    "read_page",
    "to_mnist",
    "to_model_input",
]


def to_mnist(gray: np.ndarray, *, min_digit: int = 0) -> np.ndarray | None:
    """Return the digit in ``gray`` as a (28, 28) uint8 MNIST-style image.

    ``gray`` is a 2-D array, 0 = black, 255 = white (any numeric dtype in
    that range), in either polarity. Returns ``None`` when the image holds
    no ink: a blank page must be reported, not guessed. ``min_digit``: see
    :func:`read_page`.
    """
    return read_page(gray, min_digit=min_digit, whole_page=False).first


def mnist_readings(
    gray: np.ndarray, *, min_digit: int = 0, whole_page: bool = True
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`to_mnist`'s reading, and the whole-page reading where it differs
    (see :func:`read_page`, which also says where the digit is)."""
    reading = read_page(gray, min_digit=min_digit, whole_page=whole_page)
    return reading.first, reading.whole_page
