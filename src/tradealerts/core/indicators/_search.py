"""Vectorised "first bar beyond a level" searches, the costly part of finding breaks."""

from __future__ import annotations

import numpy as np

from tradealerts.core.indicators._series import FloatArray, IntArray

# Bound on the (lines x bars) block one round of the diagonal search builds.
_BLOCK = 1 << 21


def first_beyond_level(
    values: FloatArray, start: IntArray, level: FloatArray, above: bool
) -> IntArray:
    """For each query q: the first index j >= start[q] with values[j] > level[q] (above) or
    values[j] < level[q] (below); -1 when there is none.

    Binary lifting over a sparse table of running maxima: O((N + Q) log N), all in numpy.
    """
    size = values.shape[0]
    if start.shape[0] == 0 or size == 0:
        return np.full(start.shape[0], -1, dtype=np.int64)
    y = values if above else -values
    thr = level if above else -level
    levels = [y]
    span = 1
    while span * 2 <= size:
        prev = levels[-1]
        levels.append(np.maximum(prev[:-span], prev[span:]))
        span *= 2
    pos = start.astype(np.int64).copy()
    for lvl in range(len(levels) - 1, -1, -1):
        table = levels[lvl]
        width = 1 << lvl
        fits = pos + width <= size
        probe = np.where(fits, pos, 0)
        skip = fits & (table[np.minimum(probe, table.shape[0] - 1)] <= thr)
        pos = np.where(skip, pos + width, pos)
    return np.where(pos < size, pos, -1).astype(np.int64)


def first_beyond_line(
    close: FloatArray,
    i1: IntArray,
    p1: FloatArray,
    i2: IntArray,
    p2: FloatArray,
    above: bool,
) -> IntArray:
    """For each line through (i1, p1), (i2, p2): the first j > i2 whose close is strictly
    beyond the line's value at j (above a resistance, below a support); -1 when none.

    The value uses the same operation order as ``DiagonalLine.value_at`` so that the batch and
    incremental forms agree to the last bit. Lines are searched in rounds over growing windows,
    so a line costs about twice the bars until its break.
    """
    size = close.shape[0]
    count = i1.shape[0]
    result = np.full(count, -1, dtype=np.int64)
    pending = np.arange(count)
    start = i2.astype(np.int64) + 1
    width = 8
    rise = p2 - p1
    run = (i2 - i1).astype(np.float64)
    while pending.size:
        s = start[pending]
        cols = s[:, None] + np.arange(width, dtype=np.int64)[None, :]
        inside = cols < size
        dj = (cols - i1[pending][:, None]).astype(np.float64)
        value = p1[pending][:, None] + rise[pending][:, None] * dj / run[pending][:, None]
        price = close[np.minimum(cols, size - 1)]
        hit = ((price > value) if above else (price < value)) & inside
        found = hit.any(axis=1)
        result[pending[found]] = s[found] + hit[found].argmax(axis=1)
        more = ~found & (s + width < size)
        start[pending[more]] = s[more] + width
        pending = pending[more]
        width = max(8, min(width * 2, _BLOCK // max(1, pending.size)))
    return result
