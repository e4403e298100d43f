"""The scan pipeline with a counting stand-in model: batching, rows, errors, order."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batchdigits import pipeline
from batchdigits.errors import InputError, NoImagesError, OutputError
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan
from batchdigits.preprocess import mnist_readings
from batchdigits.results import COLUMNS

from .conftest import CountingClassifier, draw_digit, seven_with_a_skip, write_digit_folder


def scan(folder: Path, classifier: CountingClassifier, **options: object):  # type: ignore[no-untyped-def]
    options.setdefault("jobs", 1)
    return run_scan(ScanOptions(folder=folder, **options), classifier=classifier)  # type: ignore[arg-type]


def test_one_model_call_per_batch(tmp_path: Path, counting_classifier: CountingClassifier) -> None:
    write_digit_folder(tmp_path / "in", count=10)
    report = scan(tmp_path / "in", counting_classifier, batch_size=4)
    assert counting_classifier.batch_sizes == [4, 4, 2]
    assert report.summary.files == 10 and len(report.results) == 10


def test_rows_are_sorted_relative_paths_with_slashes(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    folder = tmp_path / "in"
    write_digit_folder(folder / "b" / "deeper", count=2)
    write_digit_folder(folder / "a", count=2)
    report = scan(folder, counting_classifier)
    files = [r.file for r in report.results]
    assert files == [
        "a/digit_00.jpg",
        "a/digit_01.png",
        "b/deeper/digit_00.jpg",
        "b/deeper/digit_01.png",
    ]


def test_parallel_workers_give_the_same_rows(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    write_digit_folder(tmp_path / "in", count=40)
    serial = scan(tmp_path / "in", counting_classifier, jobs=1)
    parallel = scan(tmp_path / "in", CountingClassifier(), jobs=2)
    assert [r.to_record() for r in serial.results] == [r.to_record() for r in parallel.results]


def test_bad_files_become_rows_and_the_run_goes_on(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    folder = tmp_path / "in"
    write_digit_folder(folder, count=3)
    (folder / "broken.png").write_bytes(b"not a png at all")
    (folder / "empty.jpg").write_bytes(b"")
    Image.new("L", (300, 200), 250).save(folder / "blank.png")
    report = scan(folder, counting_classifier)
    rows = {r.file: r for r in report.results}
    assert len(rows) == 6
    assert rows["broken.png"].error and rows["broken.png"].reason == "unreadable"
    assert rows["empty.jpg"].error == "empty file (0 bytes)"
    blank = rows["blank.png"]
    assert blank.reason == "blank" and not blank.error and blank.digit is None
    for row in (rows["broken.png"], rows["empty.jpg"], blank):
        assert row.needs_review and row.confidence is None
    assert report.summary.errors == 2 and report.summary.blank == 1


def test_review_threshold(tmp_path: Path, counting_classifier: CountingClassifier) -> None:
    write_digit_folder(tmp_path / "in", count=3)
    # The fake model is 91.7% sure of every digit.
    relaxed = scan(tmp_path / "in", counting_classifier, review_below=0.9)
    strict = scan(tmp_path / "in", counting_classifier, review_below=0.95)
    assert not any(r.needs_review for r in relaxed.results)
    assert all(r.needs_review and r.reason == "low_confidence" for r in strict.results)
    assert all(r.runner_up is not None and r.runner_up != r.digit for r in strict.results)


def test_multipage_tiff_gives_a_row_per_page(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pages = [Image.fromarray(draw_digit(d)) for d in "017"]
    pages[0].save(folder / "form.tif", save_all=True, append_images=pages[1:])
    report = scan(folder, counting_classifier)
    assert [(r.file, r.page) for r in report.results] == [("form.tif", n) for n in (1, 2, 3)]


def test_crashing_decoder_costs_one_row(
    tmp_path: Path, counting_classifier: CountingClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_digit_folder(tmp_path / "in", count=3)
    real = pipeline.iter_pages

    def flaky(path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
        if path.name == "digit_01.png":
            raise RuntimeError("decoder exploded")
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "iter_pages", flaky)
    report = scan(tmp_path / "in", counting_classifier)
    errors = {r.file: r.error for r in report.results if r.error}
    assert errors == {"digit_01.png": "decoder failed: RuntimeError: decoder exploded"}


def test_output_file_is_not_scanned_and_is_written_once(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    folder = tmp_path / "in"
    write_digit_folder(folder, count=2)
    out = folder / "results.csv"
    scan(folder, counting_classifier, out=out)
    scan(folder, counting_classifier, out=out)
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["file"] for row in rows] == ["digit_00.jpg", "digit_01.png"]
    assert not [p for p in folder.iterdir() if p.name.endswith((".tmp", ".lock"))]
    manifest = json.loads((folder / "results.csv.manifest.json").read_text())
    assert manifest["counts"]["files"] == 2 and manifest["model_id"] == "fake-model"


def test_api_returns_dataframe_with_csv_columns(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    write_digit_folder(tmp_path / "in", count=3)
    frame = scan(tmp_path / "in", counting_classifier).to_frame()
    assert list(frame.columns) == list(COLUMNS)
    assert str(frame["digit"].dtype) == "Int64" and frame["needs_review"].dtype == bool
    assert len(frame) == 3


def test_missing_folder_and_empty_folder(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    with pytest.raises(InputError, match="not found"):
        scan(tmp_path / "nope", counting_classifier)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(NoImagesError):
        scan(tmp_path / "empty", counting_classifier)


def test_refuses_to_write_over_an_image(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    paths = write_digit_folder(tmp_path / "in", count=2)
    before = paths[1].read_bytes()
    with pytest.raises(OutputError, match="image"):
        scan(tmp_path / "in", counting_classifier, out=paths[1])
    assert paths[1].read_bytes() == before


def test_small_digit_in_a_big_jpeg_is_read_at_full_size(
    tmp_path: Path, counting_classifier: CountingClassifier
) -> None:
    """Big JPEGs are decoded at reduced size for speed; a digit that does not
    survive the reduction must send the file back to a full-size decode."""
    import numpy as np

    from batchdigits.load import load_pages

    folder = tmp_path / "in"
    folder.mkdir()
    page = np.full((2400, 3000), 240, np.uint8)
    page[1100:1118, 1400:1418] = draw_digit("7", size=(18, 18), box=(3, 2, 15, 16), stroke=2)
    Image.fromarray(page).save(folder / "photo.jpg", quality=92)
    assert load_pages(folder / "photo.jpg")[0].reduced
    report = scan(folder, counting_classifier)
    (row,) = report.results
    assert row.error == "" and row.digit is not None


class ReadingClassifier:
    """Reads 7 from the whole-page reading of the skipped 7, 1 from anything
    else, with the confidences given; records what it was asked."""

    model_id = "fake-readings"

    def __init__(self, whole_page: np.ndarray, first: float, second: float) -> None:
        self.whole_page, self.first, self.second = whole_page, first, second
        self.batch_sizes: list[int] = []

    def predict(self, images: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(images))
        probabilities = np.zeros((len(images), 10))
        for row, image in enumerate(images):
            digit, confidence = (
                (7, self.second) if np.array_equal(image, self.whole_page) else (1, self.first)
            )
            probabilities[row] = (1 - confidence) / 9
            probabilities[row, digit] = confidence
        return probabilities


@pytest.mark.parametrize(
    ("first", "second", "asks_again", "digit"),
    [
        (0.6, 0.99, True, 7),  # unsure, and surer of the whole page: take it
        (0.6, 0.5, True, 1),  # unsure, but less sure of the whole page: keep the first
        (0.97, 0.99, False, 1),  # sure of the first reading: never asks again
    ],
)
def test_an_unsure_reading_is_checked_against_the_whole_page(
    tmp_path: Path, first: float, second: float, asks_again: bool, digit: int
) -> None:
    page, whole = seven_with_a_skip()
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(page).save(folder / "a_skipped.png")
    Image.fromarray(whole).save(folder / "b_whole.png")
    _, whole_page = mnist_readings(page)
    assert whole_page is not None
    classifier = ReadingClassifier(whole_page, first, second)
    report = scan(folder, classifier)  # type: ignore[arg-type]
    skipped, intact = report.results
    assert classifier.batch_sizes == ([2, 1] if asks_again else [2])
    assert skipped.digit == digit
    assert skipped.confidence == pytest.approx(max(first, second) if asks_again else first)
    assert intact.digit == 1 and intact.confidence == pytest.approx(first)
