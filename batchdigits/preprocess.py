"""Turn a grayscale picture of one handwritten digit into MNIST form.

MNIST digits are white ink on black, anti-aliased from bilevel scans, fitted
into a 20x20 box and placed in 28x28 by centre of mass. A model trained on
MNIST is only as good as our ability to make a scan look like that, so this
module is the heart of batchdigits.

Everything here is pure numpy in, numpy out (scipy.ndimage and Pillow's
resampling are used as array kernels, never for I/O). Training runs every
MNIST digit through :func:`to_mnist` too, so training and inference see
exactly the same kind of picture, and :func:`to_model_input` owns the
model's normalisation so that the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

MNIST_SIDE = 28
DIGIT_BOX = 20

#: Bumped whenever a change here changes what the model sees; recorded in
#: model metadata so a model can be matched with the preprocessing it
#: was trained with.
PREPROCESS_VERSION = 11

# The working resolution: big enough that thin strokes survive thresholding,
# small enough that the morphology below stays cheap.
_WORK_MAX = 256
_WORK_MIN = 96
# The finer size a big picture is searched at when nothing turned up at
# working size (blank pages only, so its cost stays rare).
_SEARCH_MAX = 1024
# A digit smaller than this (longest side, working pixels) inside a larger
# original is re-read from the original at full resolution.
_REFINE_BELOW = 48
# The smallest digit, in original pixels, that a picture can hold.
_SMALLEST_DIGIT = 12
# A solid speck smaller than this share of the biggest piece of ink is a dot
# of dust beside the digit, not part of it.
_DOT = 0.3
# Pieces under this share of the biggest piece's area are left out of the
# digit; the whole-page reading keeps thinner strokes' pieces too.
_SMALLEST_PIECE = 0.06
_WHOLE_PAGE_SMALLEST = 0.02
# Stroke width over size above which ink is a blot, not writing (a solid
# disc: 0.5; marker digits stay under 0.3).
_BLOT = 0.4
# Stroke width in the 20x20 box, in pixels, that MNIST digits fall between
# (measured on the MNIST training set by benchmarks/mnist_stroke_width.py).
_STROKE_MIN = 2.2
_STROKE_MAX = 4.0
# Ink covering more of the picture than this is a marker or a tight crop,
# whose strokes hide the paper from the first background estimate.
_THICK_INK = 0.12
# Ink covering more than this of the picture, judged against the paper at
# its edges, is a bold digit cropped tight.
_DENSE_INK = 0.3
# Below this ink contrast (0-255 scale) there is nothing a person would call
# writing: the page is blank.
_MIN_CONTRAST = 24.0


def to_mnist(gray: np.ndarray, *, min_digit: int = 0) -> np.ndarray | None:
    """Return the digit in ``gray`` as a (28, 28) uint8 MNIST-style image.

    ``gray`` is a 2-D array, 0 = black, 255 = white (any numeric dtype in
    that range), in either polarity. Returns ``None`` when the image holds
    no ink: a blank page must be reported, not guessed.

    ``min_digit`` is for a caller holding a sharper copy of the picture (a
    JPEG decoded at reduced size): ``None`` also when the digit found is
    shorter than this many pixels of ``gray``, or nothing is found, so that
    the caller tries the sharper copy.
    """
    return mnist_readings(gray, min_digit=min_digit, whole_page=False)[0]


def mnist_readings(
    gray: np.ndarray, *, min_digit: int = 0, whole_page: bool = True
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`to_mnist`'s reading, and the whole-page reading where it differs
    (see :func:`read_page`, which also says where the digit is)."""
    reading = read_page(gray, min_digit=min_digit, whole_page=whole_page)
    return reading.first, reading.whole_page


#: A box in a picture: (top, left, bottom, right), in its pixels.
Box = tuple[int, int, int, int]


class PageReading(NamedTuple):
    """What preprocessing read on one page."""

    first: np.ndarray | None  # the 28x28 reading, None for a blank page
    whole_page: np.ndarray | None  # the whole-page reading, where it differs
    box: Box | None  # where the first reading's ink lies on the page


def read_page(gray: np.ndarray, *, min_digit: int = 0, whole_page: bool = True) -> PageReading:
    """The page's readings in MNIST form, and where the digit was found.

    The first reading keeps the digit's biggest piece and the strokes close
    to it. A digit written with a pen that skips, or faint enough to break
    up when thresholded, leaves pieces further apart than that, and the
    first reading keeps a fragment. The whole-page reading takes every
    stroke on the page (scanner borders, dust specks and neighbours cut by
    the edge still excluded) as the digit, since a page holds one digit. It
    is ``None`` where it is the same picture, or with ``whole_page=False``;
    the pipeline asks the model about it only when the first reading is
    unsure (see ``pipeline.SECOND_READING_BELOW``). The box lets a reviewer
    be shown the digit as written (the review workbook's thumbnails).
    """
    image = np.asarray(gray, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {image.shape}")
    try:
        readings = _readings(image, refine=True, min_digit=min_digit, whole_page=whole_page)
    except _DigitTooSmall:
        return PageReading(None, None, None)
    if readings.first is None and max(image.shape) > 2 * _WORK_MAX and not min_digit:
        # Nothing at working size may still be a small digit on a big page,
        # shrunk there to a few faint pixels: search again at a finer size.
        readings = _readings(image, refine=True, work_max=_SEARCH_MAX, whole_page=whole_page)
    first, second = readings.first, readings.whole_page
    if first is None or second is None or np.array_equal(first, second):
        return PageReading(first, None, readings.box if first is not None else None)
    return readings


class _DigitTooSmall(Exception):
    """The digit is smaller than the caller's ``min_digit``."""


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Normalise a batch of (N, 28, 28) uint8 MNIST-form images for the CNN."""
    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim == 2:
        batch = batch[None]
    return (batch / 255.0)[..., None]


@dataclass(frozen=True)
class _Ink:
    """The working copy's ink, found once and shared by both readings."""

    mask: np.ndarray
    ink: np.ndarray
    scale: float  # working copy's size over the original's
    top: int  # where the working copy's crop starts in it
    left: int


def _readings(
    image: np.ndarray,
    refine: bool,
    work_max: int = _WORK_MAX,
    min_digit: int = 0,
    whole_page: bool = False,
) -> PageReading:
    """The first reading, and with ``whole_page`` the whole-page one (``None``
    where it keeps the same pieces), and the first one's box in ``image``.
    The ink is found once for both."""
    if min(image.shape) < 2:
        return PageReading(None, None, None)
    found = _find_ink(image, work_max)
    pieces = None if found is None else _find_pieces(found.mask, found.ink, found.scale)
    if found is None or pieces is None:
        return PageReading(None, None, None)
    selected = _join_pieces(pieces)
    if _longest_side(selected) / found.scale < min_digit:
        raise _DigitTooSmall
    box = _original_box(image.shape, found, selected)
    everything = _join_pieces(pieces, whole_page=True) if whole_page else None
    if everything is not None and np.array_equal(everything, selected):
        everything = None
    if everything is not None and _longest_side(everything) / found.scale < min_digit:
        everything = None
    region = _refine_region(image.shape, found, selected) if refine else None
    if region is None:
        first = _shape_digit(selected, reread=not refine)
        if everything is None:
            return PageReading(first, None, box)
        return PageReading(first, _shape_digit(everything, reread=not refine), box)
    # A small digit in a big picture: read it again from the original
    # pixels around it, where it has the detail the working copy lost.
    if everything is None and whole_page:
        again = _readings(image[region], refine=False, whole_page=True)
        return again._replace(box=_within(again.box, region) or box)
    again = _readings(image[region], refine=False)
    first, box = again.first, _within(again.box, region) or box
    if everything is None:
        return PageReading(first, None, box)
    other = _refine_region(image.shape, found, everything)
    if other is None:
        return PageReading(first, _shape_digit(everything), box)
    second = _readings(image[other], refine=False, whole_page=True)
    return PageReading(first, second.first if second.whole_page is None else second.whole_page, box)


def _original_box(shape: tuple[int, ...], found: _Ink, mask: np.ndarray) -> Box:
    """Where ``mask`` (the working copy's) lies in the original picture."""
    rows, cols = _bbox(mask)
    scale = found.scale
    return (
        max(0, int((rows.start + found.top) / scale)),
        max(0, int((cols.start + found.left) / scale)),
        min(shape[0], int(np.ceil((rows.stop + found.top) / scale))),
        min(shape[1], int(np.ceil((cols.stop + found.left) / scale))),
    )


def _within(box: Box | None, region: tuple[slice, slice]) -> Box | None:
    """A box found in ``image[region]``, in ``image``'s pixels."""
    if box is None:
        return None
    top, left = region[0].start, region[1].start
    return box[0] + top, box[1] + left, box[2] + top, box[3] + left


def _refine_region(
    shape: tuple[int, ...], found: _Ink, mask: np.ndarray
) -> tuple[slice, slice] | None:
    """Where in the original to read a digit small in the working copy again."""
    rows, cols = _bbox(mask)
    scale = found.scale
    if scale >= 1.0 or _extent((rows, cols)) >= _REFINE_BELOW:
        return None
    height = (rows.stop - rows.start) / scale
    width = (cols.stop - cols.start) / scale
    margin = max(height, width) * 0.6
    top = max(0, int((rows.start + found.top) / scale - margin))
    left = max(0, int((cols.start + found.left) / scale - margin))
    bottom = min(shape[0], int((rows.stop + found.top) / scale + margin) + 1)
    right = min(shape[1], int((cols.stop + found.left) / scale + margin) + 1)
    return slice(top, bottom), slice(left, right)


def _find_ink(image: np.ndarray, work_max: int, ruled_lines: bool = True) -> _Ink | None:
    """The ink of the picture at working size. ``ruled_lines=False`` keeps
    straight lines that ruled paper would explain: in a number, two 1s are
    two parallel lines (segment.remove_field_lines knows fields instead)."""
    work, scale = _to_work_scale(image, work_max)
    (top, left), work = _crop_scanner_borders(work)
    (sheet_top, sheet_left), work = _crop_to_sheet(work)
    top, left = top + sheet_top, left + sheet_left
    inked = _ink_up(work)
    if inked is None:
        return None
    ink = _remove_paper(inked)
    mask = _ink_mask(ink)
    if mask is None:
        return None
    dense = _dense_ink(inked)
    if mask.mean() > _THICK_INK or dense is not None:
        # Thick strokes cover most of the window the first background
        # estimate looks at; estimate the paper again with the ink masked out.
        # Where ink covers most of the picture (a bold digit cropped tight),
        # the first estimate sees ink as paper and leaves only the strokes'
        # edges: mask the ink by its level against the paper at the edges.
        ink = _remove_paper(inked, mask if dense is None else dense)
        mask = _ink_mask(ink)
        if mask is None:
            return None
    if ruled_lines:
        mask = _remove_ruled_lines(mask, ink)
    return _Ink(mask, ink, scale, top, left)


def _shape_digit(mask: np.ndarray, reread: bool = False) -> np.ndarray | None:
    """The digit's pieces, cropped to their box, as the 28x28 picture.

    ``reread``: the picture is a crop of a big one, read again because the
    digit was small there.
    """
    mask = mask[_bbox(mask)]
    if reread and _stroke_width(mask) > _BLOT * max(mask.shape):
        # Read again from a big picture, this is a round blot or a dust
        # speck the small-digit search picked up, not writing.
        return None
    return _fit_and_centre(_normalise_stroke_width(mask))


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-average when shrinking, bilinear when enlarging (float32)."""
    height, width = shape
    shrinking = height * width < image.shape[0] * image.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), mode="F").resize(
        (width, height), method
    )
    return np.asarray(resized, dtype=np.float32)


def _scaled_shape(shape: tuple[int, ...], longest: float) -> tuple[int, int]:
    """``shape`` scaled so its longer side is ``longest``, at least 2x2."""
    factor = longest / max(shape)
    return max(2, round(shape[0] * factor)), max(2, round(shape[1] * factor))


def _to_work_scale(image: np.ndarray, work_max: int) -> tuple[np.ndarray, float]:
    longest = max(image.shape)
    if longest > work_max:
        target = work_max
    elif longest < _WORK_MIN:
        target = _WORK_MIN
    else:
        return image, 1.0
    return _resize(image, _scaled_shape(image.shape, target)), target / longest


def _ink_up(image: np.ndarray) -> np.ndarray | None:
    """The image with ink bright and paper dark, or None if it has no contrast.

    Ink is the extreme furthest from the paper level: below it for pen on
    paper, above it for a negative. The paper level is judged three ways:

    - a local median around each pixel: right under shadows and uneven
      light, but a marker digit filling the crop dominates its own
      neighbourhood and then looks like light ink;
    - the median of the whole picture (ink is a minority of pixels, except
      in a bold digit cropped tight to its ink), and
    - the median of the outer ring (scanner borders are already cropped, and
      a digit rarely covers half the ring): both fooled by a large shadow.

    When the ring sits at one extreme by a wide margin, it decides: that is
    the paper, even where a tight crop's ink outweighs it in the picture.
    Otherwise, dark ink on light paper being by far the common case, ink is
    dark when both medians say so, or when the local rule says so unless
    both medians say "light" by a wide margin: a dense white digit on black
    (MNIST itself, a negative) fools the local rule, never the medians; a
    shadow fools the medians only narrowly.

    Smoothing keeps pixel noise out of the extremes, which still see a digit
    covering well under 1% of a page.
    """
    smooth = ndimage.uniform_filter(image, size=3, mode="nearest")
    low, high = float(smooth.min()), float(smooth.max())
    if high - low < _MIN_CONTRAST:
        return None
    ring = _outer_ring(image)
    residual = smooth - _background(image, 50)
    locally_dark = -float(residual.min()) > float(residual.max())
    papers = (float(_median(image[::2, ::2])), float(_median(ring)))
    medians_dark = all(paper - low > high - paper for paper in papers)
    surely_light = [high - paper > 3 * (paper - low) for paper in papers]
    ring_surely_dark = papers[1] - low > 3 * (high - papers[1])
    dark = ring_surely_dark or (
        not surely_light[1] and (medians_dark or (locally_dark and not all(surely_light)))
    )
    return 255.0 - image if dark else image.copy()


def _median(values: np.ndarray) -> np.floating:
    """np.median of all values, without its per-call overhead (same result)."""
    flat = np.ravel(values)
    middle = flat.size // 2
    if flat.size % 2:
        return np.partition(flat, middle)[middle]
    return np.mean(np.partition(flat, (middle - 1, middle))[middle - 1 : middle + 1])


def _percentile(values: np.ndarray, percent: float, axis: int | None = None) -> np.ndarray:
    """np.percentile(values, percent, axis=axis) with its default (linear)
    method, without its per-call overhead: the same two order statistics and
    numpy's own interpolation formula, so the same result to the bit."""
    if axis is None:
        values, axis = np.ravel(values), 0
    count = values.shape[axis]
    index = (count - 1) * (percent / 100)
    below = min(int(np.floor(index)), count - 1)
    above = min(below + 1, count - 1)
    ordered = np.partition(values, (below, above), axis=axis)
    low, high = np.take(ordered, below, axis=axis), np.take(ordered, above, axis=axis)
    gamma = index - below
    if gamma >= 0.5:
        return high - (high - low) * (1 - gamma)
    return low + (high - low) * gamma


def _dense_ink(inked: np.ndarray) -> np.ndarray | None:
    """The ink, by its level against the paper at the picture's edges, when
    it covers more than ``_DENSE_INK`` of the picture; else None."""
    paper = float(_median(_outer_ring(inked)))
    top = float(_percentile(inked[::2, ::2], 99))
    if top - paper < _MIN_CONTRAST:
        return None
    dense = inked > paper + 0.5 * (top - paper)
    return dense if dense.mean() > _DENSE_INK else None


def _outer_ring(image: np.ndarray) -> np.ndarray:
    """The pixels of the two outermost rows and columns on each side."""
    return np.concatenate(
        [image[:2].ravel(), image[-2:].ravel(), image[:, :2].ravel(), image[:, -2:].ravel()]
    )


def _crop_scanner_borders(image: np.ndarray) -> tuple[tuple[int, int], np.ndarray]:
    """Crop away solid bands along the edges: the scanner lid or table
    around the paper. Returns the (top, left) offset and the cropped image.

    An edge line counts as border when 97% of it is far from the paper
    level (in either direction: this runs before the polarity is known),
    corner to corner; a digit stroke at the edge of a tight crop rarely
    spans that. At most a quarter of each side is cropped, plus one line of
    fringe. Cropping first keeps borders from misleading the polarity test.
    """
    paper = float(_median(image[::2, ::2]))
    deviation = np.abs(image - paper)
    strong = 0.5 * float(deviation.max())
    keep = [0, image.shape[0], 0, image.shape[1]]  # top, bottom, left, right
    for side in range(4):
        lines = deviation[keep[0] : keep[1], keep[2] : keep[3]]
        lines = (lines, lines[::-1], lines.T, lines.T[::-1])[side]
        limit = int(0.25 * lines.shape[0])
        depth = 0
        while depth < limit and _low_percentile_above(lines[depth], 3, strong):
            depth += 1
        if depth:
            depth += 1
            keep[side] += depth if side in (0, 2) else -depth
    top, bottom, left, right = keep
    if bottom - top < 2 or right - left < 2:
        return (0, 0), image
    return (top, left), image[top:bottom, left:right]


def _low_percentile_above(values: np.ndarray, percent: float, level: float) -> bool:
    """Whether ``np.percentile(values, percent) > level``, mostly by counting."""
    # The percentile lies between the sorted values at ``rank`` and the next;
    # a margin of one covers rounding in numpy's own index arithmetic.
    below = int(np.count_nonzero(values <= level))
    rank = int(np.floor(percent / 100 * (values.size - 1)))
    if below <= rank - 1:
        return True
    if below >= rank + 3:
        return False
    return bool(_percentile(values, percent) > level)


def _crop_to_sheet(image: np.ndarray) -> tuple[tuple[int, int], np.ndarray]:
    """Crop a phone photo to the sheet of paper lying on a darker table.

    To the polarity test, a white sheet in a dark surround looks like a big
    light stroke on black. It is a sheet when the largest bright region is
    much brighter than the picture's edges, covers a good part of the
    picture, is convex once its holes are filled (a sheet has straight
    edges; a light 8 or 0 on black is measurably less convex), and encloses
    dark marks covering little of it, shaped like writing, not like the
    blob inside a light 0. Returns the (top,
    left) offset and the crop to the sheet's bounding box.
    """
    height, width = image.shape
    ring = _outer_ring(image)
    if float(_percentile(image[::2, ::2], 90)) - float(_median(ring)) < 60:
        return (0, 0), image  # the edges are as light as the paper: no table
    smooth = ndimage.uniform_filter(image, size=3, mode="nearest")
    bright = smooth > _otsu(smooth.ravel())
    labels, count = ndimage.label(bright)
    if count == 0:
        return (0, 0), image
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    sheet = labels == int(np.argmax(areas))
    filled = ndimage.binary_fill_holes(sheet)
    marks = filled & ~bright
    rows, cols = _bbox(filled)
    if not (
        0.1 * height * width <= sheet.sum()
        and (rows.stop - rows.start) * (cols.stop - cols.start) <= 0.85 * height * width
        and 0.0005 * height * width <= marks.sum() <= 0.15 * filled.sum()
        and _solidity(filled) >= 0.97
    ):
        return (0, 0), image
    if _stroke_width(marks) > 0.3 * _longest_side(marks):
        return (0, 0), image  # a blob, like the hole of a light 0: not writing
    # The sheet's own edge is a dark line to the ink test: paint over a band
    # along it, and the table beyond it, in the paper's grey.
    inset = max(2, round(0.03 * _extent((rows, cols))))
    inner = ndimage.binary_erosion(filled, iterations=inset)
    if not inner.any():
        return (0, 0), image
    paper = float(_median(image[sheet]))
    crop = np.where(inner[rows, cols], image[rows, cols], paper)
    return (rows.start, cols.start), crop.astype(np.float32)


def _solidity(region: np.ndarray) -> float:
    """Area of a region over the area of its convex hull (1.0: convex)."""
    from scipy.spatial import ConvexHull, QhullError

    edge = region & ~ndimage.binary_erosion(region)
    points = np.argwhere(edge)
    if len(points) < 4:
        return 0.0
    offsets = np.array([[0, 0], [1, 0], [0, 1], [1, 1]])
    corners = (points[None] + offsets[:, None]).reshape(-1, 2)
    try:
        hull = ConvexHull(corners)
    except QhullError:
        return 0.0
    return float(region.sum()) / max(1.0, float(hull.volume))


def _remove_paper(inked: np.ndarray, ink_mask: np.ndarray | None = None) -> np.ndarray:
    """Ink as positive contrast over the local paper level, paper at 0.

    Subtracting a background estimated at a coarse scale removes paper
    colour, texture, shading and uneven lighting. Without a mask, a low
    percentile over a wide window sees paper even where strokes cover most
    of the window. With a mask of the ink found so far, the paper level is
    interpolated under the ink from the paper around it (normalised
    convolution), so even a marker digit filling the crop keeps its middle.
    """
    if ink_mask is None:
        return np.clip(inked - _background(inked, 20), 0.0, None)
    small_side = 32
    shape = _scaled_shape(inked.shape, small_side)
    grown = ndimage.maximum_filter(ink_mask.view(np.uint8), size=5) > 0
    paper = _resize((~grown).astype(np.float32), shape)
    if paper.max() <= 0.05:
        return np.clip(inked - _background(inked, 20), 0.0, None)
    level = _resize(np.where(grown, 0.0, inked).astype(np.float32), shape)
    sigma = max(1.0, small_side / 8)
    weight = ndimage.gaussian_filter(paper, sigma, mode="nearest")
    filled = ndimage.gaussian_filter(level, sigma, mode="nearest") / np.maximum(weight, 1e-3)
    return np.clip(inked - _resize(filled, inked.shape), 0.0, None)


def _background(image: np.ndarray, percentile: int) -> np.ndarray:
    """A percentile of the neighbourhood, at a coarse scale, smoothed and
    brought back to full size: the paper level, without the strokes.

    Computed on blocks (4x4 pixels of a copy 48 px on its longer side): the
    percentile of each block, then over a window of blocks a third of the
    picture wide. Far cheaper than a percentile filter over pixels, and
    just as blind to strokes.
    """
    block = 4
    rows, cols = _scaled_shape(image.shape, 12)
    small = _resize(image, (rows * block, cols * block))
    cells = small.reshape(rows, block, cols, block).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
    level = _percentile(cells, percentile, axis=2).astype(np.float32)
    level = ndimage.percentile_filter(level, percentile, size=5, mode="nearest")
    level = ndimage.uniform_filter(level, size=3, mode="nearest")
    return _resize(level, image.shape)


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=128)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(hist * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def _ink_mask(ink: np.ndarray) -> np.ndarray | None:
    smooth = ndimage.gaussian_filter(ink, sigma=1.0)
    peak = float(smooth.max())
    # Pixel-to-pixel differences measure noise and texture; shading and
    # shadows, which vary slowly, do not count.
    steps = np.diff(ink[::2], axis=1)
    noise = 1.4826 * float(_median(np.abs(steps))) / np.sqrt(2)
    if peak < max(_MIN_CONTRAST, 4.0 * noise):
        return None
    if peak < 8.0 * noise:
        # Fine printed patterns (cheques, forms) raise the pixel-to-pixel
        # noise without being ink. Ink still stands far above the bulk of
        # the picture; noise alone does not.
        clutter = float(_percentile(smooth[::2, ::2], 90))
        if peak < 3.0 * clutter:
            return None
    threshold = float(np.clip(_otsu(smooth[smooth > 0.05 * peak]), 0.25 * peak, 0.6 * peak))
    threshold = max(threshold, 4.0 * noise)
    mask = smooth > threshold
    return mask if mask.any() else None


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """For each True pixel, the length of the horizontal run of True it lies in."""

    def forward(m: np.ndarray) -> np.ndarray:
        count = np.cumsum(m, axis=1, dtype=np.int32)
        reset = np.maximum.accumulate(np.where(m, 0, count), axis=1)
        return count - reset

    ahead = forward(mask)
    behind = forward(mask[:, ::-1])[:, ::-1]
    return np.where(mask, ahead + behind - 1, 0)


def _line_bands(mask: np.ndarray, axis: int) -> list[tuple[slice, slice]]:
    """Thin straight runs spanning most of the image along ``axis`` (1 = rows)."""
    length = mask.shape[axis]
    run = max(8, int(0.5 * length))
    if mask.sum(axis=axis).max() < run:
        return []  # no row (column) holds enough ink to contain such a run
    oriented = mask if axis == 1 else mask.T
    lines = _run_lengths(oriented) >= run
    if axis == 0:
        lines = lines.T
    if not lines.any():
        return []
    labels, _ = ndimage.label(lines)
    across = mask.shape[1 - axis]
    bands = []
    for box in ndimage.find_objects(labels):
        if box is None:
            continue
        thickness = box[1 - axis].stop - box[1 - axis].start
        if thickness <= max(3, 0.06 * across):
            bands.append(box)
    return bands


def _widen(
    box: tuple[slice, slice], axis: int, pixels: int, shape: tuple[int, ...]
) -> tuple[slice, slice]:
    """``box`` of a line along ``axis`` grown by ``pixels`` across the line."""
    across = box[1 - axis]
    grown = slice(max(0, across.start - pixels), min(shape[1 - axis], across.stop + pixels))
    return (grown, box[1]) if axis == 1 else (box[0], grown)


def _stroke_width(mask: np.ndarray) -> float:
    area = float(mask.sum())
    if area == 0:
        return 0.0
    boundary = mask & ~ndimage.binary_erosion(mask)
    return 2.0 * area / max(1.0, float(boundary.sum()))


def _remove_ruled_lines(mask: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """Erase ruled or squared paper lines without eating the digit.

    Two or more parallel lines are paper. A single line is paper when it
    reaches well beyond the rest of the ink and is thinner or fainter than
    the strokes, or when it runs beside the ink without touching it (the
    edge of a form box, however dark and thick); otherwise it is likely part
    of the digit (the bar of a tightly cropped 7).
    """
    cleaned = mask
    for axis in (1, 0):
        bands = _line_bands(cleaned, axis)
        if not bands:
            continue
        band_mask = np.zeros_like(cleaned)
        for box in bands:
            band_mask[box] = cleaned[box]
        rest = cleaned & ~band_mask
        if len(bands) == 1 and rest.any():
            box = bands[0]
            span = box[axis].stop - box[axis].start
            rest_span = np.flatnonzero(rest.any(axis=1 - axis))
            rest_extent = rest_span[-1] - rest_span[0] + 1
            thickness = box[1 - axis].stop - box[1 - axis].start
            thinner = thickness < 0.75 * _stroke_width(rest)
            fainter = ink[band_mask].mean() < 0.6 * ink[rest].mean()
            # A line beside the ink, not touching it, is the edge of a form
            # box; a digit's own bar (a 7's, a 1's base) joins its stroke.
            # Lines across this one (the other side of a box corner) and the
            # line's own anti-aliased fringe do not count.
            fringe = _widen(box, axis, 2, cleaned.shape)
            core = rest.copy()
            core[fringe] = False
            for other in _line_bands(cleaned, 1 - axis):
                core[_widen(other, 1 - axis, 2, cleaned.shape)] = False
            reach = 0.3 * cleaned.shape[axis]
            across = np.flatnonzero(core.any(axis=axis))
            along = np.flatnonzero(core.any(axis=1 - axis))
            beside = (
                across.size > 0
                and span > along[-1] - along[0] + 1 + reach
                and (fringe[1 - axis].stop < across[0] or fringe[1 - axis].start > across[-1] + 1)
            )
            if not (beside or (span > rest_extent + reach and (thinner or fainter))):
                continue
            if beside:
                bands = [fringe]
                band_mask[fringe] = cleaned[fringe]
                rest = cleaned & ~band_mask
        if not rest.any():
            return cleaned
        # Re-join strokes the erased line cut through.
        thickness = max(box[1 - axis].stop - box[1 - axis].start for box in bands)
        bridge = (thickness + 3, 1) if axis == 1 else (1, thickness + 3)
        bridged = ndimage.binary_closing(rest, structure=np.ones(bridge, dtype=bool))
        cleaned = rest | (bridged & band_mask)
    return cleaned


@dataclass(frozen=True)
class _Pieces:
    """The ink's connected pieces, ranked with the digit's main stroke first."""

    labels: np.ndarray  # each ink pixel's piece, 0 off the ink, within ``window``
    window: tuple[slice, slice]  # where ``labels`` lies in the working copy
    shape: tuple[int, int]  # the working copy's
    count: int
    areas: np.ndarray
    ranked: list[tuple[bool, float, int, tuple[slice, slice]]]  # (stroke, weight, label, box)


def _find_pieces(mask: np.ndarray, ink: np.ndarray, scale: float) -> _Pieces | None:
    """Label and rank the ink's pieces, scanner borders left out; both
    readings join them from here (:func:`_join_pieces`).

    ``scale`` is the working copy's size over the original's. A piece too
    small to be a digit in the working copy still counts when the original
    holds it at a size a digit can be written at: a small digit on a big
    page, which the caller then reads again from the original pixels.
    """
    if not mask.any():
        return None
    height, width = mask.shape
    reach = max(1, round(0.015 * max(height, width)))
    # Only the ink's box, with room for the grouping below, is worked on:
    # a digit covers a fifth of the picture or less, and the paper around it
    # changes nothing (no pixel there is within ``reach`` of ink).
    rows, cols = _bbox(mask)
    window = (
        slice(max(0, rows.start - reach), min(height, rows.stop + reach)),
        slice(max(0, cols.start - reach), min(width, cols.stop + reach)),
    )
    mask, ink = mask[window], ink[window]
    # Pieces closer than ``reach`` belong together (broken pencil strokes).
    near = ndimage.maximum_filter(mask.view(np.uint8), size=2 * reach + 1) > 0
    grouped, count = ndimage.label(near, structure=np.ones((3, 3), dtype=bool))
    labels = np.where(mask, grouped, 0)
    inked = np.flatnonzero(mask)
    flat = labels.ravel()[inked]
    areas = np.bincount(flat, minlength=count + 1)[1:].astype(np.float64)
    masses = np.bincount(flat, weights=ink.ravel()[inked], minlength=count + 1)[1:]
    top, left = window[0].start, window[1].start
    boxes = [
        None if box is None else _shifted(box, top, left)
        for box in ndimage.find_objects(labels, max_label=count)
    ]

    pieces = [
        (label, box)
        for label, box in enumerate(boxes, start=1)
        if box is not None and areas[label - 1] > 0 and not _is_border_artefact(box, height, width)
    ]
    if not pieces:
        return None
    # Measured without scanner borders: beside one, a small digit would look like a dot.
    largest = max(_extent(box) for _, box in pieces)
    candidates: list[tuple[bool, float, int, tuple[slice, slice]]] = []
    for label, box in pieces:
        area, mass = areas[label - 1], masses[label - 1]
        centre_y = (box[0].start + box[0].stop) / 2 / height - 0.5
        centre_x = (box[1].start + box[1].stop) / 2 / width - 0.5
        centrality = 1.0 - 0.8 * min(1.0, np.hypot(centre_y, centre_x) / 0.7071)
        dot = _is_dot(box, area, largest)
        candidates.append((not dot, float(mass) * centrality, label, box))
    candidates.sort(reverse=True)  # a dot is never the digit
    _, _, main_label, main_box = candidates[0]
    tiny = areas[main_label - 1] < max(6.0, 0.0004 * height * width)
    if tiny and _extent(main_box) / scale < _SMALLEST_DIGIT:
        return None
    return _Pieces(labels, window, (height, width), count, areas, candidates)


def _shifted(box: tuple[slice, slice], top: int, left: int) -> tuple[slice, slice]:
    return slice(box[0].start + top, box[0].stop + top), slice(
        box[1].start + left, box[1].stop + left
    )


def _join_pieces(pieces: _Pieces, *, whole_page: bool = False) -> np.ndarray:
    """The main stroke and the pieces that belong with it, as a mask:
    specks and dust dropped.

    ``whole_page`` keeps every stroke however far from the biggest piece,
    and smaller ones: the whole-page reading (see :func:`mnist_readings`).
    """
    labels, areas, candidates = pieces.labels, pieces.areas, pieces.ranked
    width = pieces.shape[1]
    _, _, main_label, main_box = candidates[0]
    main_area = float(areas[main_label - 1])
    keep = [main_label]
    top, bottom = main_box[0].start, main_box[0].stop
    left, right = main_box[1].start, main_box[1].stop
    smallest = (_WHOLE_PAGE_SMALLEST if whole_page else _SMALLEST_PIECE) * main_area
    for stroke, _, label, box in candidates[1:]:
        if areas[label - 1] < smallest:
            continue
        size = max(bottom - top, right - left)
        if _neighbour_fragment(box, left, right, width, size):
            continue
        gap_y = max(0, box[0].start - bottom, top - box[0].stop)
        gap_x = max(0, box[1].start - right, left - box[1].stop)
        # A dot counts only close to the digit: a broken end of its stroke.
        if (stroke and whole_page) or max(gap_y, gap_x) <= (0.25 if stroke else 0.08) * size:
            keep.append(label)
            top, bottom = min(top, box[0].start), max(bottom, box[0].stop)
            left, right = min(left, box[1].start), max(right, box[1].stop)
    kept = np.zeros(pieces.count + 1, dtype=bool)
    kept[keep] = True
    joined = np.zeros(pieces.shape, dtype=bool)
    joined[pieces.window] = kept[labels]
    return joined


def _is_dot(box: tuple[slice, slice], area: float, largest: int) -> bool:
    """A small solid speck: dust, or a blob where a stroke broke.

    Solid and squat, where most pieces of a broken stroke are long and thin,
    and under a third of the size of the biggest piece, so a small digit on
    its own is never taken for one. Digits have no dots, so a dot away from
    the digit is dust.
    """
    box_height, box_width = box[0].stop - box[0].start, box[1].stop - box[1].start
    extent = max(box_height, box_width)
    return (
        extent < _DOT * largest
        and area >= 0.5 * box_height * box_width
        and extent <= 2 * min(box_height, box_width)
    )


def _neighbour_fragment(
    box: tuple[slice, slice], left: int, right: int, width: int, size: int
) -> bool:
    """A piece cut by the left or right edge, wholly beside the digit with
    paper between: a neighbouring digit of a string, cropped in.

    Digits in a string stand side by side, so this looks sideways only.
    """
    start, stop = box[1].start, box[1].stop
    gap = max(2, 0.05 * size)  # paper between them, wider than a crack in a stroke
    return (start == 0 and stop + gap <= left) or (stop == width and start >= right + gap)


def _is_border_artefact(box: tuple[slice, slice], height: int, width: int) -> bool:
    """A thin band lying along an edge of the image: a scanner border or shadow edge."""
    rows, cols = box
    box_height, box_width = rows.stop - rows.start, cols.stop - cols.start
    touches_side = cols.start == 0 or cols.stop == width
    touches_end = rows.start == 0 or rows.stop == height
    along_side = touches_side and box_height >= 0.8 * height and box_width <= 0.2 * width
    along_end = touches_end and box_width >= 0.8 * width and box_height <= 0.2 * height
    return along_side or along_end


def _longest_side(mask: np.ndarray) -> int:
    return _extent(_bbox(mask))


def _extent(box: tuple[slice, slice]) -> int:
    """A box's longer side."""
    rows, cols = box
    return max(rows.stop - rows.start, cols.stop - cols.start)


def _bbox(mask: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _normalise_stroke_width(mask: np.ndarray) -> np.ndarray:
    """Thin marker strokes and thicken hairlines to MNIST's range.

    The range is in pixels of the final 20x20 box, so the correction depends
    on how much the digit will be scaled.
    """
    scale = DIGIT_BOX / max(mask.shape)
    width = _stroke_width(mask)
    scaled = width * scale
    if _STROKE_MIN <= scaled <= _STROKE_MAX:
        return mask
    padded = np.pad(mask, 2 + int(np.ceil(_STROKE_MIN / scale)))
    if scaled > _STROKE_MAX:
        radius = (width - _STROKE_MAX / scale) / 2
        thinned = ndimage.distance_transform_edt(padded) > radius
        # Never erode a stroke away entirely.
        result = thinned if thinned.sum() >= 0.25 * padded.sum() else padded
    else:
        radius = (_STROKE_MIN / scale - width) / 2
        result = ndimage.distance_transform_edt(~padded) <= radius
    if not result.any():
        return mask
    rows, cols = _bbox(result)
    return result[rows, cols]


def _fit_and_centre(mask: np.ndarray) -> np.ndarray:
    height, width = mask.shape
    scale = DIGIT_BOX / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    digit = _resize(mask.astype(np.float32) * 255.0, shape)
    total = float(digit.sum())
    canvas = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    if total <= 0:
        return canvas.astype(np.uint8)
    centre_y = float(digit.sum(axis=1) @ np.arange(shape[0])) / total
    centre_x = float(digit.sum(axis=0) @ np.arange(shape[1])) / total
    top = min(max(round(MNIST_SIDE / 2 - centre_y), 0), MNIST_SIDE - shape[0])
    left = min(max(round(MNIST_SIDE / 2 - centre_x), 0), MNIST_SIDE - shape[1])
    canvas[top : top + shape[0], left : left + shape[1]] = digit
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
