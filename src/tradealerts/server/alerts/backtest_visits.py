"""Which bars of a backtest window can matter to an alert: the ones the replay shows it.

The matcher decides every fire; this only leaves out, per alert, the bars on which it can
neither fire nor change (numpy over the whole window, from ``LineTimeline``). A bar is kept
when anything could happen on it, so the kept bars are a superset of the bars that matter:

- Level and channel rules compare a price with their one or two keys only, so their answer
  for two prices (previous, current) depends only on the regions (below, at, between, above
  the keys) the prices lie in. A bar's OHLC path whose range (with the previous close) holds
  no key stays in one region, where the rule's answer is the one it gives for any price of
  it (asked once per region, of the rule itself): kept when a key lies in the range or the
  region's answer is a fire. Closed-bar versions use the previous and the current close.
- Movement: the same around the bar's threshold (``move_threshold`` over the closes).
- Line touches and bounces: a line existing at the bar whose band reaches the bar's range.
- Breaks: bars that break a line (shifted by the confirmation bars); new fractals: the bars
  that confirm one.
- Bookkeeping: the close before a kept tick bar of a movement or touch alert (its keys are
  set at closes), and every close from the break of a chosen line on (where it ends as gone).

Widened by ``_EPS`` of the price so that a float's last bit never drops a bar.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from tradealerts.core.alerts import (
    CHANNEL_CONDITIONS,
    LEVEL_CONDITIONS,
    MOVEMENT_CONDITIONS,
    AlertCreate,
    Condition,
    Side,
    evaluated_on_ticks,
)
from tradealerts.core.indicators.timeline import LineBars, LineTimeline
from tradealerts.core.line_ids import diagonal_line_id, horizontal_line_id
from tradealerts.server.alerts.model import CONDITIONS
from tradealerts.server.alerts.predicates import PRICE_HITS, move_hit, move_threshold

__all__ = ["Context", "Visits", "plan_visits"]

_EPS = 1e-9  # of the price: far above a float's rounding, far below a tick
_BLOCK = 4096  # bars of (line, bar) rows made at once: bounds the memory on long windows
_KEPT = 10_000  # windows up to this many bars keep their rows for the next line alert
BoolArray = np.ndarray
IntArray = np.ndarray
C = Condition


@dataclass(frozen=True, slots=True)
class Visits:
    """Where one alert is shown: armed after close ``arm`` (``first - 1``: from the start;
    None: never, its chosen line does not appear), then the OHLC paths of ``ticks`` and the
    closes of ``closes`` (bar positions, sorted)."""

    arm: int | None
    ticks: IntArray
    closes: IntArray


@dataclass
class Context:
    """A series and the window replayed over it: what the alerts' visits share."""

    timeline: LineTimeline
    time: IntArray
    first: int
    spread: float
    _lines: list[LineBars] | None = None
    _ids: dict[str, tuple[bool, int]] | None = None
    _names: dict[tuple[bool, int], tuple[str, str]] = field(default_factory=dict)
    _paths: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.timeline)

    def lines(self) -> Iterator[LineBars]:
        """Every (line, bar) of the window, a block of bars at a time (built on first use:
        only line alerts need it; kept for the next alert when the window is short, as a
        long-lived line is a row per bar)."""
        if self._lines is not None:
            yield from self._lines
            return
        blocks = []
        for lo in range(max(0, self.first - 1), self.total, _BLOCK):
            block = self.timeline.line_bars(lo, min(lo + _BLOCK, self.total) - 1)
            blocks.append(block)
            yield block
        if self.total - self.first <= _KEPT:
            self._lines = blocks

    def line(self, line_id: str) -> tuple[bool, int] | None:
        """(diagonal, position) of the line with this id, or None."""
        if self._ids is None:
            tl = self.timeline
            self._ids = {
                self.name(diagonal, k)[0]: (diagonal, k)
                for diagonal, count in ((False, len(tl.h_origin)), (True, len(tl.d_i1)))
                for k in range(count)
            }
        return self._ids.get(line_id)

    def name(self, diagonal: bool, k: int) -> tuple[str, str]:
        """(id, kind) of the line at position ``k`` (a trendline's when ``diagonal``), as
        the matcher names it."""
        named = self._names.get((diagonal, k))
        if named is None:
            tl, t = self.timeline, self.time
            if diagonal:
                kind = "support" if tl.d_support[k] else "resistance"
                line_id = diagonal_line_id(kind, int(t[tl.d_i1[k]]), int(t[tl.d_i2[k]]))
            else:
                kind = "support" if tl.h_support[k] else "resistance"
                line_id = horizontal_line_id(kind, int(t[tl.h_origin[k]]))
            named = self._names[(diagonal, k)] = (line_id, kind)
        return named

    def path(self, source: int) -> tuple[np.ndarray, np.ndarray]:
        """Per bar: the lowest and highest price of its OHLC path with the previous close
        (bid, or ask: ``source`` 1), widened by ``_EPS``."""
        found = self._paths.get(source)
        if found is None:
            tl = self.timeline
            prev = np.r_[tl.close[:1], tl.close[:-1]]
            lo, hi = np.minimum(prev, tl.low), np.maximum(prev, tl.high)
            if source:
                lo, hi = lo + self.spread, hi + self.spread
            pad = np.abs(hi) * _EPS
            found = self._paths[source] = (lo - pad, hi + pad)
        return found

    def closes(self, both: bool) -> tuple[np.ndarray, np.ndarray]:
        """Per bar: the range of the previous and the current close (``both``; level and
        channel rules compare the two), or the close alone, widened."""
        c = self.timeline.close
        prev = np.r_[c[:1], c[:-1]] if both else c
        lo, hi = np.minimum(prev, c), np.maximum(prev, c)
        pad = np.abs(hi) * _EPS
        return lo - pad, hi + pad


def plan_visits(win: Context, spec: AlertCreate, every_bar: bool = False) -> Visits:
    """The bars one alert is shown (see the module doc); ``every_bar``: all of them from
    its arming on (the plain replay, which the tests hold the short one to)."""
    first, total = win.first, win.total
    arm = first - 1
    chosen: tuple[bool, int] | None = None
    if spec.line_id is not None:
        chosen = win.line(spec.line_id)
        arm_at = _arm_bar(win, chosen)
        if arm_at is None:
            return Visits(None, np.zeros(0, np.int64), np.zeros(0, np.int64))
        arm = max(arm, arm_at)
    ticked = evaluated_on_ticks(spec.condition, spec.frequency)
    if every_bar:
        every = np.arange(arm + 1, total)
        return Visits(arm, every if ticked else np.zeros(0, np.int64), every)
    mask = _mask(win, spec, ticked, chosen)
    mask[: arm + 1] = False
    mask[min(arm + 1, total - 1)] = True  # the first bar it is live on: its full check
    ticks = np.flatnonzero(mask) if ticked else np.zeros(0, np.int64)
    if ticked:
        closes = np.zeros(total, bool)
        if spec.condition in MOVEMENT_CONDITIONS or spec.condition == C.line_touch:
            closes[np.maximum(ticks - 1, 0)] = True  # their keys are set at the close before
    else:
        closes = mask
    if chosen is not None:
        broken = int((win.timeline.d_broken if chosen[0] else win.timeline.h_broken)[chosen[1]])
        if broken >= 0:
            closes[max(broken, arm + 1) :] = True
    closes[: arm + 1] = False
    return Visits(arm, ticks, np.flatnonzero(closes))


def _arm_bar(win: Context, chosen: tuple[bool, int] | None) -> int | None:
    """The close after which an alert on a chosen line is added (live, it can be created
    from then on): the line's confirmation; None when the line is never active in the
    window (unknown, broken before the window, or broken when confirmed)."""
    if chosen is None:
        return None
    tl = win.timeline
    diagonal, k = chosen
    confirmed = int((tl.d_confirmed if diagonal else tl.h_confirmed)[k])
    broken = int((tl.d_broken if diagonal else tl.h_broken)[k])
    at = max(confirmed, win.first - 1)
    if confirmed >= win.total or (0 <= broken <= at):
        return None
    return confirmed


def _mask(win: Context, spec: AlertCreate, ticked: bool, chosen: tuple[bool, int] | None) -> Any:
    cond = spec.condition
    tl = win.timeline
    prices = cond in LEVEL_CONDITIONS or cond in CHANNEL_CONDITIONS
    if ticked:
        lo, hi = win.path(0 if spec.price_source.value == "bid" else 1)
    else:
        lo, hi = win.closes(both=prices)
    if prices:
        return _region_mask(spec, lo, hi)
    if cond in MOVEMENT_CONDITIONS:
        return _movement_mask(win, spec, lo, hi, ticked)
    kinds = _kinds(spec.side)
    if cond == C.line_touch:
        return _near_lines(win, kinds, chosen, spec.distance or 0.0, lo, hi, 0)
    if cond == C.line_bounce:
        pad = np.abs(tl.high) * _EPS
        band = (tl.low - pad, tl.high + pad)
        return _near_lines(win, kinds, chosen, spec.distance or 0.0, *band, 1, bounce=True)
    if cond == C.new_fractal:
        side = spec.side or Side.either
        at = np.zeros(len(tl), bool)
        for up in (True, False):
            if side in (Side.either, Side.up if up else Side.down):
                marks = np.flatnonzero(tl.fractal_bars(up)) + tl.n
                at[marks[marks < len(tl)]] = True
        return at
    diagonal = cond == C.trendline_break
    broken = tl.broken_active(diagonal)
    support = tl.d_support if diagonal else tl.h_support
    keep = broken >= 0
    if chosen is not None:
        keep &= np.arange(broken.shape[0]) == chosen[1]
    elif len(kinds) == 1:
        keep &= support == (kinds[0] == "support")
    at = np.zeros(len(tl), bool)
    # a break at bar k fires at k + confirm_bars - 1 (its confirmation bars all beyond)
    bars = broken[keep] + (spec.confirm_bars or 1) - 1
    at[bars[bars < len(tl)]] = True
    return at


def _kinds(side: Side | None) -> tuple[str, ...]:
    if side in (Side.support, Side.resistance):
        return (side.value,)
    return ("support", "resistance")


def _region_mask(spec: AlertCreate, lo: np.ndarray, hi: np.ndarray) -> Any:
    """Level and channel rules: a key within the range, or a region where the rule fires."""
    rule = PRICE_HITS[CONDITIONS.index(spec.condition)]
    if rule is None:
        return np.zeros(lo.shape[0], bool)
    if spec.level is not None:
        a, b = spec.level, 0.0
        keys = [a]
    else:
        a, b = float(spec.lower or 0.0), float(spec.upper or 0.0)
        keys = sorted({a, b})
    edges = np.array(keys)
    reps = [keys[0] - abs(keys[0]) - 1.0]
    reps += [(x + y) / 2 for x, y in pairwise(keys)]
    reps.append(keys[-1] + abs(keys[-1]) + 1.0)
    fires = np.array([rule(p, p, a, b) is not None for p in reps])
    inside = np.searchsorted(edges, hi, side="right") > np.searchsorted(edges, lo, side="left")
    return inside | fires[np.searchsorted(edges, lo)]


def _movement_mask(
    win: Context, spec: AlertCreate, lo: np.ndarray, hi: np.ndarray, ticked: bool
) -> Any:
    """Movement: its threshold within the range, or the range on the side that fires."""
    c = win.timeline.close
    back = int(spec.bars or 0)
    size = c.shape[0]
    # a tick bar j is checked against close[j - back]; a close t against close[t - back]
    ref = np.full(size, np.nan)
    if back < size:
        ref[back:] = c[: size - back]
    thr = np.asarray(move_threshold(spec.condition, ref, float(spec.amount or 0.0)))  # type: ignore[arg-type]
    above = move_hit(spec.condition, 2.0, 1.0) is not None
    below = move_hit(spec.condition, 0.0, 1.0) is not None
    pad = np.abs(thr) * _EPS
    with np.errstate(invalid="ignore"):
        near = (thr >= lo - pad) & (thr <= hi + pad)
        mask = near | (above & (lo > thr)) | (below & (hi < thr))
    return mask & ~np.isnan(thr)


def _near_lines(
    win: Context,
    kinds: tuple[str, ...],
    chosen: tuple[bool, int] | None,
    distance: float,
    lo: np.ndarray,
    hi: np.ndarray,
    shift: int,
    bounce: bool = False,
) -> Any:
    """Bars ``j + shift`` where a line existing at bar ``j`` comes within ``distance`` of
    the range ``lo[j] .. hi[j]``; ``bounce``: and the close of ``j + 1`` is more than
    ``distance`` away from the line there, on its side (above a support)."""
    out = np.zeros(win.total, bool)
    for lines in win.lines():
        keep = np.ones(lines.bar.shape[0], bool)
        if chosen is not None:
            keep = (lines.diagonal == chosen[0]) & (lines.line == chosen[1])
        elif len(kinds) == 1:
            keep = lines.support == (kinds[0] == "support")
        bar, value = lines.bar[keep], lines.value[keep]
        pad = np.abs(value) * _EPS + distance
        hit = (value - pad <= hi[bar]) & (value + pad >= lo[bar])
        if bounce:
            hit &= _away(win, lines, keep, bar, value, distance)
        at = bar[hit] + shift
        out[at[at < win.total]] = True
    return out


def _away(win: Context, lines: LineBars, keep: Any, bar: Any, value: Any, distance: float) -> Any:
    """Rows whose line the next bar's close leaves by more than ``distance`` (widened), on
    the line's side: the second half of a bounce."""
    tl = win.timeline
    after = np.minimum(bar + 1, win.total - 1)
    then = value.copy()  # horizontal: the same price; trendlines: their value at j + 1
    diagonal = lines.diagonal[keep]
    then[diagonal] = tl.d_value(lines.line[keep][diagonal], after[diagonal])
    close = tl.close[after]
    gap = np.where(lines.support[keep], close - then, then - close)
    return gap >= distance - np.abs(then) * _EPS
