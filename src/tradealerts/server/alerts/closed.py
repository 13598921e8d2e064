"""The parts of a matcher that move when a bar closes.

Movement and line_touch alerts are matched on ticks, but their keys (the movement threshold,
the bands around the lines) depend on the closed bars of their timeframe: they live in
groups per (kind, source, timeframe), re-keyed when that timeframe's bar closes and then
checked in full on the next tick. Alerts evaluated only on closed bars are checked here too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tradealerts.core.alerts import (
    REASON_LINE_GONE,
    AlertStatus,
    Condition,
    Side,
)
from tradealerts.core.indicators import IndicatorChanges
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts.firing import Hit, HitList, MatcherBase
from tradealerts.server.alerts.lines import (
    GONE,
    Band,
    Memo,
    active_lines,
    bounce_line,
    broken_line,
    confirmed_break,
    new_fractal,
    touch_bands,
    touch_hit,
)
from tradealerts.server.alerts.model import CONDITIONS, TIMEFRAMES, StatusChange
from tradealerts.server.alerts.predicates import (
    KIND,
    KIND_CHANNEL,
    KIND_MOVE,
    KIND_TOUCH,
    PRICE_HITS,
    move_hit,
    move_threshold,
)
from tradealerts.server.alerts.store import SweepIndex
from tradealerts.server.engine.market import SeriesState

__all__ = ["BarDriven", "Group"]

GroupKey = tuple[int, int, Timeframe]  # (kind, source, timeframe)


class Group:
    """Movement or line_touch alerts of one (source, timeframe) and their current keys."""

    __slots__ = ("dirty", "index", "payload")

    def __init__(self) -> None:
        self.index = SweepIndex()
        self.payload: dict[int, Any] = {}  # row -> threshold | bands | None (cannot fire)
        self.dirty = False


def _keys(payload: Any) -> list[float]:
    if payload is None:
        return []
    if isinstance(payload, float):
        return [payload]
    bands: tuple[Band, ...] = payload
    return [edge for lo, hi, _ in bands for edge in (lo, hi)]


class BarDriven(MatcherBase):
    """Movement/line_touch groups and closed-bar alerts of one symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self._groups: dict[GroupKey, Group] = {}

    # -- tick groups -----------------------------------------------------------------------
    def _payload(self, row: int, kind: int, series: SeriesState | None, at: int) -> Any:
        """The threshold (movement) or bands (line_touch) for the price at bar index ``at``."""
        if series is None:
            return None
        rows = self.rows
        if kind == KIND_MOVE:
            closes = series.indicators.close
            back = at - int(rows.b[row])  # the close N bars before bar ``at``
            if back < 0:
                return None
            return move_threshold(CONDITIONS[rows.cond[row]], closes[back], rows.a[row])
        spec = self._alerts[row].spec
        lines = active_lines(series, at)
        return touch_bands(lines, spec.side or Side.either, spec.line_id, rows.a[row])

    def _group_add(self, row: int, kind: int, series: SeriesState | None) -> None:
        rows = self.rows
        key = (kind, rows.source[row], TIMEFRAMES[rows.tf[row]])
        group = self._groups.setdefault(key, Group())
        at = len(series.indicators.close) if series is not None else 0
        payload = group.payload[row] = self._payload(row, kind, series, at)
        for k in _keys(payload):
            group.index.insert(k, row)

    def _group_drop(self, row: int, kind: int, source: int, tf: Timeframe) -> None:
        key = (kind, source, tf)
        group = self._groups[key]
        group.index.forget(len(_keys(group.payload.pop(row))))
        if not group.payload:
            del self._groups[key]

    def _group_candidates(
        self, cands: set[int], was: tuple[float | None, float | None], price: tuple[float, float]
    ) -> None:
        for (_, source, _), group in self._groups.items():
            if group.dirty:
                cands.update(group.payload)
                group.dirty = False
                continue
            p0, p1 = was[source], price[source]
            if p0 is not None and p0 != p1 and group.index.live:
                cands.update(group.index.between(min(p0, p1), max(p0, p1)))

    def _rekey_groups(self, tf: Timeframe, series: SeriesState, now: float) -> list[StatusChange]:
        """New keys for the tick groups of ``tf`` after its bar closed; ends alerts whose
        chosen line is gone."""
        gone: list[int] = []
        at = len(series.indicators.close)  # the forming bar
        for (kind, _, group_tf), group in self._groups.items():
            if group_tf != tf:
                continue
            keys: list[float] = []
            key_rows: list[int] = []
            for row in group.payload:
                payload = group.payload[row] = self._payload(row, kind, series, at)
                if kind == KIND_TOUCH and payload is None:
                    gone.append(row)
                found = _keys(payload)
                keys += found
                key_rows += [row] * len(found)
            if len(group.payload) == 1:  # one alert (a backtest's matcher): no numpy round trip
                group.index.load_row(keys, key_rows[0] if key_rows else 0)
            else:
                group.index.load(np.array(keys, np.float64), np.array(key_rows, np.int64))
            group.dirty = True
        return [self._end(r, AlertStatus.expired, REASON_LINE_GONE, now) for r in sorted(gone)]

    # -- closed-bar alerts -----------------------------------------------------------------
    def _closed_hits(
        self,
        tf: Timeframe,
        series: SeriesState,
        changes: IndicatorChanges,
        now: float,
        changed: list[StatusChange],
    ) -> HitList:
        hits: HitList = []
        gone: list[int] = []
        memo: Memo = {}  # lines and breaks every alert of this close shares
        for row in sorted(self._closing.get(tf, ())):
            if self._refusal(row, tf, now):
                continue  # a spent window or a running cooldown: not evaluated at this close
            hit = self._closed_hit(row, series, changes, memo)
            if hit is GONE_HIT:
                gone.append(row)
            elif hit is not None:
                hits.append(hit)
        changed += [self._end(r, AlertStatus.expired, REASON_LINE_GONE, now) for r in gone]
        return hits

    def _closed_hit(
        self, row: int, series: SeriesState, changes: IndicatorChanges, memo: Memo
    ) -> Hit | None:
        rows = self.rows
        code = rows.cond[row]
        kind, cond = KIND[code], CONDITIONS[code]
        closes = series.indicators.close
        t = changes.bar
        p1 = closes[t]
        alert_id = rows.alert_id[row]
        if kind <= KIND_CHANNEL:
            rule = PRICE_HITS[code]
            p0 = closes[t - 1] if t >= 1 else None
            level = None if rule is None else rule(p0, p1, rows.a[row], rows.b[row])
            return None if level is None else Hit(alert_id, row, level, p1)
        if kind == KIND_MOVE:
            level = move_hit(cond, p1, self._payload(row, kind, series, t))
            return None if level is None else Hit(alert_id, row, level, p1)
        spec = self._alerts[row].spec
        side = spec.side or Side.either
        if kind == KIND_TOUCH:
            bands = touch_bands(active_lines(series, t), side, spec.line_id, rows.a[row])
            if bands is None:
                return GONE_HIT
            line = touch_hit(p1, bands)
            return None if line is None else Hit(alert_id, row, line.value, p1, line)
        if cond == Condition.new_fractal:
            found = new_fractal(series, changes, side)
            return None if found is None else Hit(alert_id, row, found[0], p1, None, found[1])
        if cond == Condition.line_bounce:
            line = bounce_line(series, t, side, spec.line_id, rows.a[row], memo)
        elif spec.buffer or (spec.confirm_bars or 1) > 1:
            diagonal = cond == Condition.trendline_break
            line = confirmed_break(
                series, t, diagonal, side, spec.line_id, spec.buffer or 0.0,
                spec.confirm_bars or 1, memo,
            )  # fmt: skip
        else:
            diagonal = cond == Condition.trendline_break
            line = broken_line(series, changes, diagonal, side, spec.line_id)
        if line is GONE:
            return GONE_HIT
        return None if line is None else Hit(alert_id, row, line.value, p1, line)


#: ``_closed_hit``'s answer for an alert whose chosen line is gone.
GONE_HIT = Hit(-1, -1, float("nan"), float("nan"))
