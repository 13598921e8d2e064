"""Where a level, channel, movement or new_fractal alert's condition holds over a whole
backtest window.

These conditions read nothing but prices and their own numbers (for movement, the close N
bars back; for new_fractal, the fractals each close confirms), so a window's every tick
(each bar's OHLC path, ``feeds.replay.path_of``) is asked at once, through the very rules
the live matcher asks about one tick (``predicates.RULES``, ``move_holds``,
``lines.fractal_pick``: floats and arrays alike). What comes out are the events at which
the condition holds, in time order; the alert's own matcher then takes each (``take_hit``:
expiry, frequency, cooldown, ``max_fires``, the flood guard, the fire) exactly as an event
would. An event at which the condition does not hold fires nothing and changes nothing for
these alerts (expiry is dated by the alert's own expiry time, not by the event that
notices it), so leaving those out changes no fire.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tradealerts.core.alerts import AlertCreate, Condition, Side, evaluated_on_ticks
from tradealerts.core.indicators.timeline import LineTimeline
from tradealerts.server.alerts.lines import fractal_pick
from tradealerts.server.alerts.model import CONDITIONS, Alert
from tradealerts.server.alerts.predicates import (
    KIND,
    KIND_MOVE,
    RULES,
    move_holds,
    move_threshold,
)

__all__ = ["CLOSE_STEP", "Hits", "Paths", "at_once", "fractal_hits", "hits_of", "price_hits"]

#: events of a bar: its path's four ticks (0..3), then its close (4)
CLOSE_STEP = 4


@dataclass(frozen=True, slots=True)
class Paths:
    """The window's bars as the replay sees them: ``ticks`` (bars x 4, the OHLC path's bid
    prices) and ``close`` (every bar of the series), with ``first`` the window's first bar."""

    ticks: np.ndarray
    close: np.ndarray
    first: int
    spread: float


@dataclass(frozen=True, slots=True)
class Hits:
    """Events at which a condition holds, in time order: the bar (series position), the
    step (0..3 a tick of its path, 4 its close), the level to report and the price."""

    bar: np.ndarray
    step: np.ndarray
    level: np.ndarray
    price: np.ndarray
    up: np.ndarray | None = None  # new_fractal: on the up fractal (else the down one)


def at_once(spec: AlertCreate) -> bool:
    """Whether this module answers for the alert: levels, channels, movement (the kinds up
    to ``KIND_MOVE``) and new fractals."""
    return KIND[CONDITIONS.index(spec.condition)] <= KIND_MOVE or (
        spec.condition == Condition.new_fractal
    )


def hits_of(paths: Paths, timeline: LineTimeline, spec: AlertCreate) -> Hits:
    """The events of the window at which ``spec``'s condition holds (``at_once`` alerts)."""
    if spec.condition == Condition.new_fractal:
        return fractal_hits(paths, timeline, spec.side or Side.either)
    return price_hits(paths, spec)


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


def _back(close: np.ndarray, bars: np.ndarray, n: int) -> np.ndarray:
    """``close[k - n]`` per bar ``k`` (NaN where there is none: the alert cannot hold)."""
    back = bars - n
    return np.where(back >= 0, close[np.maximum(back, 0)], np.nan)
