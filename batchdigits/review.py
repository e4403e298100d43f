"""Which rows a person should check, and why."""

from __future__ import annotations

from enum import StrEnum

#: Rows whose confidence is below this are flagged. On the scan benchmark's
#: calibration split (benchmarks/scan_benchmark.py --split calibration; never
#: used for training or for reported accuracy) the smallest threshold whose
#: unflagged rows are wrong at most 0.125% of the time (a quarter of the 0.5%
#: target, as margin for scans harder than ours) is 0.9. Harder scans came:
#: on the compound looks (benchmarks/compound_looks.py, two or three
#: conditions per image) 0.9 left 0.56% of unflagged rows wrong, 0.95 0.28%,
#: so the default is 0.95. Measured with the shipped model, as scan reads
#: (with the whole-page second reading): calibration split 0.08% wrong with
#: 99.2% of rows not flagged (benchmarks/RESULTS.md).
#:
#: ``scan --numbers`` uses the same default. A number's confidence is
#: calibrated to be the chance that the whole string is right; on the
#: numbers benchmark's calibration split 0.95 leaves 79% of rows unflagged,
#: 2.8% of them wrong (test split: 69%, 5.9%), and no threshold gets under
#: 1% while leaving a fair share unflagged (benchmarks/RESULTS.md): numbers
#: need more review than digits.
DEFAULT_REVIEW_BELOW = 0.95


class Reason(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    BLANK = "blank"
    UNREADABLE = "unreadable"
    #: scan --numbers: the ink could be split into digits, or joined, another
    #: way nearly as well.
    UNCERTAIN_SPLIT = "uncertain_split"


def review(
    *,
    confidence: float | None,
    blank: bool,
    error: str,
    review_below: float,
    uncertain_split: bool = False,
) -> Reason | None:
    """The reason a row needs review, or None when it can be trusted.

    ``uncertain_split`` (a number whose segmentation is the main doubt) only
    names the reason; whether the row is flagged is the confidence's call,
    which already counts that doubt.
    """
    if error:
        return Reason.UNREADABLE
    if blank or confidence is None:
        return Reason.BLANK
    if confidence < review_below:
        return Reason.UNCERTAIN_SPLIT if uncertain_split else Reason.LOW_CONFIDENCE
    return None
