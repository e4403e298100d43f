"""Shared fixtures: digits drawn in code, a counting fake model, and paths."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SCANS = REPO / "sample_scans"
MNIST_PATH = Path(
    os.environ.get("BATCHDIGITS_MNIST", REPO.parent / "shared" / "data" / "mnist.npz")
)


def draw_digit(
    digit: str,
    *,
    size: tuple[int, int] = (200, 160),
    box: tuple[int, int, int, int] | None = None,
    stroke: int = 10,
    ink: int = 20,
    paper: int = 240,
) -> np.ndarray:
    """A grayscale page with a '0', '1' or '7' drawn as pen strokes in ``box``."""
    height, width = size
    image = Image.new("L", (width, height), paper)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = box or (width * 0.35, height * 0.25, width * 0.65, height * 0.75)
    if digit == "0":
        draw.ellipse((left, top, right, bottom), outline=ink, width=stroke)
    elif digit == "1":
        middle = (left + right) / 2
        draw.line((middle, top, middle, bottom), fill=ink, width=stroke)
    elif digit == "7":
        draw.line((left, top, right, top), fill=ink, width=stroke)
        draw.line((right, top, left + (right - left) * 0.3, bottom), fill=ink, width=stroke)
    else:
        raise ValueError(digit)
    return np.asarray(image, dtype=np.uint8)


def seven_with_a_skip() -> tuple[np.ndarray, np.ndarray]:
    """A 7 whose pen skipped across the middle of its stroke, and the 7 whole."""
    whole = draw_digit("7", size=(240, 200), stroke=6)
    page = whole.copy()
    page[110:140, :] = 240
    return page, whole


class CountingClassifier:
    """A stand-in model: reads the digit from where the ink sits, counts its calls.

    Digit = (ink rows' mean position) mod 10 is meaningless but deterministic,
    and confidence is high unless the image is faint, so the review logic
    sees both kinds of rows.
    """

    model_id = "fake-model"

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert images.ndim == 3 and images.shape[1:] == (28, 28) and images.dtype == np.uint8
        self.batch_sizes.append(len(images))
        probabilities = np.full((len(images), 10), 0.01)
        for row, image in enumerate(images):
            digit = int(image.sum()) % 10
            probabilities[row, digit] = 0.91
        return probabilities / probabilities.sum(axis=1, keepdims=True)


@pytest.fixture
def counting_classifier() -> CountingClassifier:
    return CountingClassifier()


@pytest.fixture
def mnist_path() -> Path:
    if not MNIST_PATH.is_file():
        pytest.skip(
            f"full MNIST not found at {MNIST_PATH} (CI has ../shared/data/mnist.npz; "
            "set BATCHDIGITS_MNIST to run these tests)"
        )
    return MNIST_PATH


@pytest.fixture(autouse=True)
def isolated_model_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep tests away from the user's own trained model."""
    home = tmp_path_factory.mktemp("batchdigits-home")
    previous = os.environ.get("BATCHDIGITS_HOME")
    os.environ["BATCHDIGITS_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("BATCHDIGITS_HOME", None)
    else:
        os.environ["BATCHDIGITS_HOME"] = previous


def write_digit_folder(folder: Path, count: int = 6) -> list[Path]:
    """A folder of small digit images (PNG and JPEG), for pipeline tests."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        digit = "017"[i % 3]
        page = draw_digit(digit, size=(120 + 10 * i, 100), stroke=6 + i % 3)
        path = folder / f"digit_{i:02d}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(page).save(path)
        paths.append(path)
    return paths


def write_big_folder(folder: Path, count: int) -> Path:
    """``count`` copies of one 600x480 scan: a folder a run takes seconds over."""
    import io

    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(draw_digit("7", size=(600, 480))).save(buffer, "PNG")
    for i in range(count):
        (folder / f"{i:05d}.png").write_bytes(buffer.getvalue())
    return folder
