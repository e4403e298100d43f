"""Long PDFs: does a scan of a 500-page PDF stream, memory flat?

Usage: python benchmarks/pdf_pages.py [--pages 50 500] [--dpi 200]

Writes PDFs as a scanner saves them (one grey page image per page, letter
size at ``--dpi``, a sample scan's digit pasted on each; cached under
benchmarks/_work/pdf_pages/), scans each as a user does (a subprocess), and
reports wall time, pages per second and peak RSS of the whole run (every
process). Pages are decoded one at a time in a worker, so peak memory
should not grow with the page count.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, table, timed_scan, write_section

WORK = REPO / "benchmarks" / "_work" / "pdf_pages"


def make_pdf(pages: int, dpi: int) -> Path:
    path = WORK / f"scan-{pages}p-{dpi}dpi.pdf"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    samples = sorted((REPO / "sample_scans").glob("*.jpg"))
    width, height = int(8.5 * dpi), int(11 * dpi)
    rng = np.random.default_rng(5)

    def page(index: int) -> Image.Image:
        sheet = Image.new("L", (width, height), 245)
        with Image.open(samples[index % len(samples)]) as digit:
            digit = digit.convert("L")
            left = int(rng.integers(0, width - digit.width))
            top = int(rng.integers(0, height - digit.height))
            sheet.paste(digit, (left, top))
        return sheet

    rest = (page(index) for index in range(1, pages))  # one page in memory at a time
    page(0).save(path, save_all=True, append_images=rest, resolution=dpi)
    return path


def scan_pdf(pdf: Path, out: Path) -> tuple[float, int, int]:
    """Wall seconds, peak RSS of every process, and the rows written."""
    folder = out.parent / pdf.stem
    folder.mkdir()
    (folder / pdf.name).symlink_to(pdf)
    seconds, peak = timed_scan(folder, out, allowed=(0, 3))
    rows = out.read_text(encoding="utf-8-sig").count("\n") - 1
    return seconds, peak, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for pages in args.pages:
            pdf = make_pdf(pages, args.dpi)
            seconds, peak, rows = scan_pdf(pdf, Path(tmp) / f"r{pages}.csv")
            size = f"{pdf.stat().st_size / 2**20:.0f} MiB"
            rate = f"{pages / seconds:.1f}"
            results.append(
                [str(pages), str(rows), size, f"{seconds:.0f} s", rate, f"{peak / 2**20:.0f} MiB"]
            )
            print(results[-1])
    body = [
        f"One PDF per run, letter pages at {args.dpi} dpi (one scanned image per page, "
        f"{int(8.5 * args.dpi)}x{int(11 * args.dpi)} px, a sample scan's digit on each), "
        "scanned as a user does (a subprocess; start-up included).",
        "",
        table(["pages", "rows", "PDF size", "wall", "pages/s", "peak RSS, all processes"], results),
        "",
        "A PDF is one file, so its pages are read by one worker, one page at a time, and a "
        "long PDF uses one core for decoding and preprocessing. Memory is not quite flat: "
        "no page's pixels are kept, but PDFium's own caches of a document grow with the "
        "pages rendered (about 45 MiB over 500 of these pages, rendering alone), and so "
        "does a worker's heap over a long task.",
    ]
    write_section("pdf_pages", "\n".join(body))


if __name__ == "__main__":
    main()
