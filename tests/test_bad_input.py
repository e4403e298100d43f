"""Whatever people put in the folder: every bad input is a row, the run goes on."""

from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdigits import cli, pipeline
from batchdigits.options import OutputFormat, ScanOptions
from batchdigits.output import read_results
from batchdigits.pipeline import run_scan

from .conftest import CountingClassifier, draw_digit

AWKWARD_NAMES = [
    "with space.png",
    "comma,name.png",
    'quote"name.png',
    "new\nline.png",
    "ünïcødé 数字.png",
    "=cmd.png",
    "+plus.png",
    "-minus.png",
    "@at.png",
]


def png_bytes(digit: str = "7") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(draw_digit(digit)).save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(draw_digit("0")).save(buffer, "JPEG")
    return buffer.getvalue()


def bomb_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + idat + chunk(b"IEND", b"")


def broken_checksum_png() -> bytes:
    data = bytearray(png_bytes())
    data[data.index(b"IDAT") + 10] ^= 0xFF
    return bytes(data)


#: file name -> (needs_review, reason, words the error must contain)
EXPECTED: dict[str, tuple[str, str]] = {
    "zero.png": ("unreadable", "empty file"),
    "truncated.png": ("unreadable", "truncated"),
    "truncated.jpg": ("unreadable", "truncated"),
    "checksum.png": ("unreadable", "corrupt"),
    "text.png": ("unreadable", "not an image"),
    "bomb.png": ("unreadable", "decompression-bomb"),
    "iphone.heic": ("unreadable", "corrupt HEIC/HEIF photo"),
    "damaged.pdf": ("unreadable", "damaged PDF"),
    "tiny_1x1.png": ("blank", ""),
    "white_page.png": ("blank", ""),
}


def make_bad_folder(folder: Path) -> Path:
    folder.mkdir()
    good_png, good_jpeg = png_bytes(), jpeg_bytes()
    (folder / "good.png").write_bytes(good_png)
    (folder / "zero.png").write_bytes(b"")
    (folder / "truncated.png").write_bytes(good_png[: len(good_png) // 2])
    (folder / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (folder / "checksum.png").write_bytes(broken_checksum_png())
    (folder / "text.png").write_text("this is a text file with an image name\n")
    (folder / "bomb.png").write_bytes(bomb_png())
    # The start of an iPhone photo: an ISO box naming the HEIC brand.
    (folder / "iphone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    Image.fromarray(draw_digit("7")).save(folder / "scans.pdf")
    (folder / "damaged.pdf").write_bytes((folder / "scans.pdf").read_bytes()[:300])
    Image.new("L", (1, 1), 0).save(folder / "tiny_1x1.png")
    Image.new("RGB", (800, 600), "white").save(folder / "white_page.png")
    frames = [Image.fromarray(draw_digit(d)) for d in "107"]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=80)
    (folder / "dir.jpg").mkdir()
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    for name in AWKWARD_NAMES:
        (folder / name).write_bytes(good_png)
    return folder


def test_every_bad_input_is_a_row(tmp_path: Path) -> None:
    folder = make_bad_folder(tmp_path / "in")
    report = run_scan(ScanOptions(folder=folder, jobs=1), classifier=CountingClassifier())
    rows = {r.file: r for r in report.results}
    assert set(rows) == {"good.png", "animated.gif", "scans.pdf", *EXPECTED, *AWKWARD_NAMES}
    for name, (reason, error_words) in EXPECTED.items():
        row = rows[name]
        assert row.needs_review and row.reason == reason, name
        assert error_words in row.error if error_words else row.error == "", (name, row.error)
        assert row.digit is None
    # An animated GIF is read as its first frame: one row, a digit.
    assert rows["animated.gif"].digit is not None and not rows["animated.gif"].error
    # A PDF is read page by page.
    assert rows["scans.pdf"].page == 1 and rows["scans.pdf"].digit is not None
    assert report.summary.errors == 8 and report.summary.blank == 2


def test_a_file_named_heic_that_pillow_can_read_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "renamed.heic").write_bytes(png_bytes("1"))
    report = run_scan(ScanOptions(folder=folder, jobs=1), classifier=CountingClassifier())
    (row,) = report.results
    assert row.digit is not None and not row.error


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "locked.png").write_bytes(png_bytes())
    (folder / "fine.png").write_bytes(png_bytes())
    real_open = Image.open

    def denied(path: object, *args: object, **kwargs: object) -> Image.Image:
        if Path(str(path)).name == "locked.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    # Tests often run as root, where chmod 000 does not stop reading.
    monkeypatch.setattr(Image, "open", denied)
    report = run_scan(ScanOptions(folder=folder, jobs=1), classifier=CountingClassifier())
    rows = {r.file: r for r in report.results}
    assert rows["locked.png"].error == "permission denied"
    assert rows["fine.png"].digit is not None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file_for_real(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    locked = folder / "locked.png"
    locked.write_bytes(png_bytes())
    locked.chmod(0)
    report = run_scan(ScanOptions(folder=folder, jobs=1), classifier=CountingClassifier())
    assert report.results[0].error == "permission denied"


def test_file_disappearing_during_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (folder / name).write_bytes(png_bytes())
    real = pipeline.discover_files

    def discover_then_delete(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        found = real(*args, **kwargs)  # type: ignore[arg-type]
        (folder / "b.png").unlink()
        return found

    monkeypatch.setattr(pipeline, "discover_files", discover_then_delete)
    report = run_scan(ScanOptions(folder=folder, jobs=1), classifier=CountingClassifier())
    rows = {r.file: r for r in report.results}
    assert rows["b.png"].error == "file disappeared before it could be read"
    assert rows["a.png"].digit is not None and rows["c.png"].digit is not None


@pytest.mark.parametrize("fmt", [OutputFormat.CSV, OutputFormat.JSONL])
def test_awkward_names_round_trip(tmp_path: Path, fmt: OutputFormat) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in AWKWARD_NAMES:
        (folder / name).write_bytes(png_bytes())
    out = tmp_path / f"r.{fmt.value}"
    run_scan(
        ScanOptions(folder=folder, out=out, format=fmt, jobs=1), classifier=CountingClassifier()
    )
    assert sorted(r["file"] for r in read_results(out, fmt)) == sorted(AWKWARD_NAMES)
    if fmt is OutputFormat.CSV:
        frame = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
        with out.open(encoding="utf-8-sig", newline="") as stream:
            from_csv = [row["file"] for row in csv.DictReader(stream)]
        assert list(frame["file"]) == from_csv
        for name in from_csv:
            assert not name.startswith(("=", "+", "-", "@"))
            original = name[1:] if name.startswith("'") else name
            assert original in AWKWARD_NAMES


@pytest.mark.slow
def test_cli_on_bad_folder_exits_3_with_every_row(tmp_path: Path) -> None:
    folder = make_bad_folder(tmp_path / "in")
    out = tmp_path / "r.csv"
    log = tmp_path / "run.log"
    result = CliRunner().invoke(
        cli.app, ["scan", str(folder), "--out", str(out), "--log-file", str(log)]
    )
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    rows = {r["file"]: r for r in read_results(out, OutputFormat.CSV)}
    assert len(rows) == 3 + len(EXPECTED) + len(AWKWARD_NAMES)  # good.png, the GIF, the PDF
    for name in EXPECTED:
        assert rows[name]["needs_review"] is True
    # Every message about a file names it, on stderr and in the log file.
    for name in ("zero.png", "text.png", "bomb.png"):
        assert f"{name}: " in result.stderr
        assert f"{name}: " in log.read_text(encoding="utf-8")
    quiet = CliRunner().invoke(cli.app, ["scan", str(folder), "--out", str(out), "--quiet"])
    assert quiet.exit_code == 3 and quiet.stderr == ""
