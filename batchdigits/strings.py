"""The string model: a number read whole, without cutting it into digits.

A small CRNN (convolutions, then a bidirectional LSTM along the width, CTC
output) reads the number's ink as one strip, 32 pixels tall. Where digits
touch or are written over each other, there is no clean cut to find, and
the segmenting reader (:mod:`batchdigits.numbers`) guesses; this model needs
none. Both read every number; where they agree the reading is far more
often right, and where they disagree the row is doubtful
(:func:`numbers.classify_numbers`).

It is trained on numbers composed from MNIST *training* digits and, for a
share of them, the digit model's other training hands
(:mod:`batchdigits.writers`; touching, overlapping, spaced, with printed and
pen-drawn marks that are not part of the number) by the same composer as
the split model, and its strips are
made by :func:`to_strip` for training and scanning alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from .amounts import Written, by_label, pick_amount
from .ctc import BLANK, StringReading, decode
from .lite import LITE_KEY, export_twin, lite_path
from .model import ModelRef, Network, helper_model_ref, open_helper_network
from .preprocess import PREPROCESS_VERSION
from .preprocess.shapes import bbox
from .recipe import STRING_EPOCHS, STRING_MEMBERS, STRING_NUMBERS, StringMember
from .writers import OTHER_HANDS, Hands, describe, pick_digits, render_hands

STRIP_HEIGHT = 32
STRIP_WIDTH = 256
#: Time steps along the strip (the width over four): room for 8 digits and
#: the blanks between repeated ones.
STEPS = 64
MOST_DIGITS = 8
#: Strips the model reads at once: its first layers' activations for 2,000
#: strips at once took 24 GB (a benchmark's whole split, OOM-killed); 256
#: take under 3.
STRIPS_PER_BATCH = 256
#: Strips the LiteRT twin reads at once (a scan's last few padded to it):
#: 2.8 ms a strip at 16 against 3.8 at 8 and 6.7 one at a time.
TWIN_BATCH = 16
#: Numbers composed for each training epoch (fresh ones every epoch), and
#: epochs: what the shipped model used.
DEFAULT_NUMBERS = STRING_NUMBERS
DEFAULT_EPOCHS = STRING_EPOCHS
#: The learning rate of the first epoch, decayed to near zero by the last.
LEARNING_RATE = 1e-3


def to_strip(mask: np.ndarray) -> np.ndarray:
    """A number's ink (bool, any size) as the model's (32, 256) uint8 strip:
    cropped to the ink, 28 pixels tall with a margin, aspect kept (squeezed
    only when wider than the strip), left-aligned, white ink on black."""
    strip = np.zeros((STRIP_HEIGHT, STRIP_WIDTH), dtype=np.uint8)
    if not mask.any():
        return strip
    mask = mask[bbox(mask)]
    height, width = mask.shape
    inner = STRIP_HEIGHT - 4
    scaled = max(4, min(STRIP_WIDTH - 4, round(width * inner / height)))
    picture = Image.fromarray(mask.astype(np.uint8) * 255).resize(
        (scaled, inner), Image.Resampling.BOX
    )
    strip[2 : 2 + inner, 2 : 2 + scaled] = np.asarray(picture)
    return strip


def to_model_input(strips: np.ndarray) -> np.ndarray:
    return (np.asarray(strips, dtype=np.float32) / 255.0)[..., None]


class StringReader(Protocol):
    """What ``scan --numbers`` needs of the string model."""

    model_id: str

    def read(self, strips: np.ndarray) -> list[StringReading]:
        """(N, 32, 256) strips -> one reading per strip."""
        ...


class StringModelReader:
    """The string model's members, loaded once (each its LiteRT twin where it
    has one, see :func:`model.open_helper_network`); each strip's frame
    probabilities are their mean. The members share the strip and its 64
    frames, and were trained on different hands: where one has not seen a
    writer's style, the other often has."""

    def __init__(self, refs: Sequence[ModelRef], threads: int | None = None) -> None:
        self.model_id = "+".join(ref.model_id for ref in refs)
        self._networks: list[Network] = [open_helper_network(ref, threads) for ref in refs]

    def read(self, strips: np.ndarray) -> list[StringReading]:
        outputs = [
            np.concatenate(
                [network.logits(to_model_input(part)) for part in _chunks(strips, STRIPS_PER_BATCH)]
            )
            for network in self._networks
        ]
        from scipy.special import log_softmax, logsumexp

        logs = [log_softmax(logits, axis=-1) for logits in outputs]
        return decode(logsumexp(logs, axis=0) - np.log(len(logs)))


def _chunks(strips: np.ndarray, size: int) -> list[np.ndarray]:
    """``strips`` in consecutive parts of at most ``size`` (one empty part
    for no strips, so the model's output keeps its shape)."""
    return [strips[start : start + size] for start in range(0, max(len(strips), 1), size)]


def string_model_refs() -> tuple[ModelRef, ...]:
    """The string model's members scan uses (:data:`recipe.STRING_MEMBERS`):
    each the one ``train --strings`` wrote to the user model folder, else
    the shipped one."""
    return tuple(helper_model_ref(member.file, "--strings") for member in STRING_MEMBERS)


def load_string_reader(threads: int | None = None) -> StringModelReader:
    return StringModelReader(string_model_refs(), threads)


def build_string_model(batch: int | None = None, unroll: bool = False) -> Any:
    """The CRNN: four convolution blocks (height 32 -> 2, width 256 -> 64),
    a bidirectional LSTM over the 64 steps, 11 logits per step (10: blank).

    ``batch`` and ``unroll`` make the same network in the form its LiteRT
    twin is exported from (:func:`export_string_twin`)."""
    from ._tf import import_tensorflow

    keras = import_tensorflow().keras
    layers = keras.layers
    inputs = keras.Input(batch_shape=(batch, STRIP_HEIGHT, STRIP_WIDTH, 1))
    x = inputs
    for filters, pool in ((32, (2, 2)), (64, (2, 2)), (96, (2, 1)), (128, (2, 1))):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(pool)(x)
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((STEPS, 2 * 128))(x)
    x = layers.Bidirectional(layers.LSTM(96, return_sequences=True, unroll=unroll))(x)
    outputs = layers.Dense(BLANK + 1)(x)  # logits: CTC's loss takes logits
    return keras.Model(inputs, outputs, name="batchdigits-strings")


def export_string_twin(model: Any, keras_bytes: bytes, target: Path) -> dict[str, str]:
    """Export a string model's LiteRT twin to ``target``; returns the
    metadata entry that binds it to the Keras file (``keras_bytes``).

    LiteRT's converter cannot lower the LSTM's loop over a batch of any
    size, so the twin is the same network with the loop unrolled over the
    64 frames, for batches of :data:`TWIN_BATCH` strips (logits within
    about 2e-5 of Keras')."""
    twin = build_string_model(batch=TWIN_BATCH, unroll=True)
    twin.set_weights(model.get_weights())
    return export_twin(twin, keras_bytes, target)


def _ctc_loss(labels: Any, logits: Any) -> Any:
    from ._tf import import_tensorflow

    ops = import_tensorflow().keras.ops
    lengths = ops.sum(ops.cast(labels >= 0, "int32"), axis=1)
    targets = ops.where(labels >= 0, labels, 0)
    steps = ops.full((ops.shape(logits)[0],), STEPS, "int32")
    return ops.ctc_loss(targets, logits, lengths, steps, mask_index=BLANK)


#: Numbers composed per task when composing in parallel; the results depend
#: on it (each chunk draws from its own seed), never on how many workers run.
COMPOSE_CHUNK = 1000


def _compose_chunk(
    task: tuple[
        np.ndarray, np.ndarray, np.ndarray, int, tuple[float, float] | None, bool, np.ndarray
    ],
) -> np.ndarray:
    """Strips of one chunk of numbers: its digits in order, split by
    ``counts``, each number's last ``raised`` digits written small and raised."""
    from .splits import MARK_SIZE, compose_number

    digits, labels, counts, seed, mark_size, pen_signs, raised = task
    mark_size = mark_size or MARK_SIZE
    rng = np.random.default_rng(seed)
    strips = np.zeros((len(counts), STRIP_HEIGHT, STRIP_WIDTH), dtype=np.uint8)
    ends = np.cumsum(counts)
    for index, (start, end) in enumerate(zip(ends - counts, ends, strict=True)):
        number = compose_number(
            digits[start:end], labels[start:end], rng, mark_size, pen_signs, int(raised[index])
        )
        strips[index] = to_strip(number.mask)
    return strips


def string_examples(
    digits: np.ndarray,
    labels: np.ndarray,
    numbers: int,
    seed: int,
    jobs: int = 1,
    hands: Hands | None = None,
    share: float = OTHER_HANDS,
    mark_size: tuple[float, float] | None = None,
    amounts: float = 0.0,
    pen_signs: bool = False,
    raised_cents: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``numbers`` composed numbers of 2-8 of ``digits`` (a ``share`` of them
    written in ``hands``, an ``amounts`` share of the rest the digits of an
    amount of money, a ``raised_cents`` share of those with cents written
    with them small and raised; printed marks ``mark_size`` times the
    digits' height, by default the composer's; with ``pen_signs`` some signs
    drawn by pen) as strips, and their digits (padded with -1).

    Which digits make each number is drawn here; each chunk of numbers is
    composed (the slow part, about 2 ms a number) from a seed of its own, in
    ``jobs`` worker processes, so a training epoch's fresh numbers are not
    bound to one core.
    """
    from .parallel import ordered_map

    rng = np.random.default_rng(seed)
    counts = rng.integers(2, MOST_DIGITS + 1, numbers)
    if (hands is None or not share) and not amounts:  # drawn as before: the recipe reproduces
        picked = rng.integers(0, len(digits), int(counts.sum()))
        ends = np.cumsum(counts)
        bounds = zip(ends - counts, ends, strict=True)
        written = [Written(digits[picked[a:b]], labels[picked[a:b]]) for a, b in bounds]
    else:
        indices = by_label(labels) if amounts else []
        written = [
            pick_amount(rng, digits, labels, indices, int(n), raised_cents)
            if amounts and rng.random() < amounts
            else Written(*pick_digits(rng, digits, labels, int(n), hands, share))
            for n in counts
        ]
    targets = np.full((numbers, MOST_DIGITS), -1, dtype=np.int32)
    for row, written_number in enumerate(written):
        targets[row, : len(written_number.labels)] = written_number.labels
    tasks = []
    for first in range(0, numbers, COMPOSE_CHUNK):
        part = written[first : first + COMPOSE_CHUNK]
        chunk_digits = np.concatenate([number.images for number in part])
        chunk_labels = np.concatenate([number.labels for number in part])
        chunk_counts = counts[first : first + len(part)]
        raised = np.array([number.raised for number in part])
        task = (
            chunk_digits,
            chunk_labels,
            chunk_counts,
            seed * 7919 + first,
            mark_size,
            pen_signs,
            raised,
        )
        tasks.append(task)
    with ordered_map(_compose_chunk, tasks, jobs) as results:
        parts = list(results)
    strips = np.concatenate(parts) if parts else np.zeros((0, STRIP_HEIGHT, STRIP_WIDTH), np.uint8)
    return strips, targets


def train_string_model(
    data: Path | None,
    out_dir: Path,
    *,
    numbers: int = DEFAULT_NUMBERS,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
    members: Sequence[StringMember] = STRING_MEMBERS,
) -> list[dict[str, Any]]:
    """Train the string model's ``members`` (all of
    :data:`recipe.STRING_MEMBERS` unless told) one after the other and save
    each in ``out_dir`` with its metadata (.json); returns their metadata.
    Each is checked on numbers of training digits 55,000 on, which the fit
    never sees."""
    from .parallel import available_cores
    from .train import load_mnist

    jobs = jobs or available_cores()
    mnist = load_mnist(data)
    hands = render_hands(numbers, seed, jobs) if any(m.other_hands for m in members) else None
    return [
        _train_member(mnist, out_dir, member, hands, numbers, epochs, seed, jobs, log)
        for member in members
    ]


def _train_member(
    mnist: Any,
    out_dir: Path,
    member: StringMember,
    hands: Hands | None,
    numbers: int,
    epochs: int,
    seed: int,
    jobs: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """One member, as :class:`recipe.StringMember` says; checked on MNIST's
    numbers with the same marks."""
    from ._tf import import_tensorflow

    started = time.monotonic()
    out, mark_size = out_dir / member.file, member.mark_size
    seed += member.seed
    check, check_targets = string_examples(
        mnist.x_train[55000:],
        mnist.y_train[55000:],
        max(200, numbers // 30),
        seed + 1,
        jobs,
        mark_size=mark_size,
        pen_signs=member.pen_signs,
    )
    truth = ["".join(map(str, row[row >= 0])) for row in check_targets]
    keras = import_tensorflow().keras
    keras.utils.set_random_seed(seed)
    model = build_string_model()
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    model.compile(optimizer=optimizer, loss=_ctc_loss)
    accuracy = 0.0
    for epoch in range(epochs):
        # Fresh numbers every epoch: ten times the variety for the same fitting
        # time; and a cosine decay, so the last epochs settle.
        strips, targets = string_examples(
            mnist.x_train[:55000],
            mnist.y_train[:55000],
            numbers,
            seed + 1000 * (epoch + 1),
            jobs,
            hands,
            member.other_hands,
            mark_size,
            member.amounts,
            member.pen_signs,
            member.raised_cents,
        )
        optimizer.learning_rate.assign(LEARNING_RATE * 0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        model.fit(to_model_input(strips), targets, batch_size=64, epochs=1, verbose=0)
        read = decode(np.asarray(model.predict(to_model_input(check), verbose=0)))
        accuracy = float(np.mean([r.digits == t for r, t in zip(read, truth, strict=True)]))
        log(f"{out.name}: epoch {epoch + 1}/{epochs}: check numbers read right {accuracy:.1%}")
    metadata = {
        "name": "batchdigits-strings",
        "architecture": "crnn: 4 conv blocks, bilstm 96, ctc",
        "parameters": int(model.count_params()),
        "preprocess_version": PREPROCESS_VERSION,
        "data": mnist.source,
        "training_numbers": numbers,
        "training_numbers_per": "epoch (fresh ones each epoch)",
        "other_hands": describe(hands, member.other_hands),
        "mark_size": list(mark_size),
        "amounts": member.amounts,
        "pen_signs": member.pen_signs,
        "raised_cents": member.raised_cents,
        "learning_rate": f"{LEARNING_RATE} with cosine decay over the epochs",
        "epochs": epochs,
        "seed": seed,
        "check_numbers": len(check),
        "check_numbers_right": round(accuracy, 4),
        "training_seconds": round(time.monotonic() - started, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    metadata[LITE_KEY] = export_string_twin(model, out.read_bytes(), lite_path(out))
    out.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    log(json.dumps(metadata, indent=2))
    return metadata


def read_strips(
    reader: StringReader | None, strips: Sequence[np.ndarray | None]
) -> list[StringReading | None]:
    """The string model's reading of each strip (None where there is none)."""
    present = [strip for strip in strips if strip is not None]
    if reader is None or not present:
        return [None] * len(strips)
    readings = iter(reader.read(np.stack(present)))
    return [None if strip is None else next(readings) for strip in strips]
