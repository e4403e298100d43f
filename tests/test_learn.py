"""learn: a reviewer's corrections become a model that scan uses."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from batchdigits import cli
from batchdigits.options import ScanOptions
from batchdigits.pipeline import run_scan

from .conftest import draw_digit

pytestmark = pytest.mark.slow


def test_the_keras_memory_computes_what_learn_measured() -> None:
    """The saved model's layers give the very logits learn measured with numpy."""
    import keras

    from batchdigits.learn import Memory, Network
    from batchdigits.model import build_model

    keras.utils.set_random_seed(0)
    network = Network(build_model())
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(8), 5)  # digits 8 and 9 have no examples
    stored = rng.integers(0, 60, (40, 28, 28)).astype(np.uint8)
    for row, digit in enumerate(labels):  # each digit its own bright block
        stored[row, 3 * digit : 3 * digit + 5, 4:24] = 255
    memory = Memory(network.read(stored)[1], labels, radius=0.6, copies=0, replay_changed=0)
    pages = np.concatenate([stored[:10], rng.integers(0, 256, (10, 28, 28), np.uint8)])
    expected = memory.logits(network, pages)
    model = memory.model(network)
    got = np.asarray(model.predict((pages / 255.0)[..., None].astype(np.float32), verbose=0))
    # float32 against float64 through gates 2,500 logits per unit of similarity steep
    assert np.allclose(got, expected, atol=0.05)
    assert np.any(np.abs(expected - network.read(pages)[0]) > 1)  # the memory did something


def labelled_folder(folder: Path) -> Path:
    """Sevens drawn like ones' long flags, labelled 1, and plain sevens and zeros."""
    folder.mkdir(parents=True)
    rows = []
    for i in range(6):
        Image.fromarray(draw_digit("7", stroke=6 + i)).save(folder / f"one_{i}.png")
        rows.append((f"one_{i}.png", 1))
        Image.fromarray(draw_digit("0", stroke=6 + i)).save(folder / f"zero_{i}.png")
        rows.append((f"zero_{i}.png", 0))
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows([("file", "label"), *rows])
    return folder


def invoke(*args: object):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def test_learn_writes_a_model_that_scan_uses(tmp_path: Path) -> None:
    folder = labelled_folder(tmp_path / "in")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    labels = folder / "labels.csv"
    labels.write_text(labels.read_text() + "broken.png,3\n")
    out = tmp_path / "learned"
    result = invoke("learn", folder, "--labels", labels, "--out", out, "--copies", "2", "-j", "1")
    assert result.exit_code == 0, result.output
    assert "skipped broken.png" in result.stderr
    metadata = json.loads((out / "digits.json").read_text())
    assert (
        metadata["learned"]["per_digit"]["1"] == 6 and metadata["learned"]["labelled_images"] == 12
    )
    assert (out / "base.keras").is_file() and (out / "corrections.npz").is_file()
    # The user's model is untouched by --out.
    assert not (Path(__import__("os").environ["BATCHDIGITS_HOME"]) / "digits.keras").exists()

    options = ScanOptions(folder=folder, model=out / "digits.keras", jobs=1, exclude=("*.csv",))
    read = {r.file: r.digit for r in run_scan(options).results}
    assert all(read[f"one_{i}.png"] == 1 for i in range(6)), sorted(read.items())  # taught
    shipped = {r.file: r.digit for r in run_scan(ScanOptions(folder=folder, jobs=1)).results}
    assert sum(shipped[f"one_{i}.png"] == 7 for i in range(6)) >= 5  # what it read before


def test_learn_updates_the_model_scan_uses_and_reset_goes_back(
    tmp_path: Path, isolated_model_home: Path
) -> None:
    folder = labelled_folder(tmp_path / "in")
    result = invoke("learn", folder, "--labels", folder / "labels.csv", "--copies", "1", "-j", "1")
    assert result.exit_code == 0, result.output
    info = json.loads(invoke("model", "info").stdout)
    assert info["source"] == "user" and info["learned"]["labelled_images"] == 12
    # Learning again adds to the corrections kept, onto the same base.
    more = tmp_path / "more.csv"
    more.write_text("file,label\none_0.png,1\n", encoding="utf-8")
    Image.fromarray(draw_digit("1")).save(folder / "new_one.png")
    more.write_text("file,label\nnew_one.png,1\n" * 1, encoding="utf-8")
    again = invoke("learn", folder, "--labels", more, "--copies", "1", "-j", "1")
    assert again.exit_code == 0, again.output
    info = json.loads(invoke("model", "info").stdout)
    assert info["learned"]["labelled_images"] == 13 and info["learned"]["new_labelled_images"] == 1
    assert info["learned"]["base_model"] == "batchdigits-cnn-ensemble"
    reset = invoke("model", "reset")
    assert reset.exit_code == 0 and "corrections stay" in reset.stderr
    assert json.loads(invoke("model", "info").stdout)["source"] == "shipped"


def test_a_failed_learn_leaves_the_model_scan_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_model_home: Path
) -> None:
    from batchdigits import learn

    folder = labelled_folder(tmp_path / "in")
    assert (
        invoke("learn", folder, "--labels", folder / "labels.csv", "--copies", "1").exit_code == 0
    )
    before = {p.name: p.read_bytes() for p in isolated_model_home.iterdir() if p.is_file()}

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(learn.np, "savez_compressed", full_disk)
    failed = invoke("learn", folder, "--labels", folder / "labels.csv", "--copies", "1")
    assert failed.exit_code != 0
    after = {p.name: p.read_bytes() for p in isolated_model_home.iterdir() if p.is_file()}
    assert after == before
    assert not [p for p in isolated_model_home.iterdir() if p.name.startswith(".learn-")]


def test_bad_labels_are_clear_errors(tmp_path: Path) -> None:
    folder = labelled_folder(tmp_path / "in")
    missing = tmp_path / "missing.csv"
    missing.write_text("file,label\nnot_there.png,3\none_0.png,1\n", encoding="utf-8")
    result = invoke("learn", folder, "--labels", missing, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "1 labelled file(s) are not in" in result.stderr
    assert "not_there.png" in result.stderr
    few = tmp_path / "few.csv"
    few.write_text("file,label\none_0.png,1\nzero_0.png,0\n", encoding="utf-8")
    result = invoke("learn", folder, "--labels", few, "--out", tmp_path / "m")
    assert (
        result.exit_code == 2
        and "needs at least 10 labelled images; 2 could be used" in result.stderr
    )
    outside = tmp_path / "outside.csv"
    outside.write_text("file,label\none_0.png,11\n", encoding="utf-8")
    result = invoke("learn", folder, "--labels", outside, "--out", tmp_path / "m")
    assert result.exit_code == 2 and "'11' is not a digit 0-9" in result.stderr
    assert "Traceback" not in result.output


def test_the_python_api_learns_too(tmp_path: Path) -> None:
    from batchdigits import api, learn  # the module learn, and the API's learn beside scan

    assert callable(api.learn) and hasattr(learn, "LearnOptions")
    assert cli.DEFAULT_COPIES == learn.DEFAULT_COPIES  # the CLI's default is the library's
    folder = labelled_folder(tmp_path / "in")
    report = api.learn(folder, folder / "labels.csv", out_dir=tmp_path / "m", copies=1, jobs=1)
    assert report.model_path == tmp_path / "m" / "digits.keras" and report.model_path.is_file()
    assert report.metadata["learned"]["labelled_images"] == 12


def test_learn_again_reads_the_kept_corrections_with_a_new_preprocessing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model learned under an older preprocessing is refused by scan, with the
    command to learn it again; that command needs none of the original files."""
    from batchdigits import learn, model
    from batchdigits.model import OLDEST_READABLE_PREPROCESS

    folder = labelled_folder(tmp_path / "in")
    old = tmp_path / "old"
    result = invoke(
        "learn", folder, "--labels", folder / "labels.csv", "--out", old, "-j", "1", "--copies", "1"
    )
    assert result.exit_code == 0, result.output
    with np.load(old / "corrections.npz") as kept:  # the pages as written, bounded
        assert len(kept["source_shapes"]) == 12 and kept["source_shapes"].max() <= 256
    # The preprocessing changes: the model says it was made under the one before.
    current = max(model.PREPROCESS_VERSION, OLDEST_READABLE_PREPROCESS)
    monkeypatch.setattr(model, "PREPROCESS_VERSION", current)
    monkeypatch.setattr(learn, "PREPROCESS_VERSION", current)
    meta = json.loads((old / "digits.json").read_text())
    meta["preprocess_version"] = OLDEST_READABLE_PREPROCESS - 1
    (old / "digits.json").write_text(json.dumps(meta))
    moved = tmp_path / "moved"
    folder.rename(moved)  # the original files are gone from where they were learned

    out = tmp_path / "r.csv"
    scan = invoke("scan", moved, "--model", old / "digits.keras", "--out", out, "-j", "1")
    assert scan.exit_code == 8, scan.output
    remedy = f"batchdigits learn --again {old / 'digits.keras'} --out {old}"
    assert remedy in scan.stderr
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 12  # every image (labels.csv is no image)
    shipped_id = model.resolve_model(None).model_id
    assert {row["model_id"] for row in rows} == {shipped_id}

    again = invoke(*remedy.split()[1:], "--copies", "1", "-j", "1")
    assert again.exit_code == 0, again.output
    assert "read 12 kept corrections again" in again.stderr
    meta = json.loads((old / "digits.json").read_text())
    assert meta["preprocess_version"] == current
    assert meta["learned"]["labelled_images"] == 12
    assert meta["learned"]["base_model"] == "batchdigits-cnn-ensemble"  # the shipped one
    scan = invoke("scan", moved, "--model", old / "digits.keras", "--out", out, "-j", "1")
    assert scan.exit_code == 0, scan.output
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["model_id"].split("-")[1] for row in rows} == {"learned"}
    read = {row["file"]: row["digit"] for row in rows}
    assert all(read[f"one_{i}.png"] == "1" for i in range(6))  # what it was taught
