"""Read a whole number: the digit model scores every candidate digit that
:mod:`batchdigits.segment` proposes, and the best path through them wins.

A path covers the pieces of ink left to right, each step one candidate
digit (a run of neighbouring pieces). Its weight is the product, over its
steps, of the digit model's confidence in the step's digit, the split
model's chance that the step is one whole digit (:mod:`batchdigits.splits`)
and the step's shape prior; a piece may also be stepped over as a mark that
is not a digit, at a price that grows with its size. The share of all
paths' weight on the chosen one says how sure the segmentation is: a number
whose pieces could be split or joined another way nearly as well is flagged
``uncertain_split`` rather than read at 0.99.

The string model (:mod:`batchdigits.strings`) reads the same ink whole; the
two readings are weighed (:func:`combine`), and the number's confidence, a
logistic function of both readers' evidence fitted on the numbers
benchmark's calibration split, is the chance the whole string is right.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .ctc import BLANK, StringReading
from .results import ScanResult
from .review import review
from .segment import Segmentation
from .strings import read_strips

if TYPE_CHECKING:
    from .model import Classifier
    from .splits import SplitChecker
    from .strings import StringReader

#: The log-weight of stepping over a piece as a mark that is not a digit
#: (a currency sign, a comma, a tick): a fixed part, and a part per digit
#: height of the piece's size, so a speck is left out easily and a
#: digit-sized piece only when the split model is sure it is no digit.
SKIP = -1.0
SKIP_PER_HEIGHT = -4.0
#: ... less at either end of the number, where marks mostly stand (a
#: currency sign before it, a tick or a closing dash after it); inside a
#: number they are separators, small and easily left out anyway. (On the
#: numbers benchmark's calibration split, 1 read 4 more of 1,500 numbers
#: than 0, and 2 hardly more.)
SKIP_AT_END = 1.0
#: Below this share of the paths' weight on the chosen segmentation, the
#: split is the doubt, and the row's reason says so.
SURE_SPLIT = 0.9
#: The log-weight of parting two digits where the cut crosses ink, per
#: stroke crossed: touching digits cost one stroke, a digit cut in two more.
CUT_COST = 0.5
#: Each digit's width over its height in MNIST form (mean, spread), measured
#: on MNIST's 60,000 training digits (pixels >= 128): a candidate read as a
#: digit but much wider than that digit is written (two digits touching, read
#: as one) or much narrower (a fragment) pays for it.
ASPECTS = np.array(
    [
        (0.91, 0.20),
        (0.41, 0.20),
        (0.95, 0.24),
        (0.79, 0.18),
        (0.78, 0.18),
        (0.96, 0.28),
        (0.72, 0.17),
        (0.77, 0.18),
        (0.75, 0.18),
        (0.66, 0.14),
    ]
)
#: Free within this many spreads of the mean; beyond, a Gaussian's log of
#: this weight.
ASPECT_FREE = 1.0
ASPECT_WEIGHT = 0.5
#: The split model's log-chance that a candidate is one whole digit counts
#: this much: a fragment or two touching digits read at 0.99 by the digit
#: model lose to the whole digits beside them. (On the numbers benchmark's
#: calibration split, weights of 0.5 and 1.5 read fewer numbers right.)
SPLIT_WEIGHT = 1.0
#: The segmenting reading's confidence is a logistic function of what it knows:
#: (1, log of the segmentation's share of all paths' weight, sum of the
#: digits' log-probabilities, log of the split model's chance for the least
#: whole-looking digit, number of digits, the least sure digit's
#: log-probability, and the size of the ink left out as marks, in digit
#: heights: a digit dropped as a mark is a likely mistake). Fitted on the numbers benchmark's
#: calibration split (benchmarks/numbers_benchmark.py --split calibration
#: --fit; never reported), so that it is the chance that the whole string is
#: right: the digits' probabilities alone overrate a number whose ink could
#: have been cut another way.
LATTICE_WEIGHTS = (3.2874, 0.9646, 5.3451, 0.4398, 0.0943, -1.0257, -2.1805)
#: The number's confidence, with the string model's reading beside it: a
#: logistic function of (1, the segmenting reading's confidence as a logit,
#: the log of the string model's chance for its reading, whether the two
#: agree, whether the string model's reading was taken, and the log of one
#: plus :func:`evidence`: a ratio of 50 or of 10 both say the other reading
#: does not fit the strip at all, not that this one is five times surer;
#: taken as it was, it lifted readings the string model gave 0.65 to 0.995).
#: Fitted the same way, on the calibration split and the amounts calibration
#: split together: on random digits alone, taking the string model's reading
#: over the segmenting one looked safe, and amounts' raised cents, which the
#: string model then misread at 0.99, were 8% of the amounts split's
#: unflagged rows wrong. Two readers that work differently rarely make the same
#: mistake.
AGREEMENT_WEIGHTS = (1.7587, 0.0556, 1.9398, 3.1296, -0.457, 0.7008)
#: Where the two readers differ, the string model's reading is taken when a
#: logistic function of :func:`choice_features` is above one half. Fitted on
#: the numbers benchmark's calibration split, on the fields where exactly one
#: of the two readings is right (benchmarks/numbers_benchmark.py --split
#: calibration --fit). The strongest evidence is how much better the string
#: model's frames fit its own reading than the segmenting one: comparing its
#: best path's chance with the segmenting reading's confidence alone (the
#: rule before) took the right reading in 363 of the test split's 653
#: disagreements.
CHOICE_WEIGHTS = (1.3497, 0.565, -0.4956, 3.3272, 0.6545)
#: The most the string model's log-likelihood ratio counts (an alignment it
#: finds impossible would be minus infinity).
MOST_EVIDENCE = 50.0
#: The most digits a number may have (a longer path is cut off).
MOST_DIGITS = 32


@dataclass(frozen=True)
class NumberReading:
    """The number read from one page."""

    number: str  # the digits, left to right, leading zeros kept
    confidence: float  # the chance the whole string is right
    digit_confidences: tuple[float, ...]
    split_confidence: float  # the share of the paths' weight on this segmentation
    spans: tuple[int, ...]  # which candidates (Segmentation.spans) the digits are
    #: What the confidence is computed from (:data:`LATTICE_WEIGHTS`, then
    #: :data:`AGREEMENT_WEIGHTS`).
    features: tuple[float, ...] = ()
    #: Whether the string model read the same number (None: not asked).
    agreed: bool | None = None

    @property
    def uncertain_split(self) -> bool:
        return self.split_confidence < SURE_SPLIT


def read_number(
    segmentation: Segmentation, probabilities: np.ndarray, whole: np.ndarray | None = None
) -> NumberReading | None:
    """The best reading of a segmented number, given the digit model's (N, 10)
    probabilities for its candidates and the split model's chance that each
    is one whole digit (:mod:`batchdigits.splits`; None: not asked); None
    when no path reads a digit."""
    count = segmentation.count
    best_digit = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    cuts = segmentation.cuts
    starts = np.array([start for start, _ in segmentation.spans])
    stops = np.array([stop for _, stop in segmentation.spans])
    weight = (
        np.log(np.maximum(confidence, 1e-12))
        + segmentation.priors
        + aspect_prior(segmentation.images, best_digit)
        - CUT_COST * (cuts[starts] + cuts[stops]) / 2
    )
    if whole is not None:
        weight = weight + SPLIT_WEIGHT * np.log(np.maximum(whole, 1e-6))
    steps: list[list[tuple[int, int]]] = [[] for _ in range(count + 1)]  # stop -> (start, span)
    for index, (start, stop) in enumerate(segmentation.spans):
        steps[stop].append((start, index))
    # Viterbi for the best path, and the forward sum for all paths' weight.
    best = np.full(count + 1, -np.inf)
    total = np.full(count + 1, -np.inf)
    back: list[tuple[int, int]] = [(-1, -1)] * (count + 1)
    best[0] = total[0] = 0.0
    for stop in range(1, count + 1):
        options = [(start, index, float(weight[index])) for start, index in steps[stop]]
        skip = SKIP + SKIP_PER_HEIGHT * float(segmentation.sizes[stop - 1])
        if stop == 1 or stop == count:
            skip += SKIP_AT_END
        options.append((stop - 1, -1, skip))
        for start, index, score in options:
            if best[start] + score > best[stop]:
                best[stop] = best[start] + score
                back[stop] = (start, index)
        total[stop] = np.logaddexp.reduce([total[start] + score for start, _, score in options])
    chosen: list[int] = []
    skipped = 0.0  # digit heights of ink left out as marks
    position = count
    while position > 0:
        start, index = back[position]
        if index >= 0:
            chosen.append(index)
        else:
            skipped += float(segmentation.sizes[position - 1])
        position = start
    chosen.reverse()
    if not chosen:
        return None
    chosen = chosen[:MOST_DIGITS]
    split = float(np.exp(best[count] - total[count]))
    digits = tuple(float(confidence[index]) for index in chosen)
    weakest = 0.0 if whole is None else float(np.log(max(whole[chosen].min(), 1e-6)))
    logs = np.log(np.maximum(digits, 1e-12))
    features = (
        1.0,
        float(best[count] - total[count]),
        float(logs.sum()),
        weakest,
        float(len(chosen)),
        float(logs.min()),
        skipped,
    )
    return NumberReading(
        number="".join(str(int(best_digit[index])) for index in chosen),
        confidence=calibrated(features, LATTICE_WEIGHTS),
        digit_confidences=digits,
        split_confidence=split,
        spans=tuple(chosen),
        features=features,
    )


def calibrated(features: Sequence[float], weights: Sequence[float]) -> float:
    """The chance the string is right, from the reading's features."""
    return float(1.0 / (1.0 + np.exp(-float(np.dot(features, weights)))))


def aspect_prior(images: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Log-prior of each image's width over height for the digit it is read
    as: free within one spread of MNIST's mean, then falling as a Gaussian."""
    ink = images >= 128
    rows, cols = ink.any(axis=2), ink.any(axis=1)
    aspect = _extent(cols) / np.maximum(_extent(rows), 1)
    mean, spread = ASPECTS[digits, 0], ASPECTS[digits, 1]
    excess = np.maximum(0.0, np.abs(aspect - mean) / spread - ASPECT_FREE)
    return -ASPECT_WEIGHT * excess**2


def _extent(lines: np.ndarray) -> np.ndarray:
    """Per row of ``lines`` (N, 28) bool: last True index - first + 1 (0 if none)."""
    first = lines.argmax(axis=1)
    last = lines.shape[1] - 1 - lines[:, ::-1].argmax(axis=1)
    return np.where(lines.any(axis=1), last - first + 1, 0)


def candidate_images(segmentations: Sequence[Segmentation | None]) -> np.ndarray:
    """Every page's candidates in one (N, 28, 28) batch for the model."""
    batches = [s.images for s in segmentations if s is not None]
    if not batches:
        return np.zeros((0, 28, 28), dtype=np.uint8)
    return np.concatenate(batches)


def read_numbers(
    segmentations: Sequence[Segmentation | None],
    probabilities: np.ndarray,
    whole: np.ndarray | None = None,
) -> list[NumberReading | None]:
    """:func:`read_number` for each page, given the models' outputs for
    :func:`candidate_images` of the same pages."""
    readings: list[NumberReading | None] = []
    offset = 0
    for segmentation in segmentations:
        if segmentation is None:
            readings.append(None)
            continue
        size = len(segmentation.spans)
        part = slice(offset, offset + size)
        readings.append(
            read_number(segmentation, probabilities[part], None if whole is None else whole[part])
        )
        offset += size
    return readings


def number_row(
    *,
    file: str,
    page: int | None,
    error: str,
    reading: NumberReading | None,
    model_id: str,
    review_below: float,
    file_size: int | None,
    file_mtime_ns: int | None,
) -> ScanResult:
    """The ``scan --numbers`` row for one page, with its review flag and reason."""
    reason = review(
        confidence=None if reading is None else reading.confidence,
        blank=reading is None and not error,
        error=error,
        review_below=review_below,
        uncertain_split=reading is not None and reading.uncertain_split,
    )
    return ScanResult(
        file=file,
        page=page,
        digit=None,
        confidence=None if reading is None else reading.confidence,
        runner_up=None,
        runner_up_confidence=None,
        needs_review=reason is not None,
        reason=reason.value if reason else "",
        error=error,
        model_id=model_id,
        file_size=file_size,
        file_mtime_ns=file_mtime_ns,
        numbers=True,
        number=None if reading is None else reading.number,
        digit_confidences=() if reading is None else reading.digit_confidences,
    )


def digits_picture(segmentation: Segmentation, reading: NumberReading) -> np.ndarray | None:
    """What the models read: the digits side by side (28 x 28n), or the strip
    the string model read whole; what the review workbook shows."""
    if not reading.spans:
        return segmentation.strip
    return np.concatenate([segmentation.images[index] for index in reading.spans], axis=1)


def classify_numbers(
    classifier: Classifier,
    checker: SplitChecker | None,
    reader: StringReader | None,
    segmentations: Sequence[Segmentation | None],
) -> list[NumberReading | None]:
    """Stage 4 of ``scan --numbers``: every page's candidates through the
    digit model (and the split model) in one batch, then each page's best
    path (:func:`read_number`); with a string model, each page's strip read
    whole too, and the two readings weighed (:func:`combine`)."""
    images = candidate_images(segmentations)
    readings: list[NumberReading | None] = [None] * len(segmentations)
    if len(images):
        probabilities = np.asarray(classifier.predict(images))
        whole = None if checker is None else checker.whole(images)
        readings = read_numbers(segmentations, probabilities, whole)
    if reader is None:
        return readings
    strips = [None if s is None else s.strip for s in segmentations]
    wholes = read_strips(reader, strips)
    return [combine(reading, other) for reading, other in zip(readings, wholes, strict=True)]


def choice_features(reading: NumberReading, whole: StringReading) -> tuple[float, ...]:
    """What decides between two different readings of one number: (1, the
    string model's log-likelihood ratio of its reading over the segmenting
    one's, the segmenting reading's confidence as a logit, the log of the
    string model's chance for its reading, its length over the other's)."""
    mine = min(max(reading.confidence, 1e-6), 1 - 1e-6)
    return (
        1.0,
        evidence(reading, whole),
        float(np.log(mine / (1 - mine))),
        float(np.log(max(whole.probability, 1e-6))),
        float(len(whole.digits) - len(reading.number)),
    )


def evidence(reading: NumberReading | None, whole: StringReading) -> float:
    """How much better the string model's frames fit its own reading than the
    segmenting reader's (a log-likelihood ratio; 0 where they agree)."""
    if reading is None or not whole.digits or reading.number == whole.digits:
        return 0.0
    ratio = whole.log_likelihood(whole.digits) - whole.log_likelihood(reading.number)
    return float(min(ratio, MOST_EVIDENCE))


def combine(reading: NumberReading | None, whole: StringReading | None) -> NumberReading | None:
    """The segmenting reading and the string model's weighed: where they
    differ, the one more likely right is taken (:data:`CHOICE_WEIGHTS`); the
    confidence counts their agreement (:data:`AGREEMENT_WEIGHTS`)."""
    if whole is None or not whole.digits:
        if reading is None:
            return None
        whole = StringReading("", 0.0, (), np.zeros((1, BLANK + 1)))
    mine = 1e-3 if reading is None else min(max(reading.confidence, 1e-6), 1 - 1e-6)
    agree = reading is not None and reading.number == whole.digits
    choice = None
    if reading is not None and whole.digits and not agree:
        choice = choice_features(reading, whole)
    take_whole = bool(whole.digits) and (
        reading is None or (choice is not None and calibrated(choice, CHOICE_WEIGHTS) > 0.5)
    )
    features = (
        1.0,
        float(np.log(mine / (1 - mine))),
        float(np.log(max(whole.probability, 1e-6))),
        float(agree),
        float(take_whole),
        0.0 if choice is None else float(np.log1p(max(choice[1], 0.0))),  # evidence(), once
    )
    confidence = calibrated(features, AGREEMENT_WEIGHTS)
    if take_whole or reading is None:
        return NumberReading(
            number=whole.digits,
            confidence=confidence,
            digit_confidences=whole.digit_probabilities,
            split_confidence=1.0 if reading is None else reading.split_confidence,
            spans=(),
            features=features,
            agreed=False,
        )
    return replace(reading, confidence=confidence, features=features, agreed=agree)
