"""The digit classifier: where it lives, how it is built, and one session to run it.

A model is a Keras ``.keras`` file with a JSON metadata file beside it
(``<name>.json``): architecture, training data, epochs, accuracy, date. The
model that ``scan`` uses is, in order: ``--model PATH``; the one the user
trained last (in :func:`user_model_dir`); the one shipped in the package.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ModelError
from .preprocess import MNIST_SIDE, PREPROCESS_VERSION, to_model_input

MODEL_FILENAME = "digits.keras"
ARCHITECTURE = "cnn-3block-bn"


def shipped_model_path() -> Path:
    """The model that ships inside the package."""
    return Path(str(resources.files("batchdigits") / "models" / MODEL_FILENAME))


def user_model_dir() -> Path:
    """Where ``batchdigits train`` puts the model that ``scan`` then uses.

    ``$BATCHDIGITS_HOME`` if set, else ``$XDG_DATA_HOME/batchdigits``, else
    ``~/.local/share/batchdigits``. Deleting the model there (or running
    ``batchdigits model reset``) goes back to the shipped model.
    """
    if home := os.environ.get("BATCHDIGITS_HOME"):
        return Path(home)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "batchdigits"


def user_model_path() -> Path:
    return user_model_dir() / MODEL_FILENAME


def metadata_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


@dataclass(frozen=True)
class ModelRef:
    """Which model file a run uses, and why."""

    path: Path
    source: str  # "--model", "user", or "shipped"
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def temperature(self) -> float:
        """Calibration temperature from the metadata (1.0: uncalibrated)."""
        return float(self.metadata.get("temperature", 1.0))

    @cached_property
    def content(self) -> bytes:
        """The model file's bytes, read once: the run hashes and loads these
        very bytes, so a model replaced while a run starts (``train`` or
        ``learn`` finishing, a deployment) cannot give rows one model's
        answers under another model's id."""
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise ModelError(
                f"cannot read model {self.path}: {exc.strerror or exc}",
                remedy="check the model file, or leave --model out to use the default model",
            ) from exc

    @cached_property
    def model_id(self) -> str:
        """A short, stable identity: the name plus a hash of the file's bytes,
        the calibration and the preprocessing version, since all three decide
        the results (``--incremental`` re-reads a file when this changes)."""
        digest = hashlib.sha256(self.content)
        digest.update(f"temperature={self.temperature!r}".encode())
        digest.update(f"preprocess={PREPROCESS_VERSION}".encode())
        return f"{self.metadata.get('name', self.path.stem)}-{digest.hexdigest()[:12]}"


def resolve_model(explicit: Path | None = None) -> ModelRef:
    """Find the model to use, failing with a remedy when it is missing."""
    if explicit is not None:
        if not explicit.is_file():
            raise ModelError(
                f"model file not found: {explicit}",
                remedy="check the --model path, or leave --model out to use the default model",
            )
        return ModelRef(explicit, "--model", read_metadata(explicit))
    user = user_model_path()
    if user.is_file():
        return ModelRef(user, "user", read_metadata(user))
    shipped = shipped_model_path()
    if not shipped.is_file():
        raise ModelError(
            f"the shipped model is missing from the installation: {shipped}",
            remedy="reinstall batchdigits, or train one with 'batchdigits train'",
        )
    return ModelRef(shipped, "shipped", read_metadata(shipped))


def read_metadata(model_path: Path) -> dict[str, Any]:
    path = metadata_path(model_path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Classifier(Protocol):
    """What the pipeline needs of a model: probabilities for a batch."""

    model_id: str

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) uint8 MNIST-form images -> (N, 10) probabilities."""
        ...


class KerasClassifier:
    """One loaded Keras model, built once and reused for every batch."""

    def __init__(self, ref: ModelRef, threads: int | None = None) -> None:
        from ._tf import import_tensorflow, interrupts_deferred

        self.ref = ref
        self.model_id = ref.model_id
        self.temperature = ref.temperature
        with interrupts_deferred():
            import_tensorflow(threads)
            import keras

        try:
            with interrupts_deferred():
                self._model = _load_snapshot(keras, ref)
        except ModelError:
            raise
        except Exception as exc:  # Keras raises many types for a bad file
            raise ModelError(
                f"cannot load model {ref.path}: {type(exc).__name__}: {exc}".splitlines()[0],
                remedy="the file is corrupt or not a Keras model: retrain, or use another --model",
            ) from exc
        expected = (None, MNIST_SIDE, MNIST_SIDE, 1)
        if tuple(self._model.input_shape) != expected or self._model.output_shape[-1] != 10:
            raise ModelError(
                f"model {ref.path} takes {self._model.input_shape} and gives "
                f"{self._model.output_shape}, not 28x28x1 images to 10 digits",
                remedy="use a model trained with 'batchdigits train'",
            )

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Raw (N, 10) scores: one model call for the whole batch, never one per image.

        Ctrl-C or SIGTERM in the middle of the call is held until it returns
        (a fraction of a second): raised inside TensorFlow's C++ it would
        surface as a SystemError, an "internal error" and exit code 1 instead
        of a clean interruption.
        """
        from ._tf import interrupts_deferred

        batch = to_model_input(images)
        with interrupts_deferred():
            scores = self._model.predict_on_batch(batch)
        return np.asarray(scores, dtype=np.float64)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for a batch."""
        return softmax(self.logits(images) / self.temperature)


def _load_snapshot(keras: Any, ref: ModelRef) -> Any:
    """Load the model from the very bytes ``ref`` hashed (see :attr:`ModelRef.content`).

    Keras loads only from a path, so the bytes go to a private temporary
    copy. Where even that cannot be written (a full disk, a file-size
    limit), the model is loaded from its own path and checked against the
    hash afterwards.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="batchdigits-model-") as folder:
            copy = Path(folder) / MODEL_FILENAME
            copy.write_bytes(ref.content)
            return keras.saving.load_model(copy, compile=False)
    except OSError:
        pass
    model = keras.saving.load_model(ref.path, compile=False)
    if ModelRef(ref.path, ref.source, ref.metadata).model_id != ref.model_id:
        raise ModelError(
            f"model {ref.path} was replaced while it was being loaded",
            remedy="run again once the new model is in place",
        )
    return model


def helper_model_ref(filename: str, train_flag: str) -> ModelRef:
    """A model ``scan --numbers`` uses beside the digit model (the split and
    string models): the one ``batchdigits train TRAIN_FLAG`` wrote to the
    user model folder, else the shipped one; :class:`ModelError` when
    neither is there. Hashed like the digit model, so an ``--incremental``
    run re-reads a file when it changes."""
    user = user_model_dir() / filename
    path = user if user.is_file() else shipped_model_path().with_name(filename)
    if not path.is_file():
        raise ModelError(
            f"the model {filename} for --numbers is missing from the installation: {path}",
            remedy=f"reinstall batchdigits, or train it with 'batchdigits train {train_flag}'",
        )
    return ModelRef(path, "user" if path == user else "shipped", read_metadata(path))


def load_helper_model(ref: ModelRef, threads: int | None = None) -> Any:
    """A helper model (:func:`helper_model_ref`) loaded from the bytes its id hashed."""
    from ._tf import import_tensorflow, interrupts_deferred

    with interrupts_deferred():
        import_tensorflow(threads)
        import keras

        return _load_snapshot(keras, ref)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def load_classifier(explicit: Path | None = None, threads: int | None = None) -> KerasClassifier:
    return KerasClassifier(resolve_model(explicit), threads=threads)


def build_model() -> Any:
    """The CNN: three convolution blocks with batch norm, outputting logits.

    Logits rather than softmax so that calibration (a temperature) can be
    applied at inference without retraining. About 0.3M parameters: fast on
    a CPU, and strong enough for 99.5%+ on MNIST.
    """
    from ._tf import import_tensorflow

    import_tensorflow()
    import keras
    from keras import layers

    def block(x: Any, filters: int) -> Any:
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        return x

    inputs = keras.Input(shape=(MNIST_SIDE, MNIST_SIDE, 1), name="digit")
    x = block(inputs, 32)
    x = layers.MaxPooling2D()(x)
    x = block(x, 64)
    x = layers.MaxPooling2D()(x)
    x = block(x, 128)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="batchdigits_cnn")


__all__ = [
    "ARCHITECTURE",
    "Classifier",
    "KerasClassifier",
    "ModelRef",
    "build_model",
    "load_classifier",
    "resolve_model",
    "shipped_model_path",
    "user_model_dir",
]
