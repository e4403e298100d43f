"""The LiteRT twin of a Keras model: the same network, run without TensorFlow.

A scan spends most of its start-up importing TensorFlow (about 2.5 s of CPU
on the machines we measure on) and its model time in Keras' per-call
overhead. LiteRT (``ai-edge-litert``, Google's runtime for exported Keras
models) imports in a twentieth of a second and runs the shipped network in
about 0.25 ms per image against 0.35 ms under Keras, with logits equal to
within 1e-5, so every reading is the same.

A model gets a twin when it is saved (``train``, ``combine``): the network
exported to ``<name>.tflite`` beside ``<name>.keras``, and the model's
metadata recording the SHA-256 of both files. The twin is used only where
the Keras file is still the one it was exported from and the twin is intact;
anything else (a model ``learn`` made, a replaced file, no LiteRT wheel for
the platform) is read by Keras, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .quiet import stderr_silenced

#: Suffix of a model's LiteRT twin, beside its ``.keras`` file.
LITE_SUFFIX = ".tflite"
#: The metadata key that names the twin and binds it to the Keras file.
LITE_KEY = "lite"


def lite_path(model_path: Path) -> Path:
    """Where the twin of the Keras model at ``model_path`` lives."""
    return model_path.with_suffix(LITE_SUFFIX)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_twin(model: Any, keras_bytes: bytes, target: Path) -> dict[str, str]:
    """Export ``model`` (a loaded Keras model whose file holds ``keras_bytes``)
    to ``target`` and return the metadata entry that binds the two."""
    from ._tf import import_tensorflow

    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # The converter prints the SavedModel it stages on stdout, which is for data.
    with contextlib.redirect_stdout(io.StringIO()), stderr_silenced():
        content = converter.convert()
    target.write_bytes(content)
    return {"file": target.name, "keras_sha256": sha256(keras_bytes), "sha256": sha256(content)}


def runtime_available() -> bool:
    """Whether LiteRT can be imported here (it has no wheel for every platform)."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def twin_content(model_path: Path, keras_bytes: bytes, metadata: dict[str, Any]) -> bytes | None:
    """The twin's bytes, if ``metadata`` names one that was exported from
    exactly ``keras_bytes`` and is intact on disk; else None (read with Keras)."""
    entry = metadata.get(LITE_KEY)
    if not isinstance(entry, dict) or entry.get("keras_sha256") != sha256(keras_bytes):
        return None
    path = model_path.with_name(str(entry.get("file", lite_path(model_path).name)))
    try:
        content = path.read_bytes()
    except OSError:
        return None
    return content if sha256(content) == entry.get("sha256") else None


class LiteNetwork:
    """A model's twin loaded into a LiteRT interpreter: logits for a batch.

    Most twins take any batch: the interpreter is sized for each batch's
    length when it changes (a scan's batches are all full but the last). A
    twin exported for one batch size (the string model's, whose LSTM is
    unrolled over its frames) reads batches of that size, the last padded.
    One interpreter is not safe to call from two threads (Beam may share
    one model between threads), so calls take a lock.
    """

    runtime = "litert"

    def __init__(self, content: bytes, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=content, num_threads=threads or 1)
        given = self._interpreter.get_input_details()[0]
        self._input = given["index"]
        self._fixed = None if given["shape_signature"][0] == -1 else int(given["shape"][0])
        output = self._interpreter.get_output_details()[0]
        self._output = output["index"]
        self._output_shape = tuple(int(side) for side in output["shape"][1:])
        self._batch = -1
        self._lock = threading.Lock()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(N, ...) model input -> (N, ...) logits."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if len(batch) == 0:
            return np.zeros((0, *self._output_shape))
        with self._lock:
            if self._fixed is None:
                return self._invoke(batch)
            parts = []
            for start in range(0, len(batch), self._fixed):
                part = batch[start : start + self._fixed]
                padded = np.zeros((self._fixed, *batch.shape[1:]), dtype=np.float32)
                padded[: len(part)] = part
                parts.append(self._invoke(padded)[: len(part)])
            return np.concatenate(parts)

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._batch:
            self._interpreter.resize_tensor_input(self._input, list(batch.shape))
            with stderr_silenced():  # "Created TensorFlow Lite XNNPACK delegate", from C++
                self._interpreter.allocate_tensors()
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, batch)
        self._interpreter.invoke()
        return np.asarray(self._interpreter.get_tensor(self._output), dtype=np.float64)
