"""The shipped model's cascade: a second model consulted only where the first is unsure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from batchdigits.errors import ModelError
from batchdigits.model import DigitClassifier, ModelRef, metadata_path

keras = pytest.importorskip("keras")


def constant_model(path: Path, logits: list[float]) -> Path:
    """A model that gives the same logits for every picture."""
    inputs = keras.Input(shape=(28, 28, 1))
    dense = keras.layers.Dense(10, name="logits")
    model = keras.Model(inputs, dense(keras.layers.Flatten()(inputs)))
    dense.set_weights([np.zeros((784, 10), np.float32), np.asarray(logits, np.float32)])
    model.save(path)
    return path


def first_model(folder: Path, logits: list[float], below: float = 0.99) -> ModelRef:
    path = constant_model(folder / "digits.keras", logits)
    constant_model(folder / "second.keras", [0, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    metadata = {"second_opinion": {"file": "second.keras", "below": below, "weight": 0.75}}
    metadata_path(path).write_text(json.dumps(metadata), encoding="utf-8")
    return ModelRef(path, "--model", metadata)


def test_a_sure_answer_is_the_first_models_alone(tmp_path: Path) -> None:
    ref = first_model(tmp_path, [0, 12, 0, 0, 0, 0, 0, 0, 0, 0])
    probabilities = DigitClassifier(ref).predict(np.zeros((3, 28, 28), np.uint8))
    assert (probabilities.argmax(axis=1) == 1).all()
    assert probabilities[:, 1].min() > 0.99


def test_an_unsure_answer_is_mixed_with_the_second_opinion(tmp_path: Path) -> None:
    """Unsure (about 0.6 for a 1), the first model's answer weighs a quarter:
    the second model's 2 wins, at a confidence that says the two disagreed."""
    ref = first_model(tmp_path, [0, 4, 3.5, 0, 0, 0, 0, 0, 0, 0])
    probabilities = DigitClassifier(ref).predict(np.zeros((2, 28, 28), np.uint8))
    assert (probabilities.argmax(axis=1) == 2).all()
    assert 0.8 < probabilities[0, 2] < 0.95
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_the_second_opinion_is_part_of_the_model_id(tmp_path: Path) -> None:
    """--incremental re-reads files when either model changes."""
    ref = first_model(tmp_path, [0, 4, 3.5, 0, 0, 0, 0, 0, 0, 0])
    before = ref.model_id
    constant_model(tmp_path / "second.keras", [0, 0, 0, 8, 0, 0, 0, 0, 0, 0])
    assert ModelRef(ref.path, ref.source, ref.metadata).model_id != before


def test_a_missing_second_opinion_is_an_error_with_a_remedy(tmp_path: Path) -> None:
    ref = first_model(tmp_path, [0, 12, 0, 0, 0, 0, 0, 0, 0, 0])
    (tmp_path / "second.keras").unlink()
    with pytest.raises(ModelError) as raised:
        DigitClassifier(ModelRef(ref.path, ref.source, ref.metadata))
    assert "second opinion" in str(raised.value) and raised.value.remedy


def test_several_consulted_models_weigh_as_their_mean(tmp_path: Path) -> None:
    """Two consulted models that disagree count half each: the unsure first
    answer (a 1) mixed with a 2 and a 3 stays a 1 at a confidence that
    flags it, where either consulted model alone would have overruled it."""
    path = constant_model(tmp_path / "digits.keras", [0, 4, 3.5, 0, 0, 0, 0, 0, 0, 0])
    constant_model(tmp_path / "peer.keras", [0, 0, 8, 0, 0, 0, 0, 0, 0, 0])
    constant_model(tmp_path / "teacher.keras", [0, 0, 0, 8, 0, 0, 0, 0, 0, 0])
    models = [{"file": "peer.keras"}, {"file": "teacher.keras", "temperature": 1.0}]
    metadata = {"second_opinion": {"models": models, "below": 0.99, "weight": 0.25}}
    ref = ModelRef(path, "--model", metadata)
    probabilities = DigitClassifier(ref).predict(np.zeros((2, 28, 28), np.uint8))
    assert (probabilities.argmax(axis=1) == 1).all()
    assert probabilities[0, 1] < 0.5
    assert abs(probabilities[0, 3] - 0.25 * 0.5) < 0.01  # half of the consulted quarter
    alone = {"second_opinion": {"file": "peer.keras", "below": 0.99, "weight": 0.25}}
    peer_only = DigitClassifier(ModelRef(path, "--model", alone))
    assert (peer_only.predict(np.zeros((1, 28, 28), np.uint8)).argmax(axis=1) == 2).all()
    assert ModelRef(path, "--model", metadata).model_id != ModelRef(path, "--model", alone).model_id
