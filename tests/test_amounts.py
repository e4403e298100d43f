"""The string model learns amounts of money: digits as people write them on
cheques (a few significant digits, runs of zeros, cents)."""

from __future__ import annotations

import numpy as np

from batchdigits.amounts import amount_digits, by_label, pick_amount
from batchdigits.recipe import STRING_MEMBERS
from batchdigits.splits import compose_number
from batchdigits.strings import string_examples


def _is_amount(digits: str) -> bool:
    """A non-zero first digit, then at most three more significant digits
    and zeros; two digits of cents may follow."""
    return any(
        units[0] != "0" and len(units.rstrip("0")) <= 4
        for units in {digits, digits[:-2]}
        if len(units) >= 1
    )


def test_an_amount_has_its_digits_count_and_the_shape_of_an_amount() -> None:
    rng = np.random.default_rng(0)
    amounts = [
        "".join(map(str, amount_digits(rng, count))) for count in range(2, 9) for _ in range(50)
    ]
    assert [len(a) for a in amounts] == [count for count in range(2, 9) for _ in range(50)]
    assert all(_is_amount(a) for a in amounts)
    assert sum(a.endswith("000") for a in amounts) > 0.3 * len(amounts)  # runs of zeros are common
    assert not _is_amount("01234567") and not _is_amount("12345678")


def test_an_amounts_digit_images_are_drawn_by_their_labels() -> None:
    labels = np.tile(np.arange(10, dtype=np.uint8), 5)
    digits = np.repeat(labels[:, None, None], 28, axis=1).repeat(28, axis=2)  # each image its label
    images, picked, raised = pick_amount(
        np.random.default_rng(1), digits, labels, by_label(labels), 6
    )
    assert len(picked) == 6 and picked[0] != 0 and raised == 0
    assert (images[:, 0, 0] == picked).all()


def test_only_an_amounts_cents_are_raised() -> None:
    """With every amount's cents raised, some amounts come out raised (those
    with cents) and some not; raising draws nothing but its own chance, so
    without a share the same amounts come out, none raised."""
    labels = np.tile(np.arange(10, dtype=np.uint8), 5)
    digits = np.zeros((len(labels), 28, 28), np.uint8)
    indices = by_label(labels)
    rng = np.random.default_rng(2)
    amounts = [pick_amount(rng, digits, labels, indices, 5, raised_cents=1.0) for _ in range(200)]
    assert {a.raised for a in amounts} == {0, 2}
    again = np.random.default_rng(2)
    for amount in amounts:  # the same amounts, drawn without raising
        plain = pick_amount(again, digits, labels, indices, 5)
        if amount.raised:
            again.random()  # the draw that raised its cents
        assert np.array_equal(plain.labels, amount.labels) and plain.raised == 0


def test_raised_cents_are_written_small_near_the_digits_tops() -> None:
    """The last two digits of a number composed with raised cents are
    shorter than the others (about 0.5-0.7 of their height) and end well
    above their baseline."""
    digits = np.zeros((4, 28, 28), np.uint8)
    digits[:, 4:24, 8:20] = 255
    labels = np.array([1, 2, 0, 0])
    ratios, raised = [], []
    for seed in range(20):
        composed = compose_number(digits, labels, np.random.default_rng(seed), raised=2)
        rows = [np.flatnonzero((composed.owner == i).any(axis=1)) for i in range(4)]
        tall = [r[-1] - r[0] + 1 for r in rows]
        ratios += [t / np.mean(tall[:2]) for t in tall[2:]]
        baseline = np.mean([r[-1] for r in rows[:2]])
        raised += [(baseline - r[-1]) / np.mean(tall[:2]) for r in rows[2:]]
    assert 0.5 < np.mean(ratios) < 0.7 and max(ratios) < 0.9
    assert np.mean(raised) > 0.25 and min(raised) > 0


def test_the_amounts_member_learns_amounts_and_the_others_compose_as_before() -> None:
    """A member with an amounts share composes amounts among its numbers;
    without one, the numbers are drawn exactly as before amounts existed,
    so the first member's recipe still reproduces its model. Only the
    amounts member writes some cents small and raised."""
    digits = np.zeros((10, 28, 28), np.uint8)
    digits[:, 4:24, 10:14] = 255
    labels = np.arange(10, dtype=np.uint8)
    plain = string_examples(digits, labels, 200, seed=5, jobs=1)
    again = string_examples(digits, labels, 200, seed=5, jobs=1, amounts=0.0, pen_signs=False)
    assert np.array_equal(plain[0], again[0]) and np.array_equal(plain[1], again[1])
    _, targets = string_examples(digits, labels, 200, seed=5, jobs=1, amounts=1.0, pen_signs=True)
    written = ["".join(map(str, row[row >= 0])) for row in targets]
    assert all(_is_amount(number) for number in written)
    random = ["".join(map(str, row[row >= 0])) for row in plain[1]]
    assert sum(_is_amount(number) for number in random) < 0.8 * len(random)
    assert [m.amounts > 0 for m in STRING_MEMBERS] == [False, True]
    assert [m.raised_cents > 0 for m in STRING_MEMBERS] == [False, True]
