"""The hand-style training renders (batchdigits.styles) draw the shapes they
are named for, and survive preprocessing: a render that came out blank or
as the wrong shape would teach the model nothing, or something wrong."""

from __future__ import annotations

import numpy as np
import pytest

from batchdigits.preprocess import to_mnist
from batchdigits.styles import STYLES, render_style
from batchdigits.synthetic import synthetic_digits


def ink_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the ink (white on black)."""
    rows = np.flatnonzero(image.max(axis=1) > 127)
    cols = np.flatnonzero(image.max(axis=0) > 127)
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@pytest.mark.parametrize("name", sorted(STYLES))
def test_render_goes_through_preprocessing(name: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        render = render_style(name, rng)
        # to_mnist reads a page: dark ink on light paper.
        mnist = to_mnist((255 - render).astype(np.uint8))
        assert mnist is not None
        assert mnist.shape == (28, 28)
        assert mnist.max() > 200


def test_flat_zero_is_wider_than_tall() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        height, width = ink_box(render_style("zero_flat", rng))
        assert width > height


def test_flag_one_is_taller_than_wide_and_has_no_base() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        render = render_style("one_flag", rng)
        height, width = ink_box(render)
        assert height > 1.5 * width
        rows = np.flatnonzero(render.max(axis=1) > 127)
        bottom = render[rows[-1] - 2 : rows[-1] + 1] > 127
        # the foot of a bare stem is narrow; a base line would span the digit
        assert bottom.any(axis=0).sum() < 0.6 * width


def test_nine_has_a_loop_on_a_tail() -> None:
    """The largest enclosed hole (the loop) lies in the top half."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    closed = 0
    for _ in range(20):
        render = render_style("nine_loop_tail", rng) > 127
        labelled, count = ndimage.label(~render)
        # pinholes between jittered pen strokes are not a loop
        holes = [
            i
            for i in range(1, count + 1)
            if not _touches_edge(labelled == i) and (labelled == i).sum() > 0.02 * render.size
        ]
        if not holes:  # a hand may leave the loop a little open
            continue
        closed += 1
        rows = np.flatnonzero(render.any(axis=1))
        loop = max(holes, key=lambda i: int((labelled == i).sum()))
        assert np.argwhere(labelled == loop)[:, 0].mean() < (rows[0] + rows[-1]) / 2
    assert closed >= 14


def _touches_edge(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_synthetic_digits_include_styles_by_default() -> None:
    images, labels = synthetic_digits([], 0, 2, seed=0)
    # 4 stroke digits x 2, then 5 styles x (2 // 2)
    assert len(images) == len(labels) == 4 * 2 + len(STYLES)
    assert sorted(labels[-len(STYLES) :].tolist()) == sorted(d for d, _ in STYLES.values())
    none, _ = synthetic_digits([], 0, 2, seed=0, per_style=0)
    assert len(none) == 8
