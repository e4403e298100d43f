"""Learn the user's writers from their corrections.

Most of what batchdigits still misreads is a style of handwriting (a 1 with
a long up-stroke, a 9 written like a rho), and a handful of examples from
the user's own writers settles it where retraining the network on them
would not: fine-tuning on a few dozen images either moves too little or
forgets MNIST. So ``learn`` keeps the network as it is and adds a memory:

* every labelled image, read through the very same preprocessing as
  ``scan`` (and distorted copies of it, so that a few examples cover their
  writer's variation), is stored as the network's own description of
  where its strokes are (see :class:`Network`);
* a page whose features lie close to a stored example of some digit, and
  closer to it than to any example of another digit, gets that digit's
  logit raised, up to :data:`BONUS` (a nearest-neighbour vote); far from
  every example, or as close to two digits' examples, nothing changes;
* MNIST digits shipped with the model (``models/replay.npz``) are stored
  too, so that a user's example only wins where it is nearer than any of
  MNIST's own: a page nearer an MNIST 7 than a user's long-flagged 1 gets
  no vote for 1;
* how close counts as close is checked on the other half of those digits:
  the widest radius, down to 0.9 in cosine similarity, at which the memory
  turns no more than :data:`REPLAY_TOLERANCE` of them from right to wrong,
  so what the network read well it still reads well.

The constants were chosen on the style-shift benchmark's correction pools
(benchmarks/style_shift.py), never on its held-out parts, and checked
against MNIST's test set there.

The result is an ordinary Keras model of standard layers (``scan`` loads it
like any other), saved with its metadata, the model it was built on
(``base.keras``) and the corrections themselves (``corrections.npz``), so
that learning again adds to them, on the same base or a newer one. The
corrections are kept as read (MNIST form) and as written: each page's grey
pixels around the digit (:func:`thumbnails.kept_source`, at most
:data:`KEPT_PIXELS` in all). When the preprocessing changes, the pictures
the model learned no longer match what ``scan`` makes, and ``scan`` refuses
the model (``model.OLDEST_READABLE_PREPROCESS``); ``learn --again MODEL``
then reads the kept pages with the current preprocessing and learns them
anew, onto the shipped model, without the original files (which move).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .corrections import Correction, read_corrections
from .discover import SourceFile
from .errors import InputError, ModelError, TrainingDataError
from .load import MAX_PIXELS
from .model import (
    CORRECTIONS_FILENAME,
    MODEL_FILENAME,
    OLDEST_READABLE_PREPROCESS,
    ModelRef,
    metadata_path,
    read_metadata,
    recorded_version,
    resolve_model,
    shipped_model_ref,
    softmax,
    user_model_dir,
)
from .parallel import available_cores, ordered_map
from .pipeline import PreparedPage, prepare_files, progress_bar
from .preprocess import MNIST_SIDE, PREPROCESS_VERSION, read_page, to_model_input
from .thumbnails import KEPT_SIDE, shrink

#: Fewer labelled images than this teach nothing reliable.
MIN_LABELS = 10
#: Distorted copies of each labelled image stored beside it.
DEFAULT_COPIES = 20
#: Distorted copies made between two updates of the progress bar.
COPIES_PER_STEP = 2_000
#: The memory holds at most this many corrections and copies (copies are cut to fit).
MAX_MEMORY = 12_000
#: With at least this many labels, this share is held out to measure before
#: and after (and to recalibrate when there are enough); the final model
#: then learns from all of them.
HELD_OUT_FROM, HELD_OUT_SHARE = 40, 0.2
MIN_FOR_TEMPERATURE = 50
#: Largest raise of a digit's logit; it is reached :data:`RAMP` inside the
#: radius (cosine similarity) and ``LEAD + MARGIN`` closer than any other
#: digit's nearest example, and grows linearly up to both from nothing at
#: the radius and at a lead of ``LEAD``: a page about as near two digits'
#: examples gets no vote.
BONUS, RAMP, LEAD, MARGIN = 25.0, 0.05, 0.01, 0.01
#: Dimensions of the page descriptions the memory compares, and how many
#: replay digits their projection is fitted on.
FEATURES, PROJECTION_FIT = 256, 2_000
#: Share of the replay digits the memory may turn from right to wrong.
REPLAY_TOLERANCE = 0.0002
#: Radii tried, closest first, down to the widest reach allowed. The closest
#: still gives the whole raise to a near copy of a stored example: a page
#: the user corrected reads as corrected.
RADII = np.round(np.arange(1.0 - RAMP, 0.895, -0.01), 2)
BASE_FILENAME = "base.keras"
#: Grey pixels kept of all corrections together (uint8, before compression):
#: up to 1,024 corrections keep :data:`thumbnails.KEPT_SIDE` pixels a side,
#: more are kept smaller, down to :data:`SMALLEST_KEPT_SIDE` (the most
#: corrections a memory holds, 12,000, then keep about 110 MB; scans of
#: paper compress several times smaller).
KEPT_PIXELS = 64 * 1024 * 1024
SMALLEST_KEPT_SIDE = 96


def replay_path() -> Path:
    """MNIST training digits in MNIST form, shipped to calibrate the memory."""
    return Path(str(resources.files("batchdigits") / "models" / "replay.npz"))


@dataclass
class LearnOptions:
    """One ``learn`` run's settings, shared by the CLI and the API."""

    #: The folder that was scanned, and the labels (a reviewed workbook or a
    #: file,label CSV); both None with ``again``.
    folder: Path | None = None
    labels: Path | None = None
    #: Where to write the model; None: the user model folder that scan uses
    #: (with ``again``: the folder of the model learned again).
    out_dir: Path | None = None
    #: The model to learn onto; None: the one scan uses now (with ``again``:
    #: the shipped one).
    model: Path | None = None
    #: A learned model whose kept corrections are read again with the current
    #: preprocessing and learned anew (``learn --again``), instead of labels.
    again: Path | None = None
    jobs: int = 0
    copies: int = DEFAULT_COPIES
    seed: int = 0
    max_pixels: int = MAX_PIXELS
    progress: bool | None = None


@dataclass
class Examples:
    """Labelled pictures in MNIST form, with where each came from."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) uint8
    keys: list[str] = field(default_factory=list)  # "file" or "file#page"
    #: Each page's grey pixels around the digit, to read it again (None: not
    #: kept, by a batchdigits before 12); empty for examples without pages.
    kept: list[np.ndarray | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, rows: np.ndarray) -> Examples:
        keys = [self.keys[i] for i in rows] if self.keys else []
        kept = [self.kept[i] for i in rows] if self.kept else []
        return Examples(self.images[rows], self.labels[rows], keys, kept)


@dataclass
class LearnReport:
    model_path: Path
    metadata: dict[str, Any]
    skipped: list[str]


def learn(options: LearnOptions, log: Callable[[str], None] = print) -> LearnReport:
    """Read the labelled images, build the memory on the base model, save it.

    With ``options.again``, the labelled images are those kept beside that
    learned model, read again with the current preprocessing."""
    jobs = options.jobs or available_cores()
    again: Path | None = None
    if options.again is not None:
        again = _learned_model(options.again)
        out_dir = options.out_dir or again.parent
        kept = load_corrections(again.parent / CORRECTIONS_FILENAME, jobs, log, reread=True)
        if kept is None:
            raise TrainingDataError(
                f"no corrections are kept beside {again}",
                remedy="learn from the reviewed labels instead: batchdigits learn FOLDER "
                "--labels REVIEW.xlsx",
            )
        examples, fresh, skipped = kept, Examples(kept.images[:0], kept.labels[:0]), []
        start = resolve_model(options.model) if options.model else shipped_model_ref()
    else:
        if options.folder is None or options.labels is None:
            raise InputError(
                "learn needs the folder that was scanned and its labels",
                remedy="batchdigits learn FOLDER --labels REVIEW.xlsx, "
                "or learn --again MODEL to learn a model's kept corrections again",
            )
        out_dir = options.out_dir or user_model_dir()
        corrections = read_corrections(options.labels)
        check_files(options.folder, corrections)
        fresh, skipped = read_examples(options, corrections)
        for reason in skipped:
            log(f"skipped {reason}")
        previous = load_corrections(out_dir / CORRECTIONS_FILENAME, jobs, log)
        examples = merge(previous, fresh)
        start = resolve_model(options.model)
    if len(examples) < MIN_LABELS:
        raise TrainingDataError(
            f"learn needs at least {MIN_LABELS} labelled images; {len(examples)} could be used",
            remedy="label more images: a reviewed workbook's corrected_digit, or file,label rows",
        )
    base_path = _base_of(start)
    per_digit = np.bincount(examples.labels, minlength=10)
    log(
        f"learning {len(examples)} labelled images ({len(fresh)} new) onto {base_path} "
        f"(per digit: {', '.join(f'{d}: {n}' for d, n in enumerate(per_digit))})"
    )
    from ._tf import import_tensorflow

    import_tensorflow(jobs)
    import keras

    base = keras.saving.load_model(base_path, compile=False)
    base_meta = read_metadata(base_path)
    temperature = float(base_meta.get("temperature", 1.0))
    digits = load_replay()
    network = Network(base, fit_on=None if digits is None else digits.images[:PROJECTION_FIT])
    replay = Replay.read(network, digits)
    measured: dict[str, Any] = {}
    held_out = _held_out_rows(examples.labels, options.seed)
    if held_out is not None:
        keep = np.setdiff1d(np.arange(len(examples)), held_out)
        trial = build_memory(network, examples.subset(keep), replay, options, jobs, log)
        test = examples.subset(held_out)
        before = network.read(test.images)[0] / temperature
        after = trial.logits(network, test.images)
        measured = {
            "held_out_images": len(held_out),
            "held_out_accuracy_before": _accuracy(before, test.labels),
            "held_out_accuracy_after": _accuracy(after / temperature, test.labels),
        }
        if len(held_out) >= MIN_FOR_TEMPERATURE:
            temperature = fit_temperature(after, test.labels)
            measured["temperature_fitted_on"] = "held-out labels"
        log(
            f"held-out labels ({len(held_out)}): {measured['held_out_accuracy_before']:.1%} "
            f"before, {measured['held_out_accuracy_after']:.1%} after"
        )
    memory = build_memory(network, examples, replay, options, jobs, log)
    learned_from = read_metadata(again).get("learned", {}) if again is not None else {}
    metadata = {
        "name": "batchdigits-learned",
        "architecture": f"{base_meta.get('architecture', 'base model')} + nearest-example memory",
        "preprocess_version": PREPROCESS_VERSION,
        "temperature": round(temperature, 4),
        "learned": {
            "learned_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_model": base_meta.get("name", base_path.stem),
            "base_model_source": str(base_path),
            "labels": str(options.labels) if options.labels else learned_from.get("labels", ""),
            "folder": str(options.folder) if options.folder else learned_from.get("folder", ""),
            **({"learned_again_from": str(again)} if again is not None else {}),
            "labelled_images": len(examples),
            "new_labelled_images": len(fresh),
            "per_digit": {str(d): int(n) for d, n in enumerate(per_digit)},
            "memory_examples": memory.size,
            "distorted_copies": memory.copies,
            "radius": memory.radius,
            "replay_digits": 0 if digits is None else len(digits),
            "replay_changed": memory.replay_changed,
            **measured,
        },
        "base": base_meta,
        "batchdigits_version": __version__,
    }
    model_path = save_learned(memory.model(network), base_path, examples, metadata, out_dir)
    log(f"saved {model_path}")
    return LearnReport(model_path, metadata, skipped)


def check_files(folder: Path, corrections: Sequence[Correction]) -> None:
    """Refuse labels for files that are not in ``folder``: usually the wrong folder."""
    if not folder.is_dir():
        raise InputError(f"folder not found: {folder}", remedy="pass the folder that was scanned")
    missing = sorted({c.file for c in corrections if not (folder / c.file).is_file()})
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise InputError(
            f"{len(missing)} labelled file(s) are not in {folder}: {shown}",
            remedy="pass the folder that was scanned, or remove those rows from the labels",
        )


def read_examples(
    options: LearnOptions, corrections: Sequence[Correction]
) -> tuple[Examples, list[str]]:
    """The labelled pages in MNIST form, read exactly as ``scan`` reads them."""
    assert options.folder is not None
    wanted = {(c.file, c.page): c.label for c in corrections}
    files = sorted({c.file for c in corrections})
    sources = [SourceFile.of_relative(options.folder, file) for file in files]
    chunks = [sources[i : i + 8] for i in range(0, len(sources), 8)]
    task = partial(prepare_files, max_pixels=options.max_pixels, keep=True)
    images, labels, keys, kept, skipped = [], [], [], [], []
    pages: list[PreparedPage] = []
    advance = progress_bar(options.progress, len(sources), what="reading labelled images")
    with ordered_map(task, chunks, options.jobs or available_cores()) as prepared:
        for chunk in prepared:
            pages += chunk
            advance(len({page.source.relative for page in chunk}))
    for page in pages:
        key = (page.source.relative, page.page)
        label = wanted.get(key, wanted.get((page.source.relative, None)))
        if label is None:
            continue
        name = page.source.relative + (f" page {page.page}" if page.page else "")
        if page.image is None:
            skipped.append(f"{name}: {page.error or 'no digit found (blank page)'}")
            continue
        images.append(page.image)
        labels.append(label)
        keys.append(page.source.relative + (f"#{page.page}" if page.page else ""))
        kept.append(page.kept)
    stacked = np.stack(images) if images else np.zeros((0, MNIST_SIDE, MNIST_SIDE), np.uint8)
    return Examples(stacked, np.array(labels, dtype=np.uint8), keys, kept), skipped


def merge(previous: Examples | None, fresh: Examples) -> Examples:
    """Earlier corrections plus new ones; a new label for the same page wins."""
    if previous is None or not len(previous):
        return fresh
    renewed = set(fresh.keys)
    kept = np.array([i for i, key in enumerate(previous.keys) if key not in renewed], dtype=int)
    old = previous.subset(kept)
    return Examples(
        np.concatenate([old.images, fresh.images]),
        np.concatenate([old.labels, fresh.labels]),
        old.keys + fresh.keys,
        _kept_of(old) + _kept_of(fresh),
    )


def _kept_of(examples: Examples) -> list[np.ndarray | None]:
    return examples.kept or [None] * len(examples)


def load_corrections(
    path: Path,
    jobs: int = 1,
    log: Callable[[str], None] = lambda _: None,
    *,
    reread: bool = False,
) -> Examples | None:
    """The corrections kept at ``path``, in the current preprocessing's form.

    Kept under another preprocessing version (or with ``reread``), they are
    read again from their kept pages; a correction kept without its page (by
    a batchdigits before 12) cannot be, and is left out, with a message."""
    if not path.is_file():
        return None
    with np.load(path) as data:
        examples = Examples(data["images"], data["labels"], [str(k) for k in data["keys"]])
        if "source_pixels" in data.files:
            examples.kept = _unpack(data["source_pixels"], data["source_shapes"])
        if "preprocess_version" in data.files:
            version = int(data["preprocess_version"])
        else:  # kept before the store said: the model saved beside it does, else before 12
            beside = recorded_version(read_metadata(path.with_name(MODEL_FILENAME)))
            version = beside if beside is not None else OLDEST_READABLE_PREPROCESS - 1
    if version == PREPROCESS_VERSION and not reread:
        return examples
    return reread_examples(examples, jobs, log)


def reread_examples(examples: Examples, jobs: int, log: Callable[[str], None]) -> Examples:
    """``examples`` read again from their kept pages with the current preprocessing."""
    kept = _kept_of(examples)
    rows = [i for i, page in enumerate(kept) if page is not None]
    chunks = [[kept[i] for i in rows[start : start + 64]] for start in range(0, len(rows), 64)]
    readings: list[np.ndarray | None] = []
    with ordered_map(_read_kept, chunks, jobs) as read:
        for chunk in read:
            readings += chunk
    usable = [(i, image) for i, image in zip(rows, readings, strict=True) if image is not None]
    lost = len(examples) - len(usable)
    log(
        f"read {len(usable)} kept corrections again with preprocessing version "
        f"{PREPROCESS_VERSION}"
        + (
            f"; {lost} left out ({len(examples) - len(rows)} kept without their page, "
            f"{len(rows) - len(usable)} blank now): label them again to learn them"
            if lost
            else ""
        )
    )
    picked = np.array([i for i, _ in usable], dtype=int)
    again = examples.subset(picked)
    again.kept = [kept[i] for i in picked]
    if usable:
        again.images = np.stack([image for _, image in usable])
    return again


def _read_kept(pages: list[np.ndarray]) -> list[np.ndarray | None]:
    """One worker task: kept pages in MNIST form, read exactly as ``learn`` reads them."""
    return [read_page(page).first for page in pages]


def _pack(kept: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """Kept pages as one flat uint8 array and their (height, width), (0, 0) for
    none; shrunk so that they hold at most :data:`KEPT_PIXELS` together."""
    count = max(1, sum(page is not None for page in kept))
    side = int(np.clip(np.sqrt(KEPT_PIXELS / count), SMALLEST_KEPT_SIDE, KEPT_SIDE))
    pages = [None if page is None else shrink(page, side) for page in kept]
    shapes = np.array([(0, 0) if p is None else p.shape for p in pages], dtype=np.int32)
    flat = [p.ravel() for p in pages if p is not None]
    return (np.concatenate(flat) if flat else np.zeros(0, np.uint8)), shapes.reshape(-1, 2)


def _unpack(flat: np.ndarray, shapes: np.ndarray) -> list[np.ndarray | None]:
    pages: list[np.ndarray | None] = []
    start = 0
    for height, width in shapes:
        size = int(height) * int(width)
        pages.append(flat[start : start + size].reshape(height, width) if size else None)
        start += size
    return pages


def _learned_model(path: Path) -> Path:
    """The model file ``learn --again`` names (a folder: its digits.keras)."""
    model = path / MODEL_FILENAME if path.is_dir() else path
    if not model.is_file():
        raise InputError(
            f"model file not found: {path}",
            remedy="pass the learned model the warning named (DIR/digits.keras)",
        )
    if "learned" not in read_metadata(model):
        raise InputError(
            f"{model} was not made by 'batchdigits learn': it keeps no corrections",
            remedy="pass a model that learn wrote, or train this one again",
        )
    return model


def load_replay() -> Examples | None:
    path = replay_path()
    if not path.is_file():
        return None
    with np.load(path) as data:
        return Examples(data["images"], data["labels"], [])


def _base_of(ref: ModelRef) -> Path:
    """The model to build on: a learned model's own base; for a network that
    consults an ensemble (the shipped one), that ensemble; else the model
    itself. (``ref`` is readable: a learned model made under an older
    preprocessing was refused for the shipped model already, base and all.)

    The memory describes a page by every member network's feature maps, and
    its constants were chosen on the ensemble's: a single distilled network
    draws one digit's examples so close together that a user's example
    rarely stands out from MNIST's (the shipped network taught six 7s drawn
    as 1s read one of them back as 7, the ensemble none).
    """
    if "learned" in ref.metadata and (ref.path.parent / BASE_FILENAME).is_file():
        return ref.path.parent / BASE_FILENAME
    if ref.second_opinion is not None:
        for consulted in ref.second_opinion.refs:
            if read_metadata(consulted.path).get("members"):
                return consulted.path
    return ref.path


def _held_out_rows(labels: np.ndarray, seed: int) -> np.ndarray | None:
    """A stratified share of the labels to measure on, or None when too few."""
    if len(labels) < HELD_OUT_FROM:
        return None
    rng = np.random.default_rng(seed)
    rows = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        count = round(len(members) * HELD_OUT_SHARE)
        if len(members) >= 3 and count:
            rows += list(rng.choice(members, count, replace=False))
    return np.sort(np.array(rows, dtype=int)) if rows else None


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return round(float(np.mean(np.argmax(logits, axis=1) == labels)), 4)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature of least negative log-likelihood on these labels."""
    grid = np.exp(np.linspace(np.log(0.5), np.log(5.0), 60))
    losses = [
        -np.mean(np.log(softmax(logits / t)[np.arange(len(labels)), labels] + 1e-12)) for t in grid
    ]
    return float(grid[int(np.argmin(losses))])


class Network:
    """The base model taken apart into what the memory needs: its logits, and a
    description of each page's shape, from one pass.

    A batchdigits model is one network or the mean of several, each ending
    in global average pooling, a dense layer, and a dense layer named
    ``logits``. The layers next to the logits describe a page by the digit
    it looks like, which is too coarse here: a long-flagged 1 and a 7 look
    alike there, that is why one was read as the other. So a page is
    described by where its strokes are: each network's last convolution
    maps, pooled to 3x3, joined, and projected to :data:`FEATURES` dimensions
    (the principal directions of the replay digits' descriptions; a fixed
    random projection without them). The model is rebuilt from its own
    layers (and copies of its last ones), so the learned model holds each
    weight once.
    """

    def __init__(self, base: Any, fit_on: np.ndarray | None = None) -> None:
        import keras
        from keras import layers

        members = [layer for layer in base.layers if isinstance(layer, keras.Model)] or [base]
        self.inputs = keras.Input(shape=(MNIST_SIDE, MNIST_SIDE, 1), name="digit")
        shapes, logits = [], []
        try:
            for index, member in enumerate(members, start=1):
                head = member.get_layer("logits")
                (pool,) = [
                    layer
                    for layer in member.layers
                    if isinstance(layer, layers.GlobalAveragePooling2D)
                ]
                trunk = keras.Model(
                    member.inputs, [pool.input, head.input], name=f"member_{index}_trunk"
                )
                maps, feature = trunk(self.inputs)
                copy = layers.Dense(head.units, name=f"member_{index}_logits")
                logits.append(copy(feature))
                copy.set_weights(head.get_weights())
                pooled = layers.AveragePooling2D(3, strides=2, name=f"member_{index}_where")(maps)
                shapes.append(layers.Flatten()(pooled))
        except (ValueError, AttributeError) as exc:
            raise ModelError(
                f"cannot learn onto this model: {exc}",
                remedy="learn onto a model trained by batchdigits (the shipped one, or 'train')",
            ) from exc
        self.base_logits = (
            logits[0] if len(logits) == 1 else layers.Average(name="base_logits")(logits)
        )
        joined = shapes[0] if len(shapes) == 1 else layers.Concatenate()(shapes)
        projection = layers.Dense(
            FEATURES, use_bias=False, trainable=False, name="feature_projection"
        )
        self.raw_features = projection(joined)
        self._both = keras.Model(self.inputs, [self.base_logits, self.raw_features])
        projection.set_weights([self._projection(keras.Model(self.inputs, joined), fit_on)])
        probe = np.random.default_rng(0).integers(0, 256, (4, MNIST_SIDE, MNIST_SIDE), np.uint8)
        expected = np.asarray(base.predict(to_model_input(probe), verbose=0))
        if not np.allclose(self.read(probe)[0], expected, atol=1e-3):
            raise ModelError(
                "cannot learn onto this model: its output is not the mean of its networks' logits",
                remedy="learn onto a model trained by batchdigits (the shipped one, or 'train')",
            )

    @staticmethod
    def _projection(describe: Any, fit_on: np.ndarray | None) -> np.ndarray:
        width = int(describe.output.shape[-1])
        if fit_on is None or len(fit_on) < FEATURES:
            rng = np.random.default_rng(0)
            return (rng.normal(size=(width, FEATURES)) / np.sqrt(FEATURES)).astype(np.float32)
        described = describe.predict(to_model_input(fit_on), batch_size=512, verbose=0)
        _, _, directions = np.linalg.svd(np.asarray(described, np.float64), full_matrices=False)
        return directions[:FEATURES].T.astype(np.float32)

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 10) logits and (N, D) unit-length feature vectors."""
        logits, raw = self._both.predict(to_model_input(images), batch_size=512, verbose=0)
        features = np.asarray(raw) / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        return np.asarray(logits), features


@dataclass
class Memory:
    """Stored examples' feature vectors by digit, and the radius that counts as close."""

    features: np.ndarray  # (M, D)
    labels: np.ndarray  # (M,)
    radius: float
    copies: int
    replay_changed: int

    @property
    def size(self) -> int:
        return len(self.labels)

    def nearest(self, features: np.ndarray) -> np.ndarray:
        """(N, 10) similarity of each unit feature vector to the closest stored
        example of each digit, never below 0 (0 for a digit with none)."""
        nearest = np.zeros((len(features), 10))
        similarity = features @ self.features.T
        for digit in range(10):
            columns = self.labels == digit
            if columns.any():
                nearest[:, digit] = np.maximum(similarity[:, columns].max(axis=1), 0.0)
        return nearest

    def bonus(self, features: np.ndarray, nearest: np.ndarray | None = None) -> np.ndarray:
        """(N, 10) raise of each digit's logit for these unit feature vectors."""
        if nearest is None:
            nearest = self.nearest(features)
        others = np.stack(
            [np.delete(nearest, digit, axis=1).max(axis=1) for digit in range(10)], axis=1
        )
        close = np.clip((nearest - self.radius) / RAMP, 0.0, 1.0)
        apart = np.clip((nearest - others - LEAD) / MARGIN, 0.0, 1.0)
        return BONUS * close * apart

    def logits(self, network: Network, images: np.ndarray) -> np.ndarray:
        logits, features = network.read(images)
        return logits + self.bonus(features)

    def model(self, network: Network) -> Any:
        """The base model plus this memory, as one Keras model of standard layers."""
        import keras
        from keras import layers

        features = layers.UnitNormalization(name="unit_features")(network.raw_features)
        slots = int(max(np.bincount(self.labels, minlength=10).max(), 1))
        kernel = np.zeros((self.features.shape[1], slots * 10), np.float32)
        for digit in range(10):
            rows = np.flatnonzero(self.labels == digit)
            for slot in range(slots):  # slot k of digit d is column k * 10 + d
                if len(rows):
                    kernel[:, slot * 10 + digit] = self.features[rows[slot % len(rows)]]
        memory = layers.Dense(slots * 10, use_bias=False, trainable=False, name="memory")
        nearest = layers.ReLU(name="nearest_example")(
            layers.GlobalMaxPooling1D()(layers.Reshape((slots, 10))(memory(features)))
        )
        # Column d * 10 + e holds digit d's similarity, pushed far down where
        # d == e; its max over d (pooled over axis 1) is, for digit e, the
        # closest *other* digit.
        spread = layers.Dense(100, trainable=False, name="other_digits")
        others = layers.GlobalMaxPooling1D()(layers.Reshape((10, 10))(spread(nearest)))
        margin = layers.Subtract(name="margin")([nearest, others])
        close_gate = layers.Dense(10, trainable=False, name="close_gate")
        apart_gate = layers.Dense(10, trainable=False, name="apart_gate")
        close = layers.ReLU(max_value=1.0)(close_gate(nearest))
        apart = layers.ReLU(max_value=1.0)(apart_gate(margin))
        raise_ = layers.Dense(10, use_bias=False, trainable=False, name="memory_bonus")
        raised = raise_(layers.Multiply()([close, apart]))
        outputs = layers.Add(name="logits")([network.base_logits, raised])
        model = keras.Model(network.inputs, outputs, name="batchdigits_learned")
        eye = np.eye(10, dtype=np.float32)
        memory.set_weights([kernel])
        spread.set_weights([_spread_kernel(), _spread_bias()])
        close_gate.set_weights([eye / RAMP, np.full(10, -self.radius / RAMP, np.float32)])
        apart_gate.set_weights([eye / MARGIN, np.full(10, -LEAD / MARGIN, np.float32)])
        raise_.set_weights([eye * BONUS])
        return model


def _spread_kernel() -> np.ndarray:
    """(10, 100): output d * 10 + e copies input d (digit d, seen from digit e)."""
    kernel = np.zeros((10, 100), np.float32)
    for d in range(10):
        kernel[d, d * 10 : d * 10 + 10] = 1.0
    return kernel


def _spread_bias() -> np.ndarray:
    """Pushes output d * 10 + d (a digit against itself) below any similarity."""
    bias = np.zeros(100, np.float32)
    bias[[d * 10 + d for d in range(10)]] = -4.0
    return bias


@dataclass
class Replay:
    """The replay digits as the network reads them, read once per ``learn``:
    half stored beside the corrections, half to check the radius on."""

    anchor_features: np.ndarray
    anchor_labels: np.ndarray
    check_logits: np.ndarray
    check_features: np.ndarray
    check_labels: np.ndarray

    @classmethod
    def read(cls, network: Network, replay: Examples | None) -> Replay | None:
        if replay is None:
            return None
        logits, features = network.read(replay.images)
        return cls(
            features[::2], replay.labels[::2], logits[1::2], features[1::2], replay.labels[1::2]
        )


def build_memory(
    network: Network,
    examples: Examples,
    replay: Replay | None,
    options: LearnOptions,
    jobs: int,
    log: Callable[[str], None],
) -> Memory:
    """Store ``examples``, distorted copies of them and half the replay digits,
    and pick the radius on the other half of the replay digits."""
    from .train import prepare_digits

    copies = max(0, min(options.copies, MAX_MEMORY // max(1, len(examples)) - 1))
    images, labels = [examples.images], [examples.labels]
    if copies:
        sources = [image for image in examples.images for _ in range(copies)]
        advance = progress_bar(options.progress, len(sources), "copy", "distorting copies")
        parts = []
        for start in range(0, len(sources), COPIES_PER_STEP):
            step = sources[start : start + COPIES_PER_STEP]
            parts.append(prepare_digits(step, jobs, seed=options.seed + 1 + start, chunk=250))
            advance(len(step))
        distorted = np.concatenate(parts)
        usable = distorted.reshape(len(distorted), -1).any(axis=1)
        images.append(distorted[usable])
        labels.append(np.repeat(examples.labels, copies)[usable])
    features = [network.read(np.concatenate(images))[1]]
    if replay is not None:
        # MNIST's own digits compete with the corrections: a page nearer an
        # MNIST 7 than a user's long-flagged 1 gets no vote for 1.
        features.append(replay.anchor_features)
        labels.append(replay.anchor_labels)
    memory = Memory(np.concatenate(features), np.concatenate(labels), 0.0, copies, 0)
    memory.radius, memory.replay_changed = pick_radius(memory, replay)
    log(
        f"memory of {memory.size} examples ({copies} distorted copies of each correction"
        + ("" if replay is None else f", {len(replay.anchor_labels)} MNIST digits")
        + f"); radius {memory.radius:.2f}"
        + (
            ""
            if replay is None
            else f" ({memory.replay_changed} of {len(replay.check_labels)} checked changed)"
        )
    )
    return memory


def pick_radius(memory: Memory, replay: Replay | None) -> tuple[float, int]:
    """The smallest radius (most reach) at which the memory turns at most
    :data:`REPLAY_TOLERANCE` of the replay digits from right to wrong (the
    closest radius when even that turns more: the user's own examples win)."""
    if replay is None:
        return float(RADII[0]), 0
    logits, features, labels = replay.check_logits, replay.check_features, replay.check_labels
    nearest = memory.nearest(features)
    right = np.argmax(logits, axis=1) == labels
    allowed = int(REPLAY_TOLERANCE * len(labels))
    chosen, changed = float(RADII[0]), 0
    for radius in RADII:  # from the closest radius outwards
        memory.radius = float(radius)
        after = np.argmax(logits + memory.bonus(features, nearest), axis=1) == labels
        broken = int(np.sum(right & ~after))
        if broken > allowed:
            break
        chosen, changed = float(radius), broken
    return chosen, changed


def save_learned(
    model: Any, base_path: Path, examples: Examples, metadata: dict[str, Any], out_dir: Path
) -> Path:
    """Write the model, its metadata, its base and the corrections; every file
    is moved into place only when complete, the model last but its metadata."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".learn-") as tmp:
        staged = Path(tmp)
        if base_path.resolve() != (out_dir / BASE_FILENAME).resolve():
            shutil.copyfile(base_path, staged / BASE_FILENAME)
            if metadata_path(base_path).is_file():
                shutil.copyfile(metadata_path(base_path), metadata_path(staged / BASE_FILENAME))
        source_pixels, source_shapes = _pack(_kept_of(examples))
        np.savez_compressed(
            staged / CORRECTIONS_FILENAME,
            images=examples.images,
            labels=examples.labels,
            keys=np.array(examples.keys, dtype=str),
            source_pixels=source_pixels,
            source_shapes=source_shapes,
            preprocess_version=np.array(PREPROCESS_VERSION),
        )
        model.save(staged / MODEL_FILENAME)
        metadata_path(staged / MODEL_FILENAME).write_text(
            json.dumps(metadata, indent=2) + "\n", encoding="utf-8"
        )
        for name in (BASE_FILENAME, metadata_path(Path(BASE_FILENAME)).name, CORRECTIONS_FILENAME):
            if (staged / name).exists():
                os.replace(staged / name, out_dir / name)
        os.replace(staged / MODEL_FILENAME, out_dir / MODEL_FILENAME)
        os.replace(metadata_path(staged / MODEL_FILENAME), metadata_path(out_dir / MODEL_FILENAME))
    return out_dir / MODEL_FILENAME
