"""Pieces wider than a digit (touching and overlapping digits) cut along
the cheapest paths through their ink."""

from __future__ import annotations

import numpy as np

from ..preprocess.shapes import bbox, stroke_width
from .pieces import Piece

# A piece wider than this share of the digits' height may hold two digits.
_CUT_WIDER_THAN = 0.75
# A cut may cross at most this many strokes' width of ink; and each step
# sideways costs this much (of a pixel of ink), so cuts run straight
# where nothing is in the way.
_CUT_MOST_STROKES = 2.5
_SIDESTEP = 0.05


def cut_wide_pieces(pieces: list[Piece], height: float) -> list[Piece]:
    """Pieces wider than a digit, cut along the cheapest paths through them."""
    cut: list[Piece] = []
    for piece in pieces:
        if piece.mask.shape[1] <= _CUT_WIDER_THAN * height:
            cut.append(piece)
            continue
        cut.extend(_cut(piece, height))
    cut.sort(key=lambda piece: piece.centre)
    return cut


def _cut(piece: Piece, height: float) -> list[Piece]:
    """The piece cut along its cheapest seams from top to bottom (see
    :func:`_seams`); the piece whole when no seam is cheap enough."""
    mask = piece.mask
    rows, width = mask.shape
    stroke = max(1.0, stroke_width(mask))
    chosen = _seams(mask, height, most_ink=_CUT_MOST_STROKES * stroke)
    if not chosen:
        return [piece]
    columns = np.arange(width)[None, :]
    region = np.zeros(mask.shape, dtype=np.int32)
    previous = np.full(rows, -1)
    for _, path in chosen:
        path = np.maximum(path, previous + 1)
        region += columns > path[:, None]
        previous = path
    parts = []
    crossed = [0.0] + [ink / stroke for ink, _ in chosen]
    for index in range(len(chosen) + 1):
        part = mask & (region == index)
        if not part.any():
            continue
        r, c = bbox(part)
        parts.append(Piece(part[r, c], piece.top + r.start, piece.left + c.start, crossed[index]))
    return parts


def _seams(mask: np.ndarray, height: float, most_ink: float) -> list[tuple[float, np.ndarray]]:
    """Cuts through ``mask`` from top to bottom, left to right: (ink crossed,
    column per row). From every other column, the path crossing the least
    ink that moves at most one column per row and strays at most 0.25 digit
    heights from where it started (so it threads between leaning and
    overlapping strokes); kept where that cost is least among its
    neighbours, at most ``most_ink`` pixels, and not within 0.12 digit
    heights of another cut or 0.15 of the piece's ends."""
    rows, width = mask.shape
    margin = max(2, int(0.15 * height))
    near = max(1, int(0.12 * height))
    starts = np.arange(margin, width - margin, 2)
    if len(starts) == 0:
        return []
    reach = max(2, int(0.25 * height))
    offsets = np.arange(-reach, reach + 1)
    columns = starts[:, None] + offsets[None, :]  # (S, O)
    inside = (columns >= 0) & (columns < width)
    clipped = np.clip(columns, 0, width - 1)
    stray = _SIDESTEP * np.abs(offsets)[None, :]
    costs = np.where(inside, mask[:, clipped] + stray, np.inf)  # (rows, S, O)
    total = costs[0]
    steps = np.zeros((rows, *columns.shape), dtype=np.int8)
    edge = np.full((len(starts), 1), np.inf)
    for row in range(1, rows):
        left = np.concatenate([edge, total[:, :-1]], axis=1)
        right = np.concatenate([total[:, 1:], edge], axis=1)
        # From the cheapest of the three columns above; on a tie, the leftmost.
        from_left = (left <= total) & (left <= right)
        from_right = ~from_left & (right < total)
        total = costs[row] + np.where(from_left, left, np.where(from_right, right, total))
        steps[row] = from_right.view(np.int8) - from_left.view(np.int8)
    end = np.argmin(total, axis=1)
    ink_cost = total[np.arange(len(starts)), end]
    order = np.argsort(ink_cost)
    chosen: list[tuple[float, np.ndarray]] = []
    for index in order:
        if ink_cost[index] > most_ink + _SIDESTEP * rows * reach:
            break
        window = (starts >= starts[index] - near) & (starts <= starts[index] + near)
        if ink_cost[index] > ink_cost[window].min():
            continue
        path = np.zeros(rows, dtype=np.int64)
        position = int(end[index])
        for row in range(rows - 1, -1, -1):
            path[row] = columns[index, position]
            position += int(steps[row, index, position])
        ink = float(mask[np.arange(rows), path].sum())
        middle = float(path.mean())
        if ink > most_ink or not margin <= middle <= width - margin:
            continue
        if all(abs(middle - float(other.mean())) >= near for _, other in chosen):
            chosen.append((ink, path))
    chosen.sort(key=lambda item: float(item[1].mean()))
    return chosen
