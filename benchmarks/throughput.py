"""Throughput and memory of `batchdigits scan` at folder scale.

Usage: python benchmarks/throughput.py [--files 10000] [--rounds 2] [--no-100k]

Generates N scan files (mostly JPEG, some PNG, about 100 to 2,000 px; cached
under benchmarks/_work/), then measures in one run, alternating so that
machine noise hits both alike:
  (a) the decode ceiling: the same files opened, EXIF-transposed and
      converted to grayscale with Pillow, over all cores, nothing else;
  (b) `batchdigits scan` end to end as a user runs it (a subprocess);
  (c) peak RSS of scan (all its processes) at 1,000, 10,000 and 100,000
      files (the largest uses small images to save disk);
  (d) the tutorial's way, one predict call per image, on a 500-file slice.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, table, timed_scan, write_section
from scanlike import LOOK_CONDITIONS, render_page, style_for

from batchdigits.load import load_pages
from batchdigits.model import load_classifier
from batchdigits.parallel import start_worker
from batchdigits.preprocess import to_mnist

WORK = Path(__file__).resolve().parent / "_work"
BASE_PAGES = 240


def base_files(small: bool) -> list[tuple[str, bytes]]:
    """Encoded scans to copy from: (suffix, bytes). Sizes log-uniform in 100-2000 px."""
    rng = np.random.default_rng(5 if small else 3)
    with np.load(DEFAULT_MNIST) as data:
        digits = data["x_test"][3000 : 3000 + BASE_PAGES]
    bases = []
    for i, digit in enumerate(digits):
        condition = LOOK_CONDITIONS[i % len(LOOK_CONDITIONS)]
        page = Image.fromarray(render_page(digit, style_for(condition, rng), rng))
        longest = (
            int(rng.integers(100, 200))
            if small
            else int(np.exp(rng.uniform(np.log(100), np.log(2000))))
        )
        scale = longest / max(page.size)
        page = page.resize(
            (max(8, round(page.width * scale)), max(8, round(page.height * scale))), Image.LANCZOS
        )
        buffer = io.BytesIO()
        if rng.random() < 0.85:
            page.save(buffer, "JPEG", quality=int(rng.integers(75, 95)))
            bases.append((".jpg", buffer.getvalue()))
        else:
            page.save(buffer, "PNG")
            bases.append((".png", buffer.getvalue()))
    return bases


def make_folder(count: int, small: bool = False) -> Path:
    folder = WORK / f"throughput_{count}{'_small' if small else ''}"
    stamp = folder / ".stamp.json"
    expected = {"count": count, "small": small, "bases": BASE_PAGES}
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    bases = base_files(small)
    for i in range(count):
        suffix, data = bases[i % len(bases)]
        sub = folder / f"batch_{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"scan_{i:06d}{suffix}").write_bytes(data)
    stamp.write_text(json.dumps(expected))
    return folder


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".jpg", ".png"))


def decode_only(path: Path) -> int:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("L").size[0]


def decode_ceiling(files: list[Path]) -> float:
    """Seconds to decode every file over all cores, pool start included."""
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    with context.Pool(os.cpu_count(), initializer=start_worker, initargs=(os.getpid(),)) as pool:
        for _ in pool.imap_unordered(decode_only, files, chunksize=32):
            pass
    return time.perf_counter() - started


def tutorial_way(files: list[Path]) -> float:
    """Load, preprocess and predict one image at a time: one predict call each."""
    import keras

    classifier = load_classifier()
    model = keras.saving.load_model(classifier.ref.path, compile=False)
    started = time.perf_counter()
    for path in files:
        image = to_mnist(load_pages(path)[0].pixels)
        if image is not None:
            model.predict((image.astype(np.float32) / 255)[None, ..., None], verbose=0)
    return time.perf_counter() - started


def startup_times(tmp: Path, files: list[Path]) -> dict[str, float]:
    """Median wall seconds of --help, --version, and a scan of one file."""
    one = tmp / "one"
    one.mkdir()
    shutil.copy(files[0], one / files[0].name)
    commands = {
        "batchdigits --help": ["--help"],
        "batchdigits --version": ["--version"],
        "batchdigits scan (1 file)": ["scan", str(one), "--out", str(tmp / "one.csv"), "-q"],
    }
    times = {}
    for name, arguments in commands.items():
        runs = []
        for _ in range(5 if "scan" not in name else 3):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "batchdigits", *arguments], check=True, capture_output=True
            )
            runs.append(time.perf_counter() - started)
        times[name] = float(np.median(runs))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-100k", action="store_true", help="skip the 100,000-file memory run")
    parser.add_argument(
        "--compare-model",
        type=Path,
        default=None,
        help="also time scan with this model in each round (e.g. the v1 model)",
    )
    args = parser.parse_args()

    folder = make_folder(args.files)
    files = image_files(folder)
    rows = []
    ceilings, scans, peaks, compared = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.csv"
        for _ in range(args.rounds):
            ceilings.append(decode_ceiling(files))
            seconds, peak = timed_scan(folder, out)
            scans.append(seconds)
            peaks.append(peak)
            if args.compare_model:
                compared.append(timed_scan(folder, out, "--model", str(args.compare_model))[0])
        ratios = [c / s for c, s in zip(ceilings, scans, strict=True)]
        for c, s, r in zip(ceilings, scans, ratios, strict=True):
            rows.append([f"{len(files) / c:.0f}", f"{len(files) / s:.0f}", f"{r:.0%}"])

        memory = {len(files): max(peaks)}
        small_folder = make_folder(1000)
        memory[1000] = timed_scan(small_folder, out)[1]
        if not args.no_100k:
            big = make_folder(100_000, small=True)
            memory[100_000] = timed_scan(big, out)[1]

        slice_folder = Path(tmp) / "slice"
        slice_folder.mkdir()
        for path in files[:500]:
            shutil.copy(path, slice_folder / path.name)
        batched = timed_scan(slice_folder, out)[0]
        one_by_one = tutorial_way(image_files(slice_folder))
        startup = startup_times(Path(tmp), files)

    sizes = np.array([max(Image.open(p).size) for p in files[:BASE_PAGES]])
    jpeg_share = np.mean([p.suffix == ".jpg" for p in files])
    body = "\n".join(
        [
            f"{len(files)} files ({jpeg_share:.0%} JPEG, the rest PNG; longest side "
            f"{sizes.min()}-{sizes.max()} px, median {np.median(sizes):.0f}), "
            f"{os.cpu_count()} cores.",
            "",
            table(
                [
                    "decode ceiling (files/s)",
                    "batchdigits scan, end to end (files/s)",
                    "scan / ceiling",
                ],
                rows,
            ),
            "",
            f"**scan reaches {np.median(ratios):.0%} of the decode ceiling** "
            f"(median of {len(ratios)} rounds).",
            "",
            "Start-up (median wall time of a fresh process):",
            "",
            table(["command", "seconds"], [[name, f"{s:.2f}"] for name, s in startup.items()]),
            "",
            "Peak RSS of scan, all processes together:",
            "",
            table(
                ["files", "peak RSS"],
                [
                    [
                        f"{n:,}" + (" (small images)" if n == 100_000 else ""),
                        f"{rss / 2**20:.0f} MiB",
                    ]
                    for n, rss in sorted(memory.items())
                ],
            ),
            "",
            (
                f"Same folder, same rounds, scan with `{args.compare_model}`: "
                f"{np.median(compared):.1f} s against {np.median(scans):.1f} s with the "
                f"default model ({np.median(scans) / np.median(compared):.2f}x the time)."
                if compared
                else ""
            ),
            "",
            f"The tutorial's way (one predict call per image, 500 files, one process): "
            f"{one_by_one:.1f} s; `batchdigits scan` on the same 500 files, start-up included: "
            f"{batched:.1f} s ({one_by_one / batched:.1f}x faster).",
        ]
    )
    print(body)
    write_section("throughput", "## Throughput and memory\n\n" + body)


if __name__ == "__main__":
    main()
