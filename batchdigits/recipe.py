"""The training recipe of the shipped model.

``batchdigits train`` with no flags reproduces the model in
``batchdigits/models``. These live in a module of their own, free of heavy
imports, so the command line can show them as defaults and still start
instantly.
"""

from typing import NamedTuple

DEFAULT_EPOCHS = 10
DEFAULT_DISTORTED_COPIES = 2
DEFAULT_BROKEN_STROKES = 0.3
DEFAULT_FONT_SAMPLES = 40
DEFAULT_STROKE_SAMPLES = 1500
#: Renders per hand style of batchdigits.styles (the long-stroke 1, the
#: loop-and-tail 9, ...): half the stroke renders of one digit. Twice as
#: many were tried (RESULTS.md, "Twice the style renders"): flag 1s gained,
#: loop-and-tail 9s and the scan benchmark's splits lost.
DEFAULT_STYLE_SAMPLES = 750
DEFAULT_TRAIN_SEED = 2
#: The teacher the shipped network learnt from (see train.distillation_targets):
#: the v1 ensemble of three networks, shipped beside it for this alone.
TEACHER_FILENAME = "teacher.keras"
DEFAULT_TEACHER_WEIGHT = 0.5
#: A second network from this recipe, trained from seed 3 (``batchdigits
#: train --seed 3``, renamed): the trained network consults it with the
#: teacher. Where a file of this name lies beside the teacher, it is consulted.
PEER_FILENAME = "peer.keras"
#: The trained network consults its peer and its teacher where its calibrated
#: confidence is under this, mixing in their probabilities' mean at this
#: weight (chosen by benchmarks/second_opinion.py; with the ensemble alone a
#: weight over 0.25 overruled the styles only the network learnt).
SECOND_OPINION_BELOW = 0.99
SECOND_OPINION_WEIGHT = 0.5

#: The two helper models of ``scan --numbers`` (``train --splits`` and
#: ``train --strings``): numbers composed for training, and epochs. The
#: string model composes fresh numbers for every epoch.
SPLIT_NUMBERS = 10000
SPLIT_EPOCHS = 5
STRING_NUMBERS = 30000
STRING_EPOCHS = 20


class StringMember(NamedTuple):
    """One member of the string model: its file; the share of its composed
    numbers written in other hands than MNIST's (batchdigits.writers); its
    printed marks' size over the digits' height; the share of its numbers
    whose digits are an amount of money's (batchdigits.amounts: a few
    significant digits, runs of zeros, cents); whether some of its signs
    ($, #) are drawn by pen, as the split model's are; and the share of its
    amounts with cents that has them written small and raised (``125⁰⁰``);
    and what it adds to ``train``'s seed, so that two members of one recipe
    learn from different numbers and start from different weights."""

    file: str
    other_hands: float
    mark_size: tuple[float, float]
    amounts: float = 0.0
    pen_signs: bool = False
    raised_cents: float = 0.0
    seed: int = 0


#: The string model reads with these members, their frame probabilities
#: averaged. The first learns MNIST's writers alone, with marks larger than
#: the digits (the recipe until 2026-11-30); the second other hands too
#: (30%), marks of many sizes, pen-drawn signs, and amounts of money (40% of
#: the rest), half of those with cents written small and raised (since
#: 2026-12-04: it reads 91% of the numbers benchmark's amounts split against
#: 82%). Each reads numbers the other misses. (A member with the other
#: hands alone, shipped on 2026-11-30 before the second, read the numbers
#: benchmark's calibration split worse beside the first than the second
#: does: see benchmarks/RESULTS.md.)
STRING_MEMBERS = (
    StringMember("strings.keras", 0.0, (1.4, 1.4)),
    StringMember(
        "strings_amounts.keras", 0.3, (0.6, 1.5), amounts=0.4, pen_signs=True, raised_cents=0.5
    ),
)
