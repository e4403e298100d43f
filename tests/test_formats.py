"""What scanners and phones save: PDF pages and HEIC photos, generated here."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdigits import cli
from batchdigits.discover import discover_files
from batchdigits.load import UnreadableImage, iter_pages, load_pages
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan

from .conftest import SAMPLE_SCANS, CountingClassifier, draw_digit

pypdf = pytest.importorskip("pypdf", reason="pypdf (a test dependency) writes encrypted PDFs")


def labelled_scans(count: int) -> list[tuple[Path, int]]:
    """The first ``count`` sample scans with different labels."""
    with (SAMPLE_SCANS / "labels.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    chosen: dict[int, Path] = {}
    for row in rows:
        chosen.setdefault(int(row["label"]), SAMPLE_SCANS / row["file"])
    return [(path, label) for label, path in list(chosen.items())[:count]]


def scanned_pdf(path: Path, pages: list[Image.Image], dpi: float = 200) -> Path:
    """A PDF as a scanner saves it: one image per page, at ``dpi``."""
    pages = [page.convert("L") for page in pages]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=dpi)
    return path


def page_without_pages() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    body, offsets = b"%PDF-1.4\n", []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


def test_a_scanned_pdf_page_renders_at_its_image_resolution(tmp_path: Path) -> None:
    page = Image.fromarray(draw_digit("7", size=(900, 700)))
    path = scanned_pdf(tmp_path / "scan.pdf", [page], dpi=150)
    [loaded] = load_pages(path)
    assert loaded.number == 1
    assert abs(loaded.pixels.shape[0] - 900) <= 2 and abs(loaded.pixels.shape[1] - 700) <= 2
    # The same ink where the scanner put it.
    rendered = loaded.pixels[:900, :700].astype(int)
    assert np.mean(np.abs(rendered - np.asarray(page, dtype=int))) < 4


def test_pdf_render_respects_the_pixel_limit(tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "big.pdf", [Image.fromarray(draw_digit("1", size=(2000, 1600)))])
    [loaded] = load_pages(path, max_pixels=400_000)
    assert loaded.pixels.size <= 400_000 and loaded.pixels.size > 300_000


def test_pdf_pages_are_decoded_one_at_a_time(tmp_path: Path) -> None:
    pages = [Image.fromarray(draw_digit(d)) for d in "017"]
    path = scanned_pdf(tmp_path / "three.pdf", pages)
    iterator = iter_pages(path)
    first = next(iterator)
    assert first.number == 1
    assert [page.number for page in iterator] == [2, 3]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("encrypted.pdf", "encrypted PDF: a password is needed"),
        ("damaged.pdf", "damaged PDF"),
        ("empty.pdf", "PDF, or one with no pages"),
    ],
)
def test_pdfs_that_cannot_be_read_say_why(tmp_path: Path, name: str, words: str) -> None:
    good = scanned_pdf(tmp_path / "good.pdf", [Image.fromarray(draw_digit("1"))])
    path = tmp_path / name
    if name == "encrypted.pdf":
        writer = pypdf.PdfWriter(clone_from=good)
        writer.encrypt("secret")
        writer.write(path)
    elif name == "damaged.pdf":
        path.write_bytes(good.read_bytes()[:400] + b"\x00garbage" * 20)
    else:
        path.write_bytes(page_without_pages())
    with pytest.raises(UnreadableImage, match=words):
        load_pages(path)


def test_a_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    """Print/copy restrictions do not stop a viewer from showing the page."""
    good = scanned_pdf(tmp_path / "good.pdf", [Image.fromarray(draw_digit("1"))])
    writer = pypdf.PdfWriter(clone_from=good)
    writer.encrypt("", "owner-only")
    writer.write(tmp_path / "restricted.pdf")
    assert len(load_pages(tmp_path / "restricted.pdf")) == 1


def heic_photo(path: Path, upright: Image.Image) -> Path:
    """A phone photo: stored on its side, with EXIF saying how to turn it upright."""
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise to show
    upright.convert("RGB").rotate(90, expand=True).save(path, exif=exif.tobytes(), quality=92)
    return path


def test_a_heic_photo_is_read_upright(tmp_path: Path) -> None:
    upright = Image.fromarray(draw_digit("7", size=(240, 180)))
    [loaded] = load_pages(heic_photo(tmp_path / "IMG_0001.HEIC", upright))
    assert loaded.pixels.shape == (240, 180)
    assert np.mean(np.abs(loaded.pixels.astype(int) - np.asarray(upright, dtype=int))) < 6


def test_include_pattern_selects_pdfs(tmp_path: Path) -> None:
    scanned_pdf(tmp_path / "a.pdf", [Image.fromarray(draw_digit("1"))])
    Image.fromarray(draw_digit("1")).save(tmp_path / "b.png")
    found = discover_files(tmp_path, include=("*.pdf",))
    assert [f.relative for f in found.files] == ["a.pdf"]


def test_a_mixed_folder_gives_a_row_per_page(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pages = [Image.fromarray(draw_digit(d)) for d in "0171"]
    scanned_pdf(folder / "batch.pdf", pages)
    writer = pypdf.PdfWriter(clone_from=folder / "batch.pdf")
    writer.encrypt("secret")
    writer.write(folder / "locked.pdf")
    heic_photo(folder / "photo.heic", pages[2])
    pages[1].save(folder / "plain.png")
    report = run_scan(ScanOptions(folder=folder, jobs=2), classifier=CountingClassifier())
    rows = [(r.file, r.page, r.digit is not None, bool(r.error)) for r in report.results]
    assert rows == [
        ("batch.pdf", 1, True, False),
        ("batch.pdf", 2, True, False),
        ("batch.pdf", 3, True, False),
        ("batch.pdf", 4, True, False),
        ("locked.pdf", None, False, True),
        ("photo.heic", None, True, False),
        ("plain.png", None, True, False),
    ]


@pytest.mark.slow
def test_scanned_pdf_and_heic_photo_give_the_right_digits(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    scans = labelled_scans(4)
    scanned_pdf(folder / "three pages.pdf", [Image.open(path) for path, _ in scans[:3]], dpi=300)
    photo, label = scans[3]
    heic_photo(folder / "IMG_0042.HEIC", Image.open(photo))
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(cli.app, ["scan", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = [(r["file"], r["page"], r["digit"]) for r in csv.DictReader(stream)]
    assert rows == [
        ("IMG_0042.HEIC", "", str(label)),
        *[
            ("three pages.pdf", str(page), str(digit))
            for page, (_, digit) in enumerate(scans[:3], 1)
        ],
    ]


def test_max_pixels_option_reaches_the_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchdigits import load, pipeline

    assert cli.MAX_PIXELS == load.MAX_PIXELS  # the CLI's default is the library's
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(draw_digit("1", size=(600, 500))).save(folder / "big.png")
    out = tmp_path / "r.csv"
    monkeypatch.setattr(pipeline, "DigitClassifier", lambda ref, threads: CountingClassifier())
    args = ["scan", str(folder), "--out", str(out), "--max-pixels", "100000", "--jobs", "1"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 3, result.output
    with out.open(encoding="utf-8-sig", newline="") as stream:
        (row,) = list(csv.DictReader(stream))
    assert "over the 100,000 limit" in row["error"]
