"""The options of a scan, shared by the command line and the Python API."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .load import MAX_PIXELS
from .results import ScanResult
from .review import DEFAULT_REVIEW_BELOW

DEFAULT_BATCH_SIZE = 256


class OutputFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class WorkbookRows(StrEnum):
    """Which rows the review workbook holds."""

    FLAGGED = "flagged"
    ALL = "all"


@dataclass
class ScanOptions:
    """One scan's settings. The CLI builds one from its flags; the API from keywords."""

    folder: Path
    #: Where to write results; None writes nothing (the API returns a DataFrame),
    #: ``Path("-")`` writes to standard output.
    out: Path | None = None
    format: OutputFormat = OutputFormat.CSV
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    model: Path | None = None
    review_below: float = DEFAULT_REVIEW_BELOW
    batch_size: int = DEFAULT_BATCH_SIZE
    #: Worker processes for decoding and preprocessing; 0 means all cores.
    jobs: int = 0
    max_pixels: int = MAX_PIXELS
    #: Neutralise cells that a spreadsheet would run as a formula (OWASP).
    csv_protection: bool = True
    incremental: bool = False
    #: Show a progress bar; None shows one only when stderr is a terminal.
    progress: bool | None = None
    #: Also write a review workbook (.xlsx) with a picture of each row there.
    workbook: Path | None = None
    workbook_rows: WorkbookRows = WorkbookRows.FLAGGED
    #: Each page holds a number (digits written left to right): read them all,
    #: one row per page with ``number`` (see :mod:`batchdigits.numbers`).
    numbers: bool = False

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if self.out is not None:
            self.out = Path(self.out)
        if self.model is not None:
            self.model = Path(self.model)
        if self.workbook is not None:
            self.workbook = Path(self.workbook)
        self.workbook_rows = WorkbookRows(self.workbook_rows)
        self.format = OutputFormat(self.format)
        self.include = tuple(self.include)
        self.exclude = tuple(self.exclude)
        if not 0.0 <= self.review_below <= 1.0:
            raise ValueError(f"review_below must be between 0 and 1, got {self.review_below}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.jobs < 0:
            raise ValueError(f"jobs must be 0 (all cores) or more, got {self.jobs}")

    def wants_pictures(self, result: ScanResult) -> bool:
        """Whether the review workbook shows this row (and so needs its pictures)."""
        if self.workbook is None:
            return False
        return self.workbook_rows is WorkbookRows.ALL or result.needs_review

    @property
    def to_stdout(self) -> bool:
        return self.out is not None and str(self.out) == "-"
