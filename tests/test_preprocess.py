"""Preprocessing into MNIST form, on digits drawn in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from batchdigits.preprocess import (
    DIGIT_BOX,
    MNIST_SIDE,
    mnist_readings,
    to_mnist,
    to_model_input,
)
from batchdigits.preprocess.pieces import find_pieces, join_pieces

from .conftest import draw_digit, seven_with_a_skip

GOLDEN = Path(__file__).parent / "golden"


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two 28x28 images: 1.0 = same picture."""
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def soft_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """similarity() of the two images softened: thin strokes that land a
    pixel apart still count as the same picture."""
    return similarity(*(ndimage.gaussian_filter(image.astype(float), 1.0) for image in (a, b)))


def ink_box(image: np.ndarray, level: int = 30) -> tuple[int, int]:
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("digit", ["0", "1", "7"])
def test_output_is_mnist_form(digit: str) -> None:
    result = to_mnist(draw_digit(digit))
    assert result is not None
    assert result.shape == (MNIST_SIDE, MNIST_SIDE) and result.dtype == np.uint8
    height, width = ink_box(result)
    assert max(height, width) in (DIGIT_BOX - 1, DIGIT_BOX, DIGIT_BOX + 1)
    centre_y, centre_x = ndimage.center_of_mass(result.astype(float))
    assert abs(centre_y - 14) <= 1.0 and abs(centre_x - 14) <= 1.0
    # White digit on black: the corners are background.
    assert result[0, 0] == 0 and result[-1, -1] == 0 and result.max() == 255


def test_aspect_ratio_is_kept() -> None:
    tall = to_mnist(draw_digit("0", box=(70, 20, 110, 180)))
    assert tall is not None
    height, width = ink_box(tall)
    assert height >= DIGIT_BOX - 1 and width < 0.45 * height


@pytest.mark.parametrize("digit", ["0", "1", "7"])
def test_polarity_is_detected(digit: str) -> None:
    dark_on_light = to_mnist(draw_digit(digit, ink=20, paper=235))
    light_on_dark = to_mnist(draw_digit(digit, ink=235, paper=20))
    assert dark_on_light is not None and light_on_dark is not None
    assert similarity(dark_on_light, light_on_dark) > 0.97


@pytest.mark.parametrize("digit", ["0", "7"])
def test_shaded_paper_and_offset(digit: str) -> None:
    page = draw_digit(digit, box=(20, 110, 70, 180), size=(200, 260)).astype(float)
    clean = to_mnist(page)
    # A strong lighting gradient and a shadow edge across the page.
    _yy, xx = np.mgrid[0 : page.shape[0], 0 : page.shape[1]]
    page *= 0.55 + 0.45 * xx / page.shape[1]
    page[:, 150:] *= 0.7
    shaded = to_mnist(page + np.random.default_rng(0).normal(0, 4, page.shape))
    assert clean is not None and shaded is not None
    # The same digit, placed by its centre of mass: a hair's difference in the
    # strokes can move a thin 0 by a whole pixel, which is not the shading's doing.
    assert soft_similarity(clean, shaded) > 0.9


def test_specks_and_scanner_border_are_ignored() -> None:
    clean = to_mnist(draw_digit("7"))
    page = draw_digit("7").copy()
    page[5:9, 5:9] = 0  # dust
    page[190:195, 150:154] = 10
    page[:, :6] = 0  # black scanner edge down the left side
    dirty = to_mnist(page)
    assert clean is not None and dirty is not None
    assert similarity(clean, dirty) > 0.95


def test_dust_beside_a_small_digit_is_not_part_of_it() -> None:
    """Specks nearly as big as the digit's strokes, a little away from it: a
    small digit on a dusty scan. Digits have no dots."""
    page = draw_digit("7", size=(48, 44), box=(14, 12, 30, 36), stroke=3).copy()
    clean = to_mnist(page)
    for top, left in ((3, 20), (40, 8), (20, 36), (42, 34)):
        page[top : top + 3, left : left + 3] = 30
    dusty = to_mnist(page)
    assert clean is not None and dusty is not None
    assert soft_similarity(clean, dusty) > 0.95


def select_digit(mask: np.ndarray) -> np.ndarray | None:
    """The first reading's pieces of a mask, its ink as dark as a pen's."""
    pieces = find_pieces(mask, mask.astype(np.float32) * 100, scale=1.0)
    return None if pieces is None else join_pieces(pieces)


def test_a_mask_without_ink_has_no_digit() -> None:
    assert select_digit(np.zeros((60, 40), dtype=bool)) is None


def test_a_blob_where_a_stroke_broke_stays_with_the_digit() -> None:
    """A squat piece close to the digit is the broken end of a stroke; the
    same piece far from it is dust."""
    mask = np.zeros((200, 160), dtype=bool)
    mask[40:190, 76:86] = True  # the stroke
    mask[19:31, 76:86] = True  # its end, cracked off 9 px above
    mask[10:20, 20:30] = True  # a speck of dust
    kept = select_digit(mask)
    assert kept is not None
    assert kept[19:31, 76:86].all() and not kept[10:20, 20:30].any()


def test_a_small_bold_digit_beside_a_scanner_border_is_not_taken_for_dust() -> None:
    """Dust is judged against the biggest piece of writing, never against a
    scanner border: beside a border the length of the page, a small solid
    digit would otherwise count as a speck and lose to a scratch."""
    mask = np.zeros((300, 240), dtype=bool)
    mask[:, :10] = True  # scanner border down the left side
    mask[130:170, 100:135] = True  # a small bold 0, strokes nearly filling it
    mask[145:155, 112:123] = False
    mask[20:22, 170:230] = True  # a thin scratch near the corner
    kept = select_digit(mask)
    assert kept is not None
    assert kept[130:170, 100:135].any() and not kept[20:22, 170:230].any()


def test_a_digit_broken_far_apart_has_a_whole_page_reading() -> None:
    """The first reading keeps the bar and the top of the stroke; the pen
    skipped further than a crack, so the rest is left out. The whole-page
    reading puts the 7 together again."""
    page, whole = seven_with_a_skip()
    first, whole_page = mnist_readings(page)
    seven = to_mnist(whole)
    assert first is not None and whole_page is not None and seven is not None
    assert np.array_equal(first, to_mnist(page))
    assert soft_similarity(whole_page, seven) > 0.8 > 0.3 > soft_similarity(first, seven)


def test_the_whole_page_reading_still_leaves_out_dust_and_borders() -> None:
    page, _ = seven_with_a_skip()
    _, clean = mnist_readings(page)
    page[20:26, 20:26] = 20  # dust specks in two corners
    page[200:206, 170:176] = 20
    page[:, :8] = 0  # scanner border
    _, dirty = mnist_readings(page)
    assert clean is not None and dirty is not None
    assert soft_similarity(clean, dirty) > 0.95


@pytest.mark.parametrize("digit", ["0", "1", "7"])
def test_a_whole_digit_has_no_second_reading(digit: str) -> None:
    first, whole_page = mnist_readings(draw_digit(digit))
    assert first is not None and whole_page is None


@pytest.mark.parametrize("rule", ["ruled", "squared"])
def test_paper_lines_are_removed(rule: str) -> None:
    clean = to_mnist(draw_digit("0", stroke=8))
    page = draw_digit("0", stroke=8).copy()
    page[::25, :] = 150
    page[1::25, :] = 150
    if rule == "squared":
        page[:, ::25] = 150
    lined = to_mnist(page)
    assert clean is not None and lined is not None
    assert similarity(clean, lined) > 0.85


def cheque_pattern(size: tuple[int, int], period: float = 7, width: float = 3) -> np.ndarray:
    """Dense wavy printed lines, as behind the writing on a bank cheque (0..1)."""
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]].astype(float)
    phase = (xx + yy + 8 * np.sin(yy / 30 * 2 * np.pi)) / period
    return np.clip(1 - np.abs(phase - np.round(phase)) * period / width, 0, 1)


@pytest.mark.parametrize("digit", ["1", "7"])
def test_digit_on_a_printed_pattern_is_read(digit: str) -> None:
    """A dense printed pattern raises pixel noise; it must not make the page blank."""
    size = (140, 120)
    clean = to_mnist(draw_digit(digit, size=size, stroke=7))
    page = draw_digit(digit, size=size, stroke=7).astype(float)
    patterned = to_mnist(np.minimum(page, 240 - 100 * cheque_pattern(size, period=5, width=2)))
    assert clean is not None and patterned is not None
    assert similarity(clean, patterned) > 0.9


@pytest.mark.parametrize("digit", ["0", "7"])
def test_sheet_photographed_on_a_dark_table(digit: str) -> None:
    """A phone photo: the sheet, slightly turned, lies on a darker, mottled table."""
    from PIL import Image

    turned = Image.fromarray(draw_digit(digit)).rotate(8, expand=True, fillcolor=240)
    clean = to_mnist(np.asarray(turned))
    sheet = Image.fromarray(draw_digit(digit)).rotate(8, expand=True, fillcolor=1)
    rng = np.random.default_rng(0)
    table = ndimage.gaussian_filter(rng.normal(80, 25, (400, 360)), 4)
    pixels = np.asarray(sheet, dtype=float)
    region = table[60 : 60 + pixels.shape[0], 50 : 50 + pixels.shape[1]]
    region[pixels != 1] = pixels[pixels != 1]
    photo = to_mnist(table)
    assert clean is not None and photo is not None
    # Thin outlines a pixel apart correlate poorly; compare them softened.
    assert soft_similarity(clean, photo) > 0.9


def test_a_tight_seven_keeps_its_bar() -> None:
    """A full-width stroke in a tight crop is the digit, not a ruled line."""
    seven = draw_digit("7", size=(100, 70), box=(2, 4, 67, 96), stroke=8)
    result = to_mnist(seven)
    assert result is not None
    top_rows = result[: MNIST_SIDE // 2]
    assert (top_rows > 128).any(axis=0).sum() >= 10


@pytest.mark.parametrize("negative", [False, True], ids=["dark-ink", "negative"])
def test_tight_crop_of_a_bold_digit_keeps_its_polarity(negative: bool) -> None:
    """Cropped to its ink, a bold digit covers most of the picture, so the
    picture's median is ink; the edges are still mostly paper."""
    ink, paper = (235, 20) if negative else (20, 235)
    loose = draw_digit(
        "0", size=(200, 160), box=(40, 30, 120, 170), stroke=26, ink=ink, paper=paper
    )
    tight = loose[30:171, 40:121]  # the ink spans rows 30-170, columns 40-120
    assert (np.abs(tight.astype(int) - ink) < 60).mean() > 0.5
    expected, result = to_mnist(loose), to_mnist(tight)
    assert expected is not None and result is not None
    # Softened: centring by mass may land the two a pixel apart.
    assert soft_similarity(expected, result) > 0.9


@pytest.mark.parametrize(("digit", "stroke"), [("7", 26), ("0", 42)])
def test_bold_digit_cropped_tight_keeps_its_strokes(digit: str, stroke: int) -> None:
    """Ink covering most of a picture must not be taken for paper by the
    background estimate, which would leave only the strokes' edges."""
    loose = draw_digit(digit, size=(200, 160), box=(40, 30, 120, 170), stroke=stroke)
    inked = loose < 128
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    tight = loose[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    expected, result = to_mnist(loose), to_mnist(tight)
    assert expected is not None and result is not None
    # Softened: centring by mass may land the two a pixel apart.
    assert soft_similarity(expected, result) > 0.9


def test_neighbours_cropped_in_from_a_written_number_are_dropped() -> None:
    """A digit cut out of a row: the edges of its neighbours, cut by the
    picture's sides, stand beside it with paper between."""
    clean = to_mnist(draw_digit("0", size=(200, 100), stroke=8))
    page = draw_digit("0", size=(200, 100), stroke=8).copy()  # the 0 spans columns 35-65
    page[60:150, 0:14] = draw_digit("0", size=(90, 40), box=(8, 5, 60, 85), stroke=8)[:, -14:]
    page[50:150, 86:100] = draw_digit("7", size=(100, 40), box=(2, 2, 36, 98), stroke=8)[:, :14]
    cropped = to_mnist(page)
    assert clean is not None and cropped is not None
    assert similarity(clean, cropped) > 0.9


@pytest.mark.parametrize("digit", ["0", "7"])
def test_form_box_edges_beside_the_digit_are_removed(digit: str) -> None:
    """A crop from a form: the top and left edges of the digit's box, as
    dark and thick as the writing, run along the crop apart from it."""
    clean = to_mnist(draw_digit(digit, stroke=8))
    page = draw_digit(digit, stroke=8).copy()
    page[32:40, :] = 30  # the digit spans rows 50-150, columns 56-104
    page[:, 38:46] = 30
    boxed = to_mnist(page)
    assert clean is not None and boxed is not None
    assert similarity(clean, boxed) > 0.9


@pytest.mark.parametrize(
    "page",
    [
        np.full((300, 200), 245, np.uint8),
        np.random.default_rng(1).normal(240, 3, (300, 200)).clip(0, 255),
        np.full((1, 1), 0, np.uint8),
        np.full((3, 500), 128, np.uint8),
    ],
    ids=["white", "paper-noise", "1x1", "sliver"],
)
def test_no_ink_is_blank(page: np.ndarray) -> None:
    assert to_mnist(page) is None


def test_tiny_digit_on_a_big_page_is_found() -> None:
    page = np.full((1200, 1600), 240, np.uint8)
    page[500:530, 800:830] = draw_digit("0", size=(30, 30), box=(4, 2, 26, 28), stroke=3)
    result = to_mnist(page)
    assert result is not None
    assert max(ink_box(result)) >= DIGIT_BOX - 1


@pytest.mark.parametrize("side", [24, 16])
def test_small_digit_on_a_phone_sized_page_is_found(side: int) -> None:
    """At working size a 24 px digit on a 2600 px page is a few pixels, too
    small to pass for a digit there, and a 16 px one vanishes: both are read
    from the original instead."""
    digit = draw_digit("7", size=(side, side), box=(3, 2, side - 3, side - 2), stroke=2)
    page = np.full((2000, 2600), 240, np.uint8)
    page[900 : 900 + side, 1500 : 1500 + side] = digit
    clean = to_mnist(digit)
    result = to_mnist(page)
    assert clean is not None and result is not None
    # Strokes a pixel or two wide land a pixel apart; compare them softened.
    assert soft_similarity(clean, result) > 0.9


def test_a_blot_on_a_big_blank_page_is_blank() -> None:
    """A round blot is not writing, however the small-digit search finds it."""
    page = np.full((2000, 2600), 240, np.uint8)
    yy, xx = np.mgrid[0:30, 0:30]
    page[900:930, 1500:1530][(yy - 15) ** 2 + (xx - 15) ** 2 <= 15**2] = 30
    assert to_mnist(page) is None


def test_stroke_weight_is_normalised() -> None:
    hairline = to_mnist(draw_digit("0", stroke=2, size=(400, 320)))
    marker = to_mnist(draw_digit("0", stroke=30, size=(400, 320)))
    assert hairline is not None and marker is not None
    # Both end up within MNIST's range of ink coverage.
    for image in (hairline, marker):
        coverage = float((image > 128).mean())
        assert 0.08 < coverage < 0.3, coverage


def test_golden_output_within_tolerance() -> None:
    """Preprocessing of a fixed drawing stays the same, up to resampling noise."""
    page = draw_digit("7", size=(180, 140), stroke=9)
    expected = np.load(GOLDEN / "seven.npy")
    result = to_mnist(page)
    assert result is not None
    assert np.abs(result.astype(int) - expected.astype(int)).mean() < 3.0


def test_model_input_normalisation() -> None:
    batch = np.stack([np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8)])
    x = to_model_input(batch)
    assert x.shape == (2, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0


def test_rejects_colour_arrays() -> None:
    with pytest.raises(ValueError, match="2-D"):
        to_mnist(np.zeros((10, 10, 3)))


def test_fast_order_statistics_match_numpy() -> None:
    """The shortcuts preprocessing takes must decide exactly as numpy would,
    and the histogram's median of a picture's levels be within a level."""
    from batchdigits.preprocess.levels import level_percentile, low_percentile_above, median

    rng = np.random.default_rng(0)
    for _ in range(3000):
        values = np.round(rng.random(int(rng.integers(1, 300))).astype(np.float32) * 20)
        level = float(rng.integers(0, 20))
        assert low_percentile_above(values, 3, level) == (np.percentile(values, 3) > level)
        assert median(values) == np.median(values)
    for _ in range(200):
        picture = rng.normal(rng.uniform(20, 230), rng.uniform(1, 40), (64, 80)).clip(0, 255)
        for percent in (10, 50, 90, 99):
            exact = np.percentile(picture, percent)
            assert abs(level_percentile(picture, percent) - exact) <= 1.0
        assert abs(median(picture) - np.median(picture)) <= 1.0


def test_min_digit_turns_down_a_digit_too_small_to_trust() -> None:
    """A caller with a sharper copy asks for None rather than a small digit."""
    page = np.full((600, 800), 240, np.uint8)
    page[300:330, 400:430] = draw_digit("7", size=(30, 30), box=(4, 2, 26, 28), stroke=3)
    assert to_mnist(page) is not None
    assert to_mnist(page, min_digit=48) is None
    assert to_mnist(draw_digit("7"), min_digit=48) is not None


def test_faint_pencil_on_a_clean_scan_is_read() -> None:
    """Ink 12 grey levels below the paper, on a scan whose pixels vary by
    less than one level: a person reads it at a glance, so it is not blank."""
    clean = to_mnist(draw_digit("7", stroke=6))
    faint = draw_digit("7", stroke=6, ink=168, paper=180).astype(np.float32)
    faint += np.random.default_rng(1).normal(0, 0.4, faint.shape)
    reading = to_mnist(np.round(faint))
    assert clean is not None and reading is not None
    assert soft_similarity(clean, reading) > 0.9


@pytest.mark.parametrize("kind", ["texture", "grain", "ruled", "squared"])
def test_paper_alone_stays_blank(kind: str) -> None:
    """The faint-ink rule must not read the paper itself: slow texture and
    shading of a few levels, or coarse grain, are not writing; nor are the
    lines of ruled paper with nothing written between them."""
    rng = np.random.default_rng(2)
    if kind in ("ruled", "squared"):
        page = np.full((200, 160), 235.0)
        page[20::40, :] = 150
        page[21::40, :] = 150
        if kind == "squared":  # where lines cross, printed twice: darker
            page[:, 20::40] = 150
            page[:, 21::40] = 150
            page[20::40, 20::40] = page[21::40, 21::40] = 120
            page[20::40, 21::40] = page[21::40, 20::40] = 120
    elif kind == "texture":
        field = ndimage.gaussian_filter(rng.normal(0, 1, (200, 160)), 12)
        page = 200 + 6 * field / np.abs(field).max() + rng.normal(0, 0.5, field.shape)
    else:
        page = rng.normal(225, 6, (200, 160))
    assert to_mnist(np.clip(page, 0, 255)) is None


def test_long_runs_are_the_runs_counted_pixel_by_pixel() -> None:
    """The opening that finds ruled lines keeps exactly the runs at least
    that long, in either direction, whatever the line's length's parity."""
    from batchdigits.preprocess.lines import long_runs, run_lengths

    rng = np.random.default_rng(3)
    for _ in range(100):
        mask = rng.random((int(rng.integers(3, 40)), int(rng.integers(3, 60)))) < 0.8
        for run in (2, 3, 8, 9):
            assert (long_runs(mask, run, 1) == (run_lengths(mask) >= run)).all()
            assert (long_runs(mask, run, 0) == (run_lengths(mask.T) >= run).T).all()
