"""The review workbook, and reading a reviewer's corrections back."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from PIL import Image

from batchdigits.corrections import Correction, read_corrections
from batchdigits.errors import InputError
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan
from batchdigits.workbook import CORRECTED, REVIEW_COLUMNS

from .conftest import CountingClassifier, draw_digit, write_digit_folder


def make_folder(folder: Path) -> Path:
    write_digit_folder(folder, count=4)
    Image.fromarray(draw_digit("7")).save(folder / "=cmd.png")
    Image.new("L", (300, 200), 245).save(folder / "blank.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def scan_with_workbook(tmp_path: Path, **options: object) -> tuple[Path, object]:
    folder = make_folder(tmp_path / "in")
    book = tmp_path / "review.xlsx"
    scan_options = ScanOptions(
        folder=folder, out=tmp_path / "r.csv", workbook=book, jobs=2, **options
    )
    report = run_scan(scan_options, classifier=CountingClassifier())
    return book, report


def column(name: str) -> int:
    """1-based column of the review sheet."""
    return [c.header for c in REVIEW_COLUMNS].index(name) + 1


def pictures_by_row(sheet) -> dict[int, list[bytes]]:  # type: ignore[no-untyped-def]
    rows: dict[int, list[bytes]] = {}
    for image in sheet._images:
        rows.setdefault(image.anchor._from.row + 1, []).append(image._data())
    return rows


def test_workbook_holds_the_flagged_rows_with_their_pictures(tmp_path: Path) -> None:
    book, report = scan_with_workbook(tmp_path, review_below=0.95)
    flagged = [r for r in report.results if r.needs_review]  # type: ignore[attr-defined]
    sheet = load_workbook(book)["Review"]
    header = [cell.value for cell in sheet[1]]
    assert header == [c.header for c in REVIEW_COLUMNS] and CORRECTED in header
    values = load_workbook(book, data_only=True)["Review"]
    files = [values.cell(row, column("file")).value for row in range(2, sheet.max_row + 1)]
    assert files == [r.file for r in flagged]
    assert len(files) == 7  # every row of the fake model is below 0.95

    pictures = pictures_by_row(sheet)
    for row, result in enumerate(flagged, start=2):
        expected = 0 if result.error else 1 if result.digit is None else 2
        assert len(pictures.get(row, [])) == expected, result.file
        assert sheet.cell(row, column(CORRECTED)).value is None
    # The thumbnail shows the page around the digit; the other picture is the 28x28 reading.
    row = files.index("digit_00.jpg") + 2
    thumbnail, reading = (Image.open(io.BytesIO(data)) for data in pictures[row])
    assert max(thumbnail.size) <= 96 and np.asarray(thumbnail.convert("L")).min() < 100
    assert reading.size == (84, 84)
    # A file named like a formula stays text: a string literal inside our link.
    cell = sheet.cell(files.index("=cmd.png") + 2, column("file"))
    assert cell.value == '=HYPERLINK("in/=cmd.png","=cmd.png")'
    assert sheet.cell(files.index("=cmd.png") + 2, column("reason")).data_type == "s"
    assert sheet.cell(files.index("broken.png") + 2, column("reason")).value == "unreadable"


def test_workbook_is_ready_for_review(tmp_path: Path) -> None:
    book, report = scan_with_workbook(tmp_path)
    workbook = load_workbook(book)
    sheet = workbook["Review"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    (validation,) = sheet.data_validations.dataValidation
    letter = sheet.cell(1, column(CORRECTED)).column_letter
    assert str(validation.sqref) == f"{letter}2:{letter}{sheet.max_row}"
    assert validation.formula1 == '"0,1,2,3,4,5,6,7,8,9,x"'
    row = [sheet.cell(r, column("file")).value for r in range(1, sheet.max_row + 1)].index(
        '=HYPERLINK("in/digit_00.jpg","digit_00.jpg")'
    )
    assert row > 0  # a link relative to the workbook, with '/' that every spreadsheet follows
    summary = {row[0]: row[1] for row in workbook["Summary"].iter_rows(values_only=True) if row}
    assert summary["rows"] == len(report.results) and summary["flagged for review"] == 7  # type: ignore[attr-defined]


def test_workbook_rows_all_and_its_size(tmp_path: Path) -> None:
    book, report = scan_with_workbook(tmp_path, review_below=0.5, workbook_rows="all")
    sheet = load_workbook(book)["Review"]
    assert sheet.max_row - 1 == len(report.results)  # type: ignore[attr-defined]
    assert sum(not r.needs_review for r in report.results) == 5  # type: ignore[attr-defined]
    assert book.stat().st_size / len(report.results) < 6_000  # type: ignore[attr-defined]


def test_incremental_runs_write_the_workbook_too(tmp_path: Path) -> None:
    book, _ = scan_with_workbook(tmp_path, review_below=0.5)
    first = load_workbook(book)["Review"]
    before = (first.max_row, len(first._images))
    options = ScanOptions(
        folder=tmp_path / "in",
        out=tmp_path / "r.csv",
        workbook=book,
        incremental=True,
        review_below=0.5,
        jobs=1,
    )
    book.unlink()
    report = run_scan(options, classifier=CountingClassifier())
    assert report.summary.reused == 5  # the unflagged files; the flagged ones are read again
    again = load_workbook(book)["Review"]
    assert (again.max_row, len(again._images)) == before


def fill(book: Path, values: dict[str, object]) -> Path:
    """The reviewer's work: type values into corrected_digit, by file."""
    workbook = load_workbook(book)
    sheet = workbook["Review"]
    names = load_workbook(book, data_only=True)["Review"]
    for row in range(2, sheet.max_row + 1):
        name = names.cell(row, column("file")).value
        if name in values:
            sheet.cell(row, column(CORRECTED)).value = values[name]
    reviewed = book.with_name("reviewed.xlsx")
    workbook.save(reviewed)
    return reviewed


def test_a_reviewed_workbook_gives_its_filled_cells_as_labels(tmp_path: Path) -> None:
    book, _ = scan_with_workbook(tmp_path)
    reviewed = fill(
        book, {"digit_00.jpg": 3, "digit_01.png": "7", "=cmd.png": "x", "blank.png": " X "}
    )
    assert read_corrections(reviewed) == [
        Correction("digit_00.jpg", None, 3),
        Correction("digit_01.png", None, 7),
    ]
    bad = fill(book, {"digit_02.jpg": "seven"})
    with pytest.raises(InputError, match=r"Review!K\d+: 'seven' is not a digit 0-9"):
        read_corrections(bad)


def test_corrections_from_csv_and_bad_labels(tmp_path: Path) -> None:
    good = tmp_path / "labels.csv"
    good.write_text("file,label,page\na.png,4,\nform.tif,2,3\nc.png,x,\n", encoding="utf-8")
    assert read_corrections(good) == [Correction("a.png", None, 4), Correction("form.tif", 3, 2)]
    outside = tmp_path / "outside.csv"
    outside.write_text("file,label\na.png,12\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: '12' is not a digit 0-9"):
        read_corrections(outside)
    columns = tmp_path / "columns.csv"
    columns.write_text("name,digit\na.png,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs the columns file and label"):
        read_corrections(columns)


def test_a_workbook_without_the_corrected_column_is_refused(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["file", "digit"])
    workbook.active.append(["a.png", 3])
    workbook.save(tmp_path / "other.xlsx")
    with pytest.raises(InputError, match="no sheet with the columns file and corrected_digit"):
        read_corrections(tmp_path / "other.xlsx")
