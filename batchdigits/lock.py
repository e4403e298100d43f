"""One run at a time per output file: a lock file beside the output.

The lock holds the owner's process id and host. A lock whose process is gone
(a run killed with SIGKILL, a reboot) is stale and is taken over.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from .errors import OutputError
from .parallel import process_alive

log = logging.getLogger("batchdigits")


class OutputLock:
    """Context manager holding ``<output>.lock`` for the length of a run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held = False

    def __enter__(self) -> OutputLock:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._check_existing()
                continue
            except OSError as exc:
                raise OutputError(
                    f"cannot create lock file {self.path}: {exc.strerror}",
                    remedy="choose an --out in a folder you can write to",
                ) from exc
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                json.dump(info, stream)
            self._held = True
            return self
        raise OutputError(
            f"cannot take the lock {self.path}", remedy="delete it if no run is active"
        )

    def _check_existing(self) -> None:
        """Refuse while the owner runs; remove the lock when its owner is gone."""
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8"))
            pid, host = int(owner["pid"]), str(owner["host"])
        except FileNotFoundError:
            return  # released meanwhile: try again
        except (OSError, ValueError, KeyError, TypeError):
            owner, pid, host = {}, -1, ""
        if pid > 0 and host == socket.gethostname() and process_alive(pid):
            raise OutputError(
                f"another batchdigits run (pid {pid}, started {owner.get('started', '?')}) "
                f"is writing {self.path.with_suffix('').name}",
                remedy=f"wait for it to finish; if it is gone, delete {self.path}",
            )
        if pid > 0 and host != socket.gethostname():
            raise OutputError(
                f"{self.path} is held by pid {pid} on host {host}",
                remedy=f"if no run is active there, delete {self.path}",
            )
        log.warning("taking over stale lock %s (its run, pid %s, is gone)", self.path, pid)
        self.path.unlink(missing_ok=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False
