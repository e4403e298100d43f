"""Results files: spreadsheet-safe CSV, JSON lines, atomic replacement."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from batchdigits.errors import OutputError
from batchdigits.options import OutputFormat
from batchdigits.output import atomic_write, read_results, write_results
from batchdigits.results import COLUMNS, ScanResult

AWKWARD_NAMES = [
    "plain.png",
    "with space.png",
    "comma,name.png",
    'quote"name.png',
    "new\nline.png",
    "café/ünïcødé 数字.png",
    "=SUM(A1).png",
    "+1.png",
    "-2.png",
    "@cmd.png",
    "\tTab.png",
]


def result(file: str, **changes: object) -> ScanResult:
    fields: dict[str, object] = {
        "file": file,
        "page": None,
        "digit": 7,
        "confidence": 0.98765,
        "runner_up": 1,
        "runner_up_confidence": 0.01,
        "needs_review": False,
        "reason": "",
        "error": "",
        "model_id": "m-1",
        "file_size": 123,
        "file_mtime_ns": 1_700_000_000_123_456_789,
    }
    fields.update(changes)
    return ScanResult(**fields)  # type: ignore[arg-type]


def test_csv_header_and_values(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    write_results(
        [result("a.png"), result("b.png", digit=None, confidence=None)], out, OutputFormat.CSV
    )
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM for Excel
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(COLUMNS)
    assert lines[0].startswith("file,digit,confidence,needs_review,reason,error")
    assert lines[1] == "a.png,7,0.9877,false,,,1,0.01,,m-1,123,1700000000123456789"
    assert lines[2].startswith("b.png,,,false,")


def test_injection_round_trip_with_pandas_and_csv(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    results = [
        result(name, error="=HYPERLINK(evil)" if name.startswith("=") else "")
        for name in AWKWARD_NAMES
    ]
    write_results(results, out, OutputFormat.CSV)

    frame = pd.read_csv(out, encoding="utf-8-sig", keep_default_na=False)
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    for name, from_pandas, from_csv in zip(AWKWARD_NAMES, frame["file"], rows, strict=True):
        dangerous = name[0] in "=+-@\t"
        expected = "'" + name if dangerous else name
        assert from_pandas == expected and from_csv["file"] == expected
        # No cell a spreadsheet reads starts with a formula trigger.
        assert not from_csv["file"].startswith(("=", "+", "-", "@", "\t", "\r"))
    # Numbers stay numbers.
    assert frame["confidence"].dtype == float and frame["digit"].dtype == int
    # batchdigits reads its own file back to the exact original names.
    assert [r["file"] for r in read_results(out, OutputFormat.CSV)] == AWKWARD_NAMES
    assert read_results(out, OutputFormat.CSV)[6]["error"] == "=HYPERLINK(evil)"


def test_protection_can_be_turned_off(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    write_results([result("=x.png")], out, OutputFormat.CSV, protect=False)
    assert "\r\n=x.png," in out.read_bytes().decode("utf-8-sig")


def test_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    write_results([result("é.png"), result("b.png", digit=None)], out, OutputFormat.JSONL)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert list(records[0]) == list(COLUMNS)
    assert records[0]["file"] == "é.png" and records[1]["digit"] is None
    assert read_results(out, OutputFormat.JSONL) == records


def test_failed_write_leaves_previous_file_untouched(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_bytes(b"previous results")

    def fail_midway(stream):  # type: ignore[no-untyped-def]
        stream.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(out, fail_midway)
    assert out.read_bytes() == b"previous results"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_results([result("a.png")], tmp_path / "missing" / "r.csv", OutputFormat.CSV)
