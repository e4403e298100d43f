"""The scan pipeline, one stage per function:

discover files -> load images -> preprocess -> classify -> review -> write output.

Loading and preprocessing run in worker processes, a chunk of files per
task, while this process runs the model on full batches; memory stays
bounded by the chunks in flight plus one row per page.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import __version__
from .discover import Discovery, SourceFile, discover_files, image_extensions
from .errors import InputError, NoImagesError, OutputError
from .load import Page, UnreadableImage, iter_pages, load_pages
from .lock import OutputLock
from .model import Classifier, DigitClassifier, ModelRef, resolve_model
from .numbers import NumberReading, classify_numbers, digits_picture, number_row
from .options import ScanOptions
from .output import read_results, remove_stale_temporaries, write_manifest, write_results
from .parallel import available_cores, ordered_map, run_isolated
from .preprocess import PageReading, read_page
from .results import COLUMNS, RowKey, RowPictures, ScanReport, ScanResult, ScanSummary, StageTimings
from .review import Reason, review
from .segment import Segmentation, segment_number
from .splits import SplitChecker, SplitModelChecker, split_model_ref
from .strings import StringModelReader, StringReader, string_model_refs
from .thumbnails import kept_source, thumbnail

log = logging.getLogger("batchdigits")

#: Files per worker task: large enough to amortise process hand-offs, small
#: enough to keep all cores busy on small folders.
FILES_PER_TASK = 16
#: Worker tasks in flight per job. A finished task holds only MNIST-form
#: pages (a few KB per file), so a deep queue costs little memory, and it
#: keeps the workers busy while this process loads TensorFlow and the model
#: (seconds, in which a shallow queue would fill and leave them idle).
TASKS_IN_FLIGHT_PER_JOB = 24
#: A digit shorter than this (pixels) in a JPEG decoded at reduced size is
#: read again from the full-size decode (benchmarks/draft_mode.py).
TRUST_REDUCED_ABOVE = 48
#: A page whose first reading the model is less sure of than this is also
#: read as a whole (every stroke on the page, see
#: ``preprocess.mnist_readings``), and the model's surer answer is kept. Fixed
#: rather than tied to --review-below, so that the digit read never depends
#: on the review setting. Measured on every benchmark set, MNIST test and a
#: holdout split rendered for the decision (benchmarks/RESULTS.md): 15
#: answers fixed, none made wrong.
SECOND_READING_BELOW = 0.95


@dataclass(frozen=True, slots=True)
class PreparedPage:
    """A page after loading and preprocessing: MNIST-form pixels, or why there are none."""

    source: SourceFile
    page: int | None
    image: np.ndarray | None
    error: str = ""
    whole_page: np.ndarray | None = None  # the whole-page reading, where it differs
    #: scan --numbers: the page's candidate digits (None: blank or unreadable).
    segmentation: Segmentation | None = None
    thumbnail: bytes | None = None  # JPEG of the page around the digit (review workbook)
    #: ``learn``: the page's grey pixels around the digit, kept to read it again
    #: under a later preprocessing (``thumbnails.kept_source``).
    kept: np.ndarray | None = None
    decode_seconds: float = 0.0
    preprocess_seconds: float = 0.0


def discover_images(options: ScanOptions) -> Discovery:
    """Stage 1: the image files under the folder, minus our own output files."""
    folder = options.folder
    check_folder(folder)
    skip: list[Path] = []
    if options.out is not None and not options.to_stdout:
        skip += [options.out, manifest_path(options.out), lock_path(options.out)]
    if options.workbook is not None:
        skip.append(options.workbook)
    discovery = discover_files(
        folder,
        include=options.include,
        exclude=options.exclude,
        follow_symlinks=options.follow_symlinks,
        skip=skip,
    )
    for problem in discovery.unreadable_folders:
        log.warning("cannot list folder %s", problem)
    if not discovery.files:
        raise NoImagesError(
            f"no image files found in {folder}",
            remedy="check the folder, and any --include / --exclude patterns",
        )
    return discovery


def check_folder(folder: Path) -> None:
    if not folder.exists():
        raise InputError(f"folder not found: {folder}", remedy="check the path to scan")
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}", remedy="pass the folder that holds the scans")


def prepare_file(
    source: SourceFile,
    *,
    max_pixels: int,
    pictures: bool = False,
    numbers: bool = False,
    keep: bool = False,
) -> list[PreparedPage]:
    """Stages 2 and 3 for one file: decode its pages and put each in MNIST form.

    Pages are decoded one at a time and only their MNIST form is kept, so a
    500-page PDF holds one page's pixels at a time. A page that cannot be
    decoded ends the file with an error row; the pages before it keep theirs.
    ``numbers``: each page holds a number, segmented into candidate digits.
    ``keep``: each page's grey pixels around the digit are kept (``learn``).
    """
    prepared: list[PreparedPage] = []
    pages: Iterator[Page] | None = None
    prepare = prepare_number_page if numbers else partial(prepare_page, keep=keep)
    while True:
        started = time.perf_counter()
        try:
            if pages is None:
                # A number's digits are small in its picture: decode JPEGs whole.
                pages = iter_pages(source.path, max_pixels=max_pixels, draft=not numbers)
            page = next(pages, None)
        except UnreadableImage as exc:
            error = str(exc)
        except Exception as exc:  # a crashing decoder must cost one row, not the run
            error = f"decoder failed: {_describe(exc)}"
        else:
            if page is None:
                return prepared
            decode_seconds = time.perf_counter() - started
            prepared.append(
                prepare(source, page, decode_seconds, max_pixels=max_pixels, pictures=pictures)
            )
            continue
        number = prepared[-1].page + 1 if prepared and prepared[-1].page else None
        prepared.append(PreparedPage(source, number, None, error))
        return prepared


def prepare_page(
    source: SourceFile,
    page: Page,
    decode_seconds: float,
    *,
    max_pixels: int,
    pictures: bool = False,
    keep: bool = False,
) -> PreparedPage:
    """Stage 3 for one decoded page: its MNIST-form readings, or why there are
    none; with ``pictures``, also a thumbnail of the page around the digit;
    with ``keep``, the grey pixels around it, to read again later."""
    started = time.perf_counter()
    error, picture, kept, pixels = "", None, None, page.pixels
    try:
        min_digit = TRUST_REDUCED_ABOVE if page.reduced else 0
        reading = read_page(pixels, min_digit=min_digit)
        if reading.first is None and page.reduced:
            # Nothing, or only a small digit, in a JPEG decoded at reduced
            # size: the reduction may have cost the detail. Decode it whole.
            (full,) = load_pages(source.path, max_pixels=max_pixels, draft=False)
            pixels = full.pixels
            reading = read_page(pixels)
        if pictures:
            picture = thumbnail(pixels, reading.box)
        if keep and reading.first is not None:
            kept = kept_source(pixels, reading.box)
    except UnreadableImage as exc:
        reading, error = PageReading(None, None, None), str(exc)
    except Exception as exc:  # likewise a preprocessing bug on an odd image
        reading = PageReading(None, None, None)
        error = f"internal error while preprocessing: {_describe(exc)}"
    return PreparedPage(
        source,
        page.number,
        reading.first,
        error,
        whole_page=reading.whole_page,
        thumbnail=picture,
        kept=kept,
        decode_seconds=decode_seconds,
        preprocess_seconds=time.perf_counter() - started,
    )


def prepare_number_page(
    source: SourceFile,
    page: Page,
    decode_seconds: float,
    *,
    max_pixels: int,
    pictures: bool = False,
) -> PreparedPage:
    """Stage 3 of ``scan --numbers`` for one decoded page: its candidate
    digits (:mod:`batchdigits.segment`), or why there are none."""
    started = time.perf_counter()
    error, picture, segmentation = "", None, None
    try:
        segmentation = segment_number(page.pixels)
        if pictures:
            picture = thumbnail(page.pixels, None if segmentation is None else segmentation.box)
    except Exception as exc:  # a segmentation bug on an odd image costs one row
        error = f"internal error while segmenting: {_describe(exc)}"
    return PreparedPage(
        source,
        page.number,
        None,
        error,
        segmentation=segmentation,
        thumbnail=picture,
        decode_seconds=decode_seconds,
        preprocess_seconds=time.perf_counter() - started,
    )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def prepare_files(
    sources: Sequence[SourceFile],
    *,
    max_pixels: int,
    pictures: bool = False,
    numbers: bool = False,
    keep: bool = False,
) -> list[PreparedPage]:
    """One worker task: :func:`prepare_file` over a chunk of files."""
    return [
        page
        for source in sources
        for page in prepare_file(
            source, max_pixels=max_pixels, pictures=pictures, numbers=numbers, keep=keep
        )
    ]


def prepare_files_alone(
    sources: Sequence[SourceFile],
    reason: str,
    *,
    max_pixels: int,
    pictures: bool = False,
    numbers: bool = False,
) -> list[PreparedPage]:
    """A worker died preparing ``sources`` (and did again when they were retried
    alone): prepare each file in a worker of its own, so that only the file
    that kills it becomes an error row."""

    def died(source: SourceFile, reason: str) -> list[PreparedPage]:
        error = f"decoder crashed: {reason} while reading this file"
        return [PreparedPage(source, None, None, error)]

    task = partial(prepare_file, max_pixels=max_pixels, pictures=pictures, numbers=numbers)
    return [page for pages in run_isolated(task, sources, died) for page in pages]


def classify(classifier: Classifier, pages: Sequence[PreparedPage]) -> Classified:
    """Stage 4: the readable pages' (N, 10) probabilities, a batch at a time,
    and which of each page's readings they are of."""
    images = [page.image for page in pages if page.image is not None]
    whole_pages = [page.whole_page for page in pages if page.image is not None]
    return choose_readings(classifier, images, whole_pages)


class Classified(NamedTuple):
    probabilities: np.ndarray  # (N, 10)
    whole_page_used: np.ndarray  # (N,) bool: the answer is the whole-page reading's


def choose_readings(
    classifier: Classifier,
    images: Sequence[np.ndarray],
    whole_pages: Sequence[np.ndarray | None],
) -> Classified:
    """One model call for the first readings; where the model is unsure of
    one and the page has a whole-page reading, one more call for those, and
    whichever reading the model is surer of is kept."""
    probabilities = np.array(classifier.predict(np.stack(images)))
    used = np.zeros(len(images), dtype=bool)
    unsure = [
        row
        for row, whole_page in enumerate(whole_pages)
        if whole_page is not None and probabilities[row].max() < SECOND_READING_BELOW
    ]
    if unsure:
        second = classifier.predict(np.stack([whole_pages[row] for row in unsure]))
        surer = second.max(axis=1) > probabilities[unsure].max(axis=1)
        probabilities[np.asarray(unsure)[surer]] = second[surer]
        used[np.asarray(unsure)[surer]] = True
    return Classified(probabilities, used)


def review_page(
    page: PreparedPage, probabilities: np.ndarray | None, *, model_id: str, review_below: float
) -> ScanResult:
    """Stage 5: the row for one page, with its review flag and reason."""
    digit = confidence = runner_up = runner_up_confidence = None
    if probabilities is not None:
        ranked = np.argsort(probabilities)[::-1]
        digit, runner_up = int(ranked[0]), int(ranked[1])
        confidence = float(probabilities[digit])
        runner_up_confidence = float(probabilities[runner_up])
    reason = review(
        confidence=confidence,
        blank=page.image is None and not page.error,
        error=page.error,
        review_below=review_below,
    )
    source = page.source
    return ScanResult(
        file=source.relative,
        page=page.page,
        digit=digit,
        confidence=confidence,
        runner_up=runner_up,
        runner_up_confidence=runner_up_confidence,
        needs_review=reason is not None,
        reason=reason.value if reason else "",
        error=page.error,
        model_id=model_id,
        file_size=source.size if source.size >= 0 else None,
        file_mtime_ns=source.mtime_ns or None,
    )


def review_number_page(
    page: PreparedPage, reading: NumberReading | None, *, model_id: str, review_below: float
) -> ScanResult:
    """Stage 5 of ``scan --numbers``: the row for one page (its number, or
    why there is none), with its review flag and reason."""
    source = page.source
    return number_row(
        file=source.relative,
        page=page.page,
        error=page.error,
        reading=reading,
        model_id=model_id,
        review_below=review_below,
        file_size=source.size if source.size >= 0 else None,
        file_mtime_ns=source.mtime_ns or None,
    )


def number_helper_refs() -> tuple[ModelRef, ...]:
    """What ``scan --numbers`` reads with beside the digit model: the split
    model and the string model's members (each the user's from ``train``,
    else the shipped one)."""
    return (split_model_ref(), *string_model_refs())


def load_number_helpers(
    refs: Sequence[ModelRef], threads: int | None = None
) -> tuple[SplitModelChecker, StringModelReader]:
    """The models :func:`number_helper_refs` names, loaded."""
    return SplitModelChecker(refs[0], threads=threads), StringModelReader(refs[1:], threads)


def joined_model_id(
    model_id: str, helpers: Iterable[ModelRef | SplitChecker | StringReader]
) -> str:
    """The ``model_id`` of a ``--numbers`` row: every model that read it."""
    return "+".join([model_id, *(helper.model_id for helper in helpers)])


def pages_per_batch(batch_size: int, numbers: bool) -> int:
    """Pages per model call: ``batch_size`` images; a number's page holds
    tens of candidate digits for the model, a digit's page one or two."""
    return max(1, batch_size // 16) if numbers else batch_size


def _chunks(items: Sequence[SourceFile], size: int) -> Iterator[Sequence[SourceFile]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def progress_bar(
    show: bool | None, total: int, unit: str = "file", what: str | None = None
) -> Callable[[int], None]:
    """A progress bar on stderr (``show`` None: only when stderr is a terminal)."""
    if not (show if show is not None else sys.stderr.isatty()):
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit=unit, desc=what, file=sys.stderr, dynamic_ncols=True, leave=False)
    return bar.update


def run_scan(
    options: ScanOptions,
    *,
    classifier: Classifier | None = None,
    splits: SplitChecker | None = None,
    strings: StringReader | None = None,
) -> ScanReport:
    """Run the whole pipeline and write what ``options`` asks for: the results
    (``out``), their manifest, and the review workbook (``workbook``).

    ``classifier`` replaces the Keras model, and ``splits`` and ``strings``
    the split and string models of ``--numbers`` (tests inject fakes here;
    with a fake classifier, numbers are read without the models not given).
    """
    check_folder(options.folder)
    if options.workbook is not None:
        check_writable_target(options.workbook, "--workbook", "review.xlsx")
    if options.out is None or options.to_stdout:
        report = _scan(options, classifier, splits, strings)
        if options.out is not None:
            write_results(
                report.results,
                options.out,
                options.format,
                protect=options.csv_protection,
                numbers=options.numbers,
            )
        _write_workbook(options, report)
        return report
    check_output_target(options)
    with OutputLock(lock_path(options.out)):
        for stale in remove_stale_temporaries(options.out):
            log.warning("removed %s, left by a run that was killed while writing", stale)
        report = _scan(options, classifier, splits, strings)
        write_results(
            report.results,
            options.out,
            options.format,
            protect=options.csv_protection,
            numbers=options.numbers,
        )
        write_manifest(manifest_path(options.out), build_manifest(options, report))
        _write_workbook(options, report)
    return report


def _write_workbook(options: ScanOptions, report: ScanReport) -> None:
    if options.workbook is None:
        return
    from .workbook import write_workbook

    write_workbook(options.workbook, report, folder=options.folder, rows=options.workbook_rows)


def _scan(
    options: ScanOptions,
    classifier: Classifier | None,
    splits: SplitChecker | None,
    strings: StringReader | None,
) -> ScanReport:
    started_at = datetime.now(UTC)
    started = time.monotonic()
    model_ref = resolve_model(options.model) if classifier is None else None
    model_id = classifier.model_id if classifier is not None else model_ref.model_id  # type: ignore[union-attr]
    # --numbers also reads with the split and string models: their ids now
    # (for --incremental), the models themselves with the digit model below.
    helper_refs = number_helper_refs() if options.numbers and classifier is None else ()
    helpers = (splits, strings) if options.numbers else ()
    model_id = joined_model_id(model_id, [h for h in (*helper_refs, *helpers) if h is not None])
    outdated = [
        str(ref.outdated.path)
        for ref in (model_ref, *helper_refs)
        if ref is not None and ref.outdated is not None
    ]
    discovery = discover_images(options)
    reused, todo = reuse_previous(options, discovery.files, model_id)
    jobs = options.jobs or available_cores()

    # Start decoding before loading the model: TensorFlow's start-up then
    # overlaps with the first chunks, and workers fork from a parent that
    # holds no TensorFlow threads.
    pictures = options.workbook is not None
    task = partial(
        prepare_files, max_pixels=options.max_pixels, pictures=pictures, numbers=options.numbers
    )
    died = partial(
        prepare_files_alone,
        max_pixels=options.max_pixels,
        pictures=pictures,
        numbers=options.numbers,
    )
    chunks = _chunks(todo, FILES_PER_TASK)
    in_flight = TASKS_IN_FLIGHT_PER_JOB * jobs
    with ordered_map(task, chunks, jobs, in_flight, on_worker_death=died) as prepared:
        timings = StageTimings()
        if classifier is None and todo:
            assert model_ref is not None
            loading = time.perf_counter()
            classifier = DigitClassifier(model_ref, threads=jobs)
            if helper_refs:
                splits, strings = load_number_helpers(helper_refs, threads=jobs)
            timings.model_load = time.perf_counter() - loading
        results, row_pictures = _classify_all(
            options, prepared, classifier, (splits, strings), model_id, len(todo), timings
        )
    results += reused
    results.sort(key=lambda r: r.sort_key)
    summary = ScanSummary(
        files=len(discovery.files),
        rows=len(results),
        flagged=sum(r.needs_review for r in results),
        errors=sum(bool(r.error) for r in results),
        blank=sum(r.reason == Reason.BLANK for r in results),
        skipped_non_images=discovery.skipped_non_images,
        reused=len({r.file for r in reused}),
        seconds=time.monotonic() - started,
        timings=timings,
    )
    return ScanReport(
        results=results,
        summary=summary,
        model_id=model_id,
        review_below=options.review_below,
        started=started_at,
        finished=datetime.now(UTC),
        pictures=row_pictures,
        numbers=options.numbers,
        outdated_models=outdated,
    )


def _classify_all(
    options: ScanOptions,
    prepared: Iterator[list[PreparedPage]],
    classifier: Classifier | None,
    helpers: tuple[SplitChecker | None, StringReader | None],
    model_id: str,
    files: int,
    timings: StageTimings,
) -> tuple[list[ScanResult], dict[RowKey, RowPictures]]:
    """Stages 4 and 5 over the prepared pages: full batches to the model, then
    review; and the pictures of the rows that go in the review workbook."""
    advance = progress_bar(options.progress, files)
    results: list[ScanResult] = []
    pictures: dict[RowKey, RowPictures] = {}
    waiting: list[PreparedPage] = []

    def add(page: PreparedPage, probs: np.ndarray | None, reading: np.ndarray | None) -> None:
        result = review_page(page, probs, model_id=model_id, review_below=options.review_below)
        results.append(result)
        if options.wants_pictures(result):
            pictures[result.key] = RowPictures(page.thumbnail, reading)

    def add_number(page: PreparedPage, reading: NumberReading | None) -> None:
        result = review_number_page(
            page, reading, model_id=model_id, review_below=options.review_below
        )
        results.append(result)
        if options.wants_pictures(result):
            seen = None
            if reading is not None and page.segmentation is not None:
                seen = digits_picture(page.segmentation, reading)
            pictures[result.key] = RowPictures(page.thumbnail, seen)

    def run_batch(batch: list[PreparedPage]) -> None:
        assert classifier is not None
        predicting = time.perf_counter()
        if options.numbers:
            segmentations = [page.segmentation for page in batch]
            splits, strings = helpers
            readings = classify_numbers(classifier, splits, strings, segmentations)
            timings.model += time.perf_counter() - predicting
            for page, reading in zip(batch, readings, strict=True):
                add_number(page, reading)
            return
        classified = classify(classifier, batch)
        timings.model += time.perf_counter() - predicting
        for page, probs, whole in zip(
            batch, classified.probabilities, classified.whole_page_used, strict=True
        ):
            add(page, probs, page.whole_page if whole else page.image)

    batch_size = pages_per_batch(options.batch_size, options.numbers)
    for chunk in prepared:
        for page in chunk:
            timings.decode += page.decode_seconds
            timings.preprocess += page.preprocess_seconds
            if page.image is None and page.segmentation is None:
                if page.error:
                    log.warning("%s: %s", page.source.relative, page.error)
                if options.numbers:
                    add_number(page, None)
                else:
                    add(page, None, None)
            else:
                waiting.append(page)
        while len(waiting) >= batch_size:
            run_batch(waiting[:batch_size])
            del waiting[:batch_size]
        advance(len({page.source.relative for page in chunk}))
    if waiting:
        run_batch(waiting)
    return results, pictures


def lock_path(out: Path) -> Path:
    return out.with_name(out.name + ".lock")


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def reuse_previous(
    options: ScanOptions, files: list[SourceFile], model_id: str
) -> tuple[list[ScanResult], list[SourceFile]]:
    """For ``--incremental``: earlier rows still valid, and the files to (re)process.

    A file's rows are reused when its path, size and modification time and the
    model are unchanged and it did not fail to load before. The review flag
    is recomputed, so a new ``--review-below`` applies to old rows too.
    Files that no longer exist simply have no rows any more. A file whose
    rows go in the review workbook is read again: its pictures are needed.
    """
    out = options.out
    if not options.incremental or out is None or options.to_stdout or not out.exists():
        return [], files
    try:
        records = read_results(out, options.format, numbers=options.numbers)
    except (OSError, ValueError) as exc:
        log.warning("cannot reuse %s (%s); processing every file", out, exc)
        return [], files
    previous: dict[str, list[dict[str, object]]] = {}
    for record in records:
        previous.setdefault(str(record["file"]), []).append(record)
    reused: list[ScanResult] = []
    todo: list[SourceFile] = []
    for source in files:
        rows = previous.get(source.relative, [])
        unchanged = bool(rows) and all(
            row["file_size"] == source.size
            and row["file_mtime_ns"] == source.mtime_ns
            and row["model_id"] == model_id
            and not row["error"]
            for row in rows
        )
        again = [rereview(row, options.review_below) for row in rows] if unchanged else []
        if again and not any(options.wants_pictures(result) for result in again):
            reused += again
        else:
            todo.append(source)
    log.info("incremental: reusing %d files, processing %d", len(files) - len(todo), len(todo))
    return reused, todo


def rereview(record: dict[str, Any], review_below: float) -> ScanResult:
    """A row from an earlier run, with its review flag decided afresh."""
    numbers = "number" in record
    confidence = record["confidence"]
    reason = review(
        confidence=confidence,
        blank=record["number" if numbers else "digit"] is None,
        error=str(record["error"] or ""),
        review_below=review_below,
        uncertain_split=record["reason"] == Reason.UNCERTAIN_SPLIT,
    )
    flag = {"needs_review": reason is not None, "reason": reason.value if reason else ""}
    if not numbers:
        return ScanResult(**{**{c: record[c] for c in COLUMNS}, **flag})
    number = record["number"]
    spread = str(record["digit_confidences"] or "")
    return ScanResult(
        file=record["file"],
        page=record["page"],
        digit=None,
        confidence=confidence,
        runner_up=None,
        runner_up_confidence=None,
        error=record["error"] or "",
        model_id=record["model_id"],
        file_size=record["file_size"],
        file_mtime_ns=record["file_mtime_ns"],
        numbers=True,
        number=None if number is None else str(number),
        digit_confidences=tuple(float(c) for c in spread.split(";") if c),
        **flag,
    )


def build_manifest(options: ScanOptions, report: ScanReport) -> dict[str, object]:
    """What a later reader needs to trust and reproduce the output file."""
    return {
        "tool": "batchdigits",
        "version": __version__,
        "output": str(options.out),
        "format": options.format.value,
        "model_id": report.model_id,
        "outdated_models_not_used": report.outdated_models,
        "review_below": report.review_below,
        "started": report.started.isoformat(timespec="seconds"),
        "finished": report.finished.isoformat(timespec="seconds"),
        "counts": asdict(report.summary),
        "arguments": {
            key: (list(value) if isinstance(value, tuple) else value)
            for key, value in asdict(options).items()
            if key != "progress"
        },
        "command": sys.argv,
    }


def check_output_target(options: ScanOptions) -> None:
    """Refuse an output that cannot be written or that is one of the inputs."""
    assert options.out is not None
    check_writable_target(options.out, "--out", "results.csv")


def check_writable_target(out: Path, option: str, example: str) -> None:
    """Refuse a file to write that is a folder, lies in no folder, or looks like an input."""
    if out.is_dir():
        raise OutputError(f"output is a folder: {out}", remedy=f"give a file name, e.g. {example}")
    if not out.parent.exists() and str(out.parent):
        raise OutputError(
            f"output folder does not exist: {out.parent}",
            remedy=f"create it first, or choose another {option}",
        )
    if out.suffix.lower() in image_extensions():
        raise OutputError(
            f"refusing to write results to {out}: that is an image file name, probably an input",
            remedy=f"choose another {option}, e.g. {example}",
        )
