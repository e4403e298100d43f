"""Import TensorFlow quietly, and only when a model is actually needed.

TensorFlow takes seconds to import and prints oneDNN and CPU-feature notices
on stderr from C++ before Python logging exists. Users of a batch tool should
see neither, and ``--help`` should never pay for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

from .quiet import stderr_silenced


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them.

    An exception raised by a signal handler in the middle of TensorFlow's
    import or a model load unwinds through C++ code that does not expect it,
    and surfaces as a SystemError or a bogus "corrupt model" instead of a
    clean interruption. Those steps take seconds; the signal is delivered
    as soon as they end. Outside the main thread (where handlers cannot be
    set) this does nothing.
    """
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in watched}
    main = threading.current_thread() is threading.main_thread()
    if not main or any(handler is None for handler in previous.values()):
        yield
        return
    received: list[int] = []
    for signum in watched:
        signal.signal(signum, lambda number, _frame: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


def import_tensorflow(threads: int | None = None) -> ModuleType:
    """Return the ``tensorflow`` module, imported without console noise.

    ``threads`` fits TensorFlow's thread pools to the CPU share it is given,
    so that it does not fight the image-decoding workers for cores.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    already = "tensorflow" in sys.modules
    with stderr_silenced():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        if threads and not already:
            with contextlib.suppress(RuntimeError):
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    return tf
