"""Decoding every image mode the way a person sees it, and failing clearly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batchdigits.load import UnreadableImage, load_pages

from .conftest import draw_digit


@pytest.fixture
def page() -> np.ndarray:
    """Dark ink on light paper, with an asymmetric mark to check orientation."""
    image = draw_digit("7", size=(120, 90)).copy()
    image[5:15, 5:15] = 0  # top-left marker
    return image


def saved(tmp_path: Path, image: Image.Image, name: str, **params: object) -> Path:
    path = tmp_path / name
    image.save(path, **params)
    return path


def assert_looks_like(actual: np.ndarray, expected: np.ndarray, tolerance: float = 6.0) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == np.uint8
    assert np.abs(actual.astype(float) - expected.astype(float)).mean() < tolerance


def test_grayscale_png(tmp_path: Path, page: np.ndarray) -> None:
    [loaded] = load_pages(saved(tmp_path, Image.fromarray(page), "a.png"))
    assert loaded.number is None
    assert_looks_like(loaded.pixels, page, 0.01)


def test_rgb_jpeg(tmp_path: Path, page: np.ndarray) -> None:
    [loaded] = load_pages(
        saved(tmp_path, Image.fromarray(page).convert("RGB"), "a.jpg", quality=95)
    )
    assert_looks_like(loaded.pixels, page)


def test_colour_jpeg_decoded_to_grey_matches_converting_the_colour_decode(
    tmp_path: Path, page: np.ndarray
) -> None:
    # Blue ink on cream paper: the grey decode must give the same grey levels
    # as decoding the colours and converting them, at full size.
    colour = np.stack([page * 0.2 + 40, page * 0.3 + 20, page * 0.1 + 200], axis=-1)
    colour = np.where(page[..., None] > 128, [245, 235, 200], colour).astype(np.uint8)
    path = saved(tmp_path, Image.fromarray(colour), "blue.jpg", quality=90)
    [loaded] = load_pages(path)
    with Image.open(path) as image:
        converted = np.asarray(image.convert("L"))
    assert not loaded.reduced
    assert_looks_like(loaded.pixels, converted, 1.0)


def test_exif_orientation_is_applied(tmp_path: Path, page: np.ndarray) -> None:
    # Stored rotated, with the tag (6 = rotate 90 CW to view) a phone writes.
    stored = Image.fromarray(page).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    [loaded] = load_pages(saved(tmp_path, stored, "phone.jpg", exif=exif, quality=95))
    assert_looks_like(loaded.pixels, page)
    assert loaded.pixels[5:15, 5:15].mean() < 60  # the marker is back top-left


def test_transparency_is_composited_onto_white(tmp_path: Path, page: np.ndarray) -> None:
    ink = (page < 128).astype(np.uint8) * 255
    rgba = np.dstack([np.zeros_like(page)] * 3 + [ink])  # black ink, transparent paper
    [loaded] = load_pages(saved(tmp_path, Image.fromarray(rgba, "RGBA"), "a.png"))
    assert_looks_like(loaded.pixels, 255 - ink, 0.01)
    assert loaded.pixels[-1, -1] == 255


def test_grey_plus_alpha(tmp_path: Path, page: np.ndarray) -> None:
    ink = (page < 128).astype(np.uint8) * 255
    la = np.dstack([np.zeros_like(page), ink])
    [loaded] = load_pages(saved(tmp_path, Image.fromarray(la, "LA"), "a.png"))
    assert_looks_like(loaded.pixels, 255 - ink, 0.01)


def test_palette_with_transparency(tmp_path: Path, page: np.ndarray) -> None:
    palette_image = Image.fromarray(page).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    # Make the paper colour transparent: it must come out white, not black.
    paper_index = int(np.bincount(np.asarray(palette_image).ravel()).argmax())
    path = saved(tmp_path, palette_image, "p.png", transparency=paper_index)
    [loaded] = load_pages(path)
    assert loaded.pixels[-1, -1] == 255
    assert loaded.pixels[5:15, 5:15].mean() < 60


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_sixteen_bit(tmp_path: Path, page: np.ndarray, suffix: str) -> None:
    deep = Image.fromarray(page.astype(np.uint16) * 257)
    [loaded] = load_pages(saved(tmp_path, deep, f"deep.{suffix}"))
    assert_looks_like(loaded.pixels, page, 1.0)


@pytest.mark.parametrize("suffix", ["jpg", "tif"])
def test_cmyk(tmp_path: Path, page: np.ndarray, suffix: str) -> None:
    cmyk = Image.fromarray(page).convert("RGB").convert("CMYK")
    [loaded] = load_pages(saved(tmp_path, cmyk, f"print.{suffix}"))
    assert_looks_like(loaded.pixels, page, 8.0)


def test_bilevel(tmp_path: Path, page: np.ndarray) -> None:
    bilevel = Image.fromarray(page).point(lambda v: 255 if v > 128 else 0).convert("1")
    [loaded] = load_pages(saved(tmp_path, bilevel, "fax.tif"))
    assert_looks_like(loaded.pixels, np.where(page > 128, 255, 0).astype(np.uint8), 0.01)
    assert loaded.pixels[5:15, 5:15].max() == 0


@pytest.mark.parametrize("fmt", ["bmp", "gif", "webp"])
def test_other_formats(tmp_path: Path, page: np.ndarray, fmt: str) -> None:
    [loaded] = load_pages(saved(tmp_path, Image.fromarray(page), f"a.{fmt}"))
    assert_looks_like(loaded.pixels, page, 8.0)


def test_multipage_tiff_gives_every_page(tmp_path: Path, page: np.ndarray) -> None:
    first, second = Image.fromarray(page), Image.fromarray(255 - page)
    path = tmp_path / "pages.tif"
    first.save(path, save_all=True, append_images=[second, first])
    pages = load_pages(path)
    assert [p.number for p in pages] == [1, 2, 3]
    assert_looks_like(pages[1].pixels, 255 - page, 0.01)


def test_animated_gif_gives_first_frame(tmp_path: Path, page: np.ndarray) -> None:
    frames = [Image.fromarray(page), Image.fromarray(255 - page)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    [loaded] = load_pages(path)
    assert_looks_like(loaded.pixels, page, 8.0)


def png_bytes(page: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG")
    return buffer.getvalue()


def crafted_png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty.png", lambda page: b"", "empty file"),
        ("truncated.png", lambda page: png_bytes(page)[: len(png_bytes(page)) // 2], "truncated"),
        ("notes.png", lambda page: b"these are not pixels\n" * 20, "not an image"),
        ("bomb.png", lambda page: crafted_png(60000, 60000), "decompression-bomb"),
    ],
)
def test_bad_files_raise_clear_errors(
    tmp_path: Path, page: np.ndarray, name: str, make: object, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(make(page))  # type: ignore[operator]
    with pytest.raises(UnreadableImage, match=message):
        load_pages(path)


def test_truncated_jpeg(tmp_path: Path, page: np.ndarray) -> None:
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(UnreadableImage, match="truncated"):
        load_pages(path)


def test_broken_png_checksum(tmp_path: Path, page: np.ndarray) -> None:
    data = bytearray(png_bytes(page))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # corrupt the compressed data; the CRC no longer matches
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableImage, match="corrupt"):
        load_pages(path)


def colour_scan(page: np.ndarray) -> Image.Image:
    """A colour scan of ``page``: tinted paper and sensor noise in every channel."""
    rng = np.random.default_rng(4)
    rgb = np.dstack([page * 0.9 + 20, page * 0.8 + 30, page * 0.7 + 40]).astype(float)
    rgb += rng.normal(0, 6, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def test_colour_png_grey_levels_are_exactly_pillows(tmp_path: Path, page: np.ndarray) -> None:
    """Colour PNGs are inflated by OpenCV (faster) and turned grey by Pillow:
    every grey level must be what Pillow's own decode gives."""
    colour = colour_scan(page)
    for name, params in (("plain.png", {}), ("interlaced.png", {"interlace": 1})):
        path = saved(tmp_path, colour, name, **params)
        [loaded] = load_pages(path)
        with Image.open(path) as image:
            expected = np.asarray(image.convert("L"))
        assert loaded.pixels.dtype == np.uint8 and loaded.pixels.flags.writeable
        np.testing.assert_array_equal(loaded.pixels, expected)


def test_colour_png_with_exif_orientation_is_turned_upright(
    tmp_path: Path, page: np.ndarray
) -> None:
    stored = colour_scan(page).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    [loaded] = load_pages(saved(tmp_path, stored, "phone.png", exif=exif))
    assert loaded.pixels.shape == page.shape
    assert loaded.pixels[5:15, 5:15].mean() < 80  # the marker is back top-left


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_broken_colour_png_is_a_clear_error(
    tmp_path: Path, page: np.ndarray, damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The message is ours (it goes in the row); libpng's own is not printed."""
    buffer = io.BytesIO()
    colour_scan(page).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[data.index(b"IDAT") + 10] ^= 0xFF
    path = tmp_path / f"{damage}.png"
    path.write_bytes(bytes(data))
    with pytest.raises(UnreadableImage, match="corrupt or truncated"):
        load_pages(path)
    assert capfd.readouterr().err == ""


def test_vanished_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImage, match="disappeared"):
        load_pages(tmp_path / "gone.png")
