"""The digit classifier: where it lives, how it is built, and one session to run it.

A model is a Keras ``.keras`` file with a JSON metadata file beside it
(``<name>.json``): architecture, training data, epochs, accuracy, date. The
model that ``scan`` uses is, in order: ``--model PATH``; the one the user
trained last (in :func:`user_model_dir`); the one shipped in the package.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from .errors import ModelError
from .preprocess import MNIST_SIDE, PREPROCESS_VERSION, to_model_input

MODEL_FILENAME = "digits.keras"
ARCHITECTURE = "cnn-3block-bn"
#: What ``learn`` keeps beside the model it writes: the corrections it learned
#: from, with the pictures they were read from (see ``learn.save_learned``).
CORRECTIONS_FILENAME = "corrections.npz"

#: The oldest preprocessing (``preprocess_version`` in a model's metadata)
#: whose models may read the pictures this preprocessing makes. A model only
#: knows the pictures it was trained or taught on, and those are made by one
#: preprocessing version: version 12 (OpenCV) changes the pictures, so a
#: model made under 11 or before would read pictures unlike any it learned
#: from, and answer with confidence it has not earned. Such a model (a
#: ``--model`` path, the user's trained or learned model; a model without the
#: version too) is not used: :func:`resolve_model` falls back to the shipped
#: model with a warning naming the remedy. The shipped model is the fallback
#: and is never refused (it is trained under the running version; the v1
#: ensemble it consults was checked to read version 12's pictures as well as
#: version 11's, see its ``second_opinion`` note in digits.json).
#: Raise this whenever a preprocessing change makes pictures that older
#: models cannot read; a model made under the running version is always
#: readable (so nothing this installation makes is refused before the
#: preprocessing it names is the one that runs).
OLDEST_READABLE_PREPROCESS = 12

log = logging.getLogger("batchdigits")


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
    #: The model asked for and not used, made under an older preprocessing
    #: (this is then the shipped model, reading in its place).
    outdated: OutdatedModel | None = field(default=None, compare=False)

    @property
    def temperature(self) -> float:
        """Calibration temperature from the metadata (1.0: uncalibrated)."""
        return float(self.metadata.get("temperature", 1.0))

    @cached_property
    def second_opinion(self) -> SecondOpinion | None:
        """The models consulted where this one is unsure, if its metadata names them.

        The metadata's ``second_opinion`` names them in ``models`` (a list of
        ``{"file", "temperature"}``), or one model in ``file`` and
        ``temperature`` (as models trained before the list existed do)."""
        spec = self.metadata.get("second_opinion")
        if not isinstance(spec, dict):
            return None
        refs = []
        for entry in consulted_entries(spec):
            path = self.path.with_name(str(entry["file"]))
            if not path.is_file():
                raise ModelError(
                    f"model {self.path} names a second opinion that is missing: {path}",
                    remedy="reinstall batchdigits, or leave --model out to use the shipped model",
                )
            temperature = float(entry.get("temperature", 1.0))
            refs.append(ModelRef(path, self.source, {"temperature": temperature}))
        return SecondOpinion(tuple(refs), float(spec["below"]), float(spec["weight"]))

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
        if self.second_opinion is not None:
            second = self.second_opinion
            consulted = ",".join(ref.model_id for ref in second.refs)
            digest.update(f"second={consulted},{second.below!r},{second.weight!r}".encode())
        return f"{self.metadata.get('name', self.path.stem)}-{digest.hexdigest()[:12]}"


def consulted_entries(spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ``{"file", "temperature"}`` entries of the models a ``second_opinion``
    names: its ``models`` list, or the one model in the spec itself (as
    models trained before the list existed name it)."""
    if not spec:
        return []
    return list(spec.get("models") or [spec])


@dataclass(frozen=True)
class SecondOpinion:
    """Models consulted only where the first is unsure (a cascade).

    The first model answers alone where its calibrated confidence reaches
    ``below``; elsewhere the answer is its probabilities mixed with the mean
    of the consulted models' probabilities, ``weight`` of it theirs. The
    shipped model is a single network distilled from the v1 ensemble of
    three; on the few digits it is unsure of it consults a second network
    trained the same way from another seed, and the ensemble: most digits
    cost one network, the hard ones several judgements, and where they
    disagree (a style only some of them learnt) the mixed confidence is low
    and the row is flagged.
    """

    refs: tuple[ModelRef, ...]
    below: float
    weight: float


@dataclass(frozen=True)
class OutdatedModel:
    """A model made under a preprocessing older than :data:`OLDEST_READABLE_PREPROCESS`."""

    path: Path
    source: str
    preprocess_version: int | None
    remedy: str

    def warning(self, instead: ModelRef) -> str:
        made = (
            f"preprocessing version {self.preprocess_version}"
            if self.preprocess_version is not None
            else "a preprocessing that its metadata does not name"
        )
        which = {"user": "your model", "--model": "the --model"}.get(self.source, "the model")
        return (
            f"{which} {self.path} was made under {made}; this batchdigits makes the "
            f"pictures a model reads with preprocessing version {PREPROCESS_VERSION}, and "
            f"they changed, so that model is not used: reading with the shipped model "
            f"({instead.model_id}) instead. To use it again: {self.remedy}"
        )


def recorded_version(metadata: dict[str, Any]) -> int | None:
    """The preprocessing version a model's metadata records, if it records one."""
    version = metadata.get("preprocess_version")
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def readable_version(metadata: dict[str, Any]) -> bool:
    """Whether a model with this metadata may read this preprocessing's pictures."""
    version = recorded_version(metadata)
    return version is not None and version >= min(OLDEST_READABLE_PREPROCESS, PREPROCESS_VERSION)


def in_place_of(ref: ModelRef, shipped: ModelRef, remedy: str) -> ModelRef:
    """``shipped``, reading in place of the outdated ``ref``; the warning
    saying so, with the remedy, goes to the log."""
    outdated = OutdatedModel(ref.path, ref.source, recorded_version(ref.metadata), remedy)
    log.warning("warning: %s", outdated.warning(shipped))
    return ModelRef(shipped.path, shipped.source, shipped.metadata, outdated)


def relearn_remedy(path: Path, metadata: dict[str, Any]) -> str:
    """The command that makes an outdated model anew under this preprocessing."""
    folder = shlex.quote(str(path.parent))
    if "learned" in metadata:
        if kept_pictures(path.parent / CORRECTIONS_FILENAME):
            command = f"batchdigits learn --again {shlex.quote(str(path))} --out {folder}"
            if path.name != MODEL_FILENAME:
                command += f", then use --model {shlex.quote(str(path.parent / MODEL_FILENAME))}"
            return command
        labels = metadata["learned"].get("labels") if isinstance(metadata["learned"], dict) else ""
        return (
            "it kept no pictures to learn again from, so learn from the reviewed labels again: "
            f"batchdigits learn FOLDER --labels {shlex.quote(str(labels or 'REVIEW.xlsx'))} "
            f"--out {folder}"
        )
    return (
        f"train it again (batchdigits train --out {folder}), or leave --model out; if it was "
        f'made for these pictures, record "preprocess_version": {PREPROCESS_VERSION} in '
        f"{shlex.quote(str(metadata_path(path)))}"
    )


def kept_pictures(corrections: Path) -> bool:
    """Whether ``learn`` kept the pictures of its corrections there (to learn again)."""
    if not corrections.is_file():
        return False
    try:
        with np.load(corrections) as data:
            return "source_shapes" in data.files and bool(data["source_shapes"].any())
    except (OSError, ValueError):
        return False


def resolve_model(explicit: Path | None = None) -> ModelRef:
    """Find the model to use, failing with a remedy when it is missing.

    A model made under an older preprocessing (see
    :data:`OLDEST_READABLE_PREPROCESS`) is not used: the shipped model is
    returned in its place, its ``outdated`` naming the one refused, and a
    warning saying so, with the remedy, goes to the log.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise ModelError(
                f"model file not found: {explicit}",
                remedy="check the --model path, or leave --model out to use the default model",
            )
        return readable(ModelRef(explicit, "--model", read_metadata(explicit)))
    user = user_model_path()
    if user.is_file():
        return readable(ModelRef(user, "user", read_metadata(user)))
    return shipped_model_ref()


def shipped_model_ref() -> ModelRef:
    """The model shipped in the package: the fallback, never refused."""
    shipped = shipped_model_path()
    if not shipped.is_file():
        raise ModelError(
            f"the shipped model is missing from the installation: {shipped}",
            remedy="reinstall batchdigits, or train one with 'batchdigits train'",
        )
    return ModelRef(shipped, "shipped", read_metadata(shipped))


def readable(ref: ModelRef) -> ModelRef:
    """``ref``, or the shipped model (with a warning) where ``ref`` was made
    under a preprocessing older than :data:`OLDEST_READABLE_PREPROCESS`."""
    if ref.source == "shipped" or readable_version(ref.metadata):
        return ref
    shipped = shipped_model_ref()
    if _same_bytes(ref, shipped):  # a copy of the shipped model is the shipped model
        return ref
    return in_place_of(ref, shipped, relearn_remedy(ref.path, ref.metadata))


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


#: ``"auto"``: a model's LiteRT twin where it has one, else Keras; ``"keras"``: Keras.
Runtime = Literal["auto", "keras"]


class DigitClassifier:
    """One loaded digit model, built once and reused for every batch: its
    calibration, its second opinion, and the runtime that computes its
    logits. The network runs on its LiteRT twin where it has an intact one
    (:mod:`batchdigits.lite`: no TensorFlow import, a cheaper call, the
    same logits), else on Keras; ``runtime="keras"`` insists on Keras."""

    def __init__(
        self, ref: ModelRef, threads: int | None = None, runtime: Runtime = "auto"
    ) -> None:
        self.ref = ref
        self.model_id = ref.model_id
        self.temperature = ref.temperature
        self._network = open_network(ref, threads, runtime)
        second = ref.second_opinion
        self._second = (
            None
            if second is None
            else (second, [DigitClassifier(each, threads, runtime) for each in second.refs])
        )

    @property
    def runtime(self) -> str:
        """``"litert"`` or ``"keras"``: what computes this model's logits."""
        return self._network.runtime

    def logits(self, images: np.ndarray) -> np.ndarray:
        """Raw (N, 10) scores: one model call for the whole batch, never one per image."""
        return self._network.logits(to_model_input(images))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for a batch; where the model is unsure and
        names a second opinion, mixed with those models' (see :class:`SecondOpinion`)."""
        probabilities = softmax(self.logits(images) / self.temperature)
        if self._second is None:
            return probabilities
        second, classifiers = self._second
        unsure = np.flatnonzero(probabilities.max(axis=1) < second.below)
        if unsure.size:
            picked = np.asarray(images)[unsure]
            consulted = np.mean([each.predict(picked) for each in classifiers], axis=0)
            probabilities[unsure] = (1 - second.weight) * probabilities[
                unsure
            ] + second.weight * consulted
        return probabilities


class Network(Protocol):
    """What computes a model's logits: Keras, or the model's LiteRT twin."""

    runtime: str

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(N, ...) model input -> (N, ...) logits: (N, 28, 28, 1) -> (N, 10)
        for a digit model."""
        ...


def open_network(
    ref: ModelRef,
    threads: int | None = None,
    runtime: Runtime = "auto",
    keras: type[KerasNetwork] | None = None,
) -> Network:
    """The model's LiteRT twin where it has an intact one and LiteRT is
    installed (unless ``runtime="keras"``), else the Keras model itself
    (read by ``keras``: :class:`KerasNetwork`, a digit model, unless told)."""
    from .lite import LiteNetwork

    content = lite_twin(ref) if runtime != "keras" else None
    if content is None:
        return (keras or KerasNetwork)(ref, threads)
    return LiteNetwork(content, threads)


def lite_twin(ref: ModelRef) -> bytes | None:
    """The bytes of the model's intact LiteRT twin, where LiteRT is installed
    (see :mod:`batchdigits.lite`); None where the model is read by Keras."""
    from . import lite

    if not lite.runtime_available():
        return None
    return lite.twin_content(ref.path, ref.content, read_metadata(ref.path))


class KerasNetwork:
    """The Keras model itself, loaded from the bytes its id hashed."""

    runtime = "keras"

    def __init__(self, ref: ModelRef, threads: int | None = None) -> None:
        from ._tf import import_tensorflow, interrupts_deferred

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

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Ctrl-C or SIGTERM in the middle of the call is held until it returns
        (a fraction of a second): raised inside TensorFlow's C++ it would
        surface as a SystemError, an "internal error" and exit code 1 instead
        of a clean interruption."""
        from ._tf import interrupts_deferred

        with interrupts_deferred():
            scores = self._model.predict_on_batch(batch)
        return np.asarray(scores, dtype=np.float64)


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


def _same_bytes(ref: ModelRef, other: ModelRef) -> bool:
    try:
        if ref.path.stat().st_size != other.path.stat().st_size:
            return False
    except OSError:
        return False
    return ref.content == other.content


def helper_model_ref(filename: str, train_flag: str) -> ModelRef:
    """A model ``scan --numbers`` uses beside the digit model (the split and
    string models): the one ``batchdigits train TRAIN_FLAG`` wrote to the
    user model folder, else the shipped one (also in place of a user one made
    under an older preprocessing, as :func:`resolve_model` does); :class:`ModelError`
    when neither is there. Hashed like the digit model, so an ``--incremental``
    run re-reads a file when it changes."""
    user = user_model_dir() / filename
    ref = ModelRef(user, "user", read_metadata(user)) if user.is_file() else None
    if ref is not None and readable_version(ref.metadata):
        return ref
    path = shipped_model_path().with_name(filename)
    if not path.is_file():
        raise ModelError(
            f"the model {filename} for --numbers is missing from the installation: {path}",
            remedy=f"reinstall batchdigits, or train it with 'batchdigits train {train_flag}'",
        )
    shipped = ModelRef(path, "shipped", read_metadata(path))
    return shipped if ref is None else in_place_of(ref, shipped, f"batchdigits train {train_flag}")


def open_helper_network(ref: ModelRef, threads: int | None = None) -> Network:
    """A helper model's (the split model's, a string model member's) LiteRT
    twin where it has an intact one and LiteRT is installed, else the Keras
    model: with twins, ``scan --numbers`` never imports TensorFlow."""
    return open_network(ref, threads, keras=KerasHelperNetwork)


class KerasHelperNetwork(KerasNetwork):
    """A helper model read by Keras (one without an intact twin: trained
    before twins, or where LiteRT has no wheel); any input and output shape."""

    def __init__(self, ref: ModelRef, threads: int | None = None) -> None:
        self._model = load_helper_model(ref, threads)


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


def load_classifier(explicit: Path | None = None, threads: int | None = None) -> DigitClassifier:
    return DigitClassifier(resolve_model(explicit), threads=threads)


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
    "OLDEST_READABLE_PREPROCESS",
    "Classifier",
    "DigitClassifier",
    "ModelRef",
    "OutdatedModel",
    "build_model",
    "load_classifier",
    "resolve_model",
    "shipped_model_path",
    "shipped_model_ref",
    "user_model_dir",
]
