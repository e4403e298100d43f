"""Finding the files to scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from batchdigits.discover import discover_files


def make_image(path: Path, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (20, 20), 255).save(path, format=fmt)
    return path


def relatives(root: Path, **kwargs: object) -> list[str]:
    return [f.relative for f in discover_files(root, **kwargs).files]  # type: ignore[arg-type]


def test_recursive_sorted_and_hidden_skipped(tmp_path: Path) -> None:
    for name in ["b.png", "a/z.jpg", "a/b/c.tif", ".hidden.png", ".git/x.png", "A.PNG"]:
        make_image(tmp_path / name, "PNG")
    assert relatives(tmp_path) == ["A.PNG", "a/b/c.tif", "a/z.jpg", "b.png"]


def test_content_decides_for_unknown_extensions(tmp_path: Path) -> None:
    make_image(tmp_path / "scan_without_extension", "PNG")
    (tmp_path / "labels.csv").write_text("file,label\n")
    (tmp_path / "readme.txt").write_text("hello")
    (tmp_path / "fake.png").write_text("not an image but named like one")
    discovery = discover_files(tmp_path)
    assert [f.relative for f in discovery.files] == ["fake.png", "scan_without_extension"]
    assert discovery.skipped_non_images == 2


def test_pictures_pillow_cannot_decode_are_taken(tmp_path: Path) -> None:
    # Skipped as non-images, they would vanish from the output unexplained;
    # taken, they become rows that say how to convert them.
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (tmp_path / "scans.pdf").write_bytes(b"%PDF-1.4\n")
    (tmp_path / "notes.txt").write_text("hello")
    discovery = discover_files(tmp_path)
    assert [f.relative for f in discovery.files] == ["IMG_0001.HEIC", "scans.pdf"]
    assert discovery.skipped_non_images == 1


def test_include_and_exclude(tmp_path: Path) -> None:
    for name in ["keep/1.png", "keep/2.jpg", "drop/3.png", "4.png"]:
        make_image(tmp_path / name, "PNG")
    assert relatives(tmp_path, include=["*.png"]) == ["4.png", "drop/3.png", "keep/1.png"]
    assert relatives(tmp_path, exclude=["drop/*"]) == ["4.png", "keep/1.png", "keep/2.jpg"]
    assert relatives(tmp_path, include=["keep/*"], exclude=["*.jpg"]) == ["keep/1.png"]


def test_skip_list_and_directory_named_like_an_image(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    (tmp_path / "folder.jpg").mkdir()
    make_image(tmp_path / "folder.jpg" / "inner.png")
    (tmp_path / "results.csv").write_text("file\n")
    found = relatives(tmp_path, skip=[tmp_path / "a.png"])
    assert found == ["folder.jpg/inner.png"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinked_folders_and_loops(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_image(outside / "o.png")
    root = tmp_path / "root"
    make_image(root / "r.png")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    assert relatives(root) == ["r.png"]
    followed = relatives(root, follow_symlinks=True)
    assert followed == ["link/o.png", "r.png"]


def test_dangling_symlink_is_reported_as_a_file(tmp_path: Path) -> None:
    make_image(tmp_path / "a.png")
    (tmp_path / "gone.png").symlink_to(tmp_path / "missing.png")
    files = discover_files(tmp_path).files
    assert [(f.relative, f.size) for f in files] == [("a.png", files[0].size), ("gone.png", -1)]
