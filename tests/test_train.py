"""Training: a smoke run on a tiny subset writes a model that scan can load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from batchdigits import cli
from batchdigits.errors import ModelError, TrainingDataError
from batchdigits.model import MODEL_FILENAME, resolve_model, user_model_path
from batchdigits.preprocess import to_mnist
from batchdigits.styles import STYLES
from batchdigits.train import break_strokes, load_mnist, prepare_digits, same_shape

from .conftest import draw_digit, write_digit_folder

runner = CliRunner()


def tiny_mnist(path: Path, count: int = 240) -> Path:
    """An mnist.npz in Keras' layout with digits drawn in code (0, 1, 7)."""
    rng = np.random.default_rng(0)
    images, labels = [], []
    for i in range(count):
        digit = "017"[i % 3]
        page = draw_digit(digit, size=(28, 28), box=(8, 4, 20, 24), stroke=2, ink=255, paper=0)
        shifted = np.roll(page, rng.integers(-2, 3, size=2), axis=(0, 1))
        images.append(shifted)
        labels.append(int(digit))
    x, y = np.stack(images).astype(np.uint8), np.array(labels, dtype=np.uint8)
    np.savez(path, x_train=x, y_train=y, x_test=x[:60], y_test=y[:60])
    return path


@pytest.mark.slow
def test_train_smoke_writes_a_model_that_scan_uses(tmp_path: Path) -> None:
    data = tiny_mnist(tmp_path / "mnist.npz")
    result = runner.invoke(
        cli.app,
        [
            *("train", "--data", str(data), "--epochs", "1", "--limit", "200", "--jobs", "1"),
            *("--style-samples", "3000"),
        ],
    )
    assert result.exit_code == 0, result.output
    model = user_model_path()
    assert model.is_file()
    metadata = json.loads(model.with_suffix(".json").read_text())
    for key in ("architecture", "data", "epochs", "mnist_test_accuracy", "trained_at"):
        assert key in metadata
    assert metadata["epochs"] == 1 and metadata["training_digits"] == 180
    # --limit 200 scales the renders by 200/55,000: 1 per font and digit, 5 per
    # stroke digit, and 11 per hand style from --style-samples 3000.
    fonts = len(metadata["synthetic"]["fonts"])
    assert metadata["synthetic"]["training_digits"] == 10 * fonts + 5 * 4 + 11 * len(STYLES)
    assert "scan now uses this model" in result.stderr
    consulted = [entry["file"] for entry in metadata["second_opinion"]["models"]]
    assert consulted == ["peer.keras", "teacher.keras"]  # the shipped cascade's, copied beside
    assert all((model.parent / name).is_file() for name in consulted)
    from batchdigits import lite

    assert lite.lite_path(model).is_file() and metadata[lite.LITE_KEY]["keras_sha256"]

    ref = resolve_model()
    assert ref.source == "user" and ref.path == model
    folder = tmp_path / "in"
    write_digit_folder(folder, count=2)
    scanned = runner.invoke(cli.app, ["scan", str(folder), "--out", str(tmp_path / "r.csv")])
    assert scanned.exit_code == 0, scanned.output
    assert ref.model_id in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")

    reset = runner.invoke(cli.app, ["model", "reset"])
    assert reset.exit_code == 0 and not model.exists()
    assert resolve_model().source == "shipped"


def test_training_data_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((2, 28, 28)))
    with pytest.raises(TrainingDataError, match="x_train"):
        load_mnist(bad)
    result = runner.invoke(cli.app, ["train", "--data", str(bad)])
    assert result.exit_code == 2 and "cannot read MNIST" in result.stderr


def test_train_reads_the_full_mnist(mnist_path: Path) -> None:
    data = load_mnist(mnist_path)
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)


def test_model_file_name() -> None:
    assert MODEL_FILENAME.endswith(".keras")


def test_model_id_changes_with_what_decides_the_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--incremental reuses rows only while the model id holds: a new model
    file, calibration or preprocessing must each give a new id."""
    from batchdigits import model as model_module
    from batchdigits.model import ModelRef

    path = tmp_path / MODEL_FILENAME
    path.write_bytes(b"weights")
    base = ModelRef(path, "--model", {"temperature": 1.1}).model_id
    assert ModelRef(path, "--model", {"temperature": 1.1}).model_id == base
    assert ModelRef(path, "--model", {"temperature": 1.2}).model_id != base
    monkeypatch.setattr(model_module, "PREPROCESS_VERSION", 999)
    assert ModelRef(path, "--model", {"temperature": 1.1}).model_id != base
    path.write_bytes(b"other weights")
    monkeypatch.undo()
    assert ModelRef(path, "--model", {"temperature": 1.1}).model_id != base


def test_combined_model_averages_its_members(tmp_path: Path) -> None:
    import keras

    from batchdigits.model import DigitClassifier, ModelRef, build_model
    from batchdigits.train import combine_models

    paths = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        path = tmp_path / f"m{seed}" / MODEL_FILENAME
        path.parent.mkdir()
        build_model().save(path)
        paths.append(path)
    report = combine_models(paths, tmp_path / "both", log=lambda _: None)
    assert len(report.metadata["members"]) == 2

    digits = np.stack([draw_digit(d, size=(28, 28), box=(8, 4, 20, 24), stroke=2) for d in "017"])
    members = [DigitClassifier(ModelRef(p, "--model")).logits(digits) for p in paths]
    combined = DigitClassifier(ModelRef(report.model_path, "--model")).logits(digits)
    np.testing.assert_allclose(combined, (members[0] + members[1]) / 2, rtol=1e-5, atol=1e-5)

    with pytest.raises(ModelError, match="at least two"):
        combine_models(paths[:1], tmp_path / "one")


def test_broken_strokes_lose_ink_inside_the_digit_and_keep_its_extent() -> None:
    zero = draw_digit("0", size=(84, 84), box=(20, 10, 64, 74), stroke=7, ink=255, paper=0)
    rng = np.random.default_rng(1)
    for _ in range(20):
        broken = break_strokes(zero.astype(np.float32), rng)
        inked = broken > 127
        assert 0.2 * (zero > 127).sum() <= inked.sum() < 0.95 * (zero > 127).sum()
        assert not (inked & ~ndimage_grown(zero > 127)).any()


def ndimage_grown(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=2)


def test_same_shape_accepts_a_broken_digit_and_rejects_one_stroke_of_it() -> None:
    seven = draw_digit("7", size=(84, 84), box=(20, 10, 64, 74), stroke=7, ink=255, paper=0)
    whole = to_mnist(seven)
    gapped = seven.copy()
    gapped[40:46] = 0  # a skip in the downstroke
    bar_only = seven.copy()
    bar_only[20:] = 0  # preprocessing would keep only the bar
    assert whole is not None
    assert same_shape(to_mnist(gapped), whole)
    assert not same_shape(to_mnist(bar_only), whole)


def test_broken_share_changes_only_distorted_copies() -> None:
    digits = [
        draw_digit(d, size=(28, 28), box=(8, 4, 20, 24), stroke=3, ink=255, paper=0)
        for d in "0170170170"
    ]
    clean = prepare_digits(digits, jobs=1)
    assert np.array_equal(clean, prepare_digits(digits, jobs=1, broken_share=1.0))
    whole = prepare_digits(digits, jobs=1, seed=5)
    broken = prepare_digits(digits, jobs=1, seed=5, broken_share=1.0)
    assert not np.array_equal(whole, broken)
