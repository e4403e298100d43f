"""Find the image files to scan, in a stable order.

Files with an image extension Pillow knows (with pillow-heif's HEIC/HEIF,
and PDF), or that of a picture format that may not be decodable here
(``load.UNDECODABLE_FORMATS``), are always taken, so a broken ``.png`` or an
iPhone's ``.heic`` becomes an error row saying what is wrong rather than
silently vanishing. Files with any other extension are
taken only when Pillow recognises their content.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from PIL import Image

from .load import UNDECODABLE_FORMATS


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file found under the scanned folder.

    The folder is one string shared by every file, and the path is built when
    asked for: a folder of a million files holds a million of these at once.
    """

    folder: str
    relative: str  # '/'-separated, relative to the scanned folder
    size: int
    mtime_ns: int

    @property
    def path(self) -> Path:
        return Path(self.folder, self.relative)

    @classmethod
    def of_relative(cls, folder: Path, relative: str) -> SourceFile:
        """The file ``relative`` (as discovery names it) in ``folder``."""
        info = (folder / relative).stat()
        return cls(str(folder), relative, info.st_size, info.st_mtime_ns)

    @classmethod
    def of(cls, path: Path) -> SourceFile:
        """A file on its own, as if found in its folder (benchmarks, tests)."""
        return cls.of_relative(path.parent, path.name)


@dataclass
class Discovery:
    files: list[SourceFile]
    skipped_non_images: int = 0
    unreadable_folders: list[str] = field(default_factory=list)


def image_extensions() -> frozenset[str]:
    Image.init()
    return frozenset(ext.lower() for ext in Image.registered_extensions())


def _matches(relative: str, patterns: Iterable[str]) -> bool:
    name = PurePosixPath(relative).name
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def selected(relative: str, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> bool:
    """Whether ``--include`` / ``--exclude`` keep this relative path (glob
    patterns matched against the path and against the file name)."""
    include, exclude = tuple(include), tuple(exclude)
    if include and not _matches(relative, include):
        return False
    return not (exclude and _matches(relative, exclude))


def is_hidden(relative: str) -> bool:
    """A file, or a file in a folder, whose name starts with '.'."""
    return any(part.startswith(".") for part in relative.split("/"))


def scanned_extensions() -> frozenset[str]:
    """Extensions taken whatever the content: images, and formats that become error rows."""
    return image_extensions() | UNDECODABLE_FORMATS.keys()


def _looks_like_image(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except Exception:  # Pillow raises many types for non-images; none matter here
        return False


def discover_files(
    root: Path,
    *,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    follow_symlinks: bool = False,
    skip: Iterable[Path] = (),
) -> Discovery:
    """Walk ``root`` recursively and return the image files, sorted by relative path.

    Hidden files and folders (name starting with '.') are skipped, as are the
    paths in ``skip`` (the output file, its manifest and lock). Symlinked
    folders are followed only with ``follow_symlinks``, and then each real
    folder is visited once, so a symlink loop cannot trap the walk.
    """
    include, exclude = tuple(include), tuple(exclude)
    skipped = {os.path.normcase(os.path.abspath(p)) for p in skip}
    extensions = scanned_extensions()
    found: list[SourceFile] = []
    non_images = 0
    visited: set[tuple[int, int]] = set()
    top = str(root)

    unreadable: list[str] = []

    def walk_error(error: OSError) -> None:
        # An unreadable sub-folder cannot be listed; its files never become
        # rows, so it is reported rather than dropped silently.
        unreadable.append(f"{error.filename}: {error.strerror}")

    for folder, dirnames, filenames in os.walk(
        root, followlinks=follow_symlinks, onerror=walk_error
    ):
        if follow_symlinks:
            try:
                info = os.stat(folder)
            except OSError:
                dirnames[:] = []
                continue
            if (info.st_dev, info.st_ino) in visited:
                dirnames[:] = []
                continue
            visited.add((info.st_dev, info.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if os.path.normcase(os.path.abspath(path)) in skipped:
                continue
            relative = path.relative_to(root).as_posix()
            if not selected(relative, include, exclude):
                continue
            try:
                info = path.stat()
            except OSError:
                # A dangling symlink or a file that vanished: still a row, so
                # the user learns it could not be read.
                found.append(SourceFile(top, relative, -1, 0))
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if path.suffix.lower() not in extensions and not _looks_like_image(path):
                non_images += 1
                continue
            found.append(SourceFile(top, relative, info.st_size, info.st_mtime_ns))
    found.sort(key=lambda f: f.relative)
    return Discovery(found, non_images, unreadable)
