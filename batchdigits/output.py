"""Write results: CSV for spreadsheets or JSON lines, always atomically.

A results file is written to a temporary file beside the target and moved
into place only when complete, so an interrupted or failed run never leaves
a half-written file, and the previous results stay untouched.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from .errors import OutputError
from .options import OutputFormat
from .results import FRACTION_COLUMNS, INTEGER_COLUMNS, NUMBER_COLUMNS, ScanResult, columns

#: Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a formula-looking cell with a single quote, as OWASP recommends."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def restore(text: str) -> str:
    """Undo :func:`neutralise` when reading our own CSV back."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS) else text


def as_text_cell(digits: str) -> str:
    """A number's digits as a cell every spreadsheet keeps as text: Excel and
    LibreOffice read ``="00123"`` as the string 00123, where a bare 00123
    loses its zeros and 16 digits lose the last ones to rounding."""
    return f'="{digits}"'


def from_text_cell(text: str) -> str:
    """Undo :func:`as_text_cell`."""
    if text.startswith('="') and text.endswith('"'):
        return text[2:-1]
    return text


def _csv_cell(value: Any, protect: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise(value) if protect else value
    return str(value)


def csv_cells(result: ScanResult, *, protect: bool = True) -> list[str]:
    """One row's CSV cells, in :func:`columns` order. With ``protect`` (a CSV
    for spreadsheets) a number is written so that they keep it as text."""
    record = result.to_record()
    cells = [_csv_cell(record[column], protect) for column in columns(result.numbers)]
    if protect and result.numbers and result.number:
        cells[NUMBER_COLUMNS.index("number")] = as_text_cell(result.number)
    return cells


def write_csv(
    results: Iterable[ScanResult], stream: IO[str], *, protect: bool = True, numbers: bool = False
) -> None:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(columns(numbers))
    for result in results:
        writer.writerow(csv_cells(result, protect=protect))


def write_jsonl(results: Iterable[ScanResult], stream: IO[str]) -> None:
    for result in results:
        stream.write(json.dumps(result.to_record(), ensure_ascii=False) + "\n")


def _write(
    results: list[ScanResult], stream: IO[str], fmt: OutputFormat, protect: bool, numbers: bool
) -> None:
    if fmt is OutputFormat.CSV:
        write_csv(results, stream, protect=protect, numbers=numbers)
    else:
        write_jsonl(results, stream)


def write_results(
    results: list[ScanResult],
    out: Path,
    fmt: OutputFormat,
    *,
    protect: bool = True,
    numbers: bool = False,
) -> None:
    """Write to ``out`` atomically, or to standard output when ``out`` is '-'.
    ``numbers``: the rows are ``scan --numbers`` rows (its columns)."""
    if str(out) == "-":
        _write(results, sys.stdout, fmt, protect, numbers)
        sys.stdout.flush()
        return
    # Excel needs the byte-order mark to read UTF-8 (non-ASCII file names).
    encoding = "utf-8-sig" if fmt is OutputFormat.CSV else "utf-8"

    def write(binary: IO[bytes]) -> None:
        text = io.TextIOWrapper(binary, encoding=encoding, newline="")  # type: ignore[arg-type]
        _write(results, text, fmt, protect, numbers)
        text.flush()
        text.detach()

    atomic_write(out, write)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete what a run killed mid-write (SIGKILL, power loss) left of ``target``'s
    temporary files. Call it only while holding the target's lock: then no
    live run can own them."""
    folder = target.parent if str(target.parent) else Path()
    removed = []
    for temp in folder.glob(f"{glob.escape(_temp_prefix(target))}*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
            removed.append(temp)
    return removed


def atomic_write(target: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through a temporary file in the target's folder, then rename over it."""
    folder = target.parent if str(target.parent) else Path()
    try:
        handle, temp_name = tempfile.mkstemp(dir=folder, prefix=_temp_prefix(target), suffix=".tmp")
    except OSError as exc:
        raise OutputError(
            f"cannot write to {folder}: {exc.strerror}",
            remedy="choose an --out in a folder you can write to",
        ) from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OutputError(
            f"cannot write {target}: {exc.strerror or exc}",
            remedy="check free space and permissions, or choose another --out",
        ) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_results(path: Path, fmt: OutputFormat, *, numbers: bool = False) -> list[dict[str, Any]]:
    """Read a results file we wrote back into records (CSV protection undone).

    Used by incremental runs. Raises ValueError when the file is not ours,
    or not of the same kind (``numbers``: of ``scan --numbers``).
    """
    expected = columns(numbers)
    if fmt is OutputFormat.JSONL:
        with path.open(encoding="utf-8") as stream:
            records = [json.loads(line) for line in stream if line.strip()]
    else:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            if reader.fieldnames is None or list(reader.fieldnames[:4]) != list(expected[:4]):
                raise ValueError(
                    f"{path} does not start with the columns {', '.join(expected[:4])}"
                )
            records = [_parse_csv_row(row) for row in reader]
    for record in records:
        missing = [column for column in expected if column not in record]
        if missing:
            raise ValueError(f"{path} lacks columns {missing}")
    return records


def _parse_csv_row(row: dict[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for column, text in row.items():
        if column in INTEGER_COLUMNS:
            record[column] = int(text) if text else None
        elif column in FRACTION_COLUMNS:
            record[column] = float(text) if text else None
        elif column == "needs_review":
            record[column] = text == "true"
        elif column == "number":
            record[column] = from_text_cell(text) or None
        else:
            record[column] = restore(text or "")
    return record


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    atomic_write(path, lambda stream: stream.write(text.encode("utf-8")))
