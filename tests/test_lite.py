"""The LiteRT twin: the shipped model read without TensorFlow, with the same answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from batchdigits import lite
from batchdigits.model import (
    DigitClassifier,
    ModelRef,
    metadata_path,
    read_metadata,
    shipped_model_path,
    shipped_model_ref,
)
from batchdigits.preprocess import to_mnist

from .conftest import SAMPLE_SCANS, draw_digit

needs_litert = pytest.mark.skipif(
    not lite.runtime_available(), reason="ai-edge-litert has no wheel for this platform"
)


def sample_digits() -> np.ndarray:
    """Digits as scan reads them, from sample_scans/ and drawn in code."""
    from batchdigits.load import load_pages

    pictures = [to_mnist(draw_digit(d, size=(120, 100), stroke=5)) for d in "017"]
    for path in sorted(SAMPLE_SCANS.glob("*.jpg"))[:40]:
        pictures.append(to_mnist(load_pages(path)[0].pixels))
    return np.stack(pictures)


def copy_of_shipped(folder: Path) -> Path:
    """The shipped model with its twin, metadata and second opinion, in ``folder``."""
    shipped = shipped_model_path()
    for name in ("digits", "peer", "teacher"):
        for suffix in (".keras", ".tflite", ".json"):
            shutil.copyfile(shipped.with_name(name + suffix), folder / (name + suffix))
    return folder / shipped.name


@needs_litert
def test_the_shipped_model_reads_on_its_twin_with_kerass_answers() -> None:
    ref = shipped_model_ref()
    twin = DigitClassifier(ref)
    keras = DigitClassifier(ref, runtime="keras")
    assert twin.runtime == "litert" and keras.runtime == "keras"
    assert twin.model_id == keras.model_id
    digits = sample_digits()
    np.testing.assert_allclose(twin.logits(digits), keras.logits(digits), atol=1e-4)
    on_twin, on_keras = twin.predict(digits), keras.predict(digits)
    assert (on_twin.argmax(axis=1) == on_keras.argmax(axis=1)).all()
    np.testing.assert_allclose(on_twin, on_keras, atol=1e-4)


@needs_litert
def test_a_replaced_keras_file_is_read_by_keras_not_by_the_old_twin(tmp_path: Path) -> None:
    """The twin is bound to the Keras file it was exported from: a model
    replaced beside it (by hand, or a copy gone stale) must answer itself."""
    path = copy_of_shipped(tmp_path)
    shutil.copyfile(tmp_path / "teacher.keras", path)  # another network in digits.keras
    ref = ModelRef(path, "--model", read_metadata(path))
    classifier = DigitClassifier(ref)
    assert classifier.runtime == "keras"
    digits = sample_digits()[:12]
    teacher = DigitClassifier(ModelRef(tmp_path / "teacher.keras", "--model"), runtime="keras")
    np.testing.assert_allclose(classifier.logits(digits), teacher.logits(digits), atol=1e-5)


@needs_litert
def test_a_damaged_twin_is_not_used(tmp_path: Path) -> None:
    path = copy_of_shipped(tmp_path)
    twin = lite.lite_path(path)
    twin.write_bytes(twin.read_bytes()[:1000])
    assert DigitClassifier(ModelRef(path, "--model", read_metadata(path))).runtime == "keras"
    twin.unlink()
    assert DigitClassifier(ModelRef(path, "--model", read_metadata(path))).runtime == "keras"


@needs_litert
def test_a_model_without_a_twin_in_its_metadata_is_read_by_keras(tmp_path: Path) -> None:
    path = copy_of_shipped(tmp_path)
    metadata = read_metadata(path)
    del metadata[lite.LITE_KEY]
    metadata_path(path).write_text(json.dumps(metadata), encoding="utf-8")
    classifier = DigitClassifier(ModelRef(path, "--model", metadata))
    assert classifier.runtime == "keras"
    assert classifier._second is not None
    assert [each.runtime for each in classifier._second[1]] == ["litert", "litert"]


@needs_litert
def test_scan_on_the_shipped_model_does_not_import_tensorflow(tmp_path: Path) -> None:
    """TensorFlow's import was most of a scan's start-up: a cron job over a
    few files, or a scan of many, must not pay it for the shipped model."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from batchdigits.api import scan_report\n"
        f"out = Path({str(tmp_path / 'r.csv')!r})\n"
        f"report = scan_report(Path({str(SAMPLE_SCANS)!r}), out=out)\n"
        "assert report.summary.rows >= 100, report.summary\n"
        "print('tensorflow' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "False"
    assert "XNNPACK" not in ran.stderr


@needs_litert
def test_the_helper_models_read_on_their_twins_with_kerass_answers() -> None:
    """``scan --numbers``'s split model and string model members are read on
    their twins; the string model's twin takes strips 16 at a time, so a
    batch of 21 is padded, and every strip still gets its own frames."""
    from batchdigits.model import KerasHelperNetwork, open_helper_network
    from batchdigits.splits import split_model_ref
    from batchdigits.strings import string_model_refs, to_model_input, to_strip

    from .test_numbers import draw_number

    numbers = [draw_number(digits) < 128 for digits in ("17", "1707", "70", "1", "71017701")]
    strips = np.stack([to_strip(numbers[i % len(numbers)]) for i in range(21)])
    for ref in string_model_refs():
        twin, keras = open_helper_network(ref), KerasHelperNetwork(ref)
        assert twin.runtime == "litert"
        on_twin = twin.logits(to_model_input(strips))
        assert on_twin.shape == (21, 64, 11)
        np.testing.assert_allclose(on_twin, keras.logits(to_model_input(strips)), atol=1e-4)
    ref = split_model_ref()
    twin, keras = open_helper_network(ref), KerasHelperNetwork(ref)
    digits = to_model_input(sample_digits())
    assert twin.runtime == "litert"
    np.testing.assert_allclose(twin.logits(digits), keras.logits(digits), atol=1e-5)


@needs_litert
def test_scan_numbers_on_the_shipped_models_does_not_import_tensorflow(tmp_path: Path) -> None:
    """``scan --numbers`` reads with four models; their twins spare it
    TensorFlow's import too (seconds of every run's start-up)."""
    from PIL import Image

    from .test_numbers import draw_number

    for digits in ("17", "1707"):
        Image.fromarray(draw_number(digits)).save(tmp_path / f"{digits}.png")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from batchdigits.api import scan_report\n"
        f"report = scan_report(Path({str(tmp_path)!r}), out=Path({str(tmp_path / 'r.csv')!r}),"
        " numbers=True)\n"
        "print(sorted(r.number for r in report.results))\n"
        "print('tensorflow' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split("\n")[:2] == ["['17', '1707']", "False"]


@needs_litert
def test_model_info_names_the_models_scan_numbers_reads_with(isolated_model_home: Path) -> None:
    """A user of ``scan --numbers`` sees which split and string models it
    uses (the shipped ones here, none trained), and that they run on LiteRT."""
    from typer.testing import CliRunner

    from batchdigits.cli import app

    result = CliRunner().invoke(app, ["model", "info"])
    assert result.exit_code == 0, result.output
    helpers = json.loads(result.stdout)["numbers_models"]
    assert [Path(h["path"]).name for h in helpers] == [
        "splits.keras",
        "strings.keras",
        "strings_amounts.keras",
    ]
    assert all(h["source"] == "shipped" and h["runtime"] == "litert" for h in helpers)


@needs_litert
def test_a_helper_model_without_a_twin_is_read_by_keras(tmp_path: Path) -> None:
    """A string model trained before twins (its metadata names none) is
    still read, by Keras, with the answers its twin would give."""
    from batchdigits.model import open_helper_network
    from batchdigits.strings import string_model_refs, to_model_input, to_strip

    from .test_numbers import draw_number

    shipped = string_model_refs()[0]
    path = tmp_path / shipped.path.name
    shutil.copyfile(shipped.path, path)
    metadata = read_metadata(shipped.path)
    del metadata[lite.LITE_KEY]
    metadata_path(path).write_text(json.dumps(metadata), encoding="utf-8")
    old = open_helper_network(ModelRef(path, "user", metadata))
    assert old.runtime == "keras"
    strips = to_model_input(np.stack([to_strip(draw_number(d) < 128) for d in ("17", "707")]))
    twin = open_helper_network(shipped)
    np.testing.assert_allclose(old.logits(strips), twin.logits(strips), atol=1e-4)
