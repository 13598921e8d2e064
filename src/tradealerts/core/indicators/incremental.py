"""The indicators kept up to date one closed bar at a time, for the engine.

``IndicatorState.update`` after bar t gives exactly what the batch functions give for bars
0..t+1; a hypothesis property in the tests holds it to that.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from tradealerts.core.indicators._series import FloatArray, IntArray, check_window
from tradealerts.core.indicators.columns import DiagonalColumns, HorizontalColumns
from tradealerts.core.indicators.fractals import find_fractals, is_down_fractal, is_up_fractal
from tradealerts.core.indicators.lines import (
    DiagonalLine,
    HorizontalLine,
    _check_hlc,
    diagonal_columns,
    horizontal_columns,
    limit_active,
)

__all__ = ["IndicatorChanges", "IndicatorState"]


@dataclass
class IndicatorChanges:
    """What one closed bar changed: new fractals, new lines and lines it broke.

    Indices in ``new_*`` and ``broken_*`` refer to positions in the state's line lists.
    """

    bar: int
    up_fractal: int | None = None
    down_fractal: int | None = None
    new_horizontal: list[int] = field(default_factory=list)
    new_diagonal: list[int] = field(default_factory=list)
    broken_horizontal: list[int] = field(default_factory=list)
    broken_diagonal: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.up_fractal is not None
            or self.down_fractal is not None
            or self.new_horizontal
            or self.new_diagonal
            or self.broken_horizontal
            or self.broken_diagonal
        )


class IndicatorState:
    """Fractals and lines of a growing series of closed bars.

    ``horizontal`` and ``diagonal`` are sequences of ``HorizontalLine`` / ``DiagonalLine``
    kept in columns (see ``columns``): a line object is made when one is read.
    """

    def __init__(self, n: int = 2) -> None:
        self.n = check_window(n)
        # array('d'): 8 bytes a value (a list of floats costs ~32), same O(1) append and index
        self.close = array("d")
        self.up = array("q")  # bar indices of fractals, oldest first
        self.down = array("q")
        self.up_price = array("d")  # their highs / lows, in the same order
        self.down_price = array("d")
        # Highs and lows only of the last 2n + 1 bars: all the next fractal test needs (the
        # full columns are in the series' Bars; a second copy here cost 16 bytes a bar).
        self._recent_high: deque[float] = deque(maxlen=2 * self.n + 1)
        self._recent_low: deque[float] = deque(maxlen=2 * self.n + 1)
        self.horizontal = HorizontalColumns(self.n)
        self.diagonal = DiagonalColumns()
        # positions (in the sequences above) of lines not yet broken
        self._active_h: list[int] = []
        self._active_d: list[int] = []

    @classmethod
    def from_arrays(
        cls, high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 2
    ) -> IndicatorState:
        """A state for a whole series at once, with the batch functions."""
        h, lo, c, n = _check_hlc(high, low, close, n)
        st = cls(n)
        st._recent_high.extend(h[-(2 * n + 1) :].tolist())
        st._recent_low.extend(lo[-(2 * n + 1) :].tolist())
        st._load(h, lo, c, *find_fractals(h, lo, n))
        return st

    def _load(
        self, h: FloatArray, lo: FloatArray, c: FloatArray, up: IntArray, down: IntArray
    ) -> None:
        """Fill an empty state from a whole series at once: its closes, its fractals (``up``
        and ``down`` bars, priced at ``h`` and ``lo`` there) and the lines the batch
        functions draw through them."""
        self.close.frombytes(c.tobytes())
        self.up.frombytes(up.astype(np.int64).tobytes())
        self.down.frombytes(down.astype(np.int64).tobytes())
        self.up_price.frombytes(h[up].tobytes())
        self.down_price.frombytes(lo[down].tobytes())
        hc = horizontal_columns(h, lo, c, up, down)
        dc = diagonal_columns(h, lo, c, up, down)
        self.horizontal = HorizontalColumns.from_arrays(self.n, *hc)
        self.diagonal = DiagonalColumns.from_arrays(*dc)
        self._active_h = np.flatnonzero(hc[-1] < 0).tolist()
        self._active_d = np.flatnonzero(dc[-1] < 0).tolist()

    def __len__(self) -> int:
        return len(self.close)

    def update(self, high: float, low: float, close: float) -> IndicatorChanges:
        """Add one closed bar; return what it changed."""
        for name, v in (("high", high), ("low", low), ("close", close)):
            if not np.isfinite(v):
                raise ValueError(f"{name} is not a finite number: {v!r}")
        t = len(self.close)
        self.close.append(float(close))
        self._recent_high.append(float(high))
        self._recent_low.append(float(low))
        ch = IndicatorChanges(bar=t)
        self._break_active(t, ch)
        c = t - self.n
        if c >= self.n:
            # the recent windows hold bars c - n .. c + n: bar c sits at position n
            n, highs, lows = self.n, self._recent_high, self._recent_low
            if is_up_fractal(highs, n, n):
                self._add_fractal(c, highs[n], "resistance", ch)
            if is_down_fractal(lows, n, n):
                self._add_fractal(c, lows[n], "support", ch)
        return ch

    def fractal_price(self, bar: int, up: bool) -> float:
        """The high of the up fractal (``up``) or the low of the down fractal at ``bar``;
        KeyError when there is none."""
        marks, prices = (self.up, self.up_price) if up else (self.down, self.down_price)
        k = bisect_left(marks, bar)
        if k == len(marks) or marks[k] != bar:
            raise KeyError(f"no {'up' if up else 'down'} fractal at bar {bar}")
        return prices[k]

    # -- internals -----------------------------------------------------------------------
    def _break_active(self, t: int, ch: IndicatorChanges) -> None:
        close = self.close[t]
        hc = self.horizontal
        price, support = hc.price, hc.support
        still: list[int] = []
        for k in self._active_h:
            p = price[k]
            if (close < p) if support[k] else (close > p):
                hc.set_broken(k, t)
                ch.broken_horizontal.append(k)
            else:
                still.append(k)
        self._active_h = still
        dc = self.diagonal
        still = []
        for k in self._active_d:
            v = dc.value_at(k, t)
            if (close < v) if dc.support[k] else (close > v):
                dc.set_broken(k, t)
                ch.broken_diagonal.append(k)
            else:
                still.append(k)
        self._active_d = still

    def _first_break(
        self, start: int, beyond: float | DiagonalLine, resistance: bool
    ) -> int | None:
        for j in range(start, len(self.close)):
            level = beyond.value_at(j) if isinstance(beyond, DiagonalLine) else beyond
            c = self.close[j]
            if (c > level) if resistance else (c < level):
                return j
        return None

    def _mark_fractal(
        self, c: int, price: float, resistance: bool, ch: IndicatorChanges
    ) -> tuple[int | None, float]:
        """Record the fractal at bar ``c``; returns the previous one of its kind (its bar,
        or None, and its price) for the diagonal through both."""
        marks, prices = (self.up, self.up_price) if resistance else (self.down, self.down_price)
        previous = marks[-1] if marks else None
        p0 = prices[-1] if prices else price
        marks.append(c)
        prices.append(price)
        if resistance:
            ch.up_fractal = c
        else:
            ch.down_fractal = c
        return previous, p0

    def _add_fractal(self, c: int, price: float, kind: str, ch: IndicatorChanges) -> None:
        resistance = kind == "resistance"
        previous, p0 = self._mark_fractal(c, price, resistance, ch)
        hl = HorizontalLine(
            "resistance" if resistance else "support",
            price,
            c,
            c + self.n,
            self._first_break(c + 1, price, resistance),
        )
        self.horizontal.append(hl)
        ch.new_horizontal.append(len(self.horizontal) - 1)
        if hl.broken is None:
            self._active_h.append(len(self.horizontal) - 1)
        if previous is None:
            return
        if (price < p0) if resistance else (price > p0):
            dl = DiagonalLine(hl.kind, previous, p0, c, price)
            dl = dl._replace(broken=self._first_break(c + 1, dl, resistance))
            self.diagonal.append(dl)
            ch.new_diagonal.append(len(self.diagonal) - 1)
            if dl.broken is None:
                self._active_d.append(len(self.diagonal) - 1)

    # -- views ---------------------------------------------------------------------------
    def horizontal_lines(self, max_active: int | None = None) -> list[HorizontalLine]:
        """All horizontal lines, as ``horizontal_lines`` would return them."""
        if max_active is None or not self.close:
            return list(self.horizontal)
        return limit_active(list(self.horizontal), self.close[-1], max_active)

    def active_horizontal(self) -> list[HorizontalLine]:
        """The lines not yet broken."""
        return [self.horizontal.line(k) for k in self._active_h]

    def active_horizontal_positions(self) -> list[int]:
        """Positions (in ``horizontal``) of the lines not yet broken, in the order of
        ``active_horizontal``; the caller must not change the list."""
        return self._active_h

    def active_diagonal(self) -> list[DiagonalLine]:
        """The trendlines not yet broken."""
        return [self.diagonal.line(k) for k in self._active_d]

    def active_diagonal_positions(self) -> list[int]:
        """Positions (in ``diagonal``) of the trendlines not yet broken, in the order of
        ``active_diagonal``; the caller must not change the list."""
        return self._active_d
