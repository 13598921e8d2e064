"""Horizontal support/resistance lines at fractals, and diagonal trendlines through them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from numpy.typing import ArrayLike

from tradealerts.core.indicators._search import first_beyond_level, first_beyond_line
from tradealerts.core.indicators._series import (
    FloatArray,
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


@dataclass(frozen=True, slots=True)
class HorizontalLine:
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


@dataclass(frozen=True, slots=True)
class DiagonalLine:
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


def _broken(idx: int) -> int | None:
    return None if idx < 0 else idx


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
    res_broken = first_beyond_level(c, up + 1, h[up], above=True)
    sup_broken = first_beyond_level(c, down + 1, lo[down], above=False)
    lines = [
        HorizontalLine("resistance", float(h[i]), int(i), int(i) + n, _broken(int(b)))
        for i, b in zip(up.tolist(), res_broken.tolist(), strict=True)
    ]
    lines += [
        HorizontalLine("support", float(lo[i]), int(i), int(i) + n, _broken(int(b)))
        for i, b in zip(down.tolist(), sup_broken.tolist(), strict=True)
    ]
    lines.sort(key=lambda ln: (ln.origin, ln.kind != "resistance"))
    if max_active is not None and c.shape[0]:
        lines = limit_active(lines, float(c[-1]), max_active)
    return lines


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
    lines: list[DiagonalLine] = []
    for kind, idx, price, falling in (("resistance", up, h, True), ("support", down, lo, False)):
        if idx.shape[0] < 2:
            continue
        a, b = idx[:-1], idx[1:]
        pa, pb = price[a], price[b]
        pick = (pb < pa) if falling else (pb > pa)
        a, b, pa, pb = a[pick], b[pick], pa[pick], pb[pick]
        broken = first_beyond_line(c, a, pa, b, pb, above=kind == "resistance")
        lines += [
            DiagonalLine(kind, i1, p1, i2, p2, _broken(k))  # type: ignore[arg-type]
            for i1, p1, i2, p2, k in zip(
                a.tolist(), pa.tolist(), b.tolist(), pb.tolist(), broken.tolist(), strict=True
            )
        ]
    lines.sort(key=lambda ln: (ln.i2, ln.kind != "resistance"))
    return lines


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
