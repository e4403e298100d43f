"""The review workbook: the rows a person should check, with pictures.

``scan --workbook review.xlsx`` writes it in the same run as the CSV, from
pictures made while the pages were decoded. The review sheet shows, for
each flagged row (or every row), the page around the digit, the 28x28
picture the model read, and the row's columns, with an empty
``corrected_digit`` column for the reviewer; ``learn`` reads it back
(:mod:`batchdigits.corrections`). The summary sheet holds the run's counts
and the coverage / error trade-off, with a chart.

XlsxWriter writes it (images, data validation and native charts, in files
Excel and LibreOffice open without repair prompts); every text cell is
written as a string, never a formula, so a file named ``=cmd|...`` cannot
run anything (the file links are formulas of our own, the names in them
quoted string literals).
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .options import WorkbookRows
from .output import atomic_write
from .results import ScanReport, ScanResult
from .thumbnails import READING_ZOOM, THUMBNAIL_SIDE, reading_png

REVIEW_SHEET = "Review"
SUMMARY_SHEET = "Summary"
#: The reviewer's column; ``learn`` finds it by this header.
CORRECTED = "corrected_digit"
#: The reviewer's column in a ``scan --numbers`` workbook (``evaluate --numbers``).
CORRECTED_NUMBER = "corrected_number"
#: A number's digits are shown at this zoom (a digit's is READING_ZOOM).
NUMBER_ZOOM = 2
#: What a reviewer may type there: the right digit, or x for "not a digit / skip".
CORRECTION_CHOICES = [*map(str, range(10)), "x"]
#: Thresholds of the trade-off table and chart.
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999)
#: Excel's limit on a string in a formula; longer names are written as plain text.
MAX_FORMULA_STRING = 255
_PADDING = 4  # pixels between a picture and its cell's edges


@dataclass(frozen=True)
class Column:
    """One column of the review sheet: its header, width (characters), and the
    row record key it shows (None for the pictures and the reviewer's column)."""

    header: str
    width: float
    key: str | None = None


def _width(pixels: int) -> float:
    """Excel's column width (characters of the default font) that shows ``pixels``."""
    return round((pixels + 2 * _PADDING - 5) / 7, 1)


REVIEW_COLUMNS = (
    Column("scan", _width(THUMBNAIL_SIDE)),
    Column("model_saw", _width(28 * READING_ZOOM)),
    Column("file", 30, "file"),
    Column("page", 6, "page"),
    Column("digit", 7, "digit"),
    Column("confidence", 11, "confidence"),
    Column("runner_up", 10, "runner_up"),
    Column("runner_up_confidence", 11, "runner_up_confidence"),
    Column("reason", 15, "reason"),
    Column("error", 40, "error"),
    Column(CORRECTED, 16),
)
NUMBER_REVIEW_COLUMNS = (
    Column("scan", _width(THUMBNAIL_SIDE)),
    Column("model_saw", _width(28 * NUMBER_ZOOM * 6)),
    Column("file", 30, "file"),
    Column("page", 6, "page"),
    Column("number", 12, "number"),
    Column("confidence", 11, "confidence"),
    Column("digit_confidences", 22, "digit_confidences"),
    Column("reason", 15, "reason"),
    Column("error", 40, "error"),
    Column(CORRECTED_NUMBER, 18),
)


def write_workbook(
    path: Path, report: ScanReport, *, folder: Path, rows: WorkbookRows = WorkbookRows.FLAGGED
) -> None:
    """Write the review workbook for ``report`` to ``path``, atomically."""
    import xlsxwriter

    shown = [r for r in report.results if rows is WorkbookRows.ALL or r.needs_review]
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    book.set_properties({"title": "batchdigits review", "comments": f"batchdigits {__version__}"})
    _review_sheet(book, report, shown, folder=folder, workbook=path)
    _summary_sheet(book, report, shown=len(shown), rows=rows)
    book.close()
    data = buffer.getvalue()
    atomic_write(path, lambda stream: stream.write(data))


def _review_sheet(
    book: Any, report: ScanReport, shown: list[ScanResult], *, folder: Path, workbook: Path
) -> None:
    sheet = book.add_worksheet(REVIEW_SHEET)
    columns = NUMBER_REVIEW_COLUMNS if report.numbers else REVIEW_COLUMNS
    corrected_header = CORRECTED_NUMBER if report.numbers else CORRECTED
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "valign": "top"})
    cell = book.add_format({"valign": "vcenter"})
    wrapped = book.add_format({"valign": "vcenter", "text_wrap": True})
    fraction = book.add_format({"valign": "vcenter", "num_format": "0.000"})
    link = book.add_format({"valign": "vcenter", "font_color": "blue", "underline": 1})
    corrected = book.add_format(
        {"valign": "vcenter", "align": "center", "bold": True, "bg_color": "#FFF2CC", "border": 1}
    )
    if report.numbers:
        corrected.set_num_format("@")  # text: a typed 0012 keeps its zeros
    longest = max((len(r.file) for r in shown), default=10)
    for index, column in enumerate(columns):
        width = min(60, max(column.width, longest + 2)) if column.key == "file" else column.width
        sheet.set_column(index, index, max(width, len(column.header) + 2))
        sheet.write_string(0, index, column.header, header)
    row_height = (THUMBNAIL_SIDE + 2 * _PADDING) * 0.75  # points
    root = folder.resolve()
    base = workbook.resolve().parent
    for number, result in enumerate(shown, start=1):
        sheet.set_row(number, row_height)
        pictures = report.pictures.get(result.key)
        record = result.to_record()
        for index, column in enumerate(columns):
            if column.header == "scan" and pictures is not None and pictures.thumbnail:
                _picture(sheet, number, index, pictures.thumbnail, f"scan{number}.jpg")
            elif column.header == "model_saw" and pictures is not None:
                if pictures.reading is not None:
                    zoom = NUMBER_ZOOM if report.numbers else READING_ZOOM
                    if pictures.reading.shape[1] * zoom > 28 * NUMBER_ZOOM * 6:
                        zoom = 1  # the string model's whole strip: as wide as its column
                    data = reading_png(pictures.reading, zoom)
                    _picture(sheet, number, index, data, f"read{number}.png")
            elif column.header == corrected_header:
                sheet.write_blank(number, index, None, corrected)
            elif column.key == "file":
                _file_link(sheet, number, index, result.file, root, base, link, cell)
            elif column.key is not None:
                value = record[column.key]
                if value is None:
                    sheet.write_blank(number, index, None, cell)
                elif isinstance(value, str):
                    sheet.write_string(number, index, value, wrapped)
                elif isinstance(value, float):
                    sheet.write_number(number, index, value, fraction)
                else:
                    sheet.write_number(number, index, value, cell)
    last = max(1, len(shown))
    column = [c.header for c in columns].index(corrected_header)
    if report.numbers:
        _number_validation(sheet, last, column)
    else:
        _digit_validation(sheet, last, column)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, last, len(columns) - 1)
    # Printed (or saved as PDF) the sheet keeps each row whole on one page width.
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(0)
    sheet.activate()


def _number_validation(sheet: Any, last: int, column: int) -> None:
    from xlsxwriter.utility import xl_rowcol_to_cell

    first = xl_rowcol_to_cell(1, column)
    sheet.data_validation(
        1,
        column,
        last,
        column,
        {
            "validate": "custom",
            "value": f'=OR({first}="x",ISNUMBER(-{first}))',
            "ignore_blank": True,
            "input_title": "The right number",
            "input_message": "Type the digits written here (leading zeros kept), or x to skip it.",
            "error_title": "Not a number",
            "error_message": "Type the digits only (no separators), or x to skip it.",
        },
    )


def _digit_validation(sheet: Any, last: int, column: int) -> None:
    sheet.data_validation(
        1,
        column,
        last,
        column,
        {
            "validate": "list",
            "source": CORRECTION_CHOICES,
            "ignore_blank": True,
            "input_title": "The right digit",
            "input_message": "Type the digit written here, 0-9, or x if it is not a digit.",
            "error_title": "Not a digit",
            "error_message": "Type a digit 0-9, or x for 'not a digit / skip'.",
        },
    )


def _picture(sheet: Any, row: int, column: int, data: bytes, name: str) -> None:
    sheet.insert_image(
        row,
        column,
        name,
        {
            "image_data": io.BytesIO(data),
            "x_offset": _PADDING,
            "y_offset": _PADDING,
            "object_position": 1,  # moves and sizes with its cell: filters hide it with the row
        },
    )


def _file_link(
    sheet: Any, row: int, column: int, file: str, root: Path, base: Path, link: Any, plain: Any
) -> None:
    """The file's name, linked to the file relative to the workbook (so the link
    still works when the workbook and the scans move together).

    A HYPERLINK formula rather than a hyperlink record: XlsxWriter writes a
    record's path with Windows separators, which LibreOffice elsewhere cannot
    follow. The names go in as string literals (quotes doubled), and the
    cell's cached value is the name, which is what ``learn`` reads back.
    """
    target = Path(os.path.relpath(root / file, base)).as_posix()
    if max(len(target), len(file)) > MAX_FORMULA_STRING:
        sheet.write_string(row, column, file, plain)
        return
    formula = f'=HYPERLINK("{_literal(target)}","{_literal(file)}")'
    sheet.write_formula(row, column, formula, link, file)


def _literal(text: str) -> str:
    return text.replace('"', '""')


_LINK = re.compile(r'^=HYPERLINK\("(?:[^"]|"")*","((?:[^"]|"")*)"\)$')


def file_of_cell(value: object) -> str | None:
    """The file a review sheet's ``file`` cell names: the text of our link
    formula (whether or not the saving program cached its value), or the text."""
    if value is None:
        return None
    text = str(value)
    match = _LINK.match(text)
    return match.group(1).replace('""', '"') if match else text


def _summary_sheet(book: Any, report: ScanReport, *, shown: int, rows: WorkbookRows) -> None:
    sheet = book.add_worksheet(SUMMARY_SHEET)
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    fine = book.add_format({"num_format": "0.00%"})
    current = book.add_format({"bold": True, "bg_color": "#FFF2CC"})
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 3, 22)
    sheet.set_landscape()
    sheet.fit_to_pages(1, 1)
    summary = report.summary
    facts: list[tuple[str, object]] = [
        ("files", summary.files),
        ("rows", summary.rows),
        ("flagged for review", summary.flagged),
        ("errors (unreadable)", summary.errors),
        ("blank pages", summary.blank),
        ("files reused (--incremental)", summary.reused),
        ("rows in the review sheet", f"{shown} ({rows.value})"),
        ("review threshold (--review-below)", report.review_below),
        ("model", report.model_id),
        ("started (UTC)", report.started.isoformat(timespec="seconds")),
        ("finished (UTC)", report.finished.isoformat(timespec="seconds")),
        ("run time (seconds)", round(summary.seconds, 1)),
        ("batchdigits", __version__),
    ]
    sheet.write_string(0, 0, "This run", bold)
    for index, (name, value) in enumerate(facts, start=1):
        sheet.write_string(index, 0, name)
        if isinstance(value, str):
            sheet.write_string(index, 1, value)
        else:
            sheet.write_number(index, 1, value)  # type: ignore[arg-type]

    top = len(facts) + 2
    sheet.write_string(top, 0, "Review threshold trade-off", bold)
    sheet.write_string(
        top + 1,
        0,
        "Expected error: the mean of (1 - confidence) over the rows not flagged; "
        "confidences are calibrated, so it estimates how often those rows are wrong.",
    )
    head = top + 2
    for index, name in enumerate(("threshold", "rows not flagged", "expected error")):
        sheet.write_string(head, index, name, bold)
    confidences = np.array([r.confidence for r in report.results if r.confidence is not None])
    points = trade_off(confidences, report.review_below)
    for offset, (threshold, coverage, error) in enumerate(points, start=1):
        style = current if threshold == report.review_below else None
        sheet.write_number(head + offset, 0, threshold, style)
        sheet.write_number(head + offset, 1, coverage, percent)
        sheet.write_number(head + offset, 2, error, fine)
    if len(points) > 1:
        first, last = head + 1, head + len(points)
        chart = book.add_chart({"type": "scatter", "subtype": "straight_with_markers"})
        chart.add_series(
            {
                "name": "expected error among rows not flagged",
                "categories": [SUMMARY_SHEET, first, 1, last, 1],
                "values": [SUMMARY_SHEET, first, 2, last, 2],
            }
        )
        chart.set_title({"name": "Rows a person need not check, and what that costs"})
        chart.set_x_axis({"name": "share of rows not flagged", "num_format": "0%", "max": 1})
        chart.set_y_axis({"name": "expected error", "num_format": "0.0%"})
        chart.set_legend({"none": True})
        chart.set_size({"width": 620, "height": 340})
        sheet.insert_chart(head, 4, chart)


def trade_off(confidences: np.ndarray, review_below: float) -> list[tuple[float, float, float]]:
    """(threshold, share of read rows not flagged, expected error among those) for
    each threshold of :data:`THRESHOLDS` and the run's own."""
    thresholds = sorted({*THRESHOLDS, review_below})
    points = []
    for threshold in thresholds:
        kept = confidences[confidences >= threshold]
        coverage = len(kept) / len(confidences) if len(confidences) else 0.0
        error = float(np.mean(1.0 - kept)) if len(kept) else 0.0
        points.append((threshold, coverage, error))
    return points
