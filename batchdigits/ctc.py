"""Reading a number from the string model's frames (CTC decoding).

The string model (:mod:`batchdigits.strings`) gives, for each of a strip's
64 frames, the chance of every digit and of the blank. A number is any
path through the frames collapsed (repeats merged, blanks dropped), and its
chance is the sum over all the paths that collapse to it. The single most
likely path (best-path decoding) is not always the most likely number: a
digit whose ink spreads over several frames, each a little more blank than
digit, or a repeated digit (``99``) whose blank between the two is shared
with neighbouring frames, has its chance split over many paths, and the
best path drops it. The prefix beam search here sums the paths of each
candidate number as it goes: on the numbers benchmark's test split the
string model alone reads 2,091 of 2,240 numbers right with it, 2,072 by
its best path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BLANK = 10
#: Candidate numbers kept after each frame.
BEAM_WIDTH = 8
#: A digit whose log-probability in a frame is below this does not start or
#: extend a candidate there (e**-12 is 6e-6). This bounds the work per frame;
#: the chances it leaves out are that small, so a number's chance is the full
#: sum to within about 1e-4 of its log (on the numbers benchmark's 6,260
#: strips, even e**-9 read every number the same).
LEAST_LOG_PROBABILITY = -12.0


@dataclass(frozen=True)
class StringReading:
    """The string model's reading of one strip: its digits, their chance
    (summed over every alignment of them to the frames), each digit's
    probability (its best frame's on the likeliest alignment), and the
    frames' log-probabilities, which score any other reading of the strip
    (:meth:`log_likelihood`)."""

    digits: str
    probability: float
    digit_probabilities: tuple[float, ...]
    log_frames: np.ndarray = field(repr=False)

    def log_likelihood(self, digits: str) -> float:
        """log P(``digits`` | strip), summed over every alignment of them to
        the frames (CTC's forward algorithm): how well the string model's
        view of the ink fits a reading, its own or the segmenting reader's."""
        states, skip = _states(digits)
        alpha = np.full(len(states), -np.inf)
        alpha[:2] = self.log_frames[0, states[:2]]
        for frame in self.log_frames[1:]:
            alpha = np.logaddexp(np.logaddexp(alpha, _back(alpha, 1)), _two_back(alpha, skip))
            alpha = alpha + frame[states]
        return float(np.logaddexp.reduce(alpha[-2:]))


def decode(logits: np.ndarray) -> list[StringReading]:
    """The most likely number of each of (N, STEPS, 11) logits' strips."""
    from scipy.special import log_softmax

    readings = []
    for frames in log_softmax(np.asarray(logits, np.float64), axis=-1):
        digits, log_chance = likeliest_number(frames)
        sure = aligned_confidences(frames, digits)
        readings.append(StringReading(digits, float(np.exp(log_chance)), sure, frames))
    return readings


def likeliest_number(log_frames: np.ndarray, width: int = BEAM_WIDTH) -> tuple[str, float]:
    """The number with the highest chance summed over its alignments (CTC
    prefix beam search: each candidate carries its chance of ending on a
    blank and on its last digit, as a repeat may only follow a blank), and
    the log of that chance.

    The search works on Python floats (a frame at a time, as a list): a
    strip's few hundred thousand sums of two chances cost several times
    more as numpy scalars."""
    beams: dict[str, tuple[float, float]] = {"": (0.0, -math.inf)}
    for row in np.asarray(log_frames, np.float64):
        frame = row.tolist()
        digits = [digit for digit in range(BLANK) if frame[digit] > LEAST_LOG_PROBABILITY]
        extended: dict[str, tuple[float, float]] = {}
        for prefix, (on_blank, on_digit) in beams.items():
            total = _logaddexp(on_blank, on_digit)
            _add(extended, prefix, total + frame[BLANK], -math.inf)
            last = int(prefix[-1]) if prefix else -1
            if last >= 0:
                _add(extended, prefix, -math.inf, on_digit + frame[last])
            for digit in digits:
                start = on_blank if digit == last else total
                _add(extended, prefix + str(digit), -math.inf, start + frame[digit])
        ranked = sorted(extended.items(), key=lambda item: -_logaddexp(*item[1]))
        beams = dict(ranked[:width])
    digits, (on_blank, on_digit) = max(beams.items(), key=lambda item: _logaddexp(*item[1]))
    return digits, _logaddexp(on_blank, on_digit)


def _add(beams: dict[str, tuple[float, float]], prefix: str, blank: float, digit: float) -> None:
    """Add chances (of ending on a blank, on a digit) to a candidate's."""
    old_blank, old_digit = beams.get(prefix, (-math.inf, -math.inf))
    beams[prefix] = (_logaddexp(old_blank, blank), _logaddexp(old_digit, digit))


def _logaddexp(a: float, b: float) -> float:
    """log(e**a + e**b), computed as numpy's ``logaddexp`` computes it."""
    if a == b:
        return a + _LOG_2
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


_LOG_2 = math.log(2.0)


def aligned_confidences(log_frames: np.ndarray, digits: str) -> tuple[float, ...]:
    """Each digit's probability in its surest frame, on the likeliest
    alignment of ``digits`` to the frames (Viterbi): what the row shows as
    the digit's confidence."""
    if not digits:
        return ()
    states, skip = _states(digits)
    best = np.full(len(states), -np.inf)
    best[:2] = log_frames[0, states[:2]]
    came_from = np.zeros((len(log_frames), len(states)), dtype=np.int64)
    for step, frame in enumerate(log_frames[1:], start=1):
        options = np.stack([best, _back(best, 1), _two_back(best, skip)])
        came_from[step] = np.arange(len(states)) - options.argmax(axis=0)
        best = options.max(axis=0) + frame[states]
    state = len(states) - 1 if best[-1] >= best[-2] else len(states) - 2
    sure = np.zeros(len(digits))
    for step in range(len(log_frames) - 1, -1, -1):
        if states[state] != BLANK:
            index = (state - 1) // 2
            sure[index] = max(sure[index], float(np.exp(log_frames[step, states[state]])))
        state = came_from[step, state]
    return tuple(float(s) for s in sure)


def _states(digits: str) -> tuple[np.ndarray, np.ndarray]:
    """CTC's states for ``digits`` (blank, d1, blank, d2, ..., blank), and
    where a state may be reached from two back (a digit unlike the one two
    back: between equal digits the blank cannot be skipped)."""
    labels = [BLANK]
    for digit in digits:
        labels += [int(digit), BLANK]
    states = np.array(labels)
    skip = np.zeros(len(states), dtype=bool)
    skip[2:] = (states[2:] != BLANK) & (states[2:] != states[:-2])
    return states, skip


def _back(scores: np.ndarray, by: int) -> np.ndarray:
    return np.concatenate((np.full(by, -np.inf), scores))[: len(scores)]


def _two_back(scores: np.ndarray, skip: np.ndarray) -> np.ndarray:
    return np.where(skip, _back(scores, 2), -np.inf)
