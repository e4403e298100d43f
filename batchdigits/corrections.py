"""Labels a person gave: a ``file,label`` CSV, or a reviewed workbook.

``evaluate`` and ``learn`` both take either. In a workbook (the one ``scan
--workbook`` writes) only the filled ``corrected_digit`` cells count: a
digit is a label (a correction, or a confirmation where it matches what was
read), ``x`` means "not a digit / skip", and an empty cell says nothing (a
flagged row left as read is not a correction). For numbers (``evaluate
--numbers``) a label is a string of digits, in the CSV's ``label`` column or
the workbook's ``corrected_number``; leading zeros count.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import InputError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
SKIP = "x"


@dataclass(frozen=True, slots=True)
class Correction:
    """The right digit for one page of one file."""

    file: str  # relative to the scanned folder, '/' separators
    page: int | None
    label: int


@dataclass(frozen=True, slots=True)
class NumberLabel:
    """The right number (its digits, as written) for one page of one file."""

    file: str
    page: int | None
    label: str


Label = TypeVar("Label", Correction, NumberLabel)


def read_corrections(path: Path) -> list[Correction]:
    """Every label in ``path`` (a CSV or a reviewed workbook), in file order."""
    from .workbook import CORRECTED

    return _read(path, _digit, Correction, CORRECTED)


def read_number_labels(path: Path) -> list[NumberLabel]:
    """Every number label in ``path`` (a CSV or a reviewed ``--numbers``
    workbook), in file order."""
    from .workbook import CORRECTED_NUMBER

    return _read(path, _number, NumberLabel, CORRECTED_NUMBER)


def _read(
    path: Path,
    parse: Callable[[object, str, Path], Any],
    make: Callable[[str, int | None, Any], Label],
    column: str,
) -> list[Label]:
    if not path.is_file():
        raise InputError(
            f"cannot read labels {path}: no such file", remedy="check the --labels path"
        )
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return _from_workbook(path, parse, make, column)
    return _from_csv(path, parse, make)


def _number(value: object, where: str, path: Path) -> str | None:
    """A cell's number: its digits as text (a spreadsheet's ``="0012"`` form
    too), or None for empty and 'x'; anything else is an error."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = str(value).strip()
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    if text == "" or text.lower() == SKIP:
        return None
    if text.isascii() and text.isdigit():
        return text
    raise InputError(
        f"{path} {where}: {text!r} is not a number written as digits",
        remedy=f"type the digits written there (leading zeros kept), or {SKIP} to skip it",
    )


def _digit(value: object, where: str, path: Path) -> int | None:
    """A cell's label: 0-9, or None for empty and 'x'; anything else is an error."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int | float) and float(value).is_integer() and 0 <= value <= 9:
        return int(value)
    text = str(value).strip()
    if text == "" or text.lower() == SKIP:
        return None
    if text.isdigit() and len(text) == 1:
        return int(text)
    raise InputError(
        f"{path} {where}: {text!r} is not a digit 0-9",
        remedy=f"type the digit written there, or {SKIP} for 'not a digit / skip'",
    )


def _from_csv(
    path: Path,
    parse: Callable[[object, str, Path], Any],
    make: Callable[[str, int | None, Any], Label],
) -> list[Label]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
                raise InputError(
                    f"{path} needs the columns file and label",
                    remedy="write a CSV with a header line 'file,label' (and optionally page)",
                )
            corrections = []
            for line, row in enumerate(reader, start=2):
                label = parse(row["label"], f"line {line}", path)
                page = _page(row.get("page"), f"line {line}", path)
                if label is not None:
                    corrections.append(make(row["file"], page, label))
            return corrections
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(
            f"cannot read labels {path}: {exc}", remedy="check the --labels file"
        ) from exc


def _page(value: object, where: str, path: Path) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return int(float(str(value)))
    except ValueError:
        raise InputError(
            f"{path} {where}: page {value!r} is not a number", remedy="leave it as scan wrote it"
        ) from None


def _from_workbook(
    path: Path,
    parse: Callable[[object, str, Path], Any],
    make: Callable[[str, int | None, Any], Label],
    column: str,
) -> list[Label]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    from .workbook import REVIEW_SHEET

    try:
        book = load_workbook(path, read_only=True)
    except (OSError, InvalidFileException, KeyError, ValueError) as exc:
        raise InputError(
            f"cannot read workbook {path}: {exc}",
            remedy="pass the .xlsx that 'scan --workbook' wrote, saved as .xlsx",
        ) from exc
    try:
        sheets = [book[REVIEW_SHEET]] if REVIEW_SHEET in book.sheetnames else book.worksheets
        for sheet in sheets:
            rows = sheet.iter_rows(values_only=True)
            header = [str(cell).strip() if cell is not None else "" for cell in next(rows, ())]
            if column in header and "file" in header:
                return _read_sheet(path, sheet.title, header, rows, parse, make, column)
    finally:
        book.close()
    raise InputError(
        f"{path} has no sheet with the columns file and {column}",
        remedy="pass the review workbook that 'scan --workbook' wrote",
    )


def _read_sheet(
    path: Path,
    title: str,
    header: list[str],
    rows: object,
    parse: Callable[[object, str, Path], Any],
    make: Callable[[str, int | None, Any], Label],
    column: str,
) -> list[Label]:
    from openpyxl.utils import get_column_letter

    from .workbook import file_of_cell

    file_at, label_at = header.index("file"), header.index(column)
    page_at = header.index("page") if "page" in header else None
    corrections = []
    for number, row in enumerate(rows, start=2):  # type: ignore[call-overload]
        if row is None or len(row) <= max(file_at, label_at):
            continue
        where = f"{title}!{get_column_letter(label_at + 1)}{number}"
        label = parse(row[label_at], where, path)
        if label is None:
            continue
        file = file_of_cell(row[file_at])
        if not file:
            raise InputError(f"{path} {where}: a label for a row without a file", remedy="")
        page = _page(row[page_at], where, path) if page_at is not None else None
        corrections.append(make(file, page, label))
    return corrections
