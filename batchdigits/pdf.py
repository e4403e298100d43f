"""Render the pages of a PDF, as scanners and scanning apps save them.

PDFium (through pypdfium2, which ships it in its wheel) renders each page
in grey, at the resolution of the page's own images where it has any (a
scanned page is one image of 150-600 dpi: rendering at its resolution
keeps every pixel the scanner saw and invents none), else at
:data:`VECTOR_DPI`; never above the decompression-bomb limit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

#: Resolution for pages without images (drawn or typed digits).
VECTOR_DPI = 300.0
#: Bounds on a page image's resolution as found: below the low end a digit
#: loses its strokes; above the high end only the render time grows.
MIN_DPI, MAX_DPI = 72.0, 600.0
POINTS_PER_INCH = 72.0


class PdfError(Exception):
    """A PDF that cannot be rendered; the message says why and what to do."""


def is_pdf(path: Path) -> bool:
    """True when the file's content is a PDF (the header may follow up to 1 KB of junk)."""
    try:
        with path.open("rb") as stream:
            return b"%PDF-" in stream.read(1024)
    except OSError:
        return False


def page_dpi(page: object) -> float:
    """The resolution of the page's sharpest image, or :data:`VECTOR_DPI` without one."""
    import pypdfium2.raw as pdfium_c

    best = 0.0
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):  # type: ignore[attr-defined]
        try:
            left, bottom, right, top = image.get_bounds()
            width_px, height_px = image.get_px_size()
        except Exception:  # an image PDFium cannot measure: judge by the others
            continue
        for pixels, points in ((width_px, right - left), (height_px, top - bottom)):
            if points > 1:
                best = max(best, pixels / (points / POINTS_PER_INCH))
    return float(np.clip(best, MIN_DPI, MAX_DPI)) if best else VECTOR_DPI


def render_pages(path: Path, *, max_pixels: int) -> Iterator[tuple[int, np.ndarray]]:
    """(page number from 1, grey pixels) for each page, one page in memory at a time."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise PdfError(
                "encrypted PDF: a password is needed to open it; "
                "save a copy without a password and scan that"
            ) from exc
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise PdfError("PDF protected by a security handler PDFium does not support") from exc
        # PDFium refuses a document whose page tree is empty the same way.
        raise PdfError(f"damaged PDF, or one with no pages: cannot be opened ({exc})") from exc
    try:
        if len(document) == 0:
            raise PdfError("PDF has no pages")
        for index in range(len(document)):
            page = document[index]
            try:
                yield index + 1, _render(page, max_pixels)
            finally:
                page.close()
    finally:
        document.close()


def _render(page: object, max_pixels: int) -> np.ndarray:
    import pypdfium2 as pdfium

    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = page_dpi(page) / POINTS_PER_INCH
    # PDFium rounds the bitmap's sides up.
    while scale > 0.01 and math.ceil(width * scale) * math.ceil(height * scale) > max_pixels:
        scale = min(scale * 0.99, (max_pixels / (width * height)) ** 0.5)
    try:
        bitmap = page.render(scale=scale, grayscale=True)  # type: ignore[attr-defined]
    except pdfium.PdfiumError as exc:
        raise PdfError(f"damaged PDF page, cannot be rendered ({exc})") from exc
    try:
        pixels = np.array(bitmap.to_numpy(), dtype=np.uint8)  # a copy: the bitmap is freed now
    finally:
        bitmap.close()
    return pixels.reshape(pixels.shape[:2]) if pixels.ndim == 3 else pixels
