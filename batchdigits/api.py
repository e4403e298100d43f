"""The Python API: the same pipeline as ``batchdigits scan``, returning a DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import ScanOptions
from .pipeline import run_scan
from .results import ScanReport

if TYPE_CHECKING:
    import pandas as pd

    from .learn import LearnReport


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


def learn(folder: str | Path, labels: str | Path, **options: Any) -> LearnReport:
    """Learn the writers of ``folder`` from ``labels`` (a reviewed workbook or a
    ``file,label`` CSV), as ``batchdigits learn`` does.

    Keyword arguments are the fields of :class:`batchdigits.learn.LearnOptions`
    (``out_dir`` to write a model there instead of updating the one ``scan``
    uses, ``model``, ``copies``, ``jobs``). Returns where the model went and
    its metadata (what it learned from, before and after on held-out labels).
    """
    from .learn import LearnOptions
    from .learn import learn as run_learning

    options.setdefault("progress", False)
    return run_learning(
        LearnOptions(folder=Path(folder), labels=Path(labels), **options), log=lambda _: None
    )
