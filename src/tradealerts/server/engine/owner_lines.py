"""The owner's lines: fractals and lines from their MT5 indicator's buffers (issue #16).

``OwnerIndicators`` is an ``IndicatorState`` whose marks come from the buffers the bridge sent
instead of from our fractal rule, so everything that reads a series' indicators (the payload
of ``/api/indicators``, the alert matcher's lines, touches and breaks) serves the owner's
lines unchanged, with the same stable ids. ``OwnerLines`` keeps the buffers per series, makes
the indicators of the series whose source is ``mt5``, and redraws them when the bridge sends
values of bars already closed.

When the bridge's values arrive: a closed bar uses what arrived by its close. Values of a bar
already closed (the feed was first) redraw the series at once; a line that the redraw shows
broken while the alert engine saw it active is reported broken at the next bar close, so a
line_break alert on it fires one bar late rather than never.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tradealerts.core.bars import Bars
from tradealerts.core.indicators import (
    DiagonalLine,
    HorizontalLine,
    IndicatorChanges,
    IndicatorState,
    LineKind,
)
from tradealerts.core.indicators.columns import HorizontalColumns
from tradealerts.core.ingest import EMPTY_VALUE, BufferMap, LinesSource, is_empty
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.engine.market import MarketState

__all__ = ["OwnerIndicators", "OwnerLines", "Row"]

log = logging.getLogger("tradealerts.owner_lines")

#: buffer index -> value (None: nothing on the bar)
Row = dict[int, float | None]
_MISSING = object()  # the bridge has not sent this bar (or this buffer) yet


class OwnerIndicators(IndicatorState):
    """Fractals and lines of a growing series, marked by the owner's buffers.

    ``values`` (bar time -> buffer values) is shared with ``OwnerLines``, which adds to it;
    ``bars`` is the series' own ``Bars`` (``update`` runs after a bar is appended to it).
    The window ``n`` is the map's ``confirm_bars``: a mark on bar c is used from bar c + n.
    """

    def __init__(self, bmap: BufferMap, values: dict[int, Row], bars: Bars) -> None:
        super().__init__(bmap.confirm_bars)
        self.map = bmap
        self.values = values
        self._bars = bars
        if bmap.levels:
            self.horizontal = HorizontalColumns(0)  # a level starts on its own bar
        self._runs: dict[int, tuple[float, int]] = {}  # level buffer -> (price, position)
        self._anchor: dict[int, tuple[int, float]] = {}  # anchor buffer -> (bar, price)
        self._late_h: list[int] = []  # breaks a redraw found, for the next bar close
        self._late_d: list[int] = []

    @classmethod
    def build(
        cls,
        bmap: BufferMap,
        values: dict[int, Row],
        bars: Bars,
        previous: IndicatorState | None = None,
    ) -> OwnerIndicators:
        """The state after every closed bar of ``bars``. With ``previous`` (the state this
        one replaces), lines it had active and this one has broken are reported by the next
        ``update``."""
        st = cls(bmap, values, bars)
        if bmap.levels or bmap.anchors:
            for h, lo, c in zip(
                bars.high.tolist(), bars.low.tolist(), bars.close.tolist(), strict=True
            ):
                st._step(h, lo, c)
        else:
            st._fill_fractal_layout()
        if previous is not None:
            st._late_from(previous)
        return st

    def update(self, high: float, low: float, close: float) -> IndicatorChanges:
        """Add one closed bar (already appended to the series' bars); what it changed."""
        for name, v in (("high", high), ("low", low), ("close", close)):
            if not np.isfinite(v):
                raise ValueError(f"{name} is not a finite number: {v!r}")
        ch = self._step(high, low, close)
        ch.broken_horizontal += self._late_h
        ch.broken_diagonal += self._late_d
        self._late_h, self._late_d = [], []
        return ch

    # -- internals -----------------------------------------------------------------------
    def _late_from(self, previous: IndicatorState) -> None:
        """The lines ``previous`` (built over the same bars, so the same bar indices) had
        active, or had yet to report broken, that this state has broken."""
        h_was = {(ln.kind == "support", ln.origin) for ln in previous.active_horizontal()}
        d_was = {(d.kind == "support", d.i1, d.i2) for d in previous.active_diagonal()}
        if isinstance(previous, OwnerIndicators):
            ph, pd = previous.horizontal, previous.diagonal
            h_was |= {(bool(ph.support[k]), ph.origin[k]) for k in previous._late_h}
            d_was |= {(bool(pd.support[k]), pd.i1[k], pd.i2[k]) for k in previous._late_d}
        hc, dc = self.horizontal, self.diagonal
        self._late_h = [
            k
            for k, (sup, origin, broken) in enumerate(
                zip(hc.support, hc.origin, hc.broken, strict=True)
            )
            if broken >= 0 and (bool(sup), origin) in h_was
        ]
        self._late_d = [
            k
            for k, (sup, i1, i2, broken) in enumerate(
                zip(dc.support, dc.i1, dc.i2, dc.broken, strict=True)
            )
            if broken >= 0 and (bool(sup), i1, i2) in d_was
        ]

    def _fill_fractal_layout(self) -> None:
        """What bar-by-bar ``_step`` gives for the fractals layout, with the batch functions
        (a redraw of 5,000 bars in milliseconds; bar by bar, every active line is checked on
        every bar): our lines through the owner's marks, at the owner's prices."""
        bars, n, m = self._bars, self.n, self.map
        times = bars.time
        size = len(times)
        marks: dict[bool, dict[int, float]] = {True: {}, False: {}}
        stamps = np.fromiter(self.values, dtype=np.int64, count=len(self.values))
        at = np.searchsorted(times, stamps).tolist()
        listed = times.tolist()  # (indexing a numpy array per value was most of the time)
        nothing = (None, EMPTY_VALUE, m.empty_value)
        sides = [
            (b, is_up)
            for b, is_up in ((m.up_fractal, True), (m.down_fractal, False))
            if b is not None
        ]
        for t, i in zip(stamps.tolist(), at, strict=True):
            if i >= size - n or listed[i] != t:
                continue  # not a closed bar of the series, or its mark is not yet confirmed
            row = self.values[t]
            for buffer, is_up in sides:
                v = row.get(buffer)
                if v not in nothing:
                    marks[is_up][i] = float(v)
        up = np.array(sorted(marks[True]), dtype=np.int64)
        down = np.array(sorted(marks[False]), dtype=np.int64)
        c = np.ascontiguousarray(bars.close, dtype=np.float64)
        # the batch functions read a fractal's price from the highs / lows at its bar
        h = np.array(bars.high, dtype=np.float64)
        lo = np.array(bars.low, dtype=np.float64)
        h[up] = [marks[True][i] for i in up.tolist()]
        lo[down] = [marks[False][i] for i in down.tolist()]
        self._load(h, lo, c, up, down)

    def _step(self, high: float, low: float, close: float) -> IndicatorChanges:
        t = len(self.close)
        self.close.append(float(close))
        ch = IndicatorChanges(bar=t)
        self._break_active(t, ch)
        m = self.map
        if m.levels:
            self._levels(t, ch)
        c = t - self.n
        if c >= 0:
            for buffer, resistance in ((m.up_fractal, True), (m.down_fractal, False)):
                price = self._value(c, buffer)
                if isinstance(price, float):
                    self._fractal(c, price, resistance, ch)
            anchors: tuple[tuple[int | None, LineKind], ...] = (
                (m.resistance_anchors, "resistance"),
                (m.support_anchors, "support"),
            )
            for buffer, kind in anchors:
                price = self._value(c, buffer)
                if buffer is not None and isinstance(price, float):
                    self._add_anchor(buffer, c, price, kind, ch)
        return ch

    def _value(self, i: int, buffer: int | None) -> object:
        """Buffer ``buffer`` on bar ``i``: a price, None (nothing drawn) or ``_MISSING``."""
        if buffer is None:
            return _MISSING
        row = self.values.get(int(self._bars.time[i]))
        if row is None or buffer not in row:
            return _MISSING
        v = row[buffer]
        return None if is_empty(v, self.map.empty_value) else float(v)  # type: ignore[arg-type]

    def _break_active(self, t: int, ch: IndicatorChanges) -> None:
        if not self.map.levels:
            super()._break_active(t, ch)
            return
        # the owner's levels end where their buffer says, not on a close beyond
        keep, self._active_h = self._active_h, []
        super()._break_active(t, ch)
        self._active_h = keep

    def _fractal(self, c: int, price: float, resistance: bool, ch: IndicatorChanges) -> None:
        m = self.map
        if not m.levels and not m.anchors:
            # our spec's lines through the owner's fractals
            self._add_fractal(c, price, "resistance" if resistance else "support", ch)
            return
        previous, p0 = self._mark_fractal(c, price, resistance, ch)
        kind: LineKind = "resistance" if resistance else "support"
        if not m.levels:
            hl = HorizontalLine(
                kind, price, c, c + self.n, self._first_break(c + 1, price, resistance)
            )
            self._append_h(hl, ch)
        if (
            not m.anchors
            and previous is not None
            and ((price < p0) if resistance else (price > p0))
        ):
            self._append_d(DiagonalLine(kind, previous, p0, c, price), ch)

    def _add_anchor(
        self, buffer: int, c: int, price: float, kind: LineKind, ch: IndicatorChanges
    ) -> None:
        prev = self._anchor.get(buffer)
        self._anchor[buffer] = (c, price)
        if prev is not None:
            self._append_d(DiagonalLine(kind, prev[0], prev[1], c, price), ch)

    def _levels(self, t: int, ch: IndicatorChanges) -> None:
        m = self.map
        levels: tuple[tuple[list[int], LineKind], ...] = (
            (m.resistance_levels, "resistance"),
            (m.support_levels, "support"),
        )
        for buffers, kind in levels:
            for buffer in buffers:
                v = self._value(t, buffer)
                if v is _MISSING:
                    continue  # not sent (yet): the level stays as it was
                run = self._runs.get(buffer)
                if run is not None and v != run[0]:
                    k = run[1]
                    self.horizontal.set_broken(k, t)
                    self._active_h.remove(k)
                    ch.broken_horizontal.append(k)
                    del self._runs[buffer]
                    run = None
                if isinstance(v, float) and run is None:
                    k = self._append_h(HorizontalLine(kind, v, t, t), ch)
                    self._runs[buffer] = (v, k)

    def _append_h(self, hl: HorizontalLine, ch: IndicatorChanges) -> int:
        self.horizontal.append(hl)
        k = len(self.horizontal) - 1
        ch.new_horizontal.append(k)
        if hl.broken is None:
            self._active_h.append(k)
        return k

    def _append_d(self, dl: DiagonalLine, ch: IndicatorChanges) -> None:
        dl = dl._replace(broken=self._first_break(dl.i2 + 1, dl, dl.kind == "resistance"))
        self.diagonal.append(dl)
        k = len(self.diagonal) - 1
        ch.new_diagonal.append(k)
        if dl.broken is None:
            self._active_d.append(k)


class OwnerLines:
    """The owner's buffer values per series, and the indicators of the ``mt5`` series.

    Lives on the engine's event loop: ``received`` is called there by the ingest route
    after the values are committed.
    """

    def __init__(
        self,
        bmap: BufferMap,
        source: LinesSource,
        wall: Callable[[], float] = time.time,
        spec: str = "",
    ) -> None:
        self.map = bmap
        self.source = source
        self.values: dict[tuple[str, Timeframe], dict[int, Row]] = {}
        self.last_sent: dict[tuple[str, Timeframe], float] = {}
        self.market: MarketState | None = None
        self._wall = wall
        self._synced: datetime | None = None  # newest received_at ``apply_stored`` has seen
        #: per series, a count of the changes to its values (the snapshot rewrites a
        #: series' values only when it moved)
        self.revision: dict[tuple[str, Timeframe], int] = {}
        self.spec = spec

    def wanted(self, symbol: str, timeframe: str) -> bool:
        """The series whose values are held in memory: those served from the owner's lines
        (the rest stay in the database, for ``lines compare``)."""
        return self.source.of(symbol, timeframe) == "mt5"

    def load(
        self,
        stored: dict[tuple[str, str], dict[int, Row]],
        last: dict[tuple[str, str], datetime],
    ) -> None:
        """Take what the database holds at start (``store.load_values(s, self.wanted)`` and
        ``store.last_received``)."""
        for (sym, tf), rows in stored.items():
            self.values[(sym, Timeframe(tf))] = rows
        for (sym, tf), at in last.items():
            self.last_sent[(sym, Timeframe(tf))] = at.timestamp()
            if self._synced is None or at > self._synced:
                self._synced = at

    def indicators(self, symbol: str, tf: Timeframe, bars: Bars, n: int) -> IndicatorState:
        """``MarketState``'s indicator factory: the owner's for an ``mt5`` series."""
        if self.source.of(symbol, tf.value) == "mt5":
            return OwnerIndicators.build(self.map, self.values.setdefault((symbol, tf), {}), bars)
        return IndicatorState.from_arrays(bars.high, bars.low, bars.close, n)

    def received(
        self, symbol: str, tf: Timeframe, changed: dict[int, Row], at: float | None = None
    ) -> bool:
        """Values the bridge sent (and the database kept) at ``at`` (default: now); redraws
        the series when they touch a bar already closed. True when it redrew."""
        key = (symbol, tf)
        self.last_sent[key] = self._wall() if at is None else at
        if not self.wanted(symbol, tf.value):
            return False
        if changed:
            self.values.setdefault(key, {}).update(changed)
            self.revision[key] = self.revision.get(key, 0) + 1
        return self._redraw(symbol, tf, changed)

    def _redraw(self, symbol: str, tf: Timeframe, changed: dict[int, Row]) -> bool:
        key = (symbol, tf)
        market = self.market
        if market is None or not changed:
            return False
        st = market.series.get(key)
        if st is None or not len(st.bars) or min(changed) > int(st.bars.time[-1]):
            return False  # the feed has not closed these bars yet: update() will use them
        st.indicators = OwnerIndicators.build(self.map, self.values[key], st.bars, st.indicators)
        st.tick_version += 1  # a new ETag for /api/indicators
        return True

    def apply_stored(self, rows: list[tuple[str, str, int, Row, datetime]]) -> int:
        """Take rows another process stored (``store.received_since(s, self.synced_since,
        self.wanted)``). Rows it already holds change nothing; returns the series redrawn
        or extended."""
        return sum(1 for changed, _at in self.take_stored(rows).values() if changed)

    def take_stored(
        self, rows: list[tuple[str, str, int, Row, datetime]]
    ) -> dict[tuple[str, Timeframe], tuple[dict[int, Row], float]]:
        """``apply_stored``, returning per series what changed and when the bridge last sent
        (the scaled-out engine publishes both, in order, so every API mirror draws the same:
        ``scale.engine_role``). A series of another source gets its time only."""
        by_series: dict[tuple[str, Timeframe], dict[int, Row]] = {}
        sent: dict[tuple[str, Timeframe], float] = {}
        for sym, tf, t, row, at in rows:
            key = (sym, Timeframe(tf))
            if self._synced is None or at > self._synced:
                self._synced = at
            stamp = at.timestamp()
            if stamp > self.last_sent.get(key, 0.0):
                sent[key] = stamp
            if self.wanted(sym, tf) and self.values.get(key, {}).get(t) != row:
                by_series.setdefault(key, {})[t] = row
        out: dict[tuple[str, Timeframe], tuple[dict[int, Row], float]] = {}
        for key in by_series.keys() | sent.keys():
            changed = by_series.get(key, {})
            stamp = max(sent.get(key, 0.0), self.last_sent.get(key, 0.0))
            self.received(key[0], key[1], changed, stamp)
            out[key] = (changed, stamp)
        return out

    def config(self) -> dict[str, Any]:
        """The source and the map, as the scaled-out engine publishes them to the API
        processes (their mirrors draw with the leader's, whatever their own settings say)."""
        return {"source": self.spec, "map": self.map.model_dump(mode="json")}

    @property
    def synced_since(self) -> datetime | None:
        """Where the next ``received_since`` read starts (rows at that very time are read
        again: two processes may commit within one clock tick)."""
        return self._synced

    def health(self) -> dict[str, Any]:
        """Per series: its lines' source and when the bridge last sent (``waiting`` on an
        ``mt5`` series the feed serves that has had nothing from the bridge yet). The
        status is ``waiting`` (health 503) only while the bridge has sent none of them: the
        EA is not reaching the server. Once it sends some, the others are listed as waiting
        and the server stays in service (an EA set to H1,H4,D1 under ``--lines-source mt5``
        would otherwise hold it out of every load balancer for good)."""
        now = self._wall()
        keys = set(self.last_sent)
        if self.market is not None:
            keys |= {k for k in self.market.series if self.source.of(k[0], k[1].value) == "mt5"}
        series: dict[str, Any] = {}
        waiting: list[str] = []
        received = 0
        for sym, tf in sorted(keys, key=lambda k: (k[0], k[1].seconds)):
            at = self.last_sent.get((sym, tf))
            src = self.source.of(sym, tf.value)
            name = f"{sym}:{tf.value}"
            if src == "mt5":
                if at is None:
                    waiting.append(name)
                else:
                    received += 1
            series[name] = {
                "source": src,
                "last_sent": None
                if at is None
                else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds_since_sent": None if at is None else round(now - at, 1),
                "bars": len(self.values[(sym, tf)]) if (sym, tf) in self.values else None,
                "waiting": src == "mt5" and at is None,
            }
        status = "waiting" if waiting and not received else "ok"
        return {"status": status, "waiting": waiting, "series": series}
