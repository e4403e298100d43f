"""Which rows a person should check, and why."""

from __future__ import annotations

from enum import StrEnum

#: Rows whose confidence is below this are flagged. Chosen from measurements
#: on held-out scan-like images (benchmarks/RESULTS.md): below it, errors are
#: concentrated; above it, rows not flagged are rarely wrong.
DEFAULT_REVIEW_BELOW = 0.90


class Reason(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    BLANK = "blank"
    UNREADABLE = "unreadable"


def review(
    *, confidence: float | None, blank: bool, error: str, review_below: float
) -> Reason | None:
    """The reason a row needs review, or None when it can be trusted."""
    if error:
        return Reason.UNREADABLE
    if blank or confidence is None:
        return Reason.BLANK
    if confidence < review_below:
        return Reason.LOW_CONFIDENCE
    return None
