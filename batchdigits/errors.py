"""Exit codes and the exceptions that carry them.

Every failure a user can act on is a :class:`BatchDigitsError` with an exit
code for cron and a remedy for the person reading the log. Anything else is
an internal error (exit 1).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a run's exit status tells cron. Documented in the README and ``--help``."""

    OK = 0
    INTERNAL_ERROR = 1
    USAGE_ERROR = 2
    FILES_FAILED = 3
    NO_IMAGES = 4
    MODEL_ERROR = 5
    OUTPUT_ERROR = 6
    REVIEW_FLAGGED = 7
    MODEL_OUTDATED = 8
    INTERRUPTED = 130
    TERMINATED = 143


EXIT_CODE_HELP: dict[ExitCode, str] = {
    ExitCode.OK: "every file processed (rows flagged for review are allowed)",
    ExitCode.INTERNAL_ERROR: "internal error (a bug: rerun with --verbose for details)",
    ExitCode.USAGE_ERROR: "usage error: bad option or argument",
    ExitCode.FILES_FAILED: "finished, but some files could not be read (see the error column)",
    ExitCode.NO_IMAGES: "no image files found",
    ExitCode.MODEL_ERROR: "model missing or corrupt",
    ExitCode.OUTPUT_ERROR: "output unwritable, locked by another run, or would overwrite an input",
    ExitCode.REVIEW_FLAGGED: "finished with rows flagged for review, under --fail-on-review",
    ExitCode.MODEL_OUTDATED: "finished, every row read, but with the shipped model: the model "
    "asked for was made under an older preprocessing (the warning names the command that "
    "learns it again)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C / SIGINT); previous output left untouched",
    ExitCode.TERMINATED: "terminated (SIGTERM); previous output left untouched",
}


class BatchDigitsError(Exception):
    """A failure the user can act on: a message, a remedy and an exit code."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR

    def __init__(self, message: str, *, remedy: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy

    def __str__(self) -> str:
        return f"{self.message} ({self.remedy})" if self.remedy else self.message


class NoImagesError(BatchDigitsError):
    exit_code = ExitCode.NO_IMAGES


class ModelError(BatchDigitsError):
    exit_code = ExitCode.MODEL_ERROR


class OutputError(BatchDigitsError):
    exit_code = ExitCode.OUTPUT_ERROR


class InputError(BatchDigitsError):
    """The folder to scan does not exist or is not a folder."""

    exit_code = ExitCode.USAGE_ERROR


class TrainingDataError(BatchDigitsError):
    exit_code = ExitCode.USAGE_ERROR


class Interrupted(BaseException):
    """Raised from the SIGTERM handler so that cleanup runs and nothing is written.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    around a decoder or a model load can mistake it for their own failure.
    """

    def __init__(self, exit_code: ExitCode) -> None:
        name = "interrupted" if exit_code == ExitCode.INTERRUPTED else "terminated"
        super().__init__(f"{name}; previous output left untouched")
        self.message = str(self)
        self.exit_code = exit_code
