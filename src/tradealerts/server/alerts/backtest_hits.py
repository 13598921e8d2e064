"""Where a level, channel, movement or new_fractal alert's condition holds over a whole
backtest window.

These conditions read nothing but prices and their own numbers (for movement, the close N
bars back; for new_fractal, the fractals each close confirms), so a window's every tick
(each bar's OHLC path, ``feeds.replay.path_of``) is asked at once, through the very rules
the live matcher asks about one tick (``predicates.RULES``, ``move_holds``,
``lines.fractal_pick``: floats and arrays alike). What comes out are the events at which
the condition holds, in time order; the alert's own matcher then takes each (``take_hits``:
expiry, frequency, cooldown, ``max_fires``, the flood guard, the fire) exactly as an event
would. An event at which the condition does not hold fires nothing and changes nothing for
these alerts (expiry is dated by the alert's own expiry time, not by the event that
notices it), so leaving those out changes no fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tradealerts.core.alerts import (
    MAX_CONFIRM_BARS,
    AlertCreate,
    Condition,
    Side,
    evaluated_on_ticks,
)
from tradealerts.core.indicators.timeline import LineTimeline
from tradealerts.server.alerts.lines import band_edges, beyond, bounce_holds, fractal_pick
from tradealerts.server.alerts.model import CONDITIONS, Alert
from tradealerts.server.alerts.predicates import (
    KIND,
    KIND_MOVE,
    RULES,
    move_holds,
    move_threshold,
)

__all__ = [
    "CLOSE_STEP",
    "Hits",
    "Paths",
    "at_once",
    "bounce_hits",
    "fractal_hits",
    "hits_of",
    "line_break_hits",
    "price_hits",
    "touch_hits",
    "trendline_break_hits",
]

#: events of a bar: its path's four ticks (0..3), then its close (4)
CLOSE_STEP = 4
_BLOCK = 2048  # bars of (line, bar) rows made at once: bounds the memory on long windows
_LINES = frozenset(
    {Condition.line_touch, Condition.line_bounce, Condition.line_break, Condition.trendline_break}
)


@dataclass(frozen=True, slots=True)
class Paths:
    """The window's bars as the replay sees them: ``ticks`` (bars x 4, the OHLC path's bid
    prices) and ``close`` (every bar of the series), with ``first`` the window's first bar."""

    ticks: np.ndarray
    close: np.ndarray
    first: int
    spread: float
    #: what the alerts of the series share (each line_break alert's watched lines)
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hits:
    """Events at which a condition holds, in time order: the bar (series position), the
    step (0..3 a tick of its path, 4 its close), the level to report and the price."""

    bar: np.ndarray
    step: np.ndarray
    level: np.ndarray
    price: np.ndarray
    up: np.ndarray | None = None  # new_fractal: on the up fractal (else the down one)
    diagonal: np.ndarray | None = None  # line_touch: the line touched (a trendline?) …
    line: np.ndarray | None = None  # … and its position in its columns


def at_once(spec: AlertCreate) -> bool:
    """Whether this module answers for the alert: levels, channels, movement (the kinds up
    to ``KIND_MOVE``), new fractals, touches and bounces of any line of a side (an alert
    on a chosen line, which can end as gone, is left to the replay)."""
    return (
        KIND[CONDITIONS.index(spec.condition)] <= KIND_MOVE
        or spec.condition == Condition.new_fractal
        or (spec.condition in _LINES and spec.line_id is None)
    )


def hits_of(paths: Paths, timeline: LineTimeline, spec: AlertCreate) -> Hits:
    """The events of the window at which ``spec``'s condition holds (``at_once`` alerts)."""
    if spec.condition == Condition.new_fractal:
        return fractal_hits(paths, timeline, spec.side or Side.either)
    if spec.condition == Condition.line_touch:
        return touch_hits(paths, timeline, spec)
    if spec.condition == Condition.line_bounce:
        return bounce_hits(paths, timeline, spec)
    if spec.condition == Condition.trendline_break:
        return trendline_break_hits(paths, timeline, spec)
    if spec.condition == Condition.line_break:
        return line_break_hits(paths, timeline, spec)
    return price_hits(paths, spec)


def line_break_hits(paths: Paths, timeline: LineTimeline, spec: AlertCreate) -> Hits:
    """The closes ``t`` at which a line_break alert fires: the horizontal line it watched
    (``broken_line``: per side, the line nearest the previous close among those active
    before the breaking bar ``k``, still active first, then those ``k`` broke, the first on
    a tie) broke at ``k = t - confirm_bars + 1`` and the closes ``k .. t`` are all beyond it
    by more than ``buffer`` (``confirmed_break``); resistance first when both sides' did."""
    tl, close, first = timeline, paths.close, paths.first
    side, buffer, bars = spec.side or Side.either, spec.buffer or 0.0, spec.confirm_bars or 1
    found = paths.shared.get("watched")
    if found is None:  # for every confirm_bars at once: the same lines, fewer or more bars
        lowest = max(first - MAX_CONFIRM_BARS + 1, 0)
        found = paths.shared["watched"] = _watched_breaks(tl, close, lowest, len(close) - 1)
    k, support, pos = found
    keep = (k >= first - bars + 1) & (k <= len(close) - bars)
    k, support, pos = k[keep], support[keep], pos[keep]
    price = tl.h_price[pos]
    keep = _all_beyond(
        close, k, bars, np.broadcast_to(price[:, None], (k.size, bars)), support, buffer
    )
    if side != Side.either:
        keep &= support == (side == Side.support)
    k, support, pos, t = k[keep], support[keep], pos[keep], k[keep] + bars - 1
    keep = t >= first
    k, support, pos, t = k[keep], support[keep], pos[keep], t[keep]
    order = np.lexsort((support, t))  # resistance first
    one = order[np.r_[True, t[order][1:] != t[order][:-1]]] if order.size else order
    t, pos = t[one], pos[one]
    return Hits(
        t, np.full(t.shape, CLOSE_STEP), tl.h_price[pos], close[t], None,
        np.zeros(t.shape, bool), pos,
    )  # fmt: skip


def trendline_break_hits(paths: Paths, timeline: LineTimeline, spec: AlertCreate) -> Hits:
    """The closes ``t`` at which a trendline_break alert fires: an active trendline of its
    side broke at ``k = t - confirm_bars + 1`` and the closes ``k .. t`` are all beyond it
    (at each bar's value) by more than ``buffer``; of several, the nearest to the close
    (its value there), the first by position on a tie."""
    tl, close, first = timeline, paths.close, paths.first
    side, buffer, bars = spec.side or Side.either, spec.buffer or 0.0, spec.confirm_bars or 1
    k = tl.broken_active(True)
    t = k + bars - 1
    keep = (k >= 0) & (t >= first) & (t < len(close))
    if side != Side.either:
        keep &= tl.d_support == (side == Side.support)
    pos = np.flatnonzero(keep)
    k, t = k[pos], t[pos]
    support = tl.d_support[pos].astype(bool)
    value = tl.d_value(pos[:, None], k[:, None] + np.arange(bars)[None, :])  # k .. t
    keep = _all_beyond(close, k, bars, value, support, buffer)
    pos, t, at_t = pos[keep], t[keep], value[keep, -1]
    order = np.lexsort((pos, np.abs(at_t - close[t]), t))
    one = order[np.r_[True, t[order][1:] != t[order][:-1]]] if order.size else order
    t = t[one]
    return Hits(
        t, np.full(t.shape, CLOSE_STEP), at_t[one], close[t], None,
        np.ones(t.shape, bool), pos[one],
    )  # fmt: skip


def _all_beyond(
    close: np.ndarray,
    k: np.ndarray,
    bars: int,
    value: np.ndarray,
    support: np.ndarray,
    buffer: float,
) -> np.ndarray:
    """Per break (bar ``k``, the line's ``value`` at ``k .. k + bars - 1``): every close of
    those bars beyond the line by more than ``buffer`` (``lines.beyond``)."""
    j = np.minimum(k[:, None] + np.arange(bars)[None, :], len(close) - 1)
    held: np.ndarray = np.asarray(beyond(close[j], value, support[:, None], buffer))
    return np.asarray(held.all(axis=1))


def _watched_breaks(
    tl: LineTimeline, close: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bar ``k``, side, position) of each horizontal line that was the watched line of its
    side (``lines._horizontal_break_at``) and bar ``k`` broke it, for ``lo <= k <= hi``."""
    breaks = tl.broken_active(False)
    at = np.unique(breaks[(breaks >= lo) & (breaks <= hi)])
    found: list[tuple[np.ndarray, ...]] = []
    for start in range(int(at[0]) if at.size else 0, int(at[-1]) + 1 if at.size else 0, _BLOCK):
        rows = tl.line_bars(start, min(start + _BLOCK - 1, int(at[-1])))
        pos, t = rows.line[~rows.diagonal], rows.bar[~rows.diagonal]
        keep = np.isin(t, at)
        pos, t = pos[keep], t[keep]
        broke = tl.h_broken[pos] == t
        keep = ~broke | (tl.h_confirmed[pos] < t)  # broken at t: only if active before
        pos, t, broke = pos[keep], t[keep], broke[keep]
        support = tl.h_support[pos].astype(bool)
        gap = np.abs(tl.h_price[pos] - close[np.maximum(t - 1, 0)])
        # per (bar, side): the watched line, the nearest to the previous close (the lines
        # still active first, then those the bar broke, each by position, on a tie)
        order = np.lexsort((pos, broke, gap, support, t))
        t_o, s_o = t[order], support[order]
        head = order[np.r_[True, (t_o[1:] != t_o[:-1]) | (s_o[1:] != s_o[:-1])]]
        head = head[broke[head]]
        found.append((t[head], support[head], pos[head]))
    if not found:
        empty = np.zeros(0, np.int64)
        return empty, empty.astype(bool), empty
    k, support, pos = (np.concatenate(x) for x in zip(*found, strict=True))
    return k, support, pos


def bounce_hits(paths: Paths, timeline: LineTimeline, spec: AlertCreate) -> Hits:
    """The closes ``t`` at which a line of the alert's side was bounced off
    (``lines.bounce_holds``), with the line ``bounce_line`` reports: the nearest to the
    close, the first on a tie (horizontal lines, then trendlines, by position). The lines
    are those active after close ``t`` and confirmed by ``t - 1``, at their values at
    ``t - 1`` and ``t``."""
    distance = Alert(0, 0, spec).values()[0]
    side = spec.side or Side.either
    first, close, tl = max(paths.first, 1), paths.close, timeline
    parts: list[tuple[np.ndarray, ...]] = []
    for lo in range(first, len(close), _BLOCK):
        rows = tl.line_bars(lo, min(lo + _BLOCK, len(close)) - 1)
        d, pos, bar = rows.diagonal, rows.line, rows.bar
        keep = (_per_line(d, pos, tl.d_confirmed, tl.h_confirmed) < bar) & (
            _per_line(d, pos, tl.d_broken, tl.h_broken) != bar
        )
        if side != Side.either:
            keep &= rows.support == (side == Side.support)
        bar, now, d, pos, support = (
            bar[keep],
            rows.value[keep],
            d[keep],
            pos[keep],
            rows.support[keep],
        )
        before = now.copy()  # a horizontal line's price; a trendline's value at t - 1
        before[d] = tl.d_value(pos[d], bar[d] - 1)
        at = close[bar]
        hit = bounce_holds(before, now, support, tl.low[bar - 1], tl.high[bar - 1], at, distance)
        r = np.flatnonzero(hit)
        order = np.lexsort((pos[r], d[r], np.abs(at[r] - now[r]), bar[r]))
        event = bar[r][order]
        one = r[order[np.r_[True, event[1:] != event[:-1]]]] if event.size else r
        parts.append((bar[one], now[one], at[one], d[one], pos[one]))
    if not parts:
        return _no_line_hits()
    bar, now, at, d, pos = (np.concatenate(x) for x in zip(*parts, strict=True))
    return Hits(bar, np.full(bar.shape, CLOSE_STEP), now, at, None, d, pos)


def touch_hits(paths: Paths, timeline: LineTimeline, spec: AlertCreate) -> Hits:
    """The ticks (or closes) at which a price lies in the band of a line of the alert's
    side, with the line ``touch_hit`` reports: the nearest, the first on a tie (horizontal
    lines, then trendlines, each by position: the order of ``active_lines``). A tick of bar
    ``k`` sees the lines active after close ``k - 1`` at their value at ``k`` (the bands the
    matcher keyed at that close); a close ``t`` those active after it, at ``t``."""
    distance = Alert(0, 0, spec).values()[0]
    side = spec.side or Side.either
    first, close, tl = paths.first, paths.close, timeline
    ticked = evaluated_on_ticks(spec.condition, spec.frequency)
    shift = paths.spread if ticked and spec.price_source.value == "ask" else 0.0
    steps = CLOSE_STEP + 1
    parts: list[tuple[np.ndarray, ...]] = []
    for lo in range(first, len(close), _BLOCK):
        rows = tl.line_bars(lo, min(lo + _BLOCK, len(close)) - 1)
        d, pos = rows.diagonal, rows.line
        if ticked:  # confirmed by the previous close
            keep = _per_line(d, pos, tl.d_confirmed, tl.h_confirmed) < rows.bar
        else:  # still active after this close
            keep = _per_line(d, pos, tl.d_broken, tl.h_broken) != rows.bar
        if side != Side.either:
            keep &= rows.support == (side == Side.support)
        bar, value, d, pos = rows.bar[keep], rows.value[keep], d[keep], pos[keep]
        low, high = band_edges(value, distance)
        if ticked:
            price = paths.ticks[bar - first] + shift if shift else paths.ticks[bar - first]
            r, step = np.nonzero((low[:, None] <= price) & (price <= high[:, None]))
            at = price[r, step]
        else:
            at = close[bar]
            r = np.flatnonzero((low <= at) & (at <= high))
            step, at = np.full(r.shape, CLOSE_STEP), at[r]
        event = bar[r] * steps + step
        # per event: the nearest line, the first in the lines' order on a tie
        order = np.lexsort((pos[r], d[r], np.abs(at - value[r]), event))
        event = event[order]
        one = order[np.r_[True, event[1:] != event[:-1]]] if event.size else order
        parts.append((bar[r][one], step[one], value[r][one], at[one], d[r][one], pos[r][one]))
    if not parts:
        return _no_line_hits()
    bar, step, value, at, d, pos = (np.concatenate(x) for x in zip(*parts, strict=True))
    return Hits(bar, step, value, at, None, d, pos)


def fractal_hits(paths: Paths, timeline: LineTimeline, side: Side) -> Hits:
    """The closes of the window that confirm a fractal a new_fractal alert of ``side`` fires
    on (close ``t`` confirms the fractal at ``t - n``, from ``n`` on: ``changes_at``)."""
    n, close = timeline.n, paths.close
    t = np.arange(max(paths.first, 2 * n), len(close))
    c = t - n
    up_at, down_at = timeline.fractal_bars(True)[c], timeline.fractal_bars(False)[c]
    fires, on_up = fractal_pick(up_at, down_at, side)
    at = np.flatnonzero(fires)
    up = on_up[at]
    level = np.where(up, timeline.high[c[at]], timeline.low[c[at]])
    return Hits(t[at], np.full(at.shape, CLOSE_STEP), level, close[t[at]], up)


def price_hits(paths: Paths, spec: AlertCreate) -> Hits:
    """The events of the window at which ``spec``'s condition holds (from its first bar)."""
    code = CONDITIONS.index(spec.condition)
    a, b = Alert(0, 0, spec).values()  # the two numbers the matcher keeps
    first, close = paths.first, paths.close
    shift = paths.spread if spec.price_source.value == "ask" else 0.0
    if evaluated_on_ticks(spec.condition, spec.frequency):
        p1 = paths.ticks + shift if shift else paths.ticks
        # the price before each tick: the previous close (none before the window's first
        # tick: the replay's matcher has no quote yet), then the path's previous tick
        p0 = np.empty_like(p1)
        p0[:, 1:] = p1[:, :-1]
        p0[0, 0] = np.nan
        p0[1:, 0] = close[first : first + p1.shape[0] - 1] + shift
        bars = np.arange(first, first + p1.shape[0])
        if KIND[code] == KIND_MOVE:
            # the threshold a tick of bar k is held to: from close[k - N] (set at k's open)
            ref = _back(close, bars, int(b))
            thr = np.asarray(move_threshold(spec.condition, ref, a))  # type: ignore[arg-type]
            level = np.broadcast_to(thr[:, None], p1.shape)
            holds = move_holds(spec.condition, p1, level)
        else:
            rule = RULES[spec.condition]
            with np.errstate(invalid="ignore"):
                holds = rule.holds(p0, p1, a, b)
            level = None
        k, step = np.nonzero(holds)
        price = p1[k, step]
        if level is None:
            rule = RULES[spec.condition]
            lv = np.asarray(rule.level(p0[k, step], price, a, b), np.float64)
            level_at = np.broadcast_to(lv, price.shape)
        else:
            level_at = level[k, step]
        return Hits(k + first, step, level_at, price)
    # on closed bars: the close against the previous close (bar ``t`` of the series)
    bars = np.arange(first, len(close))
    p1 = close[bars]
    if KIND[code] == KIND_MOVE:
        thr = np.asarray(move_threshold(spec.condition, _back(close, bars, int(b)), a))  # type: ignore[arg-type]
        with np.errstate(invalid="ignore"):
            at = np.flatnonzero(move_holds(spec.condition, p1, thr))
        return Hits(bars[at], np.full(at.shape, CLOSE_STEP), thr[at], p1[at])
    p0 = np.where(bars >= 1, close[np.maximum(bars - 1, 0)], np.nan)
    rule = RULES[spec.condition]
    with np.errstate(invalid="ignore"):
        at = np.flatnonzero(rule.holds(p0, p1, a, b))
    lv = np.asarray(rule.level(p0[at], p1[at], a, b), np.float64)
    return Hits(bars[at], np.full(at.shape, CLOSE_STEP), np.broadcast_to(lv, at.shape), p1[at])


def _no_line_hits() -> Hits:
    """No event: a line condition that never holds in the window."""
    empty = np.zeros(0, np.int64)
    return Hits(empty, empty, np.zeros(0), np.zeros(0), None, empty.astype(bool), empty)


def _per_line(
    diagonal: np.ndarray, pos: np.ndarray, of_diagonal: np.ndarray, of_horizontal: np.ndarray
) -> np.ndarray:
    """A column of the lines of (line, bar) rows: the trendlines' or the horizontal ones'."""
    out = np.empty(pos.shape, of_horizontal.dtype)
    out[diagonal] = of_diagonal[pos[diagonal]]
    out[~diagonal] = of_horizontal[pos[~diagonal]]
    return out


def _back(close: np.ndarray, bars: np.ndarray, n: int) -> np.ndarray:
    """``close[k - n]`` per bar ``k`` (NaN where there is none: the alert cannot hold)."""
    back = bars - n
    return np.where(back >= 0, close[np.maximum(back, 0)], np.nan)
