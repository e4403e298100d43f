"""scan --numbers: segmentation, reading, rows, CSV text cells, evaluate, workbook."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage
from typer.testing import CliRunner

from batchdigits.api import scan_report
from batchdigits.cli import app
from batchdigits.corrections import read_number_labels
from batchdigits.ctc import BLANK, StringReading, decode
from batchdigits.evaluate import edit_distance, evaluate_numbers_results
from batchdigits.numbers import SURE_SPLIT, NumberReading, combine, number_row, read_number
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan
from batchdigits.results import NUMBER_COLUMNS, ScanResult
from batchdigits.review import DEFAULT_REVIEW_BELOW
from batchdigits.segment import Segmentation, field_lines, remove_field_lines, segment_number
from batchdigits.segment.pieces import find_pieces, number_ink
from batchdigits.strings import STEPS

from .conftest import CountingClassifier


def draw_number(
    digits: str,
    *,
    gap: int = 40,
    stroke: int = 8,
    height: int = 110,
    underline: bool = False,
    comb: bool = False,
) -> np.ndarray:
    """A field with '0', '1' and '7's drawn as pen strokes, left to right."""
    width = 70
    page_width = 60 + len(digits) * (width + gap)
    image = Image.new("L", (page_width, height + 80), 240)
    draw = ImageDraw.Draw(image)
    left, top, bottom = 30, 40, 40 + height
    for digit in digits:
        right = left + width
        if digit == "0":
            draw.ellipse((left, top, right, bottom), outline=20, width=stroke)
        elif digit == "1":
            middle = (left + right) / 2
            draw.line((middle, top, middle, bottom), fill=20, width=stroke)
            draw.line((middle, top, middle - 25, top + 25), fill=20, width=stroke)
        elif digit == "7":
            draw.line((left, top, right, top), fill=20, width=stroke)
            draw.line((right, top, left + width * 0.3, bottom), fill=20, width=stroke)
        if comb:
            draw.rectangle((left - gap // 2, top - 15, right + gap // 2, bottom + 15), outline=90)
        left = right + gap
    if underline:
        draw.line((10, bottom + 8, page_width - 10, bottom + 8), fill=20, width=4)
    return np.asarray(image, dtype=np.uint8)


def write_numbers(folder: Path, numbers: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, page in numbers.items():
        Image.fromarray(page).save(folder / name)


def test_segmentation_proposes_each_digit_and_finds_none_on_a_blank_page() -> None:
    segmentation = segment_number(draw_number("1707"))
    assert segmentation is not None
    singles = [span for span in segmentation.spans if span[1] - span[0] == 1]
    assert segmentation.count == 4 and len(singles) == 4
    assert segment_number(np.full((120, 400), 235, dtype=np.uint8)) is None


def test_field_lines_go_and_the_digits_stay() -> None:
    """An underline and a comb field's boxes are printed lines, not ink of the
    number; the 1 inside a box is not a box line."""
    for page in (draw_number("171", underline=True), draw_number("1717", comb=True)):
        ink = page < 128
        cleaned = remove_field_lines(ink)
        assert cleaned.sum() < ink.sum()
        segmentation = segment_number(page)
        assert segmentation is not None
        singles = [span for span in segmentation.spans if span[1] - span[0] == 1]
        assert len(singles) == (3 if page.shape[1] < 400 else 4)


def test_a_skewed_underline_goes_and_the_digits_stay() -> None:
    """A field's line scanned askew (a slope of 1 in 20) is still a line:
    all of it goes, and none of the digits above it."""
    page = Image.fromarray(draw_number("1707"))
    draw = ImageDraw.Draw(page)
    width, height = page.size
    draw.line((10, height - 30, width - 10, height - 30 - 0.05 * (width - 20)), fill=20, width=3)
    ink = np.asarray(page) < 128
    drawn = Image.new("L", page.size, 0)
    ImageDraw.Draw(drawn).line(
        (10, height - 30, width - 10, height - 30 - 0.05 * (width - 20)), fill=255, width=3
    )
    line = np.asarray(drawn) > 0
    found = field_lines(ink)
    assert found[line].mean() > 0.9
    digits = ink & ~ndimage.binary_dilation(line, iterations=3)
    assert found[digits].mean() < 0.02


def test_a_box_side_at_a_corner_goes_though_the_other_line_is_broken() -> None:
    """A cheque's box printed faint: the threshold keeps its top line and
    breaks the bottom one into dashes. Its sides still meet the top line at
    its ends, corners, so they go and are not read as 1s; a 1 joined to the
    bar of the 7 beside it meets a line-like stroke at its end too, but a
    bar about as long as the 1 is no box's side, and the 1 stays."""
    page = draw_number("707")
    image = Image.fromarray(page)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 12, 20, page.shape[1] - 12, 40 + 110 + 20
    draw.line((left, top, right, top), fill=60, width=2)
    for x in (left, right):
        draw.line((x, top, x, bottom), fill=60, width=2)
    for x in range(left, right, 14):
        draw.line((x, bottom, x + 6, bottom), fill=60, width=2)
    boxed = np.asarray(image)
    lines = field_lines(boxed < 128)
    assert lines[top + 10 : bottom - 10, left - 1 : left + 2].any(axis=1).mean() > 0.9
    assert lines[top + 10 : bottom - 10, right - 1 : right + 2].any(axis=1).mean() > 0.9
    found = segment_number(boxed.astype(np.float32))
    assert found is not None and found.count == 3

    joined = Image.new("L", (300, 190), 240)
    draw = ImageDraw.Draw(joined)
    draw.line((60, 40, 60, 150), fill=20, width=8)  # the 1
    draw.line((60, 40, 200, 40), fill=20, width=8)  # the 7's bar, touching it
    draw.line((200, 40, 140, 150), fill=20, width=8)
    ink = np.asarray(joined) < 128
    assert not field_lines(ink)[60:140, 55:66].any()


def _segmentation(spans: list[tuple[int, int]], count: int, sizes: list[float]) -> Segmentation:
    """Candidates of a digit's usual shape (20 tall, 14 wide in MNIST form)."""
    images = np.zeros((len(spans), 28, 28), np.uint8)
    images[:, 4:24, 7:21] = 255
    return Segmentation(
        count=count,
        spans=spans,
        images=images,
        priors=np.zeros(len(spans)),
        cuts=np.zeros(count + 1),
        sizes=np.array(sizes),
        box=None,
    )


def _sure(digit: int, p: float = 0.999) -> np.ndarray:
    row = np.full(10, (1 - p) / 9)
    row[digit] = p
    return row


def _row(reading: NumberReading | None) -> ScanResult:
    return number_row(
        file="a.png",
        page=None,
        error="",
        reading=reading,
        model_id="m",
        review_below=DEFAULT_REVIEW_BELOW,
        file_size=1,
        file_mtime_ns=1,
    )


def test_a_doubtful_split_lowers_the_confidence_and_says_why() -> None:
    """Two pieces read as 1 and 7 with the same sureness: when the split
    model also finds them plausible joined (as a 4), the number is less sure
    than when it does not, and is flagged as uncertain_split rather than
    read as sure; when the split is clear it is not flagged."""
    segmentation = _segmentation([(0, 1), (1, 2), (0, 2)], 2, [1.0, 1.0])
    probabilities = np.stack([_sure(1), _sure(7), _sure(4)])
    doubtful = read_number(segmentation, probabilities, np.array([0.6, 0.6, 0.5]))
    sure = read_number(segmentation, probabilities, np.array([0.999, 0.999, 0.001]))
    assert doubtful is not None and sure is not None and sure.number == "17"
    assert doubtful.split_confidence < SURE_SPLIT <= sure.split_confidence
    assert doubtful.confidence < sure.confidence
    row = _row(doubtful)
    assert row.needs_review and row.reason == "uncertain_split"
    assert not _row(sure).needs_review


def string_reading(digits: str, sure: list[float]) -> StringReading:
    """The string model's reading of frames that hold ``digits``, each on two
    frames at probability ``sure[i]`` (the rest on the blank), blanks between."""
    probabilities = np.full((STEPS, BLANK + 1), 1e-6)
    probabilities[:, BLANK] = 1.0
    for index, (digit, chance) in enumerate(zip(digits, sure, strict=True)):
        for step in (4 * index + 1, 4 * index + 2):
            probabilities[step, BLANK] = 1 - chance
            probabilities[step, int(digit)] = chance
    return decode(np.log(probabilities)[None])[0]


def test_the_string_model_scores_any_reading_over_every_alignment() -> None:
    """log_likelihood is CTC's: the log of the summed probability of every
    frame path that collapses to the digits (checked against enumerating
    all 11**4 paths of four frames)."""
    from itertools import product

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, BLANK + 1))
    frames = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    reading = StringReading("", 0.0, (), frames)
    totals: dict[str, float] = {}
    for path in product(range(BLANK + 1), repeat=4):
        digits, previous = "", None
        for label in path:
            if label != BLANK and label != previous:
                digits += str(label)
            previous = label
        chance = float(np.exp(sum(frames[step, label] for step, label in enumerate(path))))
        totals[digits] = totals.get(digits, 0.0) + chance
    for digits, total in totals.items():
        assert reading.log_likelihood(digits) == pytest.approx(np.log(total), abs=1e-9)
    assert reading.log_likelihood("12345") == -np.inf  # five digits cannot fit four frames


def test_the_string_model_reads_its_likeliest_number_not_its_likeliest_path() -> None:
    """A faint digit spread over three frames, each more blank than digit, is
    on most of the frames' paths: the number read holds it (the single
    likeliest path, all blanks there, would drop it), at its best frame's
    probability, and the number's chance is summed over its alignments."""
    probabilities = np.full((STEPS, BLANK + 1), 1e-6)
    probabilities[:, BLANK] = 1.0
    for step, digit, chance in [
        (1, 1, 0.95),
        (5, 2, 0.95),
        (9, 3, 0.4),
        (10, 3, 0.4),
        (11, 3, 0.4),
    ]:
        probabilities[step, BLANK] = 1 - chance
        probabilities[step, digit] = chance
    reading = decode(np.log(probabilities)[None])[0]
    assert reading.digits == "123"
    assert reading.digit_probabilities == pytest.approx((0.95, 0.95, 0.4), abs=1e-4)
    assert np.log(reading.probability) == pytest.approx(reading.log_likelihood("123"), abs=1e-4)
    assert reading.log_likelihood("123") > reading.log_likelihood("12") + 1.0


def test_the_string_model_is_weighed_against_the_segmenting_reading() -> None:
    """Where the two readers agree the number is surer than where they do
    not; where they differ the reading more likely right is taken, and a
    number only the string model could read is still a row."""
    segmentation = _segmentation([(0, 1), (1, 2), (0, 2)], 2, [1.0, 1.0])
    probabilities = np.stack([_sure(1, 0.9), _sure(7, 0.9), _sure(4, 0.2)])
    reading = read_number(segmentation, probabilities, np.array([0.9, 0.9, 0.1]))
    assert reading is not None and reading.number == "17"
    agreed = combine(reading, string_reading("17", [0.95, 0.95]))
    # The string model's third digit is barely there (on two frames, each more
    # blank than digit): its frames fit "17" nearly as well.
    differed = combine(reading, string_reading("171", [0.95, 0.95, 0.3]))
    assert agreed is not None and differed is not None
    assert agreed.agreed and not differed.agreed
    assert agreed.confidence > differed.confidence
    assert differed.number == "17"
    taken = combine(reading, string_reading("171", [0.9999, 0.9999, 0.9999]))
    assert taken is not None and taken.number == "171"
    assert taken.digit_confidences == pytest.approx((0.9999,) * 3, abs=1e-4)
    alone = combine(None, string_reading("42", [0.9, 0.9]))
    assert alone is not None and alone.number == "42"
    assert combine(None, string_reading("", [])) is None


def test_a_mark_the_split_model_rejects_is_left_out() -> None:
    """A currency sign before the number reads as some digit to the digit
    model; the split model says it is no digit, and the number goes without it."""
    segmentation = _segmentation([(0, 1), (1, 2), (2, 3)], 3, [1.1, 1.0, 1.0])
    probabilities = np.stack([_sure(8, 0.9), _sure(4), _sure(2)])
    whole = np.array([0.0005, 0.999, 0.999])
    reading = read_number(segmentation, probabilities, whole)
    assert reading is not None and reading.number == "42"


def test_a_doubtful_piece_is_left_out_more_readily_at_either_end_than_inside() -> None:
    """Marks stand mostly before or after a number (a currency sign, a tick):
    a piece most of a digit tall that the split model doubts is left out at
    the number's start, while the same piece between two digits is read."""
    doubtful, sure = _sure(8, 0.75), _sure(4)
    at_start = _segmentation([(0, 1), (1, 2), (2, 3)], 3, [0.75, 1.0, 1.0])
    reading = read_number(
        at_start, np.stack([doubtful, sure, _sure(2)]), np.array([0.03, 0.999, 0.999])
    )
    assert reading is not None and reading.number == "42"
    inside = _segmentation([(0, 1), (1, 2), (2, 3)], 3, [1.0, 0.75, 1.0])
    reading = read_number(
        inside, np.stack([sure, doubtful, _sure(2)]), np.array([0.999, 0.03, 0.999])
    )
    assert reading is not None and reading.number == "482"


def test_numbers_rows_keep_leading_zeros_in_csv_api_and_incremental_runs(tmp_path: Path) -> None:
    folder = tmp_path / "fields"
    write_numbers(
        folder,
        {"a.png": draw_number("0170"), "b.png": draw_number("71"), "blank.png": draw_number("")},
    )
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "numbers.csv"
    fake = CountingClassifier()
    report = run_scan(ScanOptions(folder=folder, out=out, numbers=True), classifier=fake)
    frame = report.to_frame()
    assert list(frame.columns[:4]) == ["file", "number", "confidence", "needs_review"]
    rows = {row.file: row for row in frame.itertuples()}
    assert rows["blank.png"].reason == "blank" and pd.isna(rows["blank.png"].number)
    assert rows["broken.png"].reason == "unreadable" and rows["broken.png"].error
    assert len(rows["a.png"].number) == rows["a.png"].digit_count == 4
    assert len(rows["a.png"].digit_confidences.split(";")) == 4
    with out.open(encoding="utf-8-sig", newline="") as stream:
        cells = {row["file"]: row for row in csv.DictReader(stream)}
    assert cells["a.png"]["number"] == f'="{rows["a.png"].number}"'
    assert cells["blank.png"]["number"] == ""

    calls = len(fake.batch_sizes)
    again = run_scan(
        ScanOptions(folder=folder, out=out, numbers=True, incremental=True), classifier=fake
    )
    assert len(fake.batch_sizes) == calls  # nothing read again: the rows were reused
    assert again.to_frame().equals(frame)

    plain = tmp_path / "plain.csv"
    run_scan(
        ScanOptions(folder=folder, out=plain, numbers=True, csv_protection=False),
        classifier=CountingClassifier(),
    )
    with plain.open(encoding="utf-8-sig", newline="") as stream:
        assert {r["file"]: r["number"] for r in csv.DictReader(stream)}["a.png"] == rows[
            "a.png"
        ].number


def test_a_digit_scan_output_is_not_reused_by_a_numbers_scan(tmp_path: Path) -> None:
    folder = tmp_path / "fields"
    write_numbers(folder, {"a.png": draw_number("10")})
    out = tmp_path / "out.csv"
    run_scan(ScanOptions(folder=folder, out=out), classifier=CountingClassifier())
    report = run_scan(
        ScanOptions(folder=folder, out=out, numbers=True, incremental=True),
        classifier=CountingClassifier(),
    )
    assert report.summary.reused == 0 and report.results[0].numbers


def test_evaluate_numbers_counts_strings_digits_and_unflagged_errors() -> None:
    def row(file: str, number: str | None, confidence: float) -> ScanResult:
        return ScanResult(
            file=file,
            page=None,
            digit=None,
            confidence=confidence,
            runner_up=None,
            runner_up_confidence=None,
            needs_review=confidence < 0.9,
            reason="",
            error="",
            model_id="m",
            file_size=1,
            file_mtime_ns=1,
            numbers=True,
            number=number,
        )

    results = [row("a", "0012", 0.99), row("b", "512", 0.95), row("c", "77", 0.5)]
    evaluation = evaluate_numbers_results(
        results,
        {"a": "0012", "b": "5112", "c": "77"},
        review_below=0.9,
    )
    assert evaluation.accuracy == pytest.approx(2 / 3)
    assert evaluation.digit_accuracy == pytest.approx((1 + 0.75 + 1) / 3)
    assert evaluation.coverage == pytest.approx(2 / 3)
    assert evaluation.unflagged_error == pytest.approx(0.5)
    assert evaluation.per_length == {2: (1, 1), 4: (1, 2)}
    assert edit_distance("5112", "512") == 1


def test_number_labels_keep_leading_zeros_and_refuse_what_is_not_digits(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text('file,label\na.png,0012\nb.png,="007"\nc.png,x\n', encoding="utf-8")
    assert {(c.file, c.label) for c in read_number_labels(labels)} == {
        ("a.png", "0012"),
        ("b.png", "007"),
    }
    labels.write_text("file,label\na.png,12.5\n", encoding="utf-8")
    with pytest.raises(Exception, match="not a number written as digits"):
        read_number_labels(labels)


def test_the_numbers_workbook_has_a_text_column_for_corrections(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    folder = tmp_path / "fields"
    write_numbers(folder, {"a.png": draw_number("0170")})
    book = tmp_path / "review.xlsx"
    run_scan(
        ScanOptions(folder=folder, numbers=True, workbook=book, workbook_rows="all"),
        classifier=CountingClassifier(),
    )
    workbook = load_workbook(book)
    sheet = workbook["Review"]
    header = [cell.value for cell in sheet[1]]
    assert "number" in header and "corrected_number" in header
    number = sheet.cell(2, header.index("number") + 1).value
    assert isinstance(number, str) and len(number) == 4
    assert sheet.cell(2, header.index("corrected_number") + 1).number_format == "@"
    sheet.cell(2, header.index("corrected_number") + 1).value = "0170"
    workbook.save(book)
    assert [(c.file, c.label) for c in read_number_labels(book)] == [("a.png", "0170")]


@pytest.mark.slow
def test_scan_numbers_reads_drawn_numbers_with_the_shipped_models(tmp_path: Path) -> None:
    """The whole path: CLI, segmentation, the digit and split models, the CSV,
    and evaluate --numbers on the same folder."""
    folder = tmp_path / "fields"
    expected = {"a.png": "1707", "b.png": "0710", "c.png": "71", "d.png": "100"}
    pages = {name: draw_number(digits) for name, digits in expected.items()}
    pages["e.png"] = draw_number("7170", underline=True)
    expected["e.png"] = "7170"
    # A lone 7: its bar spans most of the ink's width, yet is no field line.
    pages["f.png"] = draw_number("7")
    expected["f.png"] = "7"
    write_numbers(folder, pages)
    out = tmp_path / "numbers.csv"
    result = CliRunner().invoke(app, ["scan", str(folder), "--numbers", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as stream:
        read = {row["file"]: row["number"] for row in csv.DictReader(stream)}
    assert read == {name: f'="{digits}"' for name, digits in expected.items()}

    labels = tmp_path / "labels.csv"
    labels.write_text(
        "file,label\n" + "".join(f"{n},{d}\n" for n, d in expected.items()), encoding="utf-8"
    )
    result = CliRunner().invoke(
        app, ["evaluate", str(folder), "--labels", str(labels), "--numbers", "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert '"accuracy": 1.0' in result.output


def test_api_scan_numbers_returns_the_same_columns(tmp_path: Path) -> None:
    folder = tmp_path / "fields"
    write_numbers(folder, {"a.png": draw_number("10")})
    report = scan_report(folder, numbers=True, jobs=1)
    assert report.numbers
    assert list(report.to_frame().columns) == list(NUMBER_COLUMNS)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["splits", "strings"])
def test_train_helper_models_and_scan_uses_them(
    kind: str, mnist_path: Path, isolated_model_home: Path, tmp_path: Path
) -> None:
    """'train --splits' / '--strings' (a tiny subset, one epoch) writes the
    model, its LiteRT twin and its metadata to the user model folder, and
    scan --numbers reads with it (on the twin) from then on."""
    result = CliRunner().invoke(
        app,
        ["train", f"--{kind}", "--data", str(mnist_path), "--limit", "20", "--epochs", "1", "-q"],
    )
    assert result.exit_code == 0, result.output
    trained = list(isolated_model_home.rglob(f"{kind}.keras"))
    assert len(trained) == 1
    metadata = trained[0].with_suffix(".json").read_text(encoding="utf-8")
    assert '"training_numbers": 20' in metadata
    folder = tmp_path / "fields"
    write_numbers(folder, {"a.png": draw_number("10")})
    report = scan_report(folder, numbers=True, jobs=1)
    from batchdigits.model import ModelRef, open_helper_network, read_metadata

    trained_ref = ModelRef(trained[0], "user", read_metadata(trained[0]))
    assert trained_ref.model_id in report.model_id
    assert open_helper_network(trained_ref).runtime == "litert"


def test_the_string_model_sees_a_faint_digits_fragments_that_the_pieces_leave_out() -> None:
    """A faint 1 broken at the threshold into short dashes: each dash alone is
    a mark, so no piece holds it, but the string model's strip keeps them
    between the digits they stand among (it reads the number whole). Dust
    stays out of both."""
    mask = np.zeros((60, 160), dtype=bool)
    mask[10:50, 10:16] = mask[10:16, 10:40] = mask[44:50, 10:40] = True  # a broad digit
    mask[10:50, 110:116] = mask[10:16, 110:140] = True  # another
    for top in (10, 24, 38):  # the faint 1 between them: three dashes
        mask[top : top + 9, 74:76] = True
    mask[30:32, 92:94] = True  # dust
    pieces, height = find_pieces(mask)
    assert len(pieces) == 2 and height == 40
    ink = number_ink(mask, pieces, height)
    assert ink.shape == (40, 130)  # the pieces' box
    assert ink[:, 64:66].sum() == 3 * 9 * 2  # the dashes, at column 74 of the picture
    assert ink.sum() == sum(p.mask.sum() for p in pieces) + 3 * 9 * 2


def test_training_numbers_are_the_same_however_many_workers_compose_them() -> None:
    """The string model's fresh numbers each epoch are composed in parallel;
    a recipe reproduces only if the numbers depend on the seed alone. Each
    target holds 2-8 digits, padded with -1, and each strip holds ink."""
    from batchdigits.strings import COMPOSE_CHUNK, MOST_DIGITS, string_examples

    digits = np.zeros((10, 28, 28), np.uint8)
    for label in range(10):
        for bar in range(label + 1):
            digits[label, 4:24, 3 + 2 * bar] = 255
    labels = np.arange(10, dtype=np.uint8)
    numbers = COMPOSE_CHUNK + 30  # more than one chunk
    alone = string_examples(digits, labels, numbers, seed=5, jobs=1)
    shared = string_examples(digits, labels, numbers, seed=5, jobs=2)
    assert np.array_equal(alone[0], shared[0]) and np.array_equal(alone[1], shared[1])
    strips, targets = alone
    counts = (targets >= 0).sum(axis=1)
    assert counts.min() >= 2 and counts.max() <= MOST_DIGITS
    assert all(
        (row[:n] >= 0).all() and (row[n:] == -1).all()
        for row, n in zip(targets, counts, strict=True)
    )
    assert (strips.reshape(numbers, -1).max(axis=1) > 0).all()
    other = string_examples(digits, labels, numbers, seed=6, jobs=1)
    assert not np.array_equal(other[1], targets)


def test_a_number_half_in_shadow_keeps_the_digits_in_the_shadow() -> None:
    """Light falling off across a field (a dark left half, as under a hand's
    shadow) must be evened out, not taken for a negative: otherwise the
    bright half looks like a sheet on a dark table and the digits in the
    shadow are cropped away. A true negative is left to the page stages."""
    from batchdigits.segment import flatten_paper

    page = draw_number("170710", gap=16, stroke=7).astype(np.float32)
    width = page.shape[1]
    light = np.clip((np.arange(width) - 0.3 * width) / (0.25 * width), 0.0, 1.0)
    shaded = page * (0.27 + 0.73 * light)[None, :]
    found = segment_number(shaded)
    assert found is not None and found.count >= 6
    assert found.box is not None and found.box[1] < 0.1 * width  # the leftmost 1 is in
    negative = 255.0 - page
    assert np.array_equal(flatten_paper(negative), negative)


def test_a_row_of_straight_strokes_is_not_a_comb_without_its_line() -> None:
    """Evenly spaced 1s of one height are what a comb field's ticks look
    like, but ticks stand on the comb's printed line: without one, they are
    digits and stay. With the line, the ticks still go."""
    ones = draw_number("1111", gap=30)
    assert not field_lines(ones < 128).any()
    found = segment_number(ones.astype(np.float32))
    assert found is not None and found.count == 4
    comb = draw_number("1111", gap=30, comb=True)
    assert field_lines(comb < 128).any()


def test_a_stroke_leaning_like_a_slash_is_a_digit_at_either_end_only() -> None:
    """Between digits, a stroke leaning well over is a date's slash and is
    left out of the pieces (the string model still sees it in its strip).
    At either end of the number there is nothing for a slash to separate:
    there it is a 1 written fast (``51`` was read ``5``), and a piece."""
    page = Image.new("L", (420, 100), 0)
    draw = ImageDraw.Draw(page)
    draw.line((20, 85, 84, 15), fill=255, width=5)  # a leaning 1 first (about 42 degrees)
    draw.ellipse((110, 15, 160, 85), outline=255, width=5)  # 0
    draw.line((185, 85, 249, 15), fill=255, width=5)  # a slash between digits
    draw.ellipse((275, 15, 325, 85), outline=255, width=5)  # 0
    draw.line((345, 85, 409, 15), fill=255, width=5)  # and a leaning 1 last
    mask = np.asarray(page) > 0
    pieces, height = find_pieces(mask)
    lefts = [piece.left for piece in pieces]
    assert len(pieces) == 4 and lefts[0] < 25 and lefts[-1] > 340
    assert not any(180 <= left <= 250 for left in lefts)
    ink = number_ink(mask, pieces, height)
    assert ink.shape[1] >= 385 and ink.sum() == mask.sum()  # the strip holds all five


def test_a_digit_written_fainter_than_its_number_is_found_again() -> None:
    """A thin 1 in a lighter pen than the 8s beside it falls under the
    field's threshold; it is found again (for the string model), while
    printed strokes at its level all over the field (a security hatch) are
    the paper's texture, not writing."""
    from batchdigits.preprocess.ink import smooth_ink
    from batchdigits.segment.faint import faint_strokes

    page = Image.new("L", (260, 100), 0)
    draw = ImageDraw.Draw(page)
    for left in (20, 90):
        draw.ellipse((left, 15, left + 45, 50), outline=200, width=6)
        draw.ellipse((left, 50, left + 45, 85), outline=200, width=6)
    draw.line((190, 15, 190, 85), fill=70, width=4)  # the faint 1
    ink = np.asarray(page, dtype=np.float32)
    mask = smooth_ink(ink) > 110
    assert not mask[:, 180:200].any()
    found = faint_strokes(ink, mask, (15, 86), 70.0)
    assert found[:, 185:196].any() and not found[:, :170].any()
    hatch = np.zeros_like(ink)
    for left in range(4, 256, 12):  # printed strokes at the 1's level, all over the field
        hatch[20:80, left : left + 4] = 70
    found = faint_strokes(np.maximum(ink, hatch), mask, (15, 86), 70.0)
    assert not found.any()


def test_a_faded_digit_broken_into_dashes_is_found_again() -> None:
    """A 1 at a third of the field's threshold whose strokes faded into
    dashes (each far shorter than a digit) is one faint digit for the
    string model; the same dashes spread over the field as a printed
    pattern are not."""
    from batchdigits.preprocess.ink import smooth_ink
    from batchdigits.segment.faint import faint_strokes

    page = Image.new("L", (260, 100), 0)
    draw = ImageDraw.Draw(page)
    for left in (20, 90):
        draw.ellipse((left, 15, left + 45, 50), outline=200, width=6)
        draw.ellipse((left, 50, left + 45, 85), outline=200, width=6)
    for top in (15, 38, 61):  # the 1, in three dashes with gaps between
        draw.line((190, top, 190, top + 18), fill=45, width=4)
    ink = np.asarray(page, dtype=np.float32)
    mask = smooth_ink(ink) > 110
    found = faint_strokes(ink, mask, (15, 86), 70.0)
    rows = np.flatnonzero(found[:, 185:196].any(axis=1))
    assert rows.size and rows[-1] - rows[0] >= 60 and not found[:, :170].any()
    scattered = np.asarray(page, dtype=np.float32).copy()
    scattered[:, 180:200] = 0
    for left, top in ((175, 10), (215, 40), (240, 70)):  # the dashes apart
        scattered[top : top + 18, left : left + 4] = 45
    assert not faint_strokes(scattered, mask, (15, 86), 70.0).any()


def test_a_last_digit_broken_into_fragments_reaches_the_strip() -> None:
    """An 8 at the end of the number that faded into three fragments, none
    as tall as a digit alone, is still ink beside the number: the string
    model's strip holds it, so that the readers do not agree on the number
    without its last digit."""
    page = Image.new("L", (330, 100), 0)
    draw = ImageDraw.Draw(page)
    for left in (20, 90, 160):
        draw.ellipse((left, 15, left + 45, 85), outline=255, width=6)  # 0s
    draw.line((234, 16, 244, 34), fill=255, width=5)  # the 8's top, leaning
    draw.ellipse((250, 38, 266, 54), fill=255)  # its middle, a blob
    draw.line((262, 64, 286, 64), fill=255, width=5)  # its bottom, a dash
    mask = np.asarray(page) > 0
    pieces, height = find_pieces(mask)
    assert max(piece.right for piece in pieces) < 220  # each fragment alone is a mark
    ink = number_ink(mask, pieces, height)
    assert ink.shape[1] >= 286 - 20 and ink.sum() == mask.sum()


def test_a_tall_leaning_1_is_a_digit_and_a_slash_through_the_band_is_not() -> None:
    """In slanted writing whose baseline drifts, a 1 leaning with the
    writing can stand taller than the digits at one end; only a stroke
    reaching beyond their band at both ends is a date's slash."""
    page = Image.new("L", (360, 110), 0)
    draw = ImageDraw.Draw(page)
    draw.ellipse((20, 25, 70, 85), outline=255, width=5)  # 0, band 25-85
    draw.line((105, 85, 130, 8), fill=255, width=5)  # a 1, taller above only (18 degrees)
    draw.ellipse((150, 25, 200, 85), outline=255, width=5)  # 0
    draw.line((225, 100, 260, 10), fill=255, width=5)  # a slash, above and below (21 degrees)
    draw.ellipse((280, 25, 330, 85), outline=255, width=5)  # 0
    pieces, _ = find_pieces(np.asarray(page) > 0)
    lefts = [piece.left for piece in pieces]
    assert len(pieces) == 4 and any(100 <= left <= 106 for left in lefts)
    assert not any(215 <= left <= 230 for left in lefts)


def _teeth(page: np.ndarray, digits: int, height: int, gap: int) -> tuple[np.ndarray, list[int]]:
    """``draw_number``'s page with a comb under its digits: a printed base
    line with short, thin teeth between the boxes; and the teeth's columns."""
    image = Image.fromarray(page)
    draw = ImageDraw.Draw(image)
    base = 40 + height + 12
    xs = [30 - gap // 2 + i * (70 + gap) for i in range(digits + 1)]
    draw.line((xs[0], base, xs[-1], base), fill=60, width=2)
    for x in xs:
        draw.line((x, base - height // 3, x, base), fill=60, width=2)
    return np.asarray(image), xs


def test_a_combs_short_teeth_go_but_digits_standing_on_an_underline_stay() -> None:
    """A comb's teeth are often a third of the digits' height or less: they
    stand on its line, thin and evenly spaced, and go, so that no tooth is
    read as a 1. The feet of digits written on a thick underline stand on it
    too, evenly spaced, but they are pen strokes, thicker than a printed
    tooth, and stay."""
    comb, xs = _teeth(draw_number("707", gap=40), 3, 110, 40)
    lines = field_lines(comb < 128)
    assert all(lines[150:160, x - 1 : x + 2].any() for x in xs)
    found = segment_number(comb.astype(np.float32))
    assert found is not None and found.count == 3
    ones = draw_number("1111", gap=40)
    draw = ImageDraw.Draw(image := Image.fromarray(ones))
    draw.line((10, 40 + 110, ones.shape[1] - 10, 40 + 110), fill=20, width=10)
    ones = np.asarray(image)
    cleaned = remove_field_lines(ones < 128)
    for x in (30 + 35 + i * 110 for i in range(4)):
        assert (
            cleaned[60:130, x - 2 : x + 3].sum() > 0.8 * (ones[60:130, x - 2 : x + 3] < 128).sum()
        )


def test_a_piece_the_refined_crop_cuts_through_is_left_out() -> None:
    """The refined reading crops around the number; a piece reaching the
    crop's cut edge is a part of something beside the number (the bar of a
    cheque's $, which alone reads as a 1), so it is left out of the pieces
    and of the string model's ink. At an edge of the original picture, it
    stays: that edge cut nothing."""
    from batchdigits.preprocess.reading import Ink
    from batchdigits.segment import _whole_pieces
    from batchdigits.segment.pieces import Piece

    mask = np.zeros((40, 100), dtype=bool)
    mask[5:35, 0:3] = True  # the bar at the left edge
    mask[5:35, 20:40] = True  # a digit
    found = Ink(mask, mask.astype(np.float32), 1.0, 0, 0)
    pieces = [Piece(mask[5:35, 0:3].copy(), 5, 0), Piece(mask[5:35, 20:40].copy(), 5, 20)]
    kept = _whole_pieces(pieces, mask.copy(), found, 100, (False, False))
    assert len(kept) == 2
    cleaned = mask.copy()
    kept = _whole_pieces(pieces, cleaned, found, 100, (True, False))
    assert [piece.left for piece in kept] == [20]
    assert not cleaned[:, 0:3].any() and np.array_equal(cleaned[:, 20:40], mask[:, 20:40])


def test_a_digit_the_refined_crop_would_cut_is_read_whole() -> None:
    """A small number is read again from a crop around the pieces found at
    the working size; a digit in a lighter pen beside them is often missed
    there. The crop grows over such a digit instead of cutting through it
    (and then leaving the cut part out): ``7209`` was read ``209``."""
    from batchdigits.segment import _refine

    page = Image.new("L", (600, 200), 255)
    draw = ImageDraw.Draw(page)
    draw.ellipse((100, 60, 150, 140), outline=0, width=6)  # the 0 the first pass found
    draw.line((170, 140, 260, 62), fill=0, width=6)  # a 1 leaning out to the right
    gray = np.asarray(page, dtype=np.float32)
    again = _refine(gray, (60, 100, 141, 151), 1.0)
    assert again is not None and again.box is not None
    assert again.count >= 2 and again.box[3] >= 255


def test_a_small_light_last_digit_the_refined_crop_would_cut_reaches_the_strip() -> None:
    """A number's last digit written smaller and lighter than the rest is no
    piece, so the crop around the pieces for the refined reading cut
    through it, and both readers agreed on the number without it (``114``
    read ``11`` at 0.99). The crop grows over ink that runs into its right
    edge in the digits' rows, and the string model sees the digit."""

    def strip_width(last: bool) -> int:
        page = Image.new("L", (200, 60), 235)
        draw = ImageDraw.Draw(page)
        for left in (20, 52):
            draw.ellipse((left, 14, left + 20, 46), outline=20, width=4)  # bold 0s
        if last:
            draw.ellipse((91, 28, 101, 46), outline=150, width=2)  # a small light 0
        segmentation = segment_number(np.asarray(page, dtype=np.float32))
        assert segmentation is not None and segmentation.strip is not None
        inked = np.flatnonzero(segmentation.strip.max(axis=0) > 0)
        return int(inked[-1] - inked[0])

    assert strip_width(True) > 1.4 * strip_width(False)


def _with_tick(page: np.ndarray, left: int, top: int, size: int, stroke: int = 7) -> np.ndarray:
    """``page`` with a check mark drawn after the number: a short arm down to
    the low point, a long one up and to the right."""
    image = Image.fromarray(page)
    low = (left + size * 0.3, top + size)
    ImageDraw.Draw(image).line(
        (left, top + size * 0.55, *low, left + size * 0.75, top), fill=20, width=stroke
    )
    return np.asarray(image)


def test_a_tick_after_the_number_is_no_digit_for_either_reader() -> None:
    """A tick after a checked amount reads as a 1 to the digit model (``17``
    was read ``171``). Standing last, it is left out of the pieces and of the
    string model's strip; a 1 or a 7 standing last, and a tick-like stroke
    before the last digit, stay."""
    number = draw_number("707", underline=True)
    page = _with_tick(number, left=number.shape[1] - 10, top=50, size=100)
    page = np.pad(page, ((0, 0), (0, 120)), constant_values=240)
    page[:, number.shape[1] - 10 :] = _with_tick(
        np.full((page.shape[0], 130), 240, np.uint8), left=10, top=50, size=100
    )
    mask = remove_field_lines(page < 128)
    pieces, height = find_pieces(mask)
    assert len(pieces) == 3 and max(p.right for p in pieces) < number.shape[1]
    ink = number_ink(mask, pieces, height)
    assert ink.sum() < mask.sum() and ink.shape[1] < number.shape[1]
    for digits in ("701", "017", "710"):  # what reads like a tick but is a digit
        pieces, _ = find_pieces(draw_number(digits) < 128)
        assert len(pieces) == 3, digits
    ticked_middle = draw_number("7 0", gap=40)
    ticked_middle = _with_tick(ticked_middle, left=145, top=50, size=100)
    pieces, _ = find_pieces(ticked_middle < 128)
    assert len(pieces) == 3  # a tick is left out only where the number ends


def test_digits_that_stand_last_are_not_taken_for_ticks(mnist_path: Path) -> None:
    """The tick test asks for what no digit has: a digit standing last in a
    number that it took for a tick would be dropped. Of MNIST's 10,000 test
    digits it takes one (an open 4 written like a tick), never a 1 or a 7."""
    from batchdigits.preprocess.shapes import bbox
    from batchdigits.segment.marks import is_tick

    with np.load(mnist_path) as data:
        images, labels = data["x_test"], data["y_test"]
    taken = []
    for image, label in zip(images, labels, strict=True):
        ink = image >= 128
        ink = np.kron(ink[bbox(ink)], np.ones((3, 3), bool))  # digits tens of pixels tall
        if is_tick(ink):
            taken.append(int(label))
    assert len(taken) <= 3 and not {1, 7} & set(taken), taken


def test_ticks_drawn_another_way_are_found() -> None:
    """The tick test is not fitted to the numbers benchmark's one tick: it
    finds ticks drawn with other arm lengths, angles and pens."""
    from batchdigits.preprocess.shapes import bbox
    from batchdigits.segment.marks import is_tick

    rng = np.random.default_rng(3)
    found = 0
    for _ in range(100):
        size = int(rng.integers(30, 90))
        page = Image.new("L", (2 * size, 2 * size), 0)
        low = (0.5 * size, 1.5 * size)
        short, long = rng.uniform(0.25, 0.5) * size, rng.uniform(0.8, 1.1) * size
        left, right = np.radians(rng.uniform(20, 50)), np.radians(rng.uniform(25, 50))
        arms = (low[0] - short * np.sin(left), low[1] - short * np.cos(left))
        arms += (*low, low[0] + long * np.sin(right), low[1] - long * np.cos(right))
        pen = max(1, int(size * rng.uniform(0.05, 0.12)))
        ImageDraw.Draw(page).line(arms, fill=255, width=pen, joint="curve")
        ink = np.asarray(page) > 0
        found += is_tick(ink[bbox(ink)])
    assert found >= 95
