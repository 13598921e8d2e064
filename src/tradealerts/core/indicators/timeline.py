"""A whole series' fractals and lines at once, and the incremental state as of any bar.

``IndicatorState.update`` costs ~25 µs a bar in Python. A backtest over 5,000 bars that only
looks at some of them builds the indicators once with the batch functions (a few ms) and
reads what the incremental state would hold after bar ``t`` from the columns: a line exists
from its confirmation bar (``origin + n``, ``i2 + n``), its ``broken`` is known only from the
breaking bar on, and the lines keep the order ``update`` appends them in (by confirmation,
resistance first), which is the batch functions' order. A test holds ``advance`` and
``changes_at`` to ``update``, bar by bar.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from tradealerts.core.indicators._series import BoolArray, FloatArray, IntArray
from tradealerts.core.indicators.fractals import find_fractals
from tradealerts.core.indicators.incremental import IndicatorChanges, IndicatorState
from tradealerts.core.indicators.lines import _check_hlc, diagonal_columns, horizontal_columns

__all__ = ["LineBars", "LineTimeline"]


class LineBars(NamedTuple):
    """Every (line, bar) pair in which a line exists, flattened: the bar ``j`` (from the
    line's confirmation to its break, both included), the line's value at ``j``, its side
    (True: support) and whether it is a trendline; ``line`` is its position in its columns."""

    bar: IntArray
    value: FloatArray
    support: BoolArray
    diagonal: BoolArray
    line: IntArray


class LineTimeline:
    """The batch indicators of a whole series, read as of any bar."""

    def __init__(self, high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 2) -> None:
        h, lo, c, n = _check_hlc(high, low, close, n)
        self.n, self.high, self.low, self.close = n, h, lo, c
        self.up, self.down = find_fractals(h, lo, n)
        self.h_support, self.h_price, self.h_origin, self.h_broken = horizontal_columns(
            h, lo, c, self.up, self.down
        )
        (self.d_support, self.d_i1, self.d_p1, self.d_i2, self.d_p2, self.d_broken) = (
            diagonal_columns(h, lo, c, self.up, self.down)
        )
        #: the bar that confirms each line (it exists in the state from that bar on)
        self.h_confirmed = self.h_origin + n
        self.d_confirmed = self.d_i2 + n
        self._up_at = np.zeros(len(c) + 1, bool)
        self._up_at[self.up] = True
        self._down_at = np.zeros(len(c) + 1, bool)
        self._down_at[self.down] = True

    def __len__(self) -> int:
        return int(self.close.shape[0])

    def state_before(self, first: int) -> IndicatorState:
        """The state holding bars ``0 .. first - 1`` (what ``from_arrays`` builds of them)."""
        s = slice(0, first)
        return IndicatorState.from_arrays(self.high[s], self.low[s], self.close[s], self.n)

    def fractal_bars(self, up: bool) -> BoolArray:
        """Per bar ``t``: a fractal (up or down) at ``t`` (confirmed at ``t + n``)."""
        return self._up_at[:-1] if up else self._down_at[:-1]

    def broken_active(self, diagonal: bool) -> IntArray:
        """Per line: the bar whose close broke it while it was active, or -1 (never broken,
        or broken no later than its confirmation: ``update`` never lists those)."""
        broken = self.d_broken if diagonal else self.h_broken
        confirmed = self.d_confirmed if diagonal else self.h_confirmed
        return np.where(broken > confirmed, broken, -1)

    def changes_at(self, t: int) -> IndicatorChanges:
        """What ``update`` returns for bar ``t``."""
        n = self.n
        ch = IndicatorChanges(bar=t)
        c = t - n
        if c >= n:
            ch.up_fractal = c if self._up_at[c] else None
            ch.down_fractal = c if self._down_at[c] else None
        ch.new_horizontal = _between(self.h_confirmed, t, t)
        ch.new_diagonal = _between(self.d_confirmed, t, t)
        # broken while active (confirmed before t), in position order as _break_active
        ch.broken_horizontal = np.flatnonzero(
            (self.h_broken == t) & (self.h_confirmed < t)
        ).tolist()
        ch.broken_diagonal = np.flatnonzero((self.d_broken == t) & (self.d_confirmed < t)).tolist()
        return ch

    def advance(self, state: IndicatorState, t: int) -> None:
        """Bring ``state`` (holding bars ``0 .. s - 1``, ``s <= t + 1``, of this series) to
        the state ``update`` would leave after bar ``t``."""
        s = len(state.close)
        if t < s:
            return
        n, end = self.n, t + 1
        state.close.frombytes(self.close[s:end].tobytes())
        state._recent_high.extend(self.high[max(s, end - 2 * n - 1) : end].tolist())
        state._recent_low.extend(self.low[max(s, end - 2 * n - 1) : end].tolist())
        for idx, marks, prices, price in (
            (self.up, state.up, state.up_price, self.high),
            (self.down, state.down, state.down_price, self.low),
        ):
            # fractals at bars s - n .. t - n are confirmed by bars s .. t
            a, b = np.searchsorted(idx, [s - n, end - n])
            marks.frombytes(idx[a:b].astype(np.int64).tobytes())
            prices.frombytes(price[idx[a:b]].tobytes())
        hc, dc = state.horizontal, state.diagonal
        h_old, d_old = len(hc), len(dc)
        h_new = int(np.searchsorted(self.h_confirmed, end))
        d_new = int(np.searchsorted(self.d_confirmed, end))
        h_broken = np.where((self.h_broken >= 0) & (self.h_broken <= t), self.h_broken, -1)
        d_broken = np.where((self.d_broken >= 0) & (self.d_broken <= t), self.d_broken, -1)
        for k in np.flatnonzero(h_broken[:h_old] >= s).tolist():
            hc.set_broken(k, int(h_broken[k]))
        for k in np.flatnonzero(d_broken[:d_old] >= s).tolist():
            dc.set_broken(k, int(d_broken[k]))
        new = slice(h_old, h_new)
        hc.support.frombytes(self.h_support[new].astype(np.int8).tobytes())
        hc.price.frombytes(self.h_price[new].tobytes())
        hc.origin.frombytes(self.h_origin[new].astype(np.int64).tobytes())
        hc.broken.frombytes(h_broken[new].astype(np.int64).tobytes())
        new = slice(d_old, d_new)
        dc.support.frombytes(self.d_support[new].astype(np.int8).tobytes())
        dc.i1.frombytes(self.d_i1[new].astype(np.int64).tobytes())
        dc.p1.frombytes(self.d_p1[new].tobytes())
        dc.i2.frombytes(self.d_i2[new].astype(np.int64).tobytes())
        dc.p2.frombytes(self.d_p2[new].tobytes())
        dc.broken.frombytes(d_broken[new].astype(np.int64).tobytes())
        state._active_h = np.flatnonzero(h_broken[:h_new] < 0).tolist()
        state._active_d = np.flatnonzero(d_broken[:d_new] < 0).tolist()

    def line_bars(self, first: int, last: int) -> LineBars:
        """Every (line, bar) with the bar in ``first .. last`` and the line existing there
        (from its confirmation bar to its breaking bar, both included)."""
        size = len(self)
        parts = []
        for diagonal in (False, True):
            confirmed = self.d_confirmed if diagonal else self.h_confirmed
            broken = self.d_broken if diagonal else self.h_broken
            lo = np.maximum(confirmed, first)
            hi = np.minimum(np.where(broken < 0, size - 1, broken), last)
            count = np.maximum(hi - lo + 1, 0)
            line = np.repeat(np.arange(count.shape[0]), count)
            starts = np.cumsum(count) - count
            bar = lo[line] + (np.arange(line.shape[0]) - starts[line])
            if diagonal:
                p1, i1 = self.d_p1[line], self.d_i1[line]
                value = p1 + (self.d_p2[line] - p1) * (bar - i1) / (self.d_i2[line] - i1)
                support = self.d_support[line]
            else:
                value, support = self.h_price[line], self.h_support[line]
            flag = np.full(line.shape[0], diagonal)
            parts.append((bar, value, support.astype(bool), flag, line))
        bar, value, support, flag, line = (np.concatenate(p) for p in zip(*parts, strict=True))
        return LineBars(bar, value, support, flag, line)


def _between(values: IntArray, lo: int, hi: int) -> list[int]:
    """Positions of a sorted column whose values lie in ``lo .. hi``."""
    a, b = np.searchsorted(values, [lo, hi + 1])
    return list(range(int(a), int(b)))
