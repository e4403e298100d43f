"""A model made under an older preprocessing is not used: the shipped model
reads instead, with a warning that names the remedy, and exit code 8."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from batchdigits import cli, learn, model
from batchdigits.errors import ExitCode
from batchdigits.model import (
    CORRECTIONS_FILENAME,
    OLDEST_READABLE_PREPROCESS,
    metadata_path,
    resolve_model,
    shipped_model_path,
)

from .conftest import write_digit_folder

#: The version a model made before the change records.
OLD = OLDEST_READABLE_PREPROCESS - 1


@pytest.fixture
def new_preprocessing(monkeypatch: pytest.MonkeyPatch) -> int:
    """Run as the preprocessing that made older models unreadable (12), also
    while preprocess.py still says 11."""
    current = max(model.PREPROCESS_VERSION, OLDEST_READABLE_PREPROCESS)
    monkeypatch.setattr(model, "PREPROCESS_VERSION", current)
    monkeypatch.setattr(learn, "PREPROCESS_VERSION", current)
    return current


def model_copy(folder: Path, *, usable: bool = False, **metadata: object) -> Path:
    """A model file with this metadata: the shipped model's bytes where ``usable``,
    else bytes that no one can load (an outdated model is never loaded)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "digits.keras"
    if usable:
        shutil.copyfile(shipped_model_path(), path)
    else:
        path.write_bytes(b"PK\x03\x04 an old model")
    metadata_path(path).write_text(json.dumps({"name": "my-model", **metadata}), encoding="utf-8")
    return path


def test_an_older_preprocessing_model_is_replaced_by_the_shipped_one(
    tmp_path: Path, new_preprocessing: int, caplog: pytest.LogCaptureFixture
) -> None:
    old = model_copy(tmp_path / "old", preprocess_version=OLD)
    with caplog.at_level(logging.WARNING, logger="batchdigits"):
        ref = resolve_model(old)
    assert ref.source == "shipped" and ref.path == shipped_model_path()
    assert ref.outdated is not None and ref.outdated.path == old
    assert ref.outdated.preprocess_version == OLD
    warning = caplog.text
    assert f"{old} was made under preprocessing version {OLD}" in warning
    assert f"version {new_preprocessing}" in warning and "shipped model" in warning
    assert f"batchdigits train --out {old.parent}" in warning  # not learned: train again

    # Readable: made under the running version, or at least the oldest readable one.
    for version in (new_preprocessing, OLDEST_READABLE_PREPROCESS):
        current = model_copy(tmp_path / f"v{version}", preprocess_version=version)
        assert resolve_model(current).path == current and resolve_model(current).outdated is None
    # No version in the metadata, or none at all: not known to be readable.
    assert resolve_model(model_copy(tmp_path / "none")).outdated is not None
    metadata_path(old).unlink()
    assert resolve_model(old).outdated is not None
    # A copy of the shipped model is the shipped model: never refused.
    copy = model_copy(tmp_path / "copy", usable=True, preprocess_version=OLD)
    assert resolve_model(copy).path == copy and resolve_model(copy).outdated is None


def test_the_shipped_model_is_never_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even after a future preprocessing change, before it is retrained: it is
    the fallback, and the ensemble it consults (trained under versions 2-8)
    is part of it."""
    monkeypatch.setattr(model, "OLDEST_READABLE_PREPROCESS", model.PREPROCESS_VERSION + 1)
    monkeypatch.setattr(model, "PREPROCESS_VERSION", model.PREPROCESS_VERSION + 1)
    shipped = resolve_model(None)
    assert shipped.source == "shipped" and shipped.outdated is None
    assert shipped.metadata["preprocess_version"] < model.OLDEST_READABLE_PREPROCESS
    assert shipped.second_opinion is not None


def test_the_user_model_too_and_a_learned_one_names_learn_again(
    tmp_path: Path, new_preprocessing: int, isolated_model_home: Path
) -> None:
    user = model_copy(isolated_model_home, preprocess_version=OLD, learned={"labels": "r.xlsx"})
    ref = resolve_model(None)
    assert ref.source == "shipped" and ref.outdated is not None and ref.outdated.source == "user"
    # Learned before the pictures were kept: learn from the labels again.
    assert "batchdigits learn FOLDER --labels r.xlsx" in ref.outdated.remedy
    corrections = user.parent / CORRECTIONS_FILENAME
    np.savez_compressed(corrections, source_shapes=np.zeros((1, 2), np.int32))
    assert "batchdigits learn FOLDER" in resolve_model(None).outdated.remedy  # type: ignore[union-attr]
    # Its pages kept: learn them again.
    np.savez_compressed(corrections, source_shapes=np.full((1, 2), 2, np.int32))
    remedy = resolve_model(None).outdated.remedy  # type: ignore[union-attr]
    assert remedy == f"batchdigits learn --again {user} --out {user.parent}"


@pytest.mark.slow
def test_scan_reads_every_row_with_the_shipped_model_and_exits_8(
    tmp_path: Path, new_preprocessing: int
) -> None:
    write_digit_folder(tmp_path / "in", count=4)
    old = model_copy(tmp_path / "old", preprocess_version=OLD)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(
        cli.app, ["scan", str(tmp_path / "in"), "--model", str(old), "--out", str(out), "-j", "1"]
    )
    assert result.exit_code == ExitCode.MODEL_OUTDATED == 8, result.output
    assert f"{old} was made under preprocessing version {OLD}" in result.stderr
    assert "reading with the shipped model" in result.stderr
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4 and all(row["digit"] for row in rows)
    assert {row["model_id"] for row in rows} == {resolve_model(None).model_id}
    manifest = json.loads(out.with_name("r.csv.manifest.json").read_text(encoding="utf-8"))
    assert manifest["outdated_models_not_used"] == [str(old)]
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\n" + "".join(f"{r['file']},1\n" for r in rows), encoding="utf-8")
    evaluated = CliRunner().invoke(
        cli.app, ["evaluate", str(tmp_path / "in"), "--labels", str(labels), "--model", str(old)]
    )
    assert evaluated.exit_code == 8 and "reading with the shipped model" in evaluated.stderr
    # The same model made under the running preprocessing is used, exit 0.
    current = model_copy(tmp_path / "new", usable=True, preprocess_version=new_preprocessing)
    result = CliRunner().invoke(
        cli.app, ["scan", str(tmp_path / "in"), "--model", str(current), "--out", str(out)]
    )
    assert result.exit_code == 0 and "made under" not in result.stderr
