"""Command line: parses arguments into options and hands them to the pipeline.

Nothing here reads images or runs models. stdout carries data only (the
results with ``--out -``); people-facing messages go to stderr.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from . import __version__
from .errors import EXIT_CODE_HELP, BatchDigitsError, ExitCode, Interrupted
from .recipe import (
    DEFAULT_BROKEN_STROKES,
    DEFAULT_DISTORTED_COPIES,
    DEFAULT_EPOCHS,
    DEFAULT_FONT_SAMPLES,
    DEFAULT_STROKE_SAMPLES,
    DEFAULT_STYLE_SAMPLES,
    DEFAULT_TRAIN_SEED,
    SPLIT_EPOCHS,
    STRING_EPOCHS,
)
from .review import DEFAULT_REVIEW_BELOW

#: Mirrors ``learn.DEFAULT_COPIES`` (importing learn would import numpy for ``--help``).
DEFAULT_COPIES = 20

#: Mirrors ``load.MAX_PIXELS`` (importing load would import Pillow for ``--help``).
MAX_PIXELS = 150_000_000

log = logging.getLogger("batchdigits")

# "\b" tells Click to keep this paragraph's line breaks.
EXIT_CODES_EPILOG = "Exit codes:\n\n\b\n" + "\n".join(
    f"{int(code):>3}  {text}" for code, text in EXIT_CODE_HELP.items()
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Read folders of scanned handwritten digits into a reviewable CSV.",
    epilog=EXIT_CODES_EPILOG,
)
model_app = typer.Typer(no_args_is_help=True, help="Show or reset the model that scan uses.")
app.add_typer(model_app, name="model")


class FormatChoice(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


class WorkbookRowsChoice(StrEnum):
    flagged = "flagged"
    all = "all"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"batchdigits {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Read folders of scanned handwritten digits into a reviewable CSV."""


def configure_logging(*, quiet: bool, verbose: bool, log_file: Path | None) -> None:
    logger = logging.getLogger("batchdigits")
    logger.handlers.clear()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("batchdigits: %(message)s"))
    console.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)
    logger.addHandler(console)
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        handler.setLevel(logging.DEBUG)
        logger.addHandler(handler)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(ExitCode.TERMINATED)


@contextmanager
def _guarded(verbose: bool) -> Iterator[None]:
    """Turn every failure into one line on stderr and the documented exit code."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except KeyboardInterrupt:
        log.error("interrupted; previous output left untouched")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except Interrupted as exc:
        log.error("%s", exc.message)
        raise typer.Exit(exc.exit_code) from None
    except BatchDigitsError as exc:
        log.error("error: %s", exc)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if verbose:
            log.error("%s", "".join(traceback.format_exception(exc)).rstrip())
        log.error(
            "internal error: %s: %s%s",
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            "" if verbose else " (rerun with --verbose for details)",
        )
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Only print errors.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="More detail, tracebacks included.")
]
LogFileOption = Annotated[
    Path | None, typer.Option("--log-file", help="Also write a detailed log to this file.")
]
JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", min=0, help="Worker processes; 0 uses all cores.")
]
ModelOption = Annotated[
    Path | None, typer.Option("--model", help="Use this .keras model instead of the default.")
]
NumbersOption = Annotated[
    bool,
    typer.Option(
        "--numbers",
        help="Each image holds a number (digits written left to right): read them all, "
        "one row per image with the number as text (leading zeros kept).",
    ),
]
ReviewBelowOption = Annotated[
    float,
    typer.Option(
        "--review-below",
        min=0.0,
        max=1.0,
        help="Flag rows whose confidence is below this for review.",
    ),
]


@app.command(epilog=EXIT_CODES_EPILOG)
def scan(
    folder: Annotated[Path, typer.Argument(help="Folder of digit images, searched recursively.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Results file; '-' writes to standard output.")
    ] = Path("results.csv"),
    output_format: Annotated[
        FormatChoice, typer.Option("--format", help="csv for spreadsheets, jsonl for programs.")
    ] = FormatChoice.csv,
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Only files matching this glob (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip files matching this glob (repeatable)."),
    ] = None,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Descend into symlinked folders.")
    ] = False,
    model: ModelOption = None,
    review_below: ReviewBelowOption = DEFAULT_REVIEW_BELOW,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Images per model call.")
    ] = 256,
    jobs: JobsOption = 0,
    max_pixels: Annotated[
        int,
        typer.Option(
            "--max-pixels",
            min=10_000,
            help="Refuse images over this many pixels (decompression-bomb guard); "
            "PDF pages are rendered below it.",
        ),
    ] = MAX_PIXELS,
    csv_protection: Annotated[
        bool,
        typer.Option(
            "--csv-protection/--no-csv-protection",
            help="Prefix cells starting with = + - @ with ' so spreadsheets do not run them.",
        ),
    ] = True,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="Reuse rows of unchanged files from the existing output; process only the rest.",
        ),
    ] = False,
    fail_on_review: Annotated[
        bool,
        typer.Option("--fail-on-review", help="Exit 7 when any row is flagged for review."),
    ] = False,
    workbook: Annotated[
        Path | None,
        typer.Option(
            "--workbook",
            help="Also write a review workbook (.xlsx) with a picture of each flagged row "
            "and a corrected_digit column that 'batchdigits learn' reads back.",
        ),
    ] = None,
    workbook_rows: Annotated[
        WorkbookRowsChoice,
        typer.Option("--workbook-rows", help="Rows in the workbook: flagged ones, or all."),
    ] = WorkbookRowsChoice.flagged,
    numbers: NumbersOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    log_file: LogFileOption = None,
) -> None:
    """Read every digit image in FOLDER and write one row per image."""
    configure_logging(quiet=quiet, verbose=verbose, log_file=log_file)
    with _guarded(verbose):
        from .options import ScanOptions
        from .pipeline import run_scan

        options = ScanOptions(
            folder=folder,
            out=out,
            format=output_format.value,
            include=tuple(include or ()),
            exclude=tuple(exclude or ()),
            follow_symlinks=follow_symlinks,
            model=model,
            review_below=review_below,
            batch_size=batch_size,
            jobs=jobs,
            max_pixels=max_pixels,
            csv_protection=csv_protection,
            incremental=incremental,
            progress=None if not quiet else False,
            workbook=workbook,
            workbook_rows=workbook_rows.value,
            numbers=numbers,
        )
        report = run_scan(options)
        destination = "standard output" if options.to_stdout else str(out)
        if workbook is not None:
            destination += f" and {workbook}"
        log.info("%s -> %s", report.summary.line(), destination)
        timings = report.summary.timings
        log.debug(
            "time per stage: decode %.1fs, preprocess %.1fs (summed over workers), "
            "model load %.1fs, model %.1fs",
            timings.decode,
            timings.preprocess,
            timings.model_load,
            timings.model,
        )
        if report.summary.errors:
            raise typer.Exit(ExitCode.FILES_FAILED)
        if report.outdated_models:
            # Every row is there, read by the shipped model; the warning said
            # why and how to learn the model again. Not 0: cron must notice.
            raise typer.Exit(ExitCode.MODEL_OUTDATED)
        if fail_on_review and report.summary.flagged:
            raise typer.Exit(ExitCode.REVIEW_FLAGGED)


@app.command()
def evaluate(
    folder: Annotated[Path, typer.Argument(help="Folder of digit images, searched recursively.")],
    labels: Annotated[
        Path,
        typer.Option("--labels", help="CSV with columns file,label (file relative to FOLDER)."),
    ],
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Write a PNG of error among unflagged rows against coverage."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    model: ModelOption = None,
    review_below: ReviewBelowOption = DEFAULT_REVIEW_BELOW,
    jobs: JobsOption = 0,
    numbers: NumbersOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Scan FOLDER as scan does and measure it against known labels."""
    configure_logging(quiet=quiet, verbose=verbose, log_file=None)
    with _guarded(verbose):
        import json

        from .evaluate import evaluate as run_evaluation
        from .evaluate import plot_curve
        from .options import ScanOptions

        options = ScanOptions(
            folder=folder,
            model=model,
            review_below=review_below,
            jobs=jobs,
            progress=None if not quiet else False,
            numbers=numbers,
        )
        evaluation = run_evaluation(options, labels)
        typer.echo(json.dumps(evaluation.to_dict(), indent=2) if as_json else evaluation.to_text())
        if plot is not None:
            plot_curve(evaluation, plot)
            log.info("wrote %s", plot)
        if evaluation.outdated_models:
            raise typer.Exit(ExitCode.MODEL_OUTDATED)


@app.command()
def train(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="mnist.npz in Keras' layout; default $BATCHDIGITS_MNIST, else Keras' download.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the model. Default: the user model folder scan uses."
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"Default {DEFAULT_EPOCHS}; with --splits {SPLIT_EPOCHS}, "
            f"--strings {STRING_EPOCHS}.",
        ),
    ] = None,
    distorted_copies: Annotated[
        int, typer.Option(min=0, help="Randomly distorted copies of each training digit.")
    ] = DEFAULT_DISTORTED_COPIES,
    font_samples: Annotated[
        int,
        typer.Option(min=0, help="Renders per handwriting font and digit (fonts-* packages)."),
    ] = DEFAULT_FONT_SAMPLES,
    stroke_samples: Annotated[
        int, typer.Option(min=0, help="Renders per European stroke style and digit (1, 4, 7, 9).")
    ] = DEFAULT_STROKE_SAMPLES,
    style_samples: Annotated[
        int,
        typer.Option(
            min=0, help="Renders per hand style (long-stroke 1, loop-and-tail 9, flat 0, ...)."
        ),
    ] = DEFAULT_STYLE_SAMPLES,
    broken_strokes: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of distorted copies drawn with broken strokes."),
    ] = DEFAULT_BROKEN_STROKES,
    limit: Annotated[
        int | None,
        typer.Option(
            min=10,
            help="Train on this many digits only (smoke tests); with --splits or "
            "--strings, on this many composed numbers.",
        ),
    ] = None,
    seed: int = DEFAULT_TRAIN_SEED,
    jobs: JobsOption = 0,
    teacher: Annotated[
        Path | None,
        typer.Option(
            help="A model whose answers the network learns beside the labels (distillation). "
            "Default: the shipped teacher, the v1 ensemble.",
        ),
    ] = None,
    no_teacher: Annotated[
        bool, typer.Option("--no-teacher", help="Learn from the labels alone.")
    ] = False,
    splits: Annotated[
        bool,
        typer.Option(
            "--splits",
            help="Train the split model of scan --numbers (is a candidate one whole digit?) "
            "instead of the digit model.",
        ),
    ] = False,
    strings: Annotated[
        bool,
        typer.Option(
            "--strings",
            help="Train the string model of scan --numbers (reads a number whole; "
            "its two members one after the other) instead of the digit model.",
        ),
    ] = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Train the digit model on MNIST; scan uses it from then on."""
    configure_logging(quiet=quiet, verbose=verbose, log_file=None)
    with _guarded(verbose):
        from .model import user_model_dir
        from .parallel import available_cores

        if strings or splits:
            # The two helper models of scan --numbers, each trained by its module.
            from importlib import import_module

            helper = import_module(f".{'strings' if strings else 'splits'}", __package__)
            trainer = helper.train_string_model if strings else helper.train_split_model
            trainer(
                data,
                out_dir or user_model_dir(),
                numbers=limit or helper.DEFAULT_NUMBERS,
                epochs=epochs or helper.DEFAULT_EPOCHS,
                seed=seed,
                log=log.info,
            )
            return
        from .train import TrainOptions, default_teacher
        from .train import train as run_training

        options = TrainOptions(
            data=data,
            out_dir=out_dir or user_model_dir(),
            epochs=epochs or DEFAULT_EPOCHS,
            distorted_copies=distorted_copies,
            font_samples=font_samples,
            stroke_samples=stroke_samples,
            style_samples=style_samples,
            broken_strokes=broken_strokes,
            limit=limit,
            seed=seed,
            jobs=jobs or available_cores(),
            teacher=None if no_teacher else (teacher or default_teacher()),
        )
        run_training(options, log=log.info)
        if out_dir is None:
            log.info(
                "scan now uses this model; 'batchdigits model reset' goes back to the shipped one"
            )


@app.command()
def learn(
    folder: Annotated[
        Path | None, typer.Argument(help="The folder that was scanned (not with --again).")
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="A reviewed workbook (its corrected_digit column) or a CSV of file,label.",
        ),
    ] = None,
    again: Annotated[
        Path | None,
        typer.Option(
            "--again",
            help="Learn the corrections kept beside this learned model again, read with "
            "the current preprocessing, onto the shipped model (or --model); written to "
            "its own folder unless --out. For a model made under an older preprocessing, "
            "which scan no longer uses.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write DIR/digits.keras instead of updating the model scan uses "
            "(scan --model DIR/digits.keras uses it).",
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            help="Learn onto this model. Default: the one scan uses (with --again: the "
            "shipped one).",
        ),
    ] = None,
    copies: Annotated[
        int, typer.Option(min=0, help="Distorted copies of each labelled image to remember.")
    ] = DEFAULT_COPIES,
    jobs: JobsOption = 0,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Learn your writers from corrected digits; scan reads them right from then on.

    batchdigits learn FOLDER --labels REVIEW.xlsx, or batchdigits learn --again MODEL."""
    configure_logging(quiet=quiet, verbose=verbose, log_file=None)
    with _guarded(verbose):
        from .errors import InputError
        from .learn import LearnOptions
        from .learn import learn as run_learning

        if again is not None and (folder is not None or labels is not None):
            raise InputError(
                "--again learns the corrections kept beside the model: FOLDER and --labels "
                "are not used with it",
                remedy="leave them out, or learn them without --again",
            )
        if again is None and (folder is None or labels is None):
            raise InputError(
                "learn needs the folder that was scanned and --labels",
                remedy="batchdigits learn FOLDER --labels REVIEW.xlsx, or "
                "batchdigits learn --again MODEL",
            )
        options = LearnOptions(
            folder=folder,
            labels=labels,
            out_dir=out_dir,
            model=model,
            again=again,
            copies=copies,
            jobs=jobs,
            progress=None if not quiet else False,
        )
        report = run_learning(options, log=log.info)
        from .model import user_model_path

        if report.model_path.resolve() == user_model_path().resolve():
            log.info("scan now uses this model; 'batchdigits model reset' goes back")


@app.command(
    "beam",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def beam_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            help="A folder (searched recursively) or a glob; local, gs://, s3://, hdfs://."
        ),
    ],
    out: Annotated[
        str,
        typer.Option("--out", "-o", help="Prefix of the CSV shards: PREFIX-00000-of-0000N.csv."),
    ],
    include: Annotated[
        list[str] | None,
        typer.Option("--include", help="Only files matching this glob (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Skip files matching this glob (repeatable)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="The .keras model (local or remote). Default: scan's."),
    ] = None,
    review_below: ReviewBelowOption = DEFAULT_REVIEW_BELOW,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Images per model call.")
    ] = 256,
    numbers: NumbersOption = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Scan as an Apache Beam pipeline; options after the arguments go to Beam
    (--runner DataflowRunner --project ...). Needs batchdigits[beam]."""
    configure_logging(quiet=quiet, verbose=verbose, log_file=None)
    root = logging.getLogger()
    level = root.level
    if not verbose:  # Beam warns on the root logger about optional clients it lacks
        root.setLevel(logging.ERROR)
    try:
        _run_beam(
            ctx, source, out, include, exclude, model, review_below, batch_size, numbers, verbose
        )
    finally:
        root.setLevel(level)


def _run_beam(
    ctx: typer.Context,
    source: str,
    out: str,
    include: list[str] | None,
    exclude: list[str] | None,
    model: str | None,
    review_below: float,
    batch_size: int,
    numbers: bool,
    verbose: bool,
) -> None:
    with _guarded(verbose):
        from .errors import InputError
        from .model import readable, resolve_model

        try:
            from .beam import local_model, run_pipeline
        except ImportError as exc:
            raise InputError(
                f"Apache Beam is not installed ({exc})",
                remedy="pip install 'batchdigits[beam]'",
            ) from exc
        if "://" not in source and not any(char in source for char in "*?["):
            from .pipeline import check_folder

            check_folder(Path(source))
        if model is not None and "://" in model:
            ref = readable(local_model(model))  # a remote model, fetched to read its metadata
            model_path = model if ref.outdated is None else str(ref.path)
        else:
            ref = resolve_model(Path(model) if model is not None else None)
            model_path = str(ref.path)
        run_pipeline(
            source,
            out,
            model_path,
            include=include or (),
            exclude=exclude or (),
            review_below=review_below,
            batch_size=batch_size,
            numbers=numbers,
            pipeline_args=ctx.args,
        )
        log.info("wrote %s-*.csv", out)
        if ref.outdated is not None:
            raise typer.Exit(ExitCode.MODEL_OUTDATED)


@model_app.command("info")
def model_info(
    model: Annotated[Path | None, typer.Option("--model", help="Describe this model file.")] = None,
) -> None:
    """Show which model scan uses, where it is, and how it scored; and the
    models scan --numbers reads with beside it."""
    configure_logging(quiet=False, verbose=False, log_file=None)
    with _guarded(False):
        import json

        from .model import ModelRef, lite_twin, resolve_model, user_model_path

        def runtime(ref: ModelRef) -> str:
            return "keras" if lite_twin(ref) is None else "litert"

        ref = resolve_model(model)
        info: dict[str, Any] = {
            "path": str(ref.path),
            "source": ref.source,
            "model_id": ref.model_id,
            "runtime": runtime(ref),
            "user_model_path": str(user_model_path()),
            **ref.metadata,
        }
        if ref.outdated is not None:
            info["not_used"] = {
                "path": str(ref.outdated.path),
                "preprocess_version": ref.outdated.preprocess_version,
                "remedy": ref.outdated.remedy,
            }
        from .pipeline import number_helper_refs

        info["numbers_models"] = [
            {
                "path": str(helper.path),
                "source": helper.source,
                "model_id": helper.model_id,
                "runtime": runtime(helper),
            }
            for helper in number_helper_refs()
        ]
        typer.echo(json.dumps(info, indent=2))


@model_app.command("combine")
def model_combine(
    models: Annotated[list[Path], typer.Argument(help="Two or more trained model files.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the combined model. Default: the user model folder."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="mnist.npz to measure the combined model's test accuracy."),
    ] = None,
    jobs: JobsOption = 0,
) -> None:
    """Average several trained models into one (an ensemble: more accurate, slower)."""
    configure_logging(quiet=False, verbose=False, log_file=None)
    with _guarded(False):
        from .errors import ModelError
        from .model import user_model_dir
        from .train import combine_models

        for path in models:
            if not path.is_file():
                raise ModelError(
                    f"model file not found: {path}", remedy="pass paths to trained .keras files"
                )
        combine_models(
            models, out_dir or user_model_dir(), data=data, jobs=jobs or None, log=log.info
        )


@model_app.command("reset")
def model_reset() -> None:
    """Delete the user-trained model so that scan uses the shipped one again."""
    configure_logging(quiet=False, verbose=False, log_file=None)
    with _guarded(False):
        from .learn import BASE_FILENAME, CORRECTIONS_FILENAME
        from .model import metadata_path, user_model_path

        path = user_model_path()
        if not path.exists():
            log.info("no user model at %s; scan already uses the shipped model", path)
            return
        base = path.parent / BASE_FILENAME
        for stale in (path, metadata_path(path), base, metadata_path(base)):
            stale.unlink(missing_ok=True)
        log.info("removed %s; scan uses the shipped model again", path)
        corrections = path.parent / CORRECTIONS_FILENAME
        if corrections.exists():
            log.info(
                "your corrections stay in %s: the next 'learn' adds to them (delete it to forget)",
                corrections,
            )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # A job started in the background inherits an ignored SIGINT; make Ctrl-C
    # (and `kill -INT`) always stop the run cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app(args=argv, prog_name="batchdigits")
