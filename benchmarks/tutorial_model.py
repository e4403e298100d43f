"""The tutorial's model: Keras' "Simple MNIST convnet" example, trained on raw MNIST.

Usage: python benchmarks/tutorial_model.py   # train (or load) it and print its MNIST score

This is the model behind the story batchdigits starts from: two convolution
layers, dropout and a softmax, 15 epochs of Adam on raw MNIST, about 99.2% on
MNIST's test set. The benchmarks pair it with the naive pipeline (raw file ->
grayscale -> 28x28, no inversion, no cropping) to show what a user of that
tutorial gets on scans. It is trained once and cached under benchmarks/_work/.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, REPO

from batchdigits._tf import import_tensorflow

CACHE = REPO / "benchmarks" / "_work" / "tutorial_cnn.keras"
EPOCHS = 15
BATCH_SIZE = 128


def build() -> object:
    """Layer for layer, the model of keras.io/examples/vision/mnist_convnet."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


class TutorialModel:
    """The trained tutorial model; ``predict`` takes (N, 28, 28) uint8 images as
    the tutorial feeds them: scaled to 0..1, nothing else."""

    def __init__(self, model: object, mnist_test_accuracy: float) -> None:
        self.model = model
        self.mnist_test_accuracy = mnist_test_accuracy

    def predict(self, images: np.ndarray) -> np.ndarray:
        batch = (np.asarray(images, dtype=np.float32) / 255.0)[..., None]
        return np.asarray(self.model.predict(batch, batch_size=512, verbose=0))  # type: ignore[attr-defined]


def tutorial_model(data: Path = DEFAULT_MNIST) -> TutorialModel:
    """Load the cached tutorial model, training it first if needed (minutes on a CPU)."""
    import_tensorflow()
    import keras

    info_path = CACHE.with_suffix(".json")
    if CACHE.is_file() and info_path.is_file():
        info = json.loads(info_path.read_text())
        return TutorialModel(keras.saving.load_model(CACHE), info["mnist_test_accuracy"])
    with np.load(data) as mnist:
        x_train, y_train = mnist["x_train"], mnist["y_train"]
        x_test, y_test = mnist["x_test"], mnist["y_test"]
    keras.utils.set_random_seed(1)
    model = build()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    started = time.monotonic()
    model.fit(
        (x_train.astype(np.float32) / 255.0)[..., None],
        keras.utils.to_categorical(y_train, 10),
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        validation_split=0.1,
        verbose=2,
    )
    tutorial = TutorialModel(model, 0.0)
    accuracy = float(np.mean(tutorial.predict(x_test).argmax(axis=1) == y_test))
    tutorial.mnist_test_accuracy = accuracy
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    model.save(CACHE)
    info = {"mnist_test_accuracy": accuracy, "training_seconds": time.monotonic() - started}
    info_path.write_text(json.dumps(info, indent=2))
    return tutorial


if __name__ == "__main__":
    model = tutorial_model()
    print(f"tutorial model: MNIST test accuracy {model.mnist_test_accuracy:.2%} ({CACHE})")
