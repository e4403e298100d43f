"""The split model: is a candidate from :mod:`batchdigits.segment` one whole digit?

The digit model was trained on whole digits only, so it reads a fragment
of a digit, or two touching digits, as some digit, often at 0.99: its
confidence cannot tell a good split from a bad one. This small network
can. It is trained on the segmenter's own candidates for numbers composed
from MNIST *training* digits and, for a share of them, from the digit
model's other training hands (:mod:`batchdigits.writers`; touching,
overlapping, spaced), each labelled
by which digit's ink it holds: the digit (0-9) when it holds one digit
whole and little else, class 10 ("not one digit") when it holds a fragment
or parts of two. Only its class-10 probability is used; the digit model
still says which digit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from . import segment
from .lite import LITE_KEY, export_twin, lite_path
from .model import ModelRef, helper_model_ref, open_helper_network
from .preprocess import PREPROCESS_VERSION, to_model_input
from .preprocess.shapes import bbox
from .recipe import SPLIT_EPOCHS, SPLIT_NUMBERS
from .writers import Hands, describe, pick_digits, render_hands

NOT_ONE_DIGIT = 10
#: A candidate is a whole digit when this share of its ink is one digit's
#: and it holds this share of that digit's ink; a fragment or a mix below
#: the lower pair; in between it is left out of training as ambiguous.
WHOLE = (0.88, 0.85)
BROKEN = (0.75, 0.65)


SPLITS_FILE = "splits.keras"
#: Numbers composed for training, and epochs: what the shipped model used.
DEFAULT_NUMBERS = SPLIT_NUMBERS
DEFAULT_EPOCHS = SPLIT_EPOCHS


class SplitChecker(Protocol):
    """What ``scan --numbers`` needs of the split model."""

    model_id: str

    def whole(self, images: np.ndarray) -> np.ndarray:
        """(N, 28, 28) candidates -> (N,) chance each is one whole digit."""
        ...


class SplitModelChecker:
    """The split model, loaded once (its LiteRT twin where it has one, see
    :func:`model.open_helper_network`)."""

    def __init__(self, ref: ModelRef, threads: int | None = None) -> None:
        self.model_id = ref.model_id
        self._network = open_helper_network(ref, threads)

    def whole(self, images: np.ndarray) -> np.ndarray:
        scores = self._network.logits(to_model_input(images))
        return 1.0 - np.asarray(scores, dtype=np.float64)[:, NOT_ONE_DIGIT]


def split_model_ref() -> ModelRef:
    """The split model scan uses: one ``train --splits`` wrote to the user
    model folder, else the shipped one."""
    return helper_model_ref(SPLITS_FILE, "--splits")


def load_split_checker(threads: int | None = None) -> SplitModelChecker:
    return SplitModelChecker(split_model_ref(), threads)


#: Marks written around numbers that are not digits, by where they go.
LEADING_MARKS = "$€£#"
INNER_MARKS = ".,-/'"
TRAILING_MARKS = "✓✓-=.,/*"
#: Fonts for the marks: matplotlib's own (it is a dependency), so they are
#: always there. Printed shapes, sheared and thickened at random: a
#: different hand from any benchmark's pen strokes.
MARK_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralItalic.ttf",
)
MARK = -3  # the owner of a mark's pixels
#: A printed mark's font size over the digits' height, drawn from this range:
#: a currency sign at 0.6 is about half as tall as the digits beside it, at
#: 1.5 taller. (Before 2026-11-30, 1.4 always: the string model's MNIST
#: member still learnt that way, see recipe.STRING_MEMBERS.)
MARK_SIZE = (0.6, 1.5)


@dataclass(frozen=True)
class Composed:
    """A number composed from MNIST digits, as the segmenter's ink mask."""

    mask: np.ndarray
    owner: np.ndarray  # which digit each ink pixel is (-2 where two overlap, -3 a mark)
    labels: list[int]
    sizes: np.ndarray  # ink pixels per digit


def _digit_mask(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit as the segmenter's mask of a scan shows it: often from
    a small original enlarged (blocky, rounded), with noise and blur at its
    edges, thresholded at a varying level, strokes thickened or thinned."""
    from scipy import ndimage

    zoom = height / 20 * float(rng.uniform(0.85, 1.15))
    size = max(8, round(28 * zoom))
    picture = Image.fromarray(digit)
    if rng.random() < 0.5:
        small = int(rng.integers(14, 32))
        picture = picture.resize((small, small), Image.Resampling.BOX)
    grey = np.asarray(picture.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    if rng.random() < 0.5:
        grey = ndimage.gaussian_filter(grey, float(rng.uniform(0.5, 2.0)))
    grey = grey + rng.normal(0.0, float(rng.uniform(0, 25)), grey.shape)
    mask = grey >= float(rng.uniform(80, 170))
    change = int(rng.integers(-1, 3))
    if change > 0:
        mask = ndimage.binary_dilation(mask, iterations=change)
    elif change < 0 and ndimage.binary_erosion(mask).sum() > 0.5 * mask.sum():
        mask = ndimage.binary_erosion(mask)
    return _cropped(mask)


def _cropped(mask: np.ndarray) -> np.ndarray:
    return mask[bbox(mask)] if mask.any() else np.ones((1, 1), dtype=bool)


#: Marks also drawn as pen strokes (a polyline in the digits' frame, 0-1 from
#: the digits' top-left to their bottom-right), since a written tick or dash
#: is no font's glyph.
STROKE_MARKS: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "✓": (((0.0, 0.55), (0.3, 0.95), (0.9, 0.0)),),
    "-": (((0.0, 0.5), (0.6, 0.5)),),
    "=": (((0.0, 0.4), (0.6, 0.4)), ((0.0, 0.65), (0.6, 0.65))),
    "/": (((0.6, -0.1), (0.0, 1.1)),),
    ",": (((0.1, 0.85), (0.0, 1.15)),),
}
#: Signs that are written by hand too (``compose_number(pen_signs=True)``):
#: a dollar sign (an S and its bar) and a number sign, at 0.5-1.1 times the
#: digits' height. The split model learns them, and so does the string
#: model's member that learns amounts (recipe.STRING_MEMBERS).
SIGN_STROKES: dict[str, tuple[tuple[tuple[float, float], ...], ...]] = {
    "$": (
        ((0.44, 0.18), (0.3, 0.08), (0.13, 0.14), (0.11, 0.33), (0.3, 0.5), (0.45, 0.68)),
        ((0.45, 0.68), (0.4, 0.86), (0.24, 0.93), (0.06, 0.85)),
        ((0.28, -0.05), (0.27, 1.0)),
    ),
    "#": (
        ((0.22, 0.05), (0.14, 0.95)),
        ((0.5, 0.05), (0.42, 0.95)),
        ((0.0, 0.35), (0.62, 0.35)),
        ((0.0, 0.65), (0.6, 0.65)),
    ),
}
SIGN_SIZE = (0.5, 1.1)


def _mark_mask(
    mark: str,
    height: int,
    rng: np.random.Generator,
    size: tuple[float, float] = MARK_SIZE,
    pen_signs: bool = False,
) -> tuple[np.ndarray, int]:
    """A mark drawn for digits ``height`` tall, and its top below the digits' top:
    a font's glyph (its font size ``size`` times the height, a range), or for
    some marks as often pen strokes (:data:`STROKE_MARKS`, and with
    ``pen_signs`` :data:`SIGN_STROKES`)."""
    if mark in STROKE_MARKS and rng.random() < 0.5:
        return _stroke_mark(STROKE_MARKS[mark], height, rng)
    if pen_signs and mark in SIGN_STROKES and rng.random() < 0.5:
        return _stroke_mark(SIGN_STROKES[mark], height, rng, SIGN_SIZE, jitter=0.02)
    import matplotlib
    from PIL import ImageDraw, ImageFont
    from scipy import ndimage

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    # Printed on a form or cheque, a sign is often smaller than the hand's digits.
    scale = size[0] if size[0] == size[1] else float(rng.uniform(*size))
    font = ImageFont.truetype(str(fonts / str(rng.choice(MARK_FONTS))), max(4, int(height * scale)))
    side = int(height * 3)
    canvas = Image.new("L", (side, side), 0)
    baseline = int(height * 2)
    ImageDraw.Draw(canvas).text((side // 4, baseline), mark, fill=255, font=font, anchor="ls")
    shear = float(rng.uniform(-0.3, 0.3))
    canvas = canvas.transform(
        canvas.size, Image.Transform.AFFINE, (1, shear, -shear * baseline, 0, 1, 0)
    )
    mask = np.asarray(canvas) >= 128
    grow = int(rng.integers(0, 3))
    if grow:
        mask = ndimage.binary_dilation(mask, iterations=grow)
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return np.ones((1, 1), dtype=bool), height - 1
    return _cropped(mask), int(rows[0] - (baseline - height))


def _stroke_mark(
    strokes: tuple[tuple[tuple[float, float], ...], ...],
    height: int,
    rng: np.random.Generator,
    size: tuple[float, float] = (0.7, 1.2),
    jitter: float = 0.06,
) -> tuple[np.ndarray, int]:
    from PIL import ImageDraw

    side = int(height * 3)
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    scale = height * float(rng.uniform(*size))
    width = max(1, round(height * float(rng.uniform(0.04, 0.12))))
    origin = np.array([side / 3, height])
    for stroke in strokes:
        points = [
            tuple(origin + scale * (np.array(point) + rng.normal(0, jitter, 2))) for point in stroke
        ]
        draw.line(points, fill=255, width=width, joint="curve")
    mask = np.asarray(canvas) >= 128
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return np.ones((1, 1), dtype=bool), height - 1
    return _cropped(mask), int(rows[0] - height)


def compose_number(
    digits: np.ndarray,
    labels: np.ndarray,
    rng: np.random.Generator,
    mark_size: tuple[float, float] = MARK_SIZE,
    pen_signs: bool = False,
    raised: int = 0,
) -> Composed:
    """Digits side by side at a random spacing (wide to overlapping), size
    and baseline, now and then with marks that are not digits around them
    (a currency sign, separators, a tick; printed at ``mark_size`` times the
    digits' height; with ``pen_signs`` some signs written by hand), as a
    bool mask at working resolution. The last ``raised`` digits are written
    as an amount's cents often are: small, their tops near the others'
    tops, half the time a line drawn under them."""
    height = int(rng.integers(30, 100))
    spacing = str(rng.choice(["spaced", "touching", "overlapping"], p=[0.35, 0.35, 0.3]))
    items: list[tuple[np.ndarray, int | None, int]] = []  # mask, top (None: centred), owner
    first_raised = len(digits) - raised
    for index, digit in enumerate(digits):
        if index >= first_raised:
            small = max(8, round(height * float(rng.uniform(0.5, 0.7))))
            offset = round(float(rng.uniform(-0.1, 0.1)) * height)
            items.append((_digit_mask(digit, small, rng), offset, index))
        else:
            items.append((_digit_mask(digit, height, rng), None, index))

    def mark(choices: str) -> tuple[np.ndarray, int, int]:
        return (
            *_mark_mask(str(rng.choice(list(choices))), height, rng, mark_size, pen_signs),
            MARK,
        )

    if rng.random() < 0.5:
        if rng.random() < 0.35:
            items.insert(0, mark(LEADING_MARKS))
        if rng.random() < 0.35 and len(digits) > 1:
            at = int(rng.integers(1, len(items)))
            items.insert(at, mark(INNER_MARKS))
        if rng.random() < 0.35:
            items.append(mark(TRAILING_MARKS))
    tallest = max(mask.shape[0] for mask, top, _ in items if top is None)
    canvas_height = max(int(tallest * 1.6) + 4, max(mask.shape[0] for mask, _, _ in items))
    width = sum(mask.shape[1] for mask, _, _ in items) + height * len(items) + 8
    mask_canvas = np.zeros((canvas_height, width), dtype=bool)
    owner = np.full((canvas_height, width), -1, dtype=np.int16)
    band_top = (canvas_height - tallest) // 2
    left = 4
    cents: list[tuple[int, int, int]] = []  # raised digits' left, right, bottom
    for mask, offset, who in items:
        if offset is None:
            top = int((canvas_height - mask.shape[0]) / 2 + rng.uniform(-0.1, 0.1) * tallest)
        else:
            top = band_top + offset
        top = min(max(0, top), canvas_height - mask.shape[0])
        region = (slice(top, top + mask.shape[0]), slice(left, left + mask.shape[1]))
        here = owner[region]
        here[mask & (here != -1)] = -2 if who != MARK else MARK
        here[mask & (here == -1)] = who
        mask_canvas[region] |= mask
        if who >= first_raised:
            cents.append((left, left + mask.shape[1], top + mask.shape[0]))
        gap = {
            "spaced": rng.uniform(0.1, 0.6) * height,
            "touching": -rng.uniform(0.0, 0.1) * mask.shape[1],
            "overlapping": -rng.uniform(0.1, 0.3) * mask.shape[1],
        }[spacing]
        left = max(0, left + mask.shape[1] + int(gap))
    if cents and rng.random() < 0.5:
        _line_under(mask_canvas, owner, cents, height, rng)
    cols = np.flatnonzero(mask_canvas.any(axis=0))
    keep = slice(0, cols[-1] + 5)
    sizes = np.array([(owner == i).sum() + (owner == -2).sum() for i in range(len(digits))])
    return Composed(mask_canvas[:, keep], owner[:, keep], [int(x) for x in labels], sizes)


def _line_under(
    mask: np.ndarray,
    owner: np.ndarray,
    cents: list[tuple[int, int, int]],
    height: int,
    rng: np.random.Generator,
) -> None:
    """A line drawn by hand under raised cents (``cents``: their left,
    right and bottom), into ``mask`` and ``owner`` as a mark."""
    left = max(0, min(a for a, _, _ in cents) - round(float(rng.uniform(0, 0.15)) * height))
    right = min(mask.shape[1], max(b for _, b, _ in cents) + round(rng.uniform(0, 0.2) * height))
    thick = max(1, round(height * float(rng.uniform(0.04, 0.1))))
    top = max(c for _, _, c in cents) + round(float(rng.uniform(0.03, 0.15)) * height)
    top = min(top, mask.shape[0] - thick)
    region = (slice(top, top + thick), slice(left, right))
    owner[region] = np.where(owner[region] == -1, MARK, owner[region])
    mask[region] = True


def label_candidates(composed: Composed) -> tuple[np.ndarray, np.ndarray]:
    """The segmenter's candidates for a composed number and their training
    labels (digit, or :data:`NOT_ONE_DIGIT`); ambiguous ones left out."""
    pieces, height = segment.find_pieces(composed.mask)
    if not pieces:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    pieces = segment.cut_wide_pieces(pieces, height)
    spans, images, _ = segment.candidate_digits(pieces, height)
    count = len(composed.labels)
    owned = []
    for piece in pieces:
        owners = composed.owner[piece.top : piece.bottom, piece.left : piece.right][piece.mask]
        shared = int((owners == -2).sum())
        counts = np.bincount(owners[owners >= 0], minlength=count)[:count] + shared
        owned.append((counts, int(piece.mask.sum())))
    keep, targets = [], []
    for index, (start, stop) in enumerate(spans):
        counts = sum(owned[i][0] for i in range(start, stop))
        total = sum(owned[i][1] for i in range(start, stop))
        best = int(np.argmax(counts))
        share, whole = counts[best] / max(total, 1), counts[best] / max(composed.sizes[best], 1)
        if share >= WHOLE[0] and whole >= WHOLE[1]:
            keep.append(index)
            targets.append(composed.labels[best])
        elif share < BROKEN[0] or whole < BROKEN[1]:
            keep.append(index)
            targets.append(NOT_ONE_DIGIT)
    return images[keep], np.array(targets, dtype=np.int64)


def split_examples(
    digits: np.ndarray,
    labels: np.ndarray,
    numbers: int,
    seed: int,
    hands: Hands | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Training candidates from ``numbers`` numbers of 2-5 of ``digits``
    (a share of them written in ``hands``)."""
    rng = np.random.default_rng(seed)
    images, targets = [], []
    for _ in range(numbers):
        written, written_labels = pick_digits(rng, digits, labels, int(rng.integers(2, 6)), hands)
        number = compose_number(written, written_labels, rng, pen_signs=True)
        found, classes = label_candidates(number)
        images.append(found)
        targets.append(classes)
    return np.concatenate(images), np.concatenate(targets)


def build_split_model() -> Any:
    """A small CNN: 11 classes (the digits, and not one digit)."""
    from ._tf import import_tensorflow

    keras = import_tensorflow().keras
    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters in (32, 64):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.3)(x)
    outputs = keras.layers.Dense(NOT_ONE_DIGIT + 1, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="batchdigits-splits")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train_split_model(
    data: Path | None,
    out_dir: Path,
    *,
    numbers: int = DEFAULT_NUMBERS,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the split model on candidates from MNIST's training digits and
    save it as ``out_dir``/splits.keras with its metadata (.json); returns
    the metadata. The check candidates come from training digits 55,000 on,
    which the fit never sees (MNIST's test digits stay for the benchmarks)."""
    from .parallel import available_cores
    from .train import load_mnist

    mnist = load_mnist(data)
    digits, labels = mnist.x_train, mnist.y_train
    out = out_dir / SPLITS_FILE
    started = time.monotonic()
    fit_digits, check_digits = slice(0, 55000), slice(55000, 60000)
    hands = render_hands(numbers, seed, available_cores())
    images, targets = split_examples(digits[fit_digits], labels[fit_digits], numbers, seed, hands)
    check_images, check_targets = split_examples(
        digits[check_digits], labels[check_digits], max(200, numbers // 10), seed + 1
    )
    log(f"{len(images)} candidates to fit ({(targets == NOT_ONE_DIGIT).mean():.0%} not one digit)")
    from ._tf import import_tensorflow

    import_tensorflow().keras.utils.set_random_seed(seed)
    model = build_split_model()
    model.fit(
        to_model_input(images), targets, epochs=epochs, batch_size=128, verbose=2, shuffle=True
    )
    predicted = model.predict(to_model_input(check_images), verbose=0)
    broken = predicted[:, NOT_ONE_DIGIT] >= 0.5
    truth = check_targets == NOT_ONE_DIGIT
    metadata = {
        "name": "batchdigits-splits",
        "preprocess_version": PREPROCESS_VERSION,
        "data": mnist.source,
        "training_numbers": numbers,
        "training_candidates": len(images),
        "other_hands": describe(hands),
        "mark_size": list(MARK_SIZE),
        "pen_signs": "".join(SIGN_STROKES),
        "epochs": epochs,
        "seed": seed,
        "check_candidates": len(check_images),
        "check_not_one_digit_accuracy": round(float((broken == truth).mean()), 4),
        "check_whole_digits_called_broken": round(float(broken[~truth].mean()), 4),
        "check_broken_called_whole": round(float((~broken[truth]).mean()), 4),
        "training_seconds": round(time.monotonic() - started, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    metadata[LITE_KEY] = export_twin(model, out.read_bytes(), lite_path(out))
    out.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    log(json.dumps(metadata, indent=2))
    return metadata
