"""The digits of amounts of money, as people write them on cheques and invoices.

Random digits, which the helper models mostly learn from, rarely look like
an amount: ``15000``, ``2500``, ``1200`` and ``350`` followed by cents
(``35000``) hold a few significant digits and then runs of zeros. Runs of
one digit are what the string model's CTC output must separate by blanks,
and what a segmenter merges most easily when the zeros touch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

#: How many significant digits an amount has (before its run of zeros), drawn
#: from these.
SIGNIFICANT = (1, 2, 2, 3, 3, 4)
#: The share of amounts written with cents, and of those, with ``00``.
WITH_CENTS, ROUND_CENTS = 0.4, 0.7


def amount_digits(rng: np.random.Generator, count: int) -> np.ndarray:
    """The ``count`` digits (2 or more) of an amount: a non-zero first digit,
    a few more significant ones, zeros, and now and then two digits of
    cents (mostly ``00``)."""
    return _amount(rng, count)[0]


def _amount(rng: np.random.Generator, count: int) -> tuple[np.ndarray, bool]:
    """:func:`amount_digits`, and whether the last two are cents."""
    cents = count >= 3 and rng.random() < WITH_CENTS
    units = count - 2 if cents else count
    significant = min(units, int(rng.choice(SIGNIFICANT)))
    head = [int(rng.integers(1, 10)), *rng.integers(0, 10, significant - 1)]
    tail = [0] * (units - significant)
    after: list[int] = []
    if cents:
        after = [0, 0] if rng.random() < ROUND_CENTS else [int(d) for d in rng.integers(0, 10, 2)]
    return np.array(head + tail + after, dtype=np.int64), cents


def by_label(labels: np.ndarray) -> list[np.ndarray]:
    """The indices of each digit 0-9 among ``labels``."""
    return [np.flatnonzero(labels == digit) for digit in range(10)]


class Written(NamedTuple):
    """A number to compose: its digit images, their labels, and how many of
    its last digits (an amount's cents) are written small and raised
    (``125⁰⁰``)."""

    images: np.ndarray
    labels: np.ndarray
    raised: int = 0


def pick_amount(
    rng: np.random.Generator,
    digits: np.ndarray,
    labels: np.ndarray,
    indices: list[np.ndarray],
    count: int,
    raised_cents: float = 0.0,
) -> Written:
    """The digit images of one amount of ``count`` digits, drawn from
    ``digits`` (``indices``: :func:`by_label` of their ``labels``); a
    ``raised_cents`` share of those with cents has them raised, as many
    write them on cheques."""
    wanted, cents = _amount(rng, count)
    picked = np.array([rng.choice(indices[d]) for d in wanted])
    raised = 2 if cents and raised_cents and rng.random() < raised_cents else 0
    return Written(digits[picked], labels[picked], raised)
