"""Train the digit CNN on MNIST, through the same preprocessing that ``scan`` uses.

Every training digit goes through :func:`batchdigits.preprocess.to_mnist`,
clean and in randomly distorted copies (rotation, shear, stretch, stroke
weight, elastic warp), so the model learns the pictures our preprocessing
actually produces, not only MNIST's.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from . import __version__
from .errors import ModelError, TrainingDataError
from .lite import LITE_KEY, export_twin, lite_path
from .model import (
    ARCHITECTURE,
    MODEL_FILENAME,
    build_model,
    metadata_path,
    read_metadata,
    user_model_dir,
)
from .parallel import available_cores, ordered_map
from .preprocess import MNIST_SIDE, PREPROCESS_VERSION, to_mnist, to_model_input
from .recipe import (
    DEFAULT_BROKEN_STROKES,
    DEFAULT_DISTORTED_COPIES,
    DEFAULT_EPOCHS,
    DEFAULT_FONT_SAMPLES,
    DEFAULT_STROKE_SAMPLES,
    DEFAULT_STYLE_SAMPLES,
    DEFAULT_TEACHER_WEIGHT,
    DEFAULT_TRAIN_SEED,
    PEER_FILENAME,
    SECOND_OPINION_BELOW,
    SECOND_OPINION_WEIGHT,
    TEACHER_FILENAME,
)
from .synthetic import FONT_PACKAGES, find_fonts, synthetic_digits

MNIST_ENV = "BATCHDIGITS_MNIST"
VALIDATION_SIZE = 5000
#: How alike (correlation of the blurred 28x28 results) a broken-stroke copy
#: must stay to its whole digit to be used; see same_shape.
SAME_SHAPE = 0.88


@dataclass
class TrainOptions:
    """Settings of one training run; all of them are recorded in the metadata."""

    data: Path | None = None
    out_dir: Path = field(default_factory=user_model_dir)
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 128
    distorted_copies: int = DEFAULT_DISTORTED_COPIES
    #: Digits beyond MNIST's writers (batchdigits.synthetic): renders per
    #: handwriting font and digit, and per European stroke style and digit.
    #: 0 turns them off.
    font_samples: int = DEFAULT_FONT_SAMPLES
    stroke_samples: int = DEFAULT_STROKE_SAMPLES
    #: Renders per hand style (batchdigits.styles).
    style_samples: int = DEFAULT_STYLE_SAMPLES
    #: Share of distorted copies drawn with broken strokes (see break_strokes).
    broken_strokes: float = DEFAULT_BROKEN_STROKES
    limit: int | None = None
    seed: int = DEFAULT_TRAIN_SEED
    jobs: int = field(default_factory=available_cores)
    name: str = "batchdigits-cnn"
    #: A trained model whose answers the network learns beside the labels
    #: (distillation): one network learns most of what an ensemble of three
    #: knows, at a third of the cost per digit. None: labels only.
    teacher: Path | None = field(default_factory=lambda: default_teacher())
    #: The teacher's share of each MNIST digit's target; renders beyond MNIST
    #: (fonts, stroke styles) are learnt from their labels alone, since they
    #: hold the styles the teacher reads wrong.
    teacher_weight: float = DEFAULT_TEACHER_WEIGHT


#: The temperature the teacher's logits are softened by: its runner-up
#: answers (a 7 that looks a little like a 1) are what a student learns from.
DISTILL_TEMPERATURE = 2.0


def default_teacher() -> Path:
    """The shipped teacher: the v1 ensemble of three networks."""
    return Path(str(resources.files("batchdigits") / "models" / TEACHER_FILENAME))


def distillation_targets(
    teacher_path: Path, images: np.ndarray, labels: np.ndarray, taught: int, weight: float
) -> np.ndarray:
    """Targets mixing the labels with the teacher's softened answers.

    The first ``taught`` images (MNIST's) get ``weight`` of the teacher's
    probabilities at :data:`DISTILL_TEMPERATURE`; the rest their labels.
    """
    import keras

    targets = np.eye(10, dtype=np.float32)[labels]
    if taught == 0 or weight <= 0:
        return targets
    teacher = keras.saving.load_model(teacher_path, compile=False)
    logits = teacher.predict(to_model_input(images[:taught]), batch_size=512, verbose=0)
    soft = np.exp((logits - logits.max(axis=1, keepdims=True)) / DISTILL_TEMPERATURE)
    soft /= soft.sum(axis=1, keepdims=True)
    targets[:taught] = weight * soft + (1 - weight) * targets[:taught]
    return targets


def consult_teacher(teacher: Path, out_dir: Path) -> dict[str, Any]:
    """The metadata that makes the trained network consult its teacher where
    it is unsure (see ``model.SecondOpinion``), and the peer network beside
    the teacher where there is one (:data:`recipe.PEER_FILENAME`, as beside
    the shipped teacher), each copied beside it when not there already."""
    out_dir.mkdir(parents=True, exist_ok=True)
    consulted = [teacher]
    peer = teacher.with_name(PEER_FILENAME)
    if peer.is_file() and peer.resolve() != teacher.resolve():
        consulted.insert(0, peer)
    for model in consulted:
        beside = out_dir / model.name
        if beside.resolve() == model.resolve():
            continue
        for source, copy in (
            (model, beside),
            (lite_path(model), lite_path(beside)),
            (metadata_path(model), metadata_path(beside)),
        ):
            if source.is_file() or source == model:
                shutil.copyfile(source, copy)
    return {
        "models": [
            {"file": model.name, "temperature": float(read_metadata(model).get("temperature", 1.0))}
            for model in consulted
        ],
        "below": SECOND_OPINION_BELOW,
        "weight": SECOND_OPINION_WEIGHT,
    }


@dataclass
class MnistData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def load_mnist(path: Path | None = None) -> MnistData:
    """MNIST from ``path``, else ``$BATCHDIGITS_MNIST``, else Keras' download."""
    if path is None and os.environ.get(MNIST_ENV):
        path = Path(os.environ[MNIST_ENV])
    if path is not None:
        try:
            with np.load(path) as data:
                arrays = [
                    np.asarray(data[key]) for key in ("x_train", "y_train", "x_test", "y_test")
                ]
        except (OSError, KeyError, ValueError) as exc:
            raise TrainingDataError(
                f"cannot read MNIST from {path}: {exc}",
                remedy="pass an mnist.npz with x_train, y_train, x_test, y_test (Keras' layout)",
            ) from exc
        return MnistData(*arrays, source=str(path))
    from ._tf import import_tensorflow

    import_tensorflow()
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # network errors come in many types
        raise TrainingDataError(
            f"cannot download MNIST: {exc}",
            remedy=f"pass --data PATH to an mnist.npz, or set {MNIST_ENV}",
        ) from exc
    return MnistData(x_train, y_train, x_test, y_test, source="keras.datasets.mnist")


def break_strokes(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit as a failing pen leaves it: strokes thinned until their
    narrow parts vanish, and a few gaps where the ink skipped.

    A hairline pen, faint pencil or dry ballpoint loses its thinnest parts
    when a scan is binarised, so real scans bring digits in pieces: a 9
    whose loop is open, a 6 in three strokes. MNIST's writers never do.
    """
    inside = digit > 127
    if not inside.any():
        return digit
    depth = ndimage.distance_transform_edt(inside)
    half_width = 2.0 * float(depth[inside].mean())
    thinned = depth > rng.uniform(0.45, 0.85) * half_width
    gaps = int(rng.integers(0, 4))
    if thinned.sum() < 0.2 * inside.sum():
        thinned, gaps = inside, max(1, gaps)  # too bold to thin: skips only
    ys, xs = np.nonzero(depth >= 0.5 * half_width)  # mid-stroke, so a gap cuts it through
    yy, xx = np.indices(digit.shape)
    for _ in range(gaps):
        k = int(rng.integers(len(ys)))
        radius = rng.uniform(1.0, 2.0) * half_width
        thinned &= (yy - ys[k]) ** 2 + (xx - xs[k]) ** 2 > radius**2
    if thinned.sum() < 0.2 * inside.sum():
        return digit
    return ndimage.gaussian_filter(thinned.astype(np.float32) * 255.0, 0.5)


def same_shape(a: np.ndarray, b: np.ndarray, least: float = SAME_SHAPE) -> bool:
    """Whether two 28x28 digits, blurred, still overlap like one digit.

    A broken copy is a fair training example only while preprocessing keeps
    all of its pieces; where it keeps one stroke of a 5, the label would be
    a lie, so that copy is not used.
    """
    blurred = [ndimage.gaussian_filter(x.astype(np.float32), 1.5).ravel() for x in (a, b)]
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty copy: NaN, not alike
        return float(np.corrcoef(*blurred)[0, 1]) >= least


def distort(digit: np.ndarray, rng: np.random.Generator, zoom: int = 3) -> np.ndarray:
    """A randomly distorted copy of a white-on-black digit, enlarged ``zoom`` times.

    The distortions are the ways handwriting on real scans differs from
    MNIST's writers: slant and rotation, width, stroke weight and wobble.
    """
    big = digit.astype(np.float32)
    if zoom != 1:
        big = ndimage.zoom(big, zoom, order=1)
    angle = np.deg2rad(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    scale_y, scale_x = rng.uniform(0.85, 1.15, size=2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([scale_y, scale_x])
    inverse = np.linalg.inv(matrix)
    centre = np.array(big.shape) / 2
    offset = centre - inverse @ centre
    warped = ndimage.affine_transform(big, inverse, offset=offset, order=1, mode="constant")
    if rng.random() < 0.5:
        alpha, sigma = rng.uniform(2, 6), 8.0
        dy = ndimage.gaussian_filter(rng.uniform(-1, 1, big.shape), sigma) * alpha * sigma
        dx = ndimage.gaussian_filter(rng.uniform(-1, 1, big.shape), sigma) * alpha * sigma
        yy, xx = np.indices(big.shape)
        warped = ndimage.map_coordinates(warped, [yy + dy, xx + dx], order=1, mode="constant")
    weight = rng.integers(-2, 4)
    if weight > 0:
        warped = ndimage.grey_dilation(warped, size=(weight + 1, weight + 1))
    elif weight < 0:
        warped = ndimage.grey_erosion(warped, size=(2, 2))
    return np.clip(warped, 0, 255)


def _prepare_chunk(task: tuple[Sequence[np.ndarray], int | None, int, float]) -> np.ndarray:
    """to_mnist over a chunk of digits, distorted first when a seed is given."""
    digits, seed, zoom, broken_share = task
    rng = np.random.default_rng(seed) if seed is not None else None
    out = np.zeros((len(digits), 28, 28), dtype=np.uint8)
    for i, digit in enumerate(digits):
        if rng is None:
            result = to_mnist(digit)
        else:
            source = distort(digit, rng, zoom)
            result = to_mnist(source)
            if result is not None and rng.random() < broken_share:
                broken = to_mnist(break_strokes(source, rng))
                if broken is not None and same_shape(broken, result):
                    result = broken
        if result is not None:
            out[i] = result
    return out


def prepare_digits(
    digits: Sequence[np.ndarray],
    jobs: int,
    seed: int | None = None,
    zoom: int = 3,
    chunk: int = 500,
    broken_share: float = 0.0,
) -> np.ndarray:
    """Run every digit through the scan preprocessing (optionally distorted first).

    ``zoom`` enlarges 28x28 MNIST digits before distortion; synthetic renders
    are already large (zoom 1).
    """
    tasks = [
        (digits[i : i + chunk], None if seed is None else seed * 1_000_003 + i, zoom, broken_share)
        for i in range(0, len(digits), chunk)
    ]
    parts = list(ordered_map(_prepare_chunk, tasks, jobs))
    return np.concatenate(parts) if parts else np.zeros((0, 28, 28), np.uint8)


def model_accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` (MNIST form) a Keras model reads as ``labels``."""
    logits = model.predict(to_model_input(images), batch_size=512, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


@dataclass
class TrainReport:
    model_path: Path
    metadata: dict[str, Any]


def train(options: TrainOptions, log: Callable[[str], None] = print) -> TrainReport:
    """Train, evaluate on the untouched MNIST test set, and save model + metadata."""
    started = time.monotonic()
    data = load_mnist(options.data)
    rng = np.random.default_rng(options.seed)
    order = rng.permutation(len(data.x_train))
    if options.limit:
        order = order[: options.limit]
    n_val = min(VALIDATION_SIZE, max(1, len(order) // 10))
    val_idx, train_idx = order[:n_val], order[n_val:]
    x_test, y_test = data.x_test, data.y_test
    if options.limit:
        x_test, y_test = x_test[: options.limit], y_test[: options.limit]

    log(
        f"preprocessing {len(train_idx)} training digits "
        f"(+{options.distorted_copies} distorted copies)"
    )
    parts = [prepare_digits(data.x_train[train_idx], options.jobs)]
    for copy in range(options.distorted_copies):
        parts.append(
            prepare_digits(
                data.x_train[train_idx],
                options.jobs,
                seed=options.seed + copy + 1,
                broken_share=options.broken_strokes,
            )
        )
    y_parts = [data.y_train[train_idx]] * len(parts)
    synthetic_info: dict[str, Any] = {"fonts": [], "training_digits": 0}
    x_synth_val = np.zeros((0, 28, 28), np.uint8)
    y_synth_val = np.zeros((0,), np.uint8)
    if options.font_samples or options.stroke_samples or options.style_samples:
        fonts = find_fonts()
        if options.font_samples and not fonts:
            log(
                "no handwriting fonts found; training on MNIST and stroke styles only "
                f"(install the Debian packages {' '.join(FONT_PACKAGES)} to add them)"
            )
        scale = 1.0 if not options.limit else min(1.0, options.limit / 55_000)
        per_font, per_stroke, per_style = (
            max(1, round(count * scale)) if count else 0
            for count in (options.font_samples, options.stroke_samples, options.style_samples)
        )
        images, labels = synthetic_digits(
            fonts, per_font, per_stroke, seed=options.seed, per_style=per_style
        )
        log(f"preprocessing {len(images)} synthetic digits ({len(fonts)} fonts, stroke styles)")
        parts.append(
            prepare_digits(
                images,
                options.jobs,
                seed=options.seed + 101,
                zoom=1,
                broken_share=options.broken_strokes,
            )
        )
        y_parts.append(labels)
        # A held-out set of fresh renders, to see that the styles were learnt.
        val_images, y_synth_val = synthetic_digits(
            fonts,
            max(1, per_font // 8),
            max(1, per_stroke // 8),
            seed=options.seed + 7,
            per_style=per_style and max(1, per_style // 8),
        )
        x_synth_val = prepare_digits(val_images, options.jobs, seed=options.seed + 202, zoom=1)
        synthetic_info = {"fonts": [f.name for f in fonts], "training_digits": len(images)}
    taught = sum(len(part) for part in parts[: 1 + options.distorted_copies])
    x_train = np.concatenate(parts)
    y_train = np.concatenate(y_parts)
    x_val = prepare_digits(data.x_train[val_idx], options.jobs)
    y_val = data.y_train[val_idx]
    x_test_scan = prepare_digits(x_test, options.jobs)
    log(f"preprocessing done in {time.monotonic() - started:.0f}s")

    from ._tf import import_tensorflow

    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(options.seed)
    model = build_model()
    steps = int(np.ceil(len(x_train) / options.batch_size)) * options.epochs
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=max(1, steps), alpha=0.02)
    teacher = options.teacher
    if teacher is not None and not Path(teacher).is_file():
        raise ModelError(
            f"teacher model not found: {teacher}",
            remedy="pass --teacher PATH to a trained .keras file, or --no-teacher",
        )
    if teacher is not None:
        log(f"the teacher ({Path(teacher).name}) reads the {taught} MNIST training digits")
        targets = distillation_targets(
            Path(teacher), x_train, y_train, taught, options.teacher_weight
        )
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
        val_targets = np.eye(10, dtype=np.float32)[y_val]
    else:
        targets = y_train.astype(np.int32)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        val_targets = y_val.astype(np.int32)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=[metric])
    augment = keras.Sequential(
        [
            keras.layers.RandomTranslation(0.07, 0.07, fill_mode="constant", seed=options.seed),
            keras.layers.RandomZoom(0.08, fill_mode="constant", seed=options.seed),
        ]
    )
    train_ds = (
        tf.data.Dataset.from_tensor_slices((to_model_input(x_train), targets))
        .shuffle(len(x_train), seed=options.seed)
        .batch(options.batch_size)
        .map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    history = model.fit(
        train_ds,
        epochs=options.epochs,
        shuffle=False,  # the dataset shuffles itself, every epoch
        validation_data=(to_model_input(x_val), val_targets),
        verbose=2,
    )

    def accuracy(images: np.ndarray, labels: np.ndarray) -> float:
        return model_accuracy(model, images, labels)

    metadata: dict[str, Any] = {
        "name": options.name,
        "architecture": ARCHITECTURE,
        "parameters": int(model.count_params()),
        "preprocess_version": PREPROCESS_VERSION,
        "data": data.source,
        "training_digits": len(train_idx),
        "distorted_copies": options.distorted_copies,
        "broken_strokes": options.broken_strokes,
        "validation_digits": int(n_val),
        "epochs": options.epochs,
        "batch_size": options.batch_size,
        "seed": options.seed,
        "teacher": (
            None
            if teacher is None
            else {
                "file": Path(teacher).name,
                "weight_on_mnist": options.teacher_weight,
                "temperature": DISTILL_TEMPERATURE,
            }
        ),
        "validation_accuracy": round(accuracy(x_val, y_val), 5),
        "synthetic": synthetic_info,
        "synthetic_validation_accuracy": (
            round(accuracy(x_synth_val, y_synth_val), 5) if len(x_synth_val) else None
        ),
        "mnist_test_digits": len(x_test),
        "mnist_test_accuracy": round(accuracy(x_test_scan, y_test), 5),
        "mnist_test_accuracy_raw": round(accuracy(x_test, y_test), 5),
        "final_train_loss": round(float(history.history["loss"][-1]), 5),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.monotonic() - started, 1),
        "batchdigits_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "machine": f"{platform.machine()} {platform.system()}, {available_cores()} cores",
        "options": {k: str(v) for k, v in asdict(options).items()},
    }
    if teacher is not None:
        metadata["second_opinion"] = consult_teacher(Path(teacher), options.out_dir)
    model_path = save_model(model, metadata, options.out_dir)
    log(
        f"MNIST test accuracy {metadata['mnist_test_accuracy']:.4f} "
        f"(raw MNIST {metadata['mnist_test_accuracy_raw']:.4f}); saved {model_path}"
    )
    return TrainReport(model_path, metadata)


def save_model(model: Any, metadata: dict[str, Any], out_dir: Path) -> Path:
    """Write the model, its LiteRT twin and its metadata, each moved into
    place only when complete.

    The saved copy is uncompiled: inference needs the weights, not the
    optimizer's state, which would double the file. The metadata goes last
    and binds the twin to the Keras file by their hashes, so a run that
    starts between two moves reads the new Keras file with Keras, never a
    twin of another model (see :mod:`batchdigits.lite`).
    """
    import keras

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / MODEL_FILENAME
    inference = keras.models.clone_model(model)
    inference.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".train-") as tmp:
        staged = Path(tmp) / MODEL_FILENAME
        inference.save(staged)
        twin = export_twin(inference, staged.read_bytes(), lite_path(staged))
        staged_meta = metadata_path(staged)
        metadata[LITE_KEY] = twin
        staged_meta.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        os.replace(lite_path(staged), lite_path(target))
        os.replace(staged, target)
        os.replace(staged_meta, metadata_path(target))
    return target


def combine_models(
    member_paths: Sequence[Path],
    out_dir: Path,
    data: Path | None = None,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
) -> TrainReport:
    """Save one model that averages the logits of several trained models.

    Networks trained from different seeds make different mistakes; the mean
    of their logits is right more often than any one of them, at the cost of
    one forward pass per member. The result is an ordinary Keras model file:
    ``scan`` loads and runs it like any other. The members' metadata is kept
    in full; MNIST test accuracy is measured again when ``data`` is given.
    """
    if len(member_paths) < 2:
        raise ModelError(
            "combining needs at least two models", remedy="pass two or more model files"
        )
    from ._tf import import_tensorflow

    tf = import_tensorflow()
    import keras
    from keras import layers

    members_meta: list[dict[str, Any]] = []
    inputs = keras.Input(shape=(MNIST_SIDE, MNIST_SIDE, 1), name="digit")
    outputs = []
    for index, path in enumerate(member_paths):
        member = keras.saving.load_model(path, compile=False)
        member.name = f"member_{index + 1}"
        outputs.append(member(inputs))
        meta_file = metadata_path(Path(path))
        members_meta.append(
            json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        )
    logits = layers.Average(name="logits")(outputs)
    model = keras.Model(inputs, logits, name="batchdigits_ensemble")
    metadata: dict[str, Any] = {
        "name": "batchdigits-cnn-ensemble",
        "architecture": f"mean of logits of {len(member_paths)} x {ARCHITECTURE}",
        "parameters": int(model.count_params()),
        "preprocess_version": PREPROCESS_VERSION,
        "members": members_meta,
        "combined_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "batchdigits_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
    }
    if data is not None or os.environ.get(MNIST_ENV):
        mnist = load_mnist(data)
        prepared = prepare_digits(mnist.x_test, jobs or available_cores())

        metadata.update(
            data=mnist.source,
            mnist_test_digits=len(mnist.x_test),
            mnist_test_accuracy=round(model_accuracy(model, prepared, mnist.y_test), 5),
            mnist_test_accuracy_raw=round(model_accuracy(model, mnist.x_test, mnist.y_test), 5),
        )
    model_path = save_model(model, metadata, out_dir)
    measured = (
        f"MNIST test accuracy {metadata['mnist_test_accuracy']:.4f} "
        f"(raw MNIST {metadata['mnist_test_accuracy_raw']:.4f})"
        if "mnist_test_accuracy" in metadata
        else "MNIST test accuracy not measured (no --data)"
    )
    log(f"combined {len(member_paths)} models; {measured}; saved {model_path}")
    return TrainReport(model_path, metadata)
