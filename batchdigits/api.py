"""The Python API: the same pipeline as ``batchdigits scan``, returning a DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import ScanOptions
from .pipeline import run_scan
from .results import ScanReport

if TYPE_CHECKING:
    import pandas as pd


def scan(folder: str | Path, **options: Any) -> pd.DataFrame:
    """Read every digit image under ``folder``; return one row per image (page).

    Keyword arguments are the fields of :class:`batchdigits.ScanOptions`
    (``include``, ``exclude``, ``model``, ``review_below``, ``jobs``,
    ``out`` to also write a file, ...). Columns are those of the CSV.
    Raises :class:`batchdigits.errors.BatchDigitsError` for problems the
    user can fix (no images, missing model, unwritable output).
    """
    return scan_report(folder, **options).to_frame()


def scan_report(folder: str | Path, **options: Any) -> ScanReport:
    """Like :func:`scan`, but returns the typed report (results, summary, model id)."""
    options.setdefault("progress", False)
    return run_scan(ScanOptions(folder=Path(folder), **options))
