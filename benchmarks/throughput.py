"""Throughput and memory of `batchdigits scan` at folder scale.

Usage: python benchmarks/throughput.py [--files 10000] [--rounds 2]
       [--folders standard,harder] [--no-100k]

Generates folders of N scan files (cached under benchmarks/_work/): the
standard one (mostly JPEG, some PNG, about 100 to 2,000 px, one look
condition each) and a harder one (70% JPEG, 30% PNG, with more pencil,
faint and small digits), then measures in one run, alternating so that
machine noise hits all alike:
  (a) the decode ceiling: the same files opened, EXIF-transposed and
      converted to grayscale with Pillow, over all cores, nothing else;
  (b) `batchdigits scan` end to end as a user runs it (a subprocess);
  (c) peak RSS of scan (all its processes) at 1,000, 10,000 and 100,000
      files (the largest uses small images to save disk);
  (d) the tutorial's way, one predict call per image, on a 500-file slice;
and reports both folders against engine v2's targets (scan at 70% of the
decode ceiling or more at 10,000 files; peak RSS at most 1.5 GB at 100,000).
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_MNIST, table, timed_scan, write_section
from scanlike import (
    LOOK_CONDITIONS,
    compound_style,
    render_page,
    render_small_on_big_page,
    style_for,
)

from batchdigits.load import load_pages
from batchdigits.model import load_classifier
from batchdigits.parallel import start_worker
from batchdigits.preprocess import to_mnist

WORK = Path(__file__).resolve().parent / "_work"
BASE_PAGES = 240


@dataclass(frozen=True)
class Mix:
    """What a generated folder holds. ``standard`` is the folder every
    throughput figure so far was measured on; ``harder`` has more pencil,
    faint and small digits and more PNG, like the hardest folders users
    reported (preprocessing costs about twice as much per file there)."""

    name: str
    seed: int
    jpeg_share: float
    # (share of the base pages, a kind of harder_page); the rest are drawn
    # as in the standard mix: one look condition each, in turn.
    kinds: tuple[tuple[float, str], ...] = ()


MIXES = {
    "standard": Mix("standard", seed=3, jpeg_share=0.85),
    "harder": Mix(
        "harder",
        seed=11,
        jpeg_share=0.70,
        kinds=((0.25, "pencil"), (0.20, "faint"), (0.13, "small"), (0.12, "tiny")),
    ),
}
# Papers and degradations a pencil digit of the harder mix is drawn with.
PENCIL_COMPANIONS = (
    "grey_paper",
    "yellow_paper",
    "textured_paper",
    "ruled_paper",
    "squared_paper",
    "uneven_light",
    "shadow",
    "noise_and_dust",
    "blur",
)


def harder_page(kind: str, digit: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """One page of the harder mix, and the smallest longest side it may be
    scaled to (pages with a small digit stay large)."""
    if kind == "pencil":
        style = compound_style(["pencil", str(rng.choice(PENCIL_COMPANIONS))], rng)
        lowest = 100
    elif kind == "faint":
        # Light, thin strokes: pencil or a hairline pen, pushed towards the paper.
        pen = ["pencil", "hairline"] if rng.random() < 0.5 else ["hairline"]
        style = compound_style([*pen, str(rng.choice(["grey_paper", "blur", "uneven_light"]))], rng)
        fade = float(rng.uniform(0.3, 0.6))
        style.ink = tuple(  # type: ignore[assignment]
            round(i + (p - i) * fade) for i, p in zip(style.ink, style.paper, strict=True)
        )
        lowest = 100
    elif kind == "small":
        extra = str(rng.choice(["clean", "pencil", "coloured_ink", "grey_paper", "ruled_paper"]))
        style = compound_style(["wide_margin", "off_centre", extra], rng)
        lowest = 500
    elif kind == "tiny":  # 20-60 px tall on a page of 1,000-3,000 px
        return Image.fromarray(render_small_on_big_page(digit, rng)), 800
    else:
        raise ValueError(kind)
    return Image.fromarray(render_page(digit, style, rng)), lowest


def base_files(small: bool, mix: Mix = MIXES["standard"]) -> list[tuple[str, bytes]]:
    """Encoded scans to copy from: (suffix, bytes). Sizes log-uniform in 100-2000 px
    (pages with a small digit: 500 or 800 to 2,000 px, never enlarged)."""
    rng = np.random.default_rng(5 if small else mix.seed)
    with np.load(DEFAULT_MNIST) as data:
        digits = data["x_test"][3000 : 3000 + BASE_PAGES]
    kinds = []
    for share, kind in mix.kinds:
        kinds += [kind] * round(share * BASE_PAGES)
    kinds += [""] * (BASE_PAGES - len(kinds))
    if mix.kinds:
        kinds = [kinds[i] for i in rng.permutation(BASE_PAGES)]
    bases = []
    for i, digit in enumerate(digits):
        if kinds[i]:
            page, lowest = harder_page(kinds[i], digit, rng)
        else:
            condition = LOOK_CONDITIONS[i % len(LOOK_CONDITIONS)]
            page, lowest = Image.fromarray(render_page(digit, style_for(condition, rng), rng)), 100
        if small:
            longest = int(rng.integers(100, 200))
        else:
            longest = int(np.exp(rng.uniform(np.log(lowest), np.log(2000))))
            if lowest > 100:  # a small digit's page is never enlarged
                longest = min(longest, max(page.size))
        scale = longest / max(page.size)
        page = page.resize(
            (max(8, round(page.width * scale)), max(8, round(page.height * scale))), Image.LANCZOS
        )
        buffer = io.BytesIO()
        if rng.random() < mix.jpeg_share:
            page.save(buffer, "JPEG", quality=int(rng.integers(75, 95)))
            bases.append((".jpg", buffer.getvalue()))
        else:
            page.save(buffer, "PNG")
            bases.append((".png", buffer.getvalue()))
    return bases


def make_folder(count: int, small: bool = False, mix: str = "standard") -> Path:
    prefix = "throughput" if mix == "standard" else f"throughput_{mix}"
    folder = WORK / f"{prefix}_{count}{'_small' if small else ''}"
    stamp = folder / ".stamp.json"
    expected: dict[str, object] = {"count": count, "small": small, "bases": BASE_PAGES}
    if mix != "standard":
        expected["mix"] = repr(MIXES[mix])
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    bases = base_files(small, MIXES[mix])
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


# Engine v2's targets (issue "engine v2").
TARGET_SHARE = 0.70  # scan / decode ceiling, at 10,000 files on 2 cores
TARGET_RSS = 1.5e9  # bytes, peak of scan at 100,000 files


def folder_summary(folder: Path, files: list[Path]) -> str:
    sizes = np.array([max(Image.open(p).size) for p in files[:BASE_PAGES]])
    jpeg_share = np.mean([p.suffix == ".jpg" for p in files])
    return (
        f"`{folder.relative_to(WORK.parent.parent).as_posix()}`: {len(files)} files "
        f"({jpeg_share:.0%} JPEG, the rest PNG; longest side "
        f"{sizes.min()}-{sizes.max()} px, median {np.median(sizes):.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--folders",
        default="standard,harder",
        help=f"comma-separated folder mixes to measure, of {', '.join(MIXES)} "
        "(the first also gives memory, start-up and the tutorial comparison)",
    )
    parser.add_argument("--no-100k", action="store_true", help="skip the 100,000-file memory run")
    parser.add_argument(
        "--compare-model",
        type=Path,
        default=None,
        help="also time scan with this model in each round (e.g. the v1 model)",
    )
    args = parser.parse_args()
    mixes = [name.strip() for name in args.folders.split(",") if name.strip()]
    if not mixes or any(name not in MIXES for name in mixes):
        parser.error(f"--folders takes a comma-separated list of {', '.join(MIXES)}")

    folders = {name: make_folder(args.files, mix=name) for name in mixes}
    listed = {name: image_files(folder) for name, folder in folders.items()}
    files = listed[mixes[0]]
    rows = []
    ceilings: dict[str, list[float]] = {name: [] for name in mixes}
    scans: dict[str, list[float]] = {name: [] for name in mixes}
    peaks: dict[str, list[int]] = {name: [] for name in mixes}
    compared = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.csv"
        for _ in range(args.rounds):
            for name in mixes:  # alternating, so that machine noise hits every folder
                ceilings[name].append(decode_ceiling(listed[name]))
                seconds, peak = timed_scan(folders[name], out)
                scans[name].append(seconds)
                peaks[name].append(peak)
            if args.compare_model:
                compared.append(
                    timed_scan(folders[mixes[0]], out, "--model", str(args.compare_model))[0]
                )
        ratios = {
            name: [c / s for c, s in zip(ceilings[name], scans[name], strict=True)]
            for name in mixes
        }
        for name in mixes:
            count = len(listed[name])
            for c, s, r in zip(ceilings[name], scans[name], ratios[name], strict=True):
                rows.append([name, f"{count / c:.0f}", f"{count / s:.0f}", f"{r:.0%}"])

        memory = {}
        if args.files != 1000:
            memory["1,000 (standard)"] = timed_scan(make_folder(1000), out)[1]
        memory |= {f"{len(listed[name]):,} ({name})": max(peaks[name]) for name in mixes}
        big_rss = None
        if not args.no_100k:
            big = make_folder(100_000, small=True)
            big_rss = timed_scan(big, out)[1]
            memory["100,000 (standard, small images)"] = big_rss

        slice_folder = Path(tmp) / "slice"
        slice_folder.mkdir()
        for path in files[:500]:
            shutil.copy(path, slice_folder / path.name)
        batched = timed_scan(slice_folder, out)[0]
        one_by_one = tutorial_way(image_files(slice_folder))
        startup = startup_times(Path(tmp), files)

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    medians = {name: float(np.median(ratios[name])) for name in mixes}
    target_rows = [
        [
            f"scan / decode ceiling, {name} folder",
            f">= {TARGET_SHARE:.0%}",
            f"{medians[name]:.0%}",
            met(medians[name] >= TARGET_SHARE)
            + ("" if len(listed[name]) == 10_000 else " (not at 10,000 files)"),
        ]
        for name in mixes
    ]
    target_rows.append(
        [
            "peak RSS of scan, 100,000 files",
            f"<= {TARGET_RSS / 1e9:.1f} GB",
            f"{big_rss / 1e9:.2f} GB" if big_rss is not None else "not run (--no-100k)",
            met(big_rss <= TARGET_RSS) if big_rss is not None else "",
        ]
    )
    body = "\n".join(
        [
            f"{os.cpu_count()} cores. Folders, measured in turn in each round:",
            "",
            *[f"- {name}: {folder_summary(folders[name], listed[name])}" for name in mixes],
            "",
            table(
                [
                    "folder",
                    "decode ceiling (files/s)",
                    "batchdigits scan, end to end (files/s)",
                    "scan / ceiling",
                ],
                rows,
            ),
            "",
            *[
                f"**scan reaches {medians[name]:.0%} of the decode ceiling on the {name} "
                f"folder** (median of {len(ratios[name])} rounds).  "
                for name in mixes
            ],
            "",
            "Engine v2's targets:",
            "",
            table(["target", "wanted", "measured", ""], target_rows),
            "",
            "Start-up (median wall time of a fresh process):",
            "",
            table(["command", "seconds"], [[name, f"{s:.2f}"] for name, s in startup.items()]),
            "",
            "Peak RSS of scan, all processes together:",
            "",
            table(
                ["files", "peak RSS"],
                [[label, f"{rss / 2**20:.0f} MiB"] for label, rss in memory.items()],
            ),
            "",
            (
                f"Same {mixes[0]} folder, same rounds, scan with `{args.compare_model}`: "
                f"{np.median(compared):.1f} s against {np.median(scans[mixes[0]]):.1f} s with "
                f"the default model ({np.median(scans[mixes[0]]) / np.median(compared):.2f}x "
                "the time)."
                if compared
                else ""
            ),
            "",
            f"The tutorial's way (one predict call per image, 500 files of the {mixes[0]} "
            f"folder, one process): {one_by_one:.1f} s; `batchdigits scan` on the same 500 "
            f"files, start-up included: {batched:.1f} s ({one_by_one / batched:.1f}x faster).",
        ]
    )
    print(body)
    write_section("throughput", "## Throughput and memory\n\n" + body)


if __name__ == "__main__":
    main()
