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

from bisect import bisect_left, bisect_right
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from tradealerts.core.indicators._series import BoolArray, FloatArray, IntArray
from tradealerts.core.indicators.columns import DiagonalColumns, HorizontalColumns
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


#: ``line_bars`` answers kept (a block of 2,048 bars is a few MB)
_KEPT_BLOCKS = 4


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
        self._line_bars: dict[tuple[int, int], LineBars] = {}  # line_bars' last answers
        self._up_at = np.zeros(len(c) + 1, bool)
        self._up_at[self.up] = True
        self._down_at = np.zeros(len(c) + 1, bool)
        self._down_at[self.down] = True
        # plain lists for the per-bar reads (bisect on a list beats a numpy call per bar)
        self._h_conf: list[int] = self.h_confirmed.tolist()
        self._d_conf: list[int] = self.d_confirmed.tolist()
        self._ohlc: tuple[list[float], list[float], list[float]] = (
            c.tolist(),
            h.tolist(),
            lo.tolist(),
        )
        self._up_list: list[int] = self.up.tolist()
        self._down_list: list[int] = self.down.tolist()
        #: the columns as lists, in ``columns()`` order (horizontal, diagonal)
        self._lists: tuple[list[list[Any]], list[list[Any]]] = (
            [
                a.tolist()
                for a in (self.h_support.astype(int), self.h_price, self.h_origin, self.h_broken)
            ],
            [
                a.tolist()
                for a in (
                    self.d_support.astype(int),
                    self.d_i1,
                    self.d_p1,
                    self.d_i2,
                    self.d_p2,
                    self.d_broken,
                )
            ],
        )
        self._h_breaks = _by_bar(self.h_broken)
        self._d_breaks = _by_bar(self.d_broken)

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
        ch.new_horizontal = list(range(bisect_left(self._h_conf, t), bisect_right(self._h_conf, t)))
        ch.new_diagonal = list(range(bisect_left(self._d_conf, t), bisect_right(self._d_conf, t)))
        # broken while active (confirmed before t), in position order as _break_active
        h_conf, d_conf = self._h_conf, self._d_conf
        ch.broken_horizontal = [k for k in _broken_in(self._h_breaks, t, t) if h_conf[k] < t]
        ch.broken_diagonal = [k for k in _broken_in(self._d_breaks, t, t) if d_conf[k] < t]
        return ch

    def advance(self, state: IndicatorState, t: int) -> None:
        """Bring ``state`` (holding bars ``0 .. s - 1``, ``s <= t + 1``, of this series) to
        the state ``update`` would leave after bar ``t``."""
        s = len(state.close)
        if t < s:
            return
        n, end = self.n, t + 1
        close, high, low = self._ohlc
        state.close.extend(close[s:end])
        state._recent_high.extend(high[max(s, end - 2 * n - 1) : end])
        state._recent_low.extend(low[max(s, end - 2 * n - 1) : end])
        for marks_all, marks, prices, price in (
            (self._up_list, state.up, state.up_price, high),
            (self._down_list, state.down, state.down_price, low),
        ):
            # fractals at bars s - n .. t - n are confirmed by bars s .. t
            found = marks_all[bisect_left(marks_all, s - n) : bisect_left(marks_all, end - n)]
            if found:
                marks.extend(found)
                prices.extend([price[k] for k in found])
        state._active_h = self._advance_lines(state.horizontal, state._active_h, s, t, False)
        state._active_d = self._advance_lines(state.diagonal, state._active_d, s, t, True)

    def _advance_lines(
        self,
        cols: HorizontalColumns | DiagonalColumns,
        active: list[int],
        s: int,
        t: int,
        diagonal: bool,
    ) -> list[int]:
        """Lines broken by bars ``s .. t`` marked, those confirmed by them appended; the
        active positions after ``t``."""
        old = len(cols)
        new = bisect_right(self._d_conf if diagonal else self._h_conf, t)
        gone = _broken_in(self._d_breaks if diagonal else self._h_breaks, s, t)
        if not gone and new == old:  # most bars: no line confirmed or broken
            return active
        broken = self.d_broken if diagonal else self.h_broken
        for k in gone:
            if k < old:
                cols.set_broken(k, int(broken[k]))
        shown = [b if b <= t else -1 for b in self._lists[diagonal][-1][old:new]]
        for column, values in zip(_arrays(cols), self._lists[diagonal], strict=True):
            column.extend(shown if column is cols.broken else values[old:new])
        if gone:
            dropped = set(gone)
            active = [k for k in active if k not in dropped]
        else:
            active = list(active)
        active += [old + j for j, b in enumerate(shown) if b < 0]
        return active

    def d_value(self, line: IntArray, bar: IntArray) -> FloatArray:
        """Trendlines' values at bars (positions and bars broadcast together), to the bit
        what ``DiagonalLine.value_at`` gives."""
        p1, i1 = self.d_p1[line], self.d_i1[line]
        value: FloatArray = p1 + (self.d_p2[line] - p1) * (bar - i1) / (self.d_i2[line] - i1)
        return value

    def line_bars(self, first: int, last: int) -> LineBars:
        """Every (line, bar) with the bar in ``first .. last`` and the line existing there
        (from its confirmation bar to its breaking bar, both included). Read-only arrays,
        kept for the next alert of the series that asks for the same bars (a backtest's
        touches and bounces read the same blocks)."""
        key = (first, last)
        found = self._line_bars.get(key)
        if found is None:
            found = self._line_bars[key] = self._make_line_bars(first, last)
            for array in found:
                array.flags.writeable = False
            while len(self._line_bars) > _KEPT_BLOCKS:
                del self._line_bars[next(iter(self._line_bars))]
        return found

    def _make_line_bars(self, first: int, last: int) -> LineBars:
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
                value = self.d_value(line, bar)
                support = self.d_support[line]
            else:
                value, support = self.h_price[line], self.h_support[line]
            flag = np.full(line.shape[0], diagonal)
            parts.append((bar, value, support.astype(bool), flag, line))
        bar, value, support, flag, line = (np.concatenate(p) for p in zip(*parts, strict=True))
        return LineBars(bar, value, support, flag, line)


def _arrays(cols: HorizontalColumns | DiagonalColumns) -> tuple[Any, ...]:
    """The columns' arrays, in the batch functions' column order."""
    if isinstance(cols, DiagonalColumns):
        return (cols.support, cols.i1, cols.p1, cols.i2, cols.p2, cols.broken)
    return (cols.support, cols.price, cols.origin, cols.broken)


def _by_bar(broken: IntArray) -> tuple[list[int], list[int]]:
    """The broken lines by the bar that broke them (position order within a bar): (bars,
    positions)."""
    idx = np.flatnonzero(broken >= 0)
    order = idx[np.argsort(broken[idx], kind="stable")]
    return broken[order].tolist(), order.tolist()


def _broken_in(breaks: tuple[list[int], list[int]], lo: int, hi: int) -> list[int]:
    """Positions of the lines broken by bars ``lo .. hi``."""
    bars, positions = breaks
    return positions[bisect_left(bars, lo) : bisect_right(bars, hi)]
