"""Typed scan results, with the one mapping from result to output columns.

CSV, JSON lines, the DataFrame and the summary all come from
:meth:`ScanResult.to_record`, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Output columns, in order. The first four are a fixed contract.
COLUMNS: tuple[str, ...] = (
    "file",
    "digit",
    "confidence",
    "needs_review",
    "reason",
    "error",
    "runner_up",
    "runner_up_confidence",
    "page",
    "model_id",
    "file_size",
    "file_mtime_ns",
)
#: Output columns of ``scan --numbers``: one number (a string of digits) per page.
NUMBER_COLUMNS: tuple[str, ...] = (
    "file",
    "number",
    "confidence",
    "needs_review",
    "reason",
    "error",
    "digit_count",
    "digit_confidences",
    "page",
    "model_id",
    "file_size",
    "file_mtime_ns",
)
#: Columns holding whole numbers (empty when unknown) and fractions.
INTEGER_COLUMNS = ("digit", "runner_up", "page", "file_size", "file_mtime_ns", "digit_count")
FRACTION_COLUMNS = ("confidence", "runner_up_confidence")


def columns(numbers: bool) -> tuple[str, ...]:
    """The output columns of a scan: :data:`NUMBER_COLUMNS` with ``--numbers``."""
    return NUMBER_COLUMNS if numbers else COLUMNS


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One output row: a digit read from one image (one page of a multi-page
    file), or with ``numbers`` the number written there."""

    file: str
    page: int | None
    digit: int | None
    confidence: float | None
    runner_up: int | None
    runner_up_confidence: float | None
    needs_review: bool
    reason: str
    error: str
    model_id: str
    file_size: int | None
    file_mtime_ns: int | None
    #: A ``scan --numbers`` row: ``number`` and ``digit_confidences`` replace
    #: ``digit`` and the runner-up.
    numbers: bool = False
    number: str | None = None  # the digits, leading zeros kept
    digit_confidences: tuple[float, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The row as column -> value, in :func:`columns` order (None = empty)."""
        if self.numbers:
            return {
                "file": self.file,
                "number": self.number,
                "confidence": None if self.confidence is None else round(self.confidence, 4),
                "needs_review": self.needs_review,
                "reason": self.reason,
                "error": self.error,
                "digit_count": None if self.number is None else len(self.number),
                "digit_confidences": ";".join(f"{c:.4f}" for c in self.digit_confidences),
                "page": self.page,
                "model_id": self.model_id,
                "file_size": self.file_size,
                "file_mtime_ns": self.file_mtime_ns,
            }
        return {
            "file": self.file,
            "digit": self.digit,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "needs_review": self.needs_review,
            "reason": self.reason,
            "error": self.error,
            "runner_up": self.runner_up,
            "runner_up_confidence": (
                None if self.runner_up_confidence is None else round(self.runner_up_confidence, 4)
            ),
            "page": self.page,
            "model_id": self.model_id,
            "file_size": self.file_size,
            "file_mtime_ns": self.file_mtime_ns,
        }

    @property
    def sort_key(self) -> tuple[str, int]:
        return (self.file, self.page or 0)

    @property
    def key(self) -> RowKey:
        """Which row this is: the file and its page."""
        return (self.file, self.page)


#: A row's identity: (file relative to the scanned folder, page or None).
RowKey = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class RowPictures:
    """What a reviewer is shown of a row: the page around the digit (JPEG),
    and the 28x28 picture the model read (None for blank and unreadable pages)."""

    thumbnail: bytes | None
    reading: np.ndarray | None


@dataclass
class StageTimings:
    """Seconds spent per stage. Decode and preprocess are summed over worker
    processes (CPU time across cores), model time is wall time in this process."""

    decode: float = 0.0
    preprocess: float = 0.0
    model_load: float = 0.0
    model: float = 0.0


@dataclass
class ScanSummary:
    """Counts and timing of one run: the end-of-run line and the manifest."""

    files: int = 0
    rows: int = 0
    flagged: int = 0
    errors: int = 0
    blank: int = 0
    skipped_non_images: int = 0
    reused: int = 0  # files whose rows an incremental run kept
    seconds: float = 0.0
    timings: StageTimings = field(default_factory=StageTimings)

    def line(self) -> str:
        reused = f" ({self.reused} unchanged, reused)" if self.reused else ""
        skipped = self.skipped_non_images
        others = f", {skipped} non-image file{'s' * (skipped != 1)} skipped" if skipped else ""
        return (
            f"{self.files} files{reused}, {self.rows} rows, {self.flagged} flagged for review, "
            f"{self.errors} errors{others}, {self.seconds:.1f}s"
        )


@dataclass
class ScanReport:
    """Everything one run produced."""

    results: list[ScanResult]
    summary: ScanSummary
    model_id: str
    review_below: float
    started: datetime
    finished: datetime
    #: Pictures of the rows that go in the review workbook (empty without one).
    pictures: dict[RowKey, RowPictures] = field(default_factory=dict)

    #: Whether the scan read numbers (``scan --numbers``): which columns it has.
    numbers: bool = False
    #: Models asked for but not used, made under an older preprocessing (the
    #: shipped ones read instead; see ``model.OLDEST_READABLE_PREPROCESS``).
    outdated_models: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return results_frame(self.results, numbers=self.numbers)


def results_frame(results: list[ScanResult], *, numbers: bool = False) -> pd.DataFrame:
    """A DataFrame with the scan's :func:`columns`; integer columns stay
    integers despite gaps, and a number stays a string (leading zeros kept)."""
    import pandas as pd

    names = columns(numbers)
    frame = pd.DataFrame([r.to_record() for r in results], columns=list(names))
    for column in INTEGER_COLUMNS:
        if column in names:
            frame[column] = frame[column].astype("Int64")
    for column in FRACTION_COLUMNS:
        if column in names:
            frame[column] = frame[column].astype("float64")
    frame["needs_review"] = frame["needs_review"].astype(bool)
    text = ("file", "reason", "error", "model_id", "digit_confidences")
    for column in text:
        if column in names:
            frame[column] = frame[column].astype(object)
    if "number" in names:
        frame["number"] = frame["number"].astype("string")  # <NA> where none was read
    return frame
