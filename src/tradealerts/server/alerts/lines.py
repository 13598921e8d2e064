"""The fractal side of matching: lines as alerts see them, touches, breaks and new fractals.

Lines come from the series' ``IndicatorState`` (bar indices) and are named with the stable
ids of the indicator payload, so ``line_id`` survives restarts and recomputes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradealerts.core.alerts import Side
from tradealerts.core.indicators import DiagonalLine, HorizontalLine, IndicatorChanges
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.server.engine.market import SeriesState

__all__ = [
    "GONE",
    "Band",
    "LineRef",
    "active_lines",
    "broken_line",
    "find_line",
    "new_fractal",
    "touch_bands",
    "touch_hit",
]


@dataclass(frozen=True, slots=True)
class LineRef:
    """A line at one bar: its id, kind, shape and value there."""

    line_id: str
    kind: str
    diagonal: bool
    value: float

    @property
    def label(self) -> str:
        """``support``, ``resistance trendline``…: the words of a default message."""
        return f"{self.kind} trendline" if self.diagonal else self.kind


#: (low, high, line): prices within ``distance`` of a line, edges included.
Band = tuple[float, float, LineRef]
#: ``broken_line``'s answer for an alert whose chosen line is no longer active.
GONE = LineRef("", "", False, float("nan"))


def _hid(series: SeriesState, ln: HorizontalLine) -> str:
    return horizontal_line_id(ln.kind, int(series.bars.time[ln.origin]))


def _did(series: SeriesState, dl: DiagonalLine) -> str:
    times = series.bars.time
    return diagonal_line_id(dl.kind, int(times[dl.i1]), int(times[dl.i2]))


def active_lines(series: SeriesState, index: int) -> list[LineRef]:
    """Active horizontal lines, then active trendlines, with their values at bar ``index``."""
    ind = series.indicators
    out = [LineRef(_hid(series, ln), ln.kind, False, ln.price) for ln in ind.active_horizontal()]
    out += [
        LineRef(_did(series, d), d.kind, True, d.value_at(index)) for d in ind.active_diagonal()
    ]
    return out


def find_line(series: SeriesState, line_id: str) -> LineRef | None:
    """The active line with this id (value at the forming bar), or None: for the API to check
    a chosen line when an alert is created."""
    for ref in active_lines(series, len(series.bars)):
        if ref.line_id == line_id:
            return ref
    return None


def _wanted(ref: LineRef, side: Side, line_id: str | None) -> bool:
    if line_id is not None:
        return ref.line_id == line_id
    return side == Side.either or ref.kind == side.value


def touch_bands(
    lines: list[LineRef], side: Side, line_id: str | None, distance: float
) -> tuple[Band, ...] | None:
    """The bands a line_touch alert watches; None when its chosen line is not active."""
    bands = tuple(
        (ref.value - distance, ref.value + distance, ref)
        for ref in lines
        if _wanted(ref, side, line_id)
    )
    return None if line_id is not None and not bands else bands


def touch_hit(price: float, bands: tuple[Band, ...] | None) -> LineRef | None:
    """The line nearest to ``price`` among those whose band holds it (the first on a tie)."""
    best: LineRef | None = None
    for lo, hi, ref in bands or ():
        if lo <= price <= hi and (best is None or abs(price - ref.value) < abs(price - best.value)):
            best = ref
    return best


def _nearest(refs: list[LineRef], price: float, kind: str) -> LineRef | None:
    best: LineRef | None = None
    for ref in refs:
        if ref.kind == kind and (best is None or abs(ref.value - price) < abs(best.value - price)):
            best = ref
    return best


def broken_line(
    series: SeriesState,
    changes: IndicatorChanges,
    diagonal: bool,
    side: Side,
    line_id: str | None,
) -> LineRef | None:
    """The watched line that the bar just closed (``changes.bar``) broke; None; or ``GONE``
    when the chosen ``line_id`` is neither active nor broken by this bar.

    Horizontal (line_break): without ``line_id`` the alert watches, per side, the line nearest
    to the previous close among those active before this bar. Diagonal (trendline_break):
    every active trendline of the side; of several broken at once, the one nearest the close.
    A trendline's value is taken at the breaking bar.
    """
    ind, t = series.indicators, changes.bar
    if diagonal:
        refs = [
            LineRef(_did(series, d), d.kind, True, d.value_at(t))
            for d in (ind.diagonal[k] for k in changes.broken_diagonal)
        ]
    else:
        refs = [
            LineRef(_hid(series, ln), ln.kind, False, ln.price)
            for ln in (ind.horizontal[k] for k in changes.broken_horizontal)
        ]
    if line_id is not None:
        hit = next((r for r in refs if r.line_id == line_id), None)
        if hit is None and all(r.line_id != line_id for r in active_lines(series, t)):
            return GONE
        return hit
    kinds = ("resistance", "support") if side == Side.either else (side.value,)
    close = ind.close[t]
    if diagonal:
        hits = [r for r in refs if r.kind in kinds]
        return min(hits, key=lambda r: abs(r.value - close)) if hits else None
    # the lines active before this bar: still active, or broken by it. (A line confirmed by
    # this bar is among the first, but can never be nearer than a line this bar broke.)
    before = [
        LineRef(_hid(series, ln), ln.kind, False, ln.price) for ln in ind.active_horizontal()
    ] + refs
    previous = ind.close[t - 1] if t >= 1 else close
    broken_ids = {r.line_id for r in refs}
    for kind in kinds:
        watched = _nearest(before, previous, kind)
        if watched is not None and watched.line_id in broken_ids:
            return watched
    return None


def new_fractal(
    series: SeriesState, changes: IndicatorChanges, side: Side
) -> tuple[float, str] | None:
    """(price, "up"/"down") of a fractal the bar just confirmed; up first when both."""
    ind = series.indicators
    if changes.up_fractal is not None and side in (Side.up, Side.either):
        return ind.fractal_price(changes.up_fractal, up=True), "up"
    if changes.down_fractal is not None and side in (Side.down, Side.either):
        return ind.fractal_price(changes.down_fractal, up=False), "down"
    return None
