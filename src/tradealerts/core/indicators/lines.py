"""Horizontal support/resistance lines at fractals, and diagonal trendlines through them."""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from tradealerts.core.indicators._search import first_beyond_level, first_beyond_line
from tradealerts.core.indicators._series import (
    BoolArray,
    FloatArray,
    IntArray,
    as_series,
    check_window,
    same_length,
)
from tradealerts.core.indicators.fractals import find_fractals

__all__ = [
    "DiagonalLine",
    "HorizontalLine",
    "LineKind",
    "diagonal_lines",
    "horizontal_lines",
    "nearest_active",
]

LineKind = Literal["support", "resistance"]


class HorizontalLine(NamedTuple):
    """A level at a fractal: resistance at an up fractal's high, support at a down's low.

    ``origin`` is the fractal bar, ``confirmed`` the bar that completed it (origin + n),
    ``broken`` the first later closed bar whose close is strictly beyond it, or None.
    """

    kind: LineKind
    price: float
    origin: int
    confirmed: int
    broken: int | None = None

    @property
    def active(self) -> bool:
        return self.broken is None


class DiagonalLine(NamedTuple):
    """A trendline through two consecutive fractals of one side, in bar-index space.

    Resistance: two up fractals, the second high lower. Support: two down fractals, the
    second low higher. ``broken`` is the first closed bar after ``i2`` whose close is strictly
    beyond the line (it may precede the second fractal's confirmation), or None.
    """

    kind: LineKind
    i1: int
    p1: float
    i2: int
    p2: float
    broken: int | None = None

    @property
    def slope(self) -> float:
        """Price change per bar."""
        return (self.p2 - self.p1) / (self.i2 - self.i1)

    @property
    def active(self) -> bool:
        return self.broken is None

    def value_at(self, j: int) -> float:
        """The line's price at bar ``j``: p1 + (p2 − p1)·(j − i1)/(i2 − i1)."""
        return self.p1 + (self.p2 - self.p1) * float(j - self.i1) / float(self.i2 - self.i1)


def _check_hlc(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int
) -> tuple[FloatArray, FloatArray, FloatArray, int]:
    h = as_series("high", high)
    lo = as_series("low", low)
    c = as_series("close", close)
    same_length(high=h, low=lo, close=c)
    return h, lo, c, check_window(n)


def horizontal_lines(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    n: int = 2,
    max_active: int | None = None,
) -> list[HorizontalLine]:
    """Every horizontal line of the series, ordered by origin (resistance first on a tie).

    ``max_active`` keeps, per side, only that many active lines: the nearest to the last close.
    Broken lines are all kept.
    """
    h, lo, c, n = _check_hlc(high, low, close, n)
    up, down = find_fractals(h, lo, n)
    is_support, price, origin, broken = horizontal_columns(h, lo, c, up, down)
    lines = [
        HorizontalLine("support" if sup else "resistance", p, i, i + n, None if b < 0 else b)
        for sup, p, i, b in zip(
            is_support.tolist(), price.tolist(), origin.tolist(), broken.tolist(), strict=True
        )
    ]
    if max_active is not None and c.shape[0]:
        lines = limit_active(lines, float(c[-1]), max_active)
    return lines


def horizontal_columns(
    h: FloatArray, lo: FloatArray, c: FloatArray, up: IntArray, down: IntArray
) -> tuple[BoolArray, FloatArray, IntArray, IntArray]:
    """``horizontal_lines`` as columns (is_support, price, origin, broken; broken -1 where
    not broken), from checked series and their fractals."""
    broken = np.concatenate(
        (
            first_beyond_level(c, up + 1, h[up], above=True),
            first_beyond_level(c, down + 1, lo[down], above=False),
        )
    )
    origin = np.concatenate((up, down))
    price = np.concatenate((h[up], lo[down]))
    is_support = np.r_[np.zeros(up.shape[0], bool), np.ones(down.shape[0], bool)]
    order = np.lexsort((is_support, origin))  # by origin, resistance first on a tie
    return is_support[order], price[order], origin[order], broken[order]


def limit_active(
    lines: list[HorizontalLine], last_close: float, max_active: int
) -> list[HorizontalLine]:
    """Keep every broken line and, per side, the ``max_active`` active lines nearest the close."""
    if max_active < 0:
        raise ValueError(f"max_active must be 0 or more, got {max_active}")
    keep: set[int] = set()
    for kind in ("resistance", "support"):
        active = [
            (abs(ln.price - last_close), k)
            for k, ln in enumerate(lines)
            if ln.kind == kind and ln.broken is None
        ]
        active.sort()
        keep.update(k for _, k in active[:max_active])
    return [ln for k, ln in enumerate(lines) if ln.broken is not None or k in keep]


def diagonal_lines(
    high: ArrayLike, low: ArrayLike, close: ArrayLike, n: int = 2
) -> list[DiagonalLine]:
    """Every trendline of the series, ordered by second point (resistance first on a tie)."""
    h, lo, c, n = _check_hlc(high, low, close, n)
    up, down = find_fractals(h, lo, n)
    is_support, i1, p1, i2, p2, broken = diagonal_columns(h, lo, c, up, down)
    return [
        DiagonalLine("support" if sup else "resistance", a, pa, b, pb, None if k < 0 else k)
        for sup, a, pa, b, pb, k in zip(
            is_support.tolist(),
            i1.tolist(),
            p1.tolist(),
            i2.tolist(),
            p2.tolist(),
            broken.tolist(),
            strict=True,
        )
    ]


def diagonal_columns(
    h: FloatArray, lo: FloatArray, c: FloatArray, up: IntArray, down: IntArray
) -> tuple[BoolArray, IntArray, FloatArray, IntArray, FloatArray, IntArray]:
    """``diagonal_lines`` as columns (is_support, i1, p1, i2, p2, broken; broken -1 where not
    broken), from checked series and their fractals."""
    parts = []
    for idx, price, resistance in ((up, h, True), (down, lo, False)):
        a, b = idx[:-1], idx[1:]
        pa, pb = price[a], price[b]
        pick = (pb < pa) if resistance else (pb > pa)
        a, b, pa, pb = a[pick], b[pick], pa[pick], pb[pick]
        broken = first_beyond_line(c, a, pa, b, pb, above=resistance)
        parts.append((a, pa, b, pb, broken, np.full(a.shape[0], not resistance)))
    i1, p1, i2, p2, broken, is_support = (np.concatenate(cols) for cols in zip(*parts, strict=True))
    order = np.lexsort((is_support, i2))  # by second point, resistance first on a tie
    return (
        is_support[order],
        i1[order],
        p1[order],
        i2[order],
        p2[order],
        broken[order],
    )


def nearest_active(
    lines: list[HorizontalLine], price: float, kind: LineKind
) -> HorizontalLine | None:
    """The active line of ``kind`` nearest to ``price``, or None."""
    best: HorizontalLine | None = None
    for ln in lines:
        if (
            ln.kind == kind
            and ln.broken is None
            and (best is None or abs(ln.price - price) < abs(best.price - price))
        ):
            best = ln
    return best
