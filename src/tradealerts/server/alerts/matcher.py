"""One matcher per symbol: every active alert of the symbol against each tick and closed bar.

Ticks. Level and channel alerts sit in one ``SweepIndex`` per price source, keyed by their
levels and channel edges. A tick moving the price from ``p0`` to ``p1`` takes the rows whose
keys lie in ``[min(p0, p1), max(p0, p1)]`` (two binary searches), then checks each exactly.
That finds every alert that can fire: an alert fires when it may (frequency, expiry) and its
condition holds, and an alert that may fire and held at ``p0`` already fired at ``p0``. The
ways an alert can become able to fire without a key in the swept interval are handled apart:
new alerts (checked in full on their first tick), alerts whose frequency window rolls over
(a heap of re-arm times), and movement/line_touch alerts whose keys move when a bar of their
timeframe closes (their group is checked in full on the next tick). A quiet tick costs two
binary searches per price source.

Closed bars. Alerts evaluated on closed bars (``once_per_bar_close``, new_fractal,
line_break, trendline_break) form a group per timeframe, checked when that timeframe's bar
closes: at most once per five minutes, so a pass over the group is cheaper than an index.
"""

from __future__ import annotations

from collections.abc import Iterable
from heapq import heappop, heappush

import numpy as np

from tradealerts.core.alerts import (
    CHANNEL_CONDITIONS,
    LEVEL_CONDITIONS,
    AlertStatus,
    Frequency,
    evaluated_on_ticks,
)
from tradealerts.core.indicators import IndicatorChanges
from tradealerts.core.timeframes import Timeframe, bar_span
from tradealerts.server.alerts.closed import BarDriven
from tradealerts.server.alerts.firing import COOLING, Hit, HitList, Limits
from tradealerts.server.alerts.lines import touch_hit
from tradealerts.server.alerts.model import (
    CONDITIONS,
    FREQUENCIES,
    NOTHING,
    SOURCES,
    TIMEFRAMES,
    Alert,
    MatchResult,
    StatusChange,
)
from tradealerts.server.alerts.predicates import (
    KIND,
    KIND_BAR,
    KIND_CHANNEL,
    KIND_LEVEL,
    KIND_MOVE,
    PRICE_HITS,
    STATE,
    move_hit,
)
from tradealerts.server.alerts.store import NEVER, SweepIndex
from tradealerts.server.engine.market import MarketState
from tradealerts.server.feeds import BarClose, Tick

__all__ = ["SymbolMatcher"]

_CLOSE = FREQUENCIES.index(Frequency.once_per_bar_close)
_LEVEL_CODES = np.array([CONDITIONS.index(c) for c in LEVEL_CONDITIONS], np.uint8)
_CHANNEL_CODES = np.array([CONDITIONS.index(c) for c in CHANNEL_CONDITIONS], np.uint8)


class SymbolMatcher(BarDriven):
    """Every active alert of one symbol. Not thread-safe: ``AlertBook`` queues changes."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol)
        self._static = (SweepIndex(), SweepIndex())  # per source: levels and channel edges
        self._fresh: list[Iterable[int]] = []  # rows new since the last tick
        self._bulk = 0  # live rows from load_levels (not in _by_id)
        self._rearm: list[tuple[float, int, int]] = []
        self._prev: tuple[float | None, float | None] = (None, None)

    def seed(self, tick: Tick) -> None:
        """Remember ``tick`` as the previous quote (a matcher created after the feed began)."""
        self._prev = (tick.bid, tick.ask)

    # -- changes ---------------------------------------------------------------------------
    def add(self, alert: Alert, market: MarketState | None = None) -> None:
        """Start matching ``alert`` (replacing the one with its id); it takes part from the
        next event on. A non-active alert is only removed."""
        last, count = alert.last_fired_at, alert.fire_count
        if market is not None:
            self.clock = market.clock
        old = self._row_of(alert.id)
        if old is not None:
            # the matcher may know of fires the caller has not stored yet
            seen = self.rows.last[old]
            if seen == seen and (last is None or seen > last):
                last = seen
            count = max(count, self.rows.count[old])
            self._drop(old)
        if alert.status != AlertStatus.active:
            return
        spec = alert.spec
        cond, tf, source = spec.condition, spec.timeframe, spec.price_source
        codes = (
            CONDITIONS.index(cond),
            FREQUENCIES.index(spec.frequency),
            SOURCES.index(source),
            TIMEFRAMES.index(tf),
        )
        a, b = alert.values()
        row = self.rows.alloc(
            alert.id, alert.user_id, codes, a, b, NEVER if last is None else last, count
        )
        self._alerts[row] = alert
        self._by_id[alert.id] = row
        limits = Limits.of(alert)
        if limits is not None:
            self._limits[row] = limits
        serial = self.rows.serial[row]
        if spec.expires_at is not None:
            heappush(self._expiry, (spec.expires_at.timestamp(), serial, row))
        if not evaluated_on_ticks(cond, spec.frequency):
            self._closing.setdefault(tf, set()).add(row)
            return
        kind = KIND[codes[0]]
        if kind == KIND_LEVEL:
            self._static[codes[2]].insert(a, row)
        elif kind == KIND_CHANNEL:
            self._static[codes[2]].insert(a, row)
            self._static[codes[2]].insert(b, row)
        else:
            series = market.series.get((self.symbol, tf)) if market is not None else None
            self._group_add(row, kind, series)
        self._fresh.append((row,))
        if last is not None and STATE[codes[0]]:
            again = self._again(row, last)
            if again is not None:
                heappush(self._rearm, (again, serial, row))

    def remove(self, alert_id: int) -> None:
        """Stop matching the alert (no-op when unknown)."""
        row = self._row_of(alert_id)
        if row is not None:
            self._drop(row)

    def _row_of(self, alert_id: int) -> int | None:
        row = self._by_id.get(alert_id)
        if row is None and self._bulk:
            # bulk-loaded rows are not in the dict (a million entries would cost ~100 MB)
            found = np.flatnonzero(
                (self.rows.view("alert_id") == alert_id) & (self.rows.view("alive") == 1)
            )
            row = int(found[0]) if found.size else None
        return row

    def load_levels(
        self,
        alert_ids: np.ndarray,
        user_ids: np.ndarray,
        conditions: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
        *,
        frequency: Frequency,
        timeframe: Timeframe,
        source: int = 0,
    ) -> None:
        """Bulk-add never-fired level/channel alerts with default messages (condition codes
        index ``CONDITIONS``; ``a`` is the level or lower edge, ``b`` the upper edge)."""
        if frequency == Frequency.once_per_bar_close:
            raise ValueError("load_levels takes tick-evaluated alerts only")
        if not np.isin(conditions, np.concatenate((_LEVEL_CODES, _CHANNEL_CODES))).all():
            raise ValueError("load_levels takes level and channel conditions only")
        codes = (FREQUENCIES.index(frequency), source, TIMEFRAMES.index(timeframe))
        added = self.rows.extend(alert_ids, user_ids, conditions, a, b, codes)
        self._bulk += len(added)
        self._rebuild_static(source)
        self._fresh.append(added)

    def _drop(self, row: int) -> None:
        rows = self.rows
        code, source = rows.cond[row], rows.source[row]
        tf = TIMEFRAMES[rows.tf[row]]
        if self._by_id.pop(rows.alert_id[row], None) is None:
            self._bulk -= 1
        self._alerts.pop(row, None)
        self._limits.pop(row, None)
        kind = KIND[code]
        if not evaluated_on_ticks(CONDITIONS[code], FREQUENCIES[rows.freq[row]]):
            self._closing[tf].discard(row)
        elif kind in (KIND_LEVEL, KIND_CHANNEL):
            self._static[source].forget(1 if kind == KIND_LEVEL else 2)
        else:
            self._group_drop(row, kind, source, tf)
        rows.release(row)
        if self._static[source].worn:
            self._rebuild_static(source)

    def _rebuild_static(self, source: int) -> None:
        rows = self.rows
        live = rows.view("alive").astype(bool) & (rows.view("source") == source)
        live &= rows.view("freq") != _CLOSE
        cond = rows.view("cond")
        a, b = rows.view("a"), rows.view("b")
        level = np.flatnonzero(live & np.isin(cond, _LEVEL_CODES))
        channel = np.flatnonzero(live & np.isin(cond, _CHANNEL_CODES))
        keys = np.concatenate((a[level], a[channel], b[channel]))
        self._static[source].load(keys, np.concatenate((level, channel, channel)))

    # -- events ----------------------------------------------------------------------------
    def on_tick(self, tick: Tick, market: MarketState | None = None) -> MatchResult:
        """Match one tick; fires are ordered by alert id."""
        now = tick.time
        if market is not None:
            self.clock = market.clock
        changed = self._expire(now) if self._expiry and self._expiry[0][0] <= now else []
        bid, ask = tick.bid, tick.ask
        was_bid, was_ask = self._prev
        self._prev = (bid, ask)
        cands: set[int] = set()
        if self._fresh:
            for rows in self._fresh:
                cands.update(rows)
            self._fresh.clear()
        rearm = self._rearm
        while rearm and rearm[0][0] <= now:
            _, serial, row = heappop(rearm)
            if self.rows.serial[row] == serial:
                cands.add(row)
        for source, was, price in ((0, was_bid, bid), (1, was_ask, ask)):
            index = self._static[source]
            if index.live and was is not None and was != price:
                cands.update(
                    index.between(was, price) if was < price else index.between(price, was)
                )
        if self._groups:
            self._group_candidates(cands, (was_bid, was_ask), (bid, ask))
        if not cands:
            return MatchResult(changed=tuple(changed)) if changed else NOTHING
        hits = self._tick_hits(cands, now, (was_bid, was_ask), (bid, ask))
        return self._commit(hits, now, changed)

    def _tick_hits(
        self,
        cands: set[int],
        now: float,
        was: tuple[float | None, float | None],
        price: tuple[float, float],
    ) -> HitList:
        rows = self.rows
        hits: HitList = []
        limits = self._limits
        for row in cands:
            code = rows.cond[row]
            kind = KIND[code]
            if not rows.alive[row] or rows.freq[row] == _CLOSE or kind == KIND_BAR:
                continue  # a stale index entry, or a reused row that now waits for closes
            tf = TIMEFRAMES[rows.tf[row]]
            refused = self._refusal(row, tf, now)
            if refused:
                if refused == COOLING and STATE[code]:
                    # it may still hold when the cooldown ends: look again then
                    again = rows.last[row] + limits[row].cooldown
                    heappush(self._rearm, (again, rows.serial[row], row))
                continue
            source = rows.source[row]
            p0, p1 = was[source], price[source]
            line = None
            if kind <= KIND_CHANNEL:
                hit = PRICE_HITS[code]
                level = None if hit is None else hit(p0, p1, rows.a[row], rows.b[row])
            elif kind == KIND_MOVE:
                level = move_hit(
                    CONDITIONS[code], p1, self._groups[(kind, source, tf)].payload[row]
                )
            else:
                line = touch_hit(p1, self._groups[(kind, source, tf)].payload[row])
                level = None if line is None else line.value
            if level is not None:
                hits.append(Hit(rows.alert_id[row], row, level, p1, line))
        return hits

    def _after_fire(self, row: int, now: float) -> None:
        """Tick-evaluated state alerts come back when their frequency window rolls over."""
        rows = self.rows
        code, freq = rows.cond[row], FREQUENCIES[rows.freq[row]]
        if STATE[code] and freq != Frequency.once_per_bar_close:
            again = self._again(row, now)
            if again is not None:
                heappush(self._rearm, (again, rows.serial[row], row))

    def on_bar(
        self, bar_close: BarClose, changes: IndicatorChanges | None, market: MarketState
    ) -> MatchResult:
        """Match a closed bar of one timeframe (``changes`` None: not a new bar, ignored)."""
        tf = bar_close.timeframe
        self.clock = market.clock
        now = float(bar_span(tf, bar_close.bar.time, self.clock)[1])
        changed = self._expire(now) if self._expiry and self._expiry[0][0] <= now else []
        series = market.series.get((self.symbol, tf)) if changes is not None else None
        if series is None or changes is None:
            return MatchResult(changed=tuple(changed)) if changed else NOTHING
        changed += self._rekey_groups(tf, series, now)
        hits = self._closed_hits(tf, series, changes, now, changed)
        return self._commit(hits, now, changed) if hits or changed else NOTHING

    def expire_due(self, now: float) -> list[StatusChange]:
        """Expire what is due at ``now`` without an event (for symbols whose feed is quiet)."""
        return self._expire(now)

    def __len__(self) -> int:
        return self.rows.live
