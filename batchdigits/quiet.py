"""Quiet C and C++ libraries: they write to file descriptor 2 directly.

TensorFlow, LiteRT and libpng (inside OpenCV) print notices and errors
with ``fprintf(stderr)``, past Python's ``sys.stderr``. A batch tool's
stderr is for people: what such a library has to say reaches them as a
clear message from us (an error row, a log line), not as its own noise.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: C++ logging bypasses sys.stderr."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
