"""The hands the number helper models learn besides MNIST's (batchdigits.writers)."""

from __future__ import annotations

import numpy as np
import pytest

from batchdigits.strings import string_examples
from batchdigits.writers import OTHER_HANDS, Hands, pick_digits


def _hands(fonts: int = 3, per: int = 4) -> Hands:
    """Renders whose pixels say who wrote them: pixel (0, 0) is the hand
    (a font's index, or ``fonts`` for the stroke styles), pixel (0, 1) the digit."""
    images, labels, hands = [], [], []
    for hand in range(fonts):
        for digit in range(10):
            for _ in range(per):
                images.append(np.full((28, 28), 0, np.uint8))
                images[-1][0, :2] = hand, digit
                labels.append(digit)
                hands.append(hand)
    for digit in (1, 4, 7, 9):  # the stroke styles draw these digits only
        for _ in range(per):
            images.append(np.zeros((28, 28), np.uint8))
            images[-1][0, :2] = fonts, digit
            labels.append(digit)
            hands.append(fonts)
    return Hands.of(np.stack(images), np.array(labels, np.uint8), np.array(hands), fonts)


def test_a_share_of_numbers_is_written_in_other_hands_one_font_per_number() -> None:
    """About OTHER_HANDS of the composed numbers come from the other hands;
    each such number is in one font, with only stroke-style digits besides,
    and its labels are the digits its images show."""
    hands = _hands()
    mnist = np.full((50, 28, 28), 200, np.uint8)  # MNIST stand-ins: no hand pixel
    mnist_labels = np.arange(50, dtype=np.uint8) % 10
    rng = np.random.default_rng(1)
    other = 0
    for _ in range(2000):
        images, labels = pick_digits(rng, mnist, mnist_labels, 6, hands)
        assert len(images) == len(labels) == 6
        if images[0, 0, 0] == 200:
            continue
        other += 1
        assert np.array_equal(images[:, 0, 1], labels)
        fonts_used = set(images[:, 0, 0].tolist()) - {hands.strokes}
        assert len(fonts_used) <= 1
    assert abs(other / 2000 - OTHER_HANDS) < 0.04


def test_without_fonts_the_other_hands_are_the_stroke_styles() -> None:
    """A machine without the handwriting fonts still composes: the other
    hands' numbers are drawn from the stroke styles alone."""
    hands = _hands(fonts=0)
    assert hands.fonts == ()
    images, labels = hands.write(np.random.default_rng(0), 5)
    assert set(labels.tolist()) <= {1, 4, 7, 9}
    assert (images[:, 0, 0] == 0).all()


def test_numbers_in_other_hands_are_the_same_however_many_workers_compose_them() -> None:
    hands = _hands()
    digits = np.zeros((10, 28, 28), np.uint8)
    digits[:, 4:24, 10:14] = 255
    labels = np.arange(10, dtype=np.uint8)
    alone = string_examples(digits, labels, 1030, seed=5, jobs=1, hands=hands)
    shared = string_examples(digits, labels, 1030, seed=5, jobs=2, hands=hands)
    assert np.array_equal(alone[0], shared[0]) and np.array_equal(alone[1], shared[1])
    without = string_examples(digits, labels, 1030, seed=5, jobs=1)
    assert not np.array_equal(without[1], alone[1])


def test_the_string_reader_averages_its_members_frame_probabilities() -> None:
    """Each member reads the same 64 frames; the reader takes their mean
    probability per frame, so a digit one member is sure of and the other
    only suspects is read, at the mean of their probabilities, and two
    members agreeing read as either does."""
    from batchdigits.strings import BLANK, STEPS, StringModelReader

    def logits(digit_frames: dict[int, tuple[int, float]]) -> np.ndarray:
        frames = np.full((1, STEPS, BLANK + 1), -8.0)
        frames[0, :, BLANK] = 8.0
        for step, (digit, strength) in digit_frames.items():
            frames[0, step, digit] = strength
        return frames

    class Member:
        def __init__(self, output: np.ndarray) -> None:
            self.output = output

        def logits(self, _: np.ndarray) -> np.ndarray:
            return self.output

    reader = StringModelReader.__new__(StringModelReader)
    reader._networks = [
        Member(logits({10: (4, 20.0), 30: (2, 20.0)})),
        Member(logits({10: (4, 20.0), 30: (2, 6.0)})),
    ]
    strip = np.zeros((1, 32, 256), np.uint8)
    (both,) = reader.read(strip)
    assert both.digits == "42"  # the 2: p = 1 and 0.12, mean 0.56 over the blank's 0.44
    assert 0.5 < both.digit_probabilities[1] < 0.6
    reader._networks = [Member(logits({10: (4, 20.0)}))] * 2
    (agreed,) = reader.read(strip)
    assert agreed.digits == "4" and agreed.digit_probabilities[0] > 0.99


def test_the_string_reader_reads_many_strips_in_bounded_batches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A whole folder's strips at once (an API call, a benchmark) go to the
    model in parts of at most STRIPS_PER_BATCH, so memory stays bounded, and
    every strip still gets its own reading, in order."""
    from batchdigits import strings
    from batchdigits.strings import BLANK, STEPS, StringModelReader

    monkeypatch.setattr(strings, "STRIPS_PER_BATCH", 3)
    seen: list[int] = []

    class Member:
        def logits(self, batch: np.ndarray) -> np.ndarray:
            seen.append(len(batch))
            frames = np.full((len(batch), STEPS, BLANK + 1), -8.0)
            frames[:, :, BLANK] = 8.0
            for row, strip in enumerate(batch):  # each strip reads as its own first pixel
                frames[row, 5, round(float(strip[0, 0, 0]) * 255) % 10] = 20.0
            return frames

    reader = StringModelReader.__new__(StringModelReader)
    reader._networks = [Member()]
    strips = np.zeros((8, 32, 256), np.uint8)
    strips[:, 0, 0] = np.arange(8)
    readings = reader.read(strips)
    assert [r.digits for r in readings] == [str(i) for i in range(8)]
    assert seen == [3, 3, 2]
