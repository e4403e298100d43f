"""Decode image files the way a person sees them: upright, on white paper, in grey.

Every decoding failure becomes :class:`UnreadableImage` with a message a
person can act on; the pipeline turns it into an error row and moves on.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .pdf import PdfError, is_pdf, render_pages
from .quiet import stderr_silenced

#: Images declaring more pixels than this are refused before decoding
#: (decompression-bomb protection). 150 MP is well above any phone or scanner.
MAX_PIXELS = 150_000_000
#: Colour JPEGs are decoded straight to grey (the decoder's own luma channel:
#: half the work of decoding colour and converting it). Big JPEGs are also
#: decoded at a reduced scale (1/2, 1/4, 1/8) as long as the longest
#: side stays at least this long: twice the resolution preprocessing works
#: at, so the reduction's blur stays well under that of preprocessing's own
#: shrinking (at 1.25x, 1 of 409 big benchmark JPEGs changed its answer).
#: A page where preprocessing finds nothing, or only a small digit, is
#: decoded again at full size (the pipeline does that): a small digit on a
#: big page may not survive the reduction. benchmarks/draft_mode.py measures
#: that the answers do not change.
DRAFT_MIN_SIDE = 512

_WHITE = (255, 255, 255, 255)

_CONVERT = "convert it to PNG or JPEG and scan again"
try:  # HEIC/HEIF, an iPhone's own photo format (AVIF Pillow reads itself)
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF_ADVICE = "corrupt HEIC/HEIF photo, pillow-heif cannot decode it"
except ImportError:  # a platform without its wheel
    _HEIF_ADVICE = f"HEIC/HEIF photo: pip install pillow-heif to read it, or {_CONVERT}"
#: Formats people keep pictures of digits in that may not be decodable here.
#: Files named so are still rows, saying what to do, instead of being
#: skipped as non-images or reported as an unknown format. Content decides
#: first: a file named so that can be read is read (PDF by its header).
UNDECODABLE_FORMATS: dict[str, str] = {
    ".heic": _HEIF_ADVICE,
    ".heif": _HEIF_ADVICE,
    ".jxl": f"JPEG XL image, a format Pillow cannot decode: {_CONVERT}",
    ".pdf": "not a PDF: the file has no PDF header",
}


class UnreadableImage(Exception):
    """A file that could not be decoded; the message says why."""


@dataclass(frozen=True)
class Page:
    """One picture from a file: a 2-D uint8 array, 0 = black, 255 = white."""

    number: int | None  # 1-based page of a PDF or multi-page TIFF, else None
    pixels: np.ndarray
    reduced: bool = False  # decoded below full size (JPEG draft mode)


def load_pages(path: Path, *, max_pixels: int = MAX_PIXELS, draft: bool = True) -> list[Page]:
    """Every page of ``path``, decoded (see :func:`iter_pages`)."""
    return list(iter_pages(path, max_pixels=max_pixels, draft=draft))


def iter_pages(path: Path, *, max_pixels: int = MAX_PIXELS, draft: bool = True) -> Iterator[Page]:
    """Decode ``path`` into grayscale pages, one at a time.

    PDFs and multi-page TIFFs give one page each, decoded only when the
    caller asks for it, so a 500-page file holds one page in memory.
    Animated GIF, PNG and WebP files give their first frame only: that is
    the picture a viewer shows as a still. A page that fails raises
    :class:`UnreadableImage` after the pages before it were given.
    """
    try:
        if path.stat().st_size == 0:
            raise UnreadableImage("empty file (0 bytes)")
        if is_pdf(path):
            yield from _pdf_pages(path, max_pixels)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise UnreadableImage(
                        f"image declares {width}x{height} pixels, over the {max_pixels:,} limit "
                        "(decompression-bomb protection); not decoded"
                    )
                if image.format == "TIFF" and getattr(image, "n_frames", 1) > 1:
                    for index in range(image.n_frames):
                        image.seek(index)
                        yield Page(index + 1, to_grayscale(image))
                    return
                if draft and image.format == "JPEG":
                    requested = None
                    if max(width, height) > 2 * DRAFT_MIN_SIDE:
                        scale = DRAFT_MIN_SIDE / max(width, height)
                        requested = (int(np.ceil(width * scale)), int(np.ceil(height * scale)))
                    image.draft("L" if image.mode in ("L", "RGB") else None, requested)
                reduced = image.size != (width, height)
                pixels = _decode_plain_png(path, image) if _plain_png(image) else None
                yield Page(None, to_grayscale(image) if pixels is None else pixels, reduced)
    except UnreadableImage:
        raise
    except FileNotFoundError as exc:
        raise UnreadableImage("file disappeared before it could be read") from exc
    except PermissionError as exc:
        raise UnreadableImage("permission denied") from exc
    except IsADirectoryError as exc:
        raise UnreadableImage("is a directory, not a file") from exc
    except UnidentifiedImageError as exc:
        advice = UNDECODABLE_FORMATS.get(path.suffix.lower(), "not an image format Pillow can read")
        raise UnreadableImage(advice) from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(
            f"image too large: {exc} (decompression-bomb protection); not decoded"
        ) from exc
    except MemoryError as exc:
        raise UnreadableImage("image too large to decode in memory") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise UnreadableImage(f"corrupt or truncated image data: {_describe(exc)}") from exc


def _plain_png(image: Image.Image) -> bool:
    """An 8-bit RGB PNG that :func:`to_grayscale` would only convert to grey:
    no EXIF orientation and no transparency to act on."""
    return (
        image.format == "PNG"
        and len(image.tile) == 1
        and image.tile[0].args == "RGB"
        and not {"exif", "transparency"} & image.info.keys()
        and not getattr(image, "is_animated", False)
    )


def _decode_plain_png(path: Path, image: Image.Image) -> np.ndarray | None:
    """A plain RGB PNG (:func:`_plain_png`) in grey, exactly as Pillow makes it.

    PNGs cost most of a scan's decoding: several times a JPEG of the same
    size, all of it inflating and unfiltering. OpenCV's decoder does that
    about 10% faster than Pillow's; Pillow's conversion to grey is kept, so
    every grey level is the same. None where OpenCV cannot decode the file:
    Pillow then decodes it and words the error.
    """
    import cv2

    try:
        with stderr_silenced():  # libpng's own words on a broken file
            rgb = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR_RGB)
    except (OSError, cv2.error):
        return None
    if rgb is None or rgb.shape != (image.height, image.width, 3):
        return None
    grey = Image.frombuffer("RGB", image.size, rgb, "raw", "RGB", 0, 1).convert("L")
    return np.asarray(grey, dtype=np.uint8).copy()


def _pdf_pages(path: Path, max_pixels: int) -> Iterator[Page]:
    try:
        for number, pixels in render_pages(path, max_pixels=max_pixels):
            yield Page(number, pixels)
    except PdfError as exc:
        raise UnreadableImage(str(exc)) from exc
    except MemoryError as exc:
        raise UnreadableImage("PDF page too large to render in memory") from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Grey levels as a person sees the page: EXIF orientation applied,
    transparency composited onto white, deep images scaled to 8 bits."""
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16"):
            peak = 65535.0
        elif mode == "F" and values.size and values.max() <= 1.0:
            peak = 1.0
        else:
            top = float(values.max()) if values.size else 255.0
            peak = 65535.0 if top > 255 else 255.0
        return np.clip(np.rint(values / peak * 255.0), 0, 255).astype(np.uint8)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("PA", "LA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        paper = Image.new("RGBA", image.size, _WHITE)
        image = Image.alpha_composite(paper, image)
    if image.mode != "L":
        try:
            image = image.convert("L")
        except ValueError:  # modes such as LAB convert to L only via RGB
            image = image.convert("RGB").convert("L")
    return np.asarray(image, dtype=np.uint8).copy()
