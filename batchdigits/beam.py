"""The scan as an Apache Beam pipeline, for archives beyond one machine.

``ScanFiles`` is built from the very functions ``scan`` runs: the same
include/exclude rules (:mod:`batchdigits.discover`), the same decode and
preprocessing of each file (:func:`pipeline.prepare_file`: pages of a PDF
or TIFF become rows, unreadable files rows with their error), the same
choice between a page's two readings (:func:`pipeline.choose_readings`,
through ``RunInference`` in batches), and the same review rules
(:func:`pipeline.review_page`). With ``numbers``, each page is one number
read as ``scan --numbers`` reads it: the same segmentation
(:func:`pipeline.prepare_file`), the same three models weighed
(:func:`numbers.classify_numbers`, through ``RunInference``) and the same
rows (:func:`pipeline.review_number_page`). Files are read through Beam's filesystems,
so ``gs://``, ``s3://`` and ``hdfs://`` work where Beam's extra for them is
installed; remote files are copied to a local temporary file first, since
decoders want a file.

Needs ``pip install "batchdigits[beam]"``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from .discover import SourceFile, is_hidden, scanned_extensions, selected
from .lite import LITE_KEY, lite_path
from .load import MAX_PIXELS
from .model import (
    MODEL_FILENAME,
    DigitClassifier,
    ModelRef,
    consulted_entries,
    metadata_path,
    read_metadata,
)
from .numbers import classify_numbers
from .options import DEFAULT_BATCH_SIZE
from .output import csv_cells
from .pipeline import (
    PreparedPage,
    choose_readings,
    joined_model_id,
    load_number_helpers,
    number_helper_refs,
    pages_per_batch,
    prepare_file,
    review_number_page,
    review_page,
)
from .results import ScanResult, columns
from .review import DEFAULT_REVIEW_BELOW
from .splits import SplitChecker
from .strings import StringReader

#: The runner used when the user names none: it starts offline (Beam's
#: default may try to download a Prism binary first).
DEFAULT_RUNNER = "FnApiRunner"


def input_pattern(source: str) -> tuple[str, str]:
    """(Beam file pattern, the folder rows are relative to) for a folder or a glob."""
    if any(char in source for char in "*?["):
        folder = source[: min(source.index(c) for c in "*?[" if c in source)]
        return source, folder.rsplit("/", 1)[0] if "/" in folder else ""
    folder = source.rstrip("/")
    return f"{folder}/**", folder


def relative_to(path: str, folder: str) -> str:
    """``path`` relative to ``folder``, '/'-separated, as scan names files."""
    if folder and path.startswith(folder):
        return path[len(folder) :].lstrip("/\\").replace(os.sep, "/")
    return path.replace(os.sep, "/")


class PrepareFiles(beam.DoFn):
    """Decode and preprocess one matched file into its pages, as scan's workers do."""

    def __init__(self, folder: str, max_pixels: int, numbers: bool = False) -> None:
        self._folder = folder
        self._max_pixels = max_pixels
        self._numbers = numbers

    def process(self, metadata: FileMetadata) -> Iterator[PreparedPage]:
        relative = relative_to(metadata.path, self._folder)
        if Path(metadata.path).is_file():  # a local file: read in place, stat as scan does
            folder = metadata.path[: len(metadata.path) - len(relative)] or "."
            source = SourceFile.of_relative(Path(folder), relative)
            yield from prepare_file(source, max_pixels=self._max_pixels, numbers=self._numbers)
            return
        size = int(metadata.size_in_bytes)
        mtime_ns = int((metadata.last_updated_in_seconds or 0) * 1e9)
        with tempfile.TemporaryDirectory(prefix="batchdigits-beam-") as local:
            name = "file" + Path(relative).suffix
            with FileSystems.open(metadata.path) as remote, open(Path(local, name), "wb") as copy:
                shutil.copyfileobj(remote, copy)
            copy = SourceFile(local, name, size, mtime_ns)
            original = SourceFile(self._folder, relative, size, mtime_ns)
            for page in prepare_file(copy, max_pixels=self._max_pixels, numbers=self._numbers):
                yield replace(page, source=original)


def local_model(model_path: str) -> ModelRef:
    """The model at ``model_path``, copied to a local temporary folder first
    where it is remote (Keras and LiteRT read local files), with what its
    metadata names beside it: its LiteRT twin and its second opinion."""
    path = Path(model_path)
    if not path.is_file():
        remote_folder = model_path.rsplit("/", 1)[0] if "/" in model_path else "."
        path = Path(tempfile.mkdtemp(prefix="batchdigits-model-")) / MODEL_FILENAME
        _fetch(model_path, path)
        _fetch(model_path.removesuffix(".keras") + ".json", metadata_path(path))
        metadata = read_metadata(path)
        names = [str(metadata[LITE_KEY]["file"])] if metadata.get(LITE_KEY) else []
        for entry in consulted_entries(metadata.get("second_opinion")):
            consulted = Path(str(entry["file"]))
            names += [consulted.name, metadata_path(consulted).name, lite_path(consulted).name]
        for name in names:
            _fetch(f"{remote_folder}/{name}", path.with_name(name))
    return ModelRef(path, "beam", read_metadata(path))


def _fetch(remote: str, target: Path) -> None:
    """Copy ``remote`` (any Beam file system) to ``target``, if it exists."""
    if FileSystems.exists(remote):
        with FileSystems.open(remote) as source, target.open("wb") as copy:
            shutil.copyfileobj(source, copy)


class _PageModelHandler(ModelHandler[PreparedPage, PredictionResult, Any]):
    """What our two handlers share: the digit model's file (copied to a local
    one first when remote) and the model calls' size in pages."""

    numbers = False

    def __init__(self, model_path: str, *, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__()
        self._model_path = model_path
        self._batch_size = batch_size

    def batch_elements_kwargs(self) -> dict[str, int]:
        return {
            "min_batch_size": 1,
            "max_batch_size": pages_per_batch(self._batch_size, self.numbers),
        }


class DigitModelHandler(_PageModelHandler):
    """Our Keras model for ``RunInference``: loaded once per worker from a file
    (copied to a local one first when remote), batches of ``batch_size``.

    Beam's own TensorFlow handler would need tensorflow-hub and the full
    ``tensorflow`` wheel beside ``tensorflow-cpu``; this one needs neither.
    """

    def load_model(self) -> DigitClassifier:
        return DigitClassifier(local_model(self._model_path), threads=1)

    def run_inference(
        self,
        batch: Sequence[PreparedPage],
        model: DigitClassifier,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        classified = choose_readings(
            model, [page.image for page in batch], [page.whole_page for page in batch]
        )
        for page, probabilities in zip(batch, classified.probabilities, strict=True):
            yield PredictionResult(page, probabilities, model.model_id)

    def get_num_bytes(self, batch: Sequence[PreparedPage]) -> int:
        return sum(page.image.nbytes for page in batch if page.image is not None)


@dataclass(frozen=True)
class NumberModels:
    """What ``scan --numbers`` reads with: the digit model and its two helpers
    (a class, not a tuple: Beam holds the loaded model by a weak reference)."""

    classifier: DigitClassifier
    splits: SplitChecker
    strings: StringReader


class NumberModelHandler(_PageModelHandler):
    """``scan --numbers``' models for ``RunInference``: the digit model from a
    file, the split model and the string model as scan finds them (the
    user's from ``train``, else the shipped ones); a batch of pages holds
    tens of candidate digits each."""

    numbers = True

    def load_model(self) -> NumberModels:
        splits, strings = load_number_helpers(number_helper_refs(), threads=1)
        return NumberModels(
            DigitClassifier(local_model(self._model_path), threads=1), splits, strings
        )

    def run_inference(
        self,
        batch: Sequence[PreparedPage],
        model: NumberModels,
        inference_args: dict[str, Any] | None = None,
    ) -> Iterable[PredictionResult]:
        segmentations = [page.segmentation for page in batch]
        readings = classify_numbers(model.classifier, model.splits, model.strings, segmentations)
        for page, reading in zip(batch, readings, strict=True):
            yield PredictionResult(page, reading, model.classifier.model_id)

    def get_num_bytes(self, batch: Sequence[PreparedPage]) -> int:
        return sum(page.segmentation.images.nbytes for page in batch if page.segmentation)


class ScanFiles(beam.PTransform):
    """File patterns in, :class:`~batchdigits.results.ScanResult` rows out: the scan
    of every matching image file, as ``batchdigits scan`` would read it.

    ``source`` is a folder (searched recursively) or a glob, local or remote;
    rows name files relative to it, as scan does. ``numbers``: each page is
    one number, and the rows are ``scan --numbers``' rows.
    """

    def __init__(
        self,
        source: str,
        model_path: str,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        review_below: float = DEFAULT_REVIEW_BELOW,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_pixels: int = MAX_PIXELS,
        numbers: bool = False,
    ) -> None:
        super().__init__()
        self.numbers = numbers
        self.pattern, self.folder = input_pattern(source)
        self.model_path = model_path
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.review_below = review_below
        self.batch_size = batch_size
        self.max_pixels = max_pixels

    def expand(self, begin: beam.pvalue.PBegin) -> beam.PCollection[ScanResult]:
        extensions = scanned_extensions()
        folder, include, exclude = self.folder, self.include, self.exclude

        def wanted(metadata: FileMetadata) -> bool:
            relative = relative_to(metadata.path, folder)
            return (
                not is_hidden(relative)
                and Path(relative).suffix.lower() in extensions
                and selected(relative, include, exclude)
            )

        pages = (
            begin
            | "Match" >> fileio.MatchFiles(self.pattern)
            | "Select" >> beam.Filter(wanted)
            | "Reshuffle" >> beam.Reshuffle()
            | "Prepare" >> beam.ParDo(PrepareFiles(folder, self.max_pixels, self.numbers))
        )
        review_below, numbers = self.review_below, self.numbers
        handler: _PageModelHandler
        if self.numbers:
            handler = NumberModelHandler(self.model_path, batch_size=self.batch_size)
            model_id = joined_model_id(local_model(self.model_path).model_id, number_helper_refs())
            review: Callable[..., ScanResult] = review_number_page
        else:
            handler = DigitModelHandler(self.model_path, batch_size=self.batch_size)
            model_id = local_model(self.model_path).model_id
            review = review_page
        readable = pages | "Readable" >> beam.Filter(_has_reading, numbers)
        unread = pages | "Unreadable" >> beam.Filter(lambda page: not _has_reading(page, numbers))
        read = (
            readable
            | "Classify" >> RunInference(handler)
            | "Review"
            >> beam.Map(
                lambda result: review(
                    result.example, result.inference, model_id=model_id, review_below=review_below
                )
            )
        )
        blank = unread | "ReviewUnread" >> beam.Map(
            lambda page: review(page, None, model_id=model_id, review_below=review_below)
        )
        return (read, blank) | "Rows" >> beam.Flatten()


def _has_reading(page: PreparedPage, numbers: bool) -> bool:
    """Whether the page has something for the model: its candidate digits
    with ``numbers``, else its MNIST-form reading."""
    return (page.segmentation if numbers else page.image) is not None


def csv_line(result: ScanResult) -> str:
    """One row as a CSV line, as scan writes it (formula-like cells protected)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(csv_cells(result))
    return buffer.getvalue()


def csv_header(numbers: bool = False) -> str:
    """The shards' header line; the byte-order mark lets Excel read UTF-8 names."""
    return "\ufeff" + ",".join(columns(numbers))


def run_pipeline(
    source: str,
    out_prefix: str,
    model_path: str,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    review_below: float = DEFAULT_REVIEW_BELOW,
    batch_size: int = DEFAULT_BATCH_SIZE,
    numbers: bool = False,
    pipeline_args: Sequence[str] = (),
) -> None:
    """``batchdigits beam``: scan ``source`` into CSV shards ``PREFIX-*-of-*.csv``.

    ``pipeline_args`` go to Beam (``--runner DataflowRunner --project ...``);
    without ``--runner`` the pipeline runs here, on :data:`DEFAULT_RUNNER`.
    """
    from apache_beam.options.pipeline_options import PipelineOptions

    args = list(pipeline_args)
    if not any(arg == "--runner" or arg.startswith("--runner=") for arg in args):
        args.append(f"--runner={DEFAULT_RUNNER}")
    with beam.Pipeline(options=PipelineOptions(args)) as pipeline:
        _ = (
            pipeline
            | "Scan"
            >> ScanFiles(
                source,
                model_path,
                include=include,
                exclude=exclude,
                review_below=review_below,
                batch_size=batch_size,
                numbers=numbers,
            )
            | "Lines" >> beam.Map(csv_line)
            | "Write"
            >> beam.io.WriteToText(out_prefix, file_name_suffix=".csv", header=csv_header(numbers))
        )
