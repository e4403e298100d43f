"""Every run of neighbouring pieces that could be one digit, in MNIST form,
with a prior for its shape."""

from __future__ import annotations

import numpy as np

from ..preprocess.mnist_form import shape_digit
from .pieces import Piece, together

# Pieces of a run of more than this many are never one digit.
_MOST_PIECES = 5


def candidate_digits(
    pieces: list[Piece], height: float
) -> tuple[list[tuple[int, int]], np.ndarray, np.ndarray]:
    """Every run of up to four neighbouring pieces that could be one digit:
    its span, its 28x28 reading and a log-prior for its shape."""
    spans: list[tuple[int, int]] = []
    images: list[np.ndarray] = []
    priors: list[float] = []
    for start in range(len(pieces)):
        for stop in range(start + 1, min(len(pieces), start + _MOST_PIECES) + 1):
            group = pieces[start:stop]
            prior = _shape_prior(group, height)
            if prior is None:
                if _too_wide(group, height):
                    break
                continue
            reading = _reading(group)
            if reading is None:
                continue
            spans.append((start, stop))
            images.append(reading)
            priors.append(prior)
    if not spans:
        return [], np.zeros((0, 28, 28), np.uint8), np.zeros(0)
    return spans, np.stack(images), np.array(priors)


def _too_wide(group: list[Piece], height: float) -> bool:
    left = min(p.left for p in group)
    right = max(p.right for p in group)
    return right - left > 1.6 * height


def _shape_prior(group: list[Piece], height: float) -> float | None:
    """Log-prior that these pieces are one digit, from the box they make
    against the digits' height; None where they cannot be."""
    if _too_wide(group, height):
        return None
    spans = sorted((p.left, p.right) for p in group)
    reach = spans[0][1]
    for left, right in spans[1:]:
        if left - reach > 0.25 * height:
            return None  # paper between them: two digits, or a digit and a mark
        reach = max(reach, right)
    top = min(p.top for p in group)
    bottom = max(p.bottom for p in group)
    left, right = spans[0][0], max(right for _, right in spans)
    tall, wide = (bottom - top) / height, (right - left) / height
    prior = 0.0
    if tall < 0.75:
        prior -= 4.0 * (0.75 - tall)
    if wide > 1.0:
        prior -= 6.0 * (wide - 1.0)
    return prior


def _reading(group: list[Piece]) -> np.ndarray | None:
    """The pieces together, in MNIST form."""
    return shape_digit(together(group))
