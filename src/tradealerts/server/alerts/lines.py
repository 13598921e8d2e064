"""The fractal side of matching: lines as alerts see them, touches, breaks and new fractals.

Lines come from the series' ``IndicatorState`` (bar indices) and are named with the stable
ids of the indicator payload, so ``line_id`` survives restarts and recomputes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tradealerts.core.alerts import Side
from tradealerts.core.frozen import quick_init
from tradealerts.core.indicators import DiagonalLine, HorizontalLine, IndicatorChanges
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.core.vector import choose
from tradealerts.server.engine.market import SeriesState

__all__ = [
    "GONE",
    "Band",
    "LineRef",
    "active_lines",
    "band_edges",
    "beyond",
    "bounce_holds",
    "bounce_line",
    "broken_line",
    "confirmed_break",
    "find_line",
    "fractal_pick",
    "new_fractal",
    "touch_bands",
    "touch_hit",
]


@quick_init
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
#: What the alerts of one closed bar share (lines, breaks), computed once for all of them.
Memo = dict[Any, Any]
#: ``broken_line``'s answer for an alert whose chosen line is no longer active.
GONE = LineRef("", "", False, float("nan"))


def _hid(series: SeriesState, ln: HorizontalLine) -> str:
    return horizontal_line_id(ln.kind, int(series.bars.time[ln.origin]))


def _did(series: SeriesState, dl: DiagonalLine) -> str:
    times = series.bars.time
    return diagonal_line_id(dl.kind, int(times[dl.i1]), int(times[dl.i2]))


def _href(series: SeriesState, k: int) -> LineRef:
    """The horizontal line at position ``k`` (cached when the series keeps ``line_refs``: a
    horizontal line's id, kind and price never change)."""
    cache = series.line_refs
    if cache is not None:
        ref: LineRef | None = cache.get(k)
        if ref is not None:
            return ref
    ln = series.indicators.horizontal.line(k)
    ref = LineRef(_hid(series, ln), ln.kind, False, ln.price)
    if cache is not None:
        cache[k] = ref
    return ref


def _hrefs(series: SeriesState) -> list[LineRef]:
    """The active horizontal lines, in ``active_horizontal_positions`` order; the caller must
    not change the list. A series with ``line_refs`` keeps it while the positions stay the
    same (one list compare a close instead of a lookup per line)."""
    positions = series.indicators.active_horizontal_positions()
    cache = series.line_refs
    if cache is None:
        return [_href(series, k) for k in positions]
    held = cache.get("h")
    if held is not None and held[0] == positions:
        refs: list[LineRef] = held[1]
        return refs
    refs = [_href(series, k) for k in positions]
    cache["h"] = (list(positions), refs)
    return refs


def _drefs(series: SeriesState, index: int) -> list[LineRef]:
    """The active trendlines with their values at bar ``index`` (ids and kinds cached when
    the series keeps ``line_refs``; values from the columns, to the bit ``value_at``'s)."""
    ind = series.indicators
    cache = series.line_refs
    if cache is None:
        return [
            LineRef(_did(series, d), d.kind, True, d.value_at(index)) for d in ind.active_diagonal()
        ]
    dc = ind.diagonal
    out = []
    for k in ind.active_diagonal_positions():
        line_id, kind = _dname(series, k)
        out.append(LineRef(line_id, kind, True, dc.value_at(k, index)))
    return out


def _dname(series: SeriesState, k: int) -> tuple[str, str]:
    """(id, kind) of the trendline at position ``k`` (cached when the series keeps
    ``line_refs``: neither ever changes)."""
    cache = series.line_refs
    named: tuple[str, str] | None = None if cache is None else cache.get(("d", k))
    if named is None:
        dl = series.indicators.diagonal.line(k)
        named = (_did(series, dl), dl.kind)
        if cache is not None:
            cache[("d", k)] = named
    return named


def active_lines(series: SeriesState, index: int) -> list[LineRef]:
    """Active horizontal lines, then active trendlines, with their values at bar ``index``.
    The caller must not change the list (a series with ``line_refs`` shares it between the
    alerts of one bar)."""
    ind = series.indicators
    cache = series.line_refs
    shared: dict[int, list[LineRef]] | None = None
    if cache is not None:  # per closed bar: {index: lines} (the matcher asks for two indices)
        bar, shared = cache.get("active") or (-1, {})
        if bar != len(ind.close):
            shared = {}
            cache["active"] = (len(ind.close), shared)
        found = shared.get(index)
        if found is not None:
            return found
    out = _hrefs(series) + _drefs(series, index)
    if shared is not None:
        shared[index] = out
    return out


def find_line(series: SeriesState, line_id: str) -> LineRef | None:
    """The active line with this id (value at the forming bar), or None: for the API to check
    a chosen line when an alert is created."""
    for ref in active_lines(series, len(series.bars)):
        if ref.line_id == line_id:
            return ref
    return None


def band_edges(value: Any, distance: float) -> tuple[Any, Any]:
    """The prices a line_touch band holds, edges included: ``value ± distance`` (one line's
    value or a column of them; a backtest asks a window's rows at once)."""
    return value - distance, value + distance


def touch_bands(
    lines: list[LineRef], side: Side, line_id: str | None, distance: float
) -> tuple[Band, ...] | None:
    """The bands a line_touch alert watches; None when its chosen line is not active."""
    # one filter per case, decided once: this runs for every touch alert at every close
    if line_id is not None:
        chosen = tuple((*band_edges(r.value, distance), r) for r in lines if r.line_id == line_id)
        return chosen or None
    if side == Side.either:
        return tuple((*band_edges(r.value, distance), r) for r in lines)
    kind = side.value
    return tuple((*band_edges(r.value, distance), r) for r in lines if r.kind == kind)


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
    before = _hrefs(series) + refs
    previous = ind.close[t - 1] if t >= 1 else close
    broken_ids = {r.line_id for r in refs}
    for kind in kinds:
        watched = _nearest(before, previous, kind)
        if watched is not None and watched.line_id in broken_ids:
            return watched
    return None


def fractal_pick(up: Any, down: Any, side: Side) -> tuple[Any, Any]:
    """(whether a new_fractal alert of ``side`` fires, whether on the up fractal) for a
    close that confirmed an up (``up``) and/or a down fractal: up first when both. For one
    close (bools) or a window's closes (bool arrays) alike (``core.vector``)."""
    on_up = up & (side in (Side.up, Side.either))
    return on_up | (down & (side in (Side.down, Side.either))), on_up


def new_fractal(
    series: SeriesState, changes: IndicatorChanges, side: Side
) -> tuple[float, str] | None:
    """(price, "up"/"down") of a fractal the bar just confirmed; up first when both."""
    fires, on_up = fractal_pick(
        changes.up_fractal is not None, changes.down_fractal is not None, side
    )
    if not fires:
        return None
    if on_up:
        return series.indicators.fractal_price(changes.up_fractal, up=True), "up"  # type: ignore[arg-type]
    return series.indicators.fractal_price(changes.down_fractal, up=False), "down"  # type: ignore[arg-type]


def beyond(close: Any, value: Any, support: Any, buffer: float) -> Any:
    """The close is beyond the line by more than ``buffer`` (above a resistance, below a
    support): for one close and line, or arrays of them (``core.vector``)."""
    return choose(support, value - close > buffer, close - value > buffer)


def _horizontal_break_at(series: SeriesState, k: int, kinds: tuple[str, ...]) -> list[int]:
    """The horizontal lines (positions) whose break at bar ``k`` a line_break alert of
    ``kinds`` saw: per kind, the watched line (nearest ``close[k-1]`` among the lines active
    before ``k``) if bar ``k`` broke it. ``broken_line``'s rule, from the stored history."""
    ind = series.indicators
    hc, n = ind.horizontal, ind.n
    broken = np.frombuffer(hc.broken, dtype=np.int64) if len(hc) else np.zeros(0, np.int64)
    confirmed = np.frombuffer(hc.origin, dtype=np.int64) + n if len(hc) else broken
    # the order broken_line sees them in: still active after k, then those k broke
    after = np.flatnonzero((confirmed <= k) & ((broken < 0) | (broken > k)))
    at_k = np.flatnonzero((confirmed <= k - 1) & (broken == k))
    if not at_k.size:
        return []
    previous = ind.close[k - 1] if k >= 1 else ind.close[k]
    order = np.concatenate((after, at_k))
    is_support = np.frombuffer(hc.support, dtype=np.int8)[order]
    distance = np.abs(np.frombuffer(hc.price, dtype=np.float64)[order] - previous)
    out = []
    for kind in kinds:
        mine = np.flatnonzero(is_support == (1 if kind == "support" else 0))
        if not mine.size:
            continue
        # the first of the nearest, in that order (argmin takes the first minimum)
        best = int(order[mine[np.argmin(distance[mine])]])
        if broken[best] == k:
            out.append(best)
    return out


def confirmed_break(
    series: SeriesState,
    t: int,
    diagonal: bool,
    side: Side,
    line_id: str | None,
    buffer: float,
    bars: int,
    memo: Memo | None = None,
) -> LineRef | None:
    """The break a ``line_break``/``trendline_break`` with ``buffer`` and ``confirm_bars``
    (``bars``) fires at bar ``t``: a break at ``k = t - bars + 1`` whose closes ``k..t`` are
    all beyond the line by more than ``buffer``; None; or ``GONE`` for a chosen line that is
    neither active nor in its confirmation bars. See docs/alerts-semantics.md.

    ``memo`` (one per closed bar) keeps what every alert of the bar shares: the breaks at a
    bar, the active lines."""
    memo = {} if memo is None else memo
    key = ("breaks", t, bars, diagonal, line_id is not None)
    refs = memo.get(key)
    if refs is None:
        refs = memo[key] = _breaks(series, t, bars, diagonal, line_id is not None)
    ind = series.indicators
    k = t - bars + 1
    kinds = ("resistance", "support") if side == Side.either else (side.value,)
    closes = ind.close

    def holds(line: object, kind: str) -> bool:
        for j in range(k, t + 1):
            value = line.value_at(j) if isinstance(line, DiagonalLine) else line.price  # type: ignore[attr-defined]
            if not beyond(closes[j], value, kind == "support", buffer):
                return False
        return True

    if line_id is not None:
        hit = next((r for r, ln in refs if r.line_id == line_id), None)
        if hit is not None:
            return hit if holds(next(ln for r, ln in refs if r is hit), hit.kind) else None
        if line_id in _active_ids(series, t, memo):
            return None
        if _pending(series, line_id, diagonal, t - bars + 1):
            return None
        return GONE
    good = [r for r, ln in refs if r.kind in kinds and holds(ln, r.kind)]
    if not good:
        return None
    if diagonal:
        close = closes[t]
        return min(good, key=lambda r: abs(r.value - close))
    for kind in kinds:  # resistance first, as broken_line does
        for r in good:
            if r.kind == kind:
                return r
    return None


def _broken_at(broken: Any, k: int) -> list[int]:
    """Positions of the lines broken at bar ``k`` (a vectorised look at the column)."""
    if not len(broken):
        return []
    return np.flatnonzero(np.frombuffer(broken, dtype=np.int64) == k).tolist()


def _active_ids(series: SeriesState, t: int, memo: Memo) -> set[str]:
    ids = memo.get(("active", t))
    if ids is None:
        ids = memo[("active", t)] = {r.line_id for r in active_lines(series, t)}
    return ids


def _breaks(
    series: SeriesState, t: int, bars: int, diagonal: bool, chosen: bool
) -> list[tuple[LineRef, object]]:
    """(line at ``t``, line object) of the breaks at ``k = t - bars + 1`` an alert may follow:
    every trendline broken then; for horizontal lines, every one (``chosen``: a line_id) or
    the watched one of each kind."""
    ind = series.indicators
    k = t - bars + 1
    refs: list[tuple[LineRef, object]] = []  # (line at t, the line object)
    if diagonal:
        dc = ind.diagonal
        if k >= 0:
            for pos in _broken_at(dc.broken, k):
                dl = dc.line(pos)
                if dl.i2 + ind.n <= k - 1:
                    refs.append((LineRef(_did(series, dl), dl.kind, True, dl.value_at(t)), dl))
    elif k >= 0 and chosen:  # a chosen line: any break of it counts
        hc = ind.horizontal
        for pos in _broken_at(hc.broken, k):
            if hc.origin[pos] + ind.n <= k - 1:
                ln = hc.line(pos)
                refs.append((LineRef(_hid(series, ln), ln.kind, False, ln.price), ln))
    elif k >= 0:
        for pos in _horizontal_break_at(series, k, ("resistance", "support")):
            ln = ind.horizontal.line(pos)
            refs.append((LineRef(_hid(series, ln), ln.kind, False, ln.price), ln))

    return refs


def _pending(series: SeriesState, line_id: str, diagonal: bool, first: int) -> bool:
    """The chosen line broke at bar ``first`` or later, having been active before (not born
    broken): its confirmation bars still run."""
    ind = series.indicators
    if diagonal:
        return any(
            _did(series, dl) == line_id
            and dl.broken is not None
            and dl.broken >= first
            and dl.i2 + ind.n <= dl.broken - 1
            for dl in ind.diagonal
        )
    return any(
        _hid(series, ln) == line_id
        and ln.broken is not None
        and ln.broken >= first
        and ln.confirmed <= ln.broken - 1
        for ln in ind.horizontal
    )


def bounce_line(
    series: SeriesState,
    t: int,
    side: Side,
    line_id: str | None,
    distance: float,
    memo: Memo | None = None,
) -> LineRef | None:
    """The line bar ``t - 1`` touched (its range widened by ``distance``) and bar ``t``
    closed away from by more than ``distance`` on the line's side; None; or ``GONE`` for a
    chosen line that is not active. Of several, the one nearest ``close[t]``."""
    memo = {} if memo is None else memo
    ind, bars = series.indicators, series.bars
    if line_id is not None and line_id not in _active_ids(series, t, memo):
        return GONE
    if t < 1:
        return None
    close, high, low = ind.close[t], float(bars.high[t - 1]), float(bars.low[t - 1])
    found = memo.get(("bounce", t))
    if found is None:
        found = memo[("bounce", t)] = _bounce_candidates(series, t)
    refs, before, now, support = found
    if not refs:
        return None
    # vectorised over the lines: every alert of this close shares the arrays
    hit = bounce_holds(before, now, support, low, high, close, distance)
    if line_id is not None:
        hit &= np.array([r.line_id == line_id for r in refs])
    elif side != Side.either:
        hit &= support if side == Side.support else ~support
    at = np.flatnonzero(hit)
    if not at.size:
        return None
    return refs[int(at[np.argmin(np.abs(close - now[at]))])]  # the first of the nearest


def bounce_holds(
    before: Any, now: Any, support: Any, low: Any, high: Any, close: Any, distance: float
) -> Any:
    """A bounce off a line: the previous bar (``low``..``high``, widened by ``distance``)
    reached the line's value there (``before``), and this close left the line's value now
    (``now``) by more than ``distance`` on its side (above a support). For the lines of one
    close or a window's (line, bar) rows alike (``core.vector``)."""
    touched = (before >= low - distance) & (before <= high + distance)
    return touched & choose(support, close - now > distance, now - close > distance)


def _bounce_candidates(series: SeriesState, t: int) -> tuple[list[LineRef], Any, Any, Any]:
    """The lines a bounce at ``t`` may follow (active now, confirmed by ``t - 1``): their
    refs (value at ``t``), and as arrays their values at ``t - 1`` and ``t`` and support
    flags; horizontal lines first, in payload order."""
    ind = series.indicators
    hrefs = _hrefs(series)
    if hrefs:  # vectorised over the active horizontal lines: confirmed by t - 1
        positions = np.array(ind.active_horizontal_positions(), np.int64)
        origin = np.frombuffer(ind.horizontal.origin, dtype=np.int64)[positions]
        keep = np.flatnonzero(origin + ind.n <= t - 1).tolist()
        refs = [hrefs[i] for i in keep]
    else:
        refs = []
    before = [r.value for r in refs]
    dc, last = ind.diagonal, t - 1 - ind.n
    for k in ind.active_diagonal_positions():
        if dc.i2[k] <= last:
            line_id, kind = _dname(series, k)
            refs.append(LineRef(line_id, kind, True, dc.value_at(k, t)))
            before.append(dc.value_at(k, t - 1))
    now = np.array([r.value for r in refs], np.float64)
    support = np.array([r.kind == "support" for r in refs], bool)
    return refs, np.array(before, np.float64), now, support
