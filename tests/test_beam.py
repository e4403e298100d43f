"""The Beam pipeline: the same rows as scan, on Beam's local runner."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdigits import cli
from batchdigits.model import shipped_model_path
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan

from .conftest import draw_digit, write_digit_folder

beam = pytest.importorskip(
    "apache_beam", reason="Apache Beam is an extra: pip install 'batchdigits[beam]'"
)
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # noqa: E402
from apache_beam.testing.util import assert_that, equal_to  # noqa: E402

from batchdigits.beam import ScanFiles, input_pattern, relative_to  # noqa: E402

pytestmark = pytest.mark.slow


def mixed_folder(folder: Path) -> Path:
    write_digit_folder(folder, count=5)
    (folder / "sub").mkdir()
    pages = [Image.fromarray(draw_digit(d)) for d in "107"]
    pages[0].save(folder / "sub" / "form.tif", save_all=True, append_images=pages[1:])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    Image.new("L", (300, 200), 245).save(folder / "blank.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes((folder / "blank.png").read_bytes())
    return folder


def comparable(row) -> tuple:  # type: ignore[no-untyped-def]
    """What must agree between scan and Beam (confidences to 3 places: the
    model's batches differ, and with them the last bits of its arithmetic)."""
    return (
        row.file,
        row.page,
        row.digit,
        None if row.confidence is None else round(row.confidence, 3),
        row.needs_review,
        row.reason,
        row.error,
        row.runner_up,
        row.model_id,
        row.file_size,
        row.file_mtime_ns,
    )


def test_scan_files_gives_the_rows_scan_gives(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path / "in")
    expected = [comparable(r) for r in run_scan(ScanOptions(folder=folder, jobs=1)).results]
    assert len(expected) == 10  # 5 digits, 3 pages, a broken file, a blank page
    with BeamTestPipeline(argv=["--runner=FnApiRunner"]) as pipeline:
        rows = pipeline | ScanFiles(str(folder), str(shipped_model_path()), batch_size=4)
        assert_that(rows | beam.Map(comparable), equal_to(expected))


def test_include_exclude_and_globs_select_as_scan_does(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path / "in")
    options = ScanOptions(folder=folder, jobs=1, include=("*.tif", "*.png"), exclude=("broken*",))
    expected = [comparable(r) for r in run_scan(options).results]
    with BeamTestPipeline(argv=["--runner=FnApiRunner"]) as pipeline:
        rows = pipeline | ScanFiles(
            str(folder),
            str(shipped_model_path()),
            include=("*.tif", "*.png"),
            exclude=("broken*",),
        )
        assert_that(rows | beam.Map(comparable), equal_to(expected))
    assert input_pattern(f"{folder}/sub/*.tif") == (f"{folder}/sub/*.tif", f"{folder}/sub")
    assert input_pattern("gs://bucket/scans/") == ("gs://bucket/scans/**", "gs://bucket/scans")
    assert relative_to("gs://bucket/scans/a/b.png", "gs://bucket/scans") == "a/b.png"


def test_beam_command_writes_csv_shards_with_scan_columns(tmp_path: Path) -> None:
    folder = mixed_folder(tmp_path / "in")
    out = tmp_path / "out" / "rows"
    result = CliRunner().invoke(cli.app, ["beam", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    shards = sorted(out.parent.glob("rows-*-of-*.csv"))
    assert shards
    rows = []
    for shard in shards:
        text = shard.read_text(encoding="utf-8-sig")
        rows += list(csv.DictReader(io.StringIO(text)))
    scan_csv = tmp_path / "scan.csv"
    assert CliRunner().invoke(cli.app, ["scan", str(folder), "--out", str(scan_csv)]).exit_code == 3
    with scan_csv.open(encoding="utf-8-sig", newline="") as stream:
        expected = list(csv.DictReader(stream))
    assert list(rows[0]) == list(expected[0])  # the same columns, in the same order

    def key(row: dict[str, str]) -> tuple[str, ...]:
        return (row["file"], row["page"], row["digit"], row["needs_review"], row["reason"])

    assert sorted(map(key, rows)) == sorted(map(key, expected))


def numbers_folder(folder: Path) -> Path:
    """Numbers as fields, a blank field and a broken file: every kind of
    ``scan --numbers`` row."""
    from .test_numbers import draw_number

    folder.mkdir(parents=True)
    for name, digits in (("a.png", "1707"), ("b.png", "70"), ("c.png", "17"), ("d.png", "100")):
        Image.fromarray(draw_number(digits)).save(folder / name)
    Image.new("L", (400, 180), 240).save(folder / "blank.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return folder


def test_scan_files_reads_numbers_as_scan_numbers_does(tmp_path: Path) -> None:
    """With ``numbers``, the pipeline gives ``scan --numbers``' rows: the same
    numbers, digits' confidences, flags, reasons and errors, and a model id
    naming all four models."""
    folder = numbers_folder(tmp_path / "in")

    def same(row) -> tuple:  # type: ignore[no-untyped-def]
        return (
            row.file,
            row.number,
            None if row.confidence is None else round(row.confidence, 3),
            tuple(round(c, 3) for c in row.digit_confidences),
            row.needs_review,
            row.reason,
            row.error,
            row.model_id,
        )

    scanned = run_scan(ScanOptions(folder=folder, numbers=True, jobs=1)).results
    expected = [same(r) for r in scanned]
    assert {r.number for r in scanned} >= {"1707", "70", "17", "100"}
    assert {r.reason for r in scanned} >= {"blank", "unreadable"}
    assert all(r.model_id.count("+") == 3 for r in scanned)
    with BeamTestPipeline(argv=["--runner=FnApiRunner"]) as pipeline:
        rows = pipeline | ScanFiles(
            str(folder), str(shipped_model_path()), batch_size=32, numbers=True
        )
        assert_that(rows | beam.Map(same), equal_to(expected))


def test_beam_numbers_command_writes_scan_numbers_columns(tmp_path: Path) -> None:
    folder = numbers_folder(tmp_path / "in")
    out = tmp_path / "out" / "rows"
    result = CliRunner().invoke(cli.app, ["beam", str(folder), "--out", str(out), "--numbers"])
    assert result.exit_code == 0, result.output
    rows = []
    for shard in sorted(out.parent.glob("rows-*-of-*.csv")):
        rows += list(csv.DictReader(io.StringIO(shard.read_text(encoding="utf-8-sig"))))
    scan_csv = tmp_path / "scan.csv"
    scanned = CliRunner().invoke(
        cli.app, ["scan", str(folder), "--out", str(scan_csv), "--numbers"]
    )
    assert scanned.exit_code == 3, scanned.output
    with scan_csv.open(encoding="utf-8-sig", newline="") as stream:
        expected = list(csv.DictReader(stream))
    assert list(rows[0]) == list(expected[0])  # the same columns, in the same order

    def key(row: dict[str, str]) -> tuple[str, ...]:
        return (row["file"], row["number"], row["needs_review"], row["reason"])

    assert sorted(map(key, rows)) == sorted(map(key, expected))
    assert any(row["number"] == '="1707"' for row in rows)  # kept as text in a spreadsheet


def test_beam_command_refuses_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli.app, ["beam", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and "folder not found" in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_remote_model_is_fetched_with_its_twin_and_second_opinion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model on a bucket is copied to the worker with everything its
    metadata names, so it reads as it does locally (same id, same runtime)."""
    from batchdigits import beam as beam_module
    from batchdigits.model import DigitClassifier, shipped_model_ref

    folder = shipped_model_path().parent
    fetched: list[str] = []

    class Bucket:
        """gs://bucket/models/NAME is the shipped model folder's NAME."""

        @staticmethod
        def exists(path: str) -> bool:
            return (folder / path.removeprefix("gs://bucket/models/")).is_file()

        @staticmethod
        def open(path: str) -> io.BufferedReader:
            fetched.append(path.rsplit("/", 1)[1])
            return (folder / path.removeprefix("gs://bucket/models/")).open("rb")

    monkeypatch.setattr(beam_module, "FileSystems", Bucket)
    ref = beam_module.local_model("gs://bucket/models/digits.keras")
    stems = ("digits", "peer", "teacher")
    assert sorted(fetched) == sorted(
        stem + suffix for stem in stems for suffix in (".keras", ".json", ".tflite")
    )
    assert ref.model_id == shipped_model_ref().model_id
    shipped = DigitClassifier(shipped_model_ref())
    assert DigitClassifier(ref).runtime == shipped.runtime
