"""An API process's copy of the leader's market: an ``Engine`` whose feed is the bus.

It loads the leader's snapshot and then applies the very ``Tick`` / ``BarClose`` events the
leader applied, through the same ``MarketState`` and ``Engine.payload`` code, so indicator
bodies and ETags are byte-identical to the leader's (and to the embedded mode's). The reader
(``scale.api``) checks the entries' ids; on a gap or a new leader it calls ``resync`` and the
mirror reloads the newest snapshot (answering 503 ``engine_unavailable`` meanwhile).

When the leader draws some series from the owner's MT5 buffers, the snapshot carries its
lines source, buffer map and values, and the bridge's values reach the mirror as ``lines``
entries (``OwnerValues``) at the point of the stream where the leader applied them: the
mirror's ``OwnerLines`` redraws exactly as the leader's did.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.indicators import IndicatorChanges
from tradealerts.core.ingest import BufferMap, LinesSource
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe
from tradealerts.server.engine import Engine, MarketState
from tradealerts.server.engine.owner_lines import OwnerLines, Row
from tradealerts.server.feeds import BarClose, Feed, FeedEvent, FeedStatus, FeedUnavailable, Tick
from tradealerts.server.scale.snapshot import Snapshot

__all__ = ["BusFeed", "Mirror", "OwnerValues", "event_of", "values_data"]

_RESYNC = object()


@dataclass(frozen=True)
class OwnerValues:
    """The bridge's values of one series as the leader applied them (a ``lines`` entry):
    the bars whose values changed, and when the bridge last sent."""

    symbol: str
    timeframe: Timeframe
    rows: dict[int, Row]
    at: float


def values_data(symbol: str, timeframe: Timeframe, rows: dict[int, Row], at: float) -> str:
    """The ``d`` of a ``lines`` entry (``event_of`` reads it back)."""
    data = {
        "symbol": symbol,
        "timeframe": timeframe.value,
        "rows": [[t, [[b, v] for b, v in row.items()]] for t, row in rows.items()],
        "at": at,
    }
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def event_of(kind: str, data: str) -> FeedEvent | OwnerValues:
    """The feed event of a ``bus:market`` entry (``k``, ``d``)."""
    d = json.loads(data)
    if kind == "lines":
        rows = {int(t): {int(b): v for b, v in row} for t, row in d["rows"]}
        return OwnerValues(d["symbol"], Timeframe(d["timeframe"]), rows, float(d["at"]))
    if kind == "price":
        return Tick(d["symbol"], d["time"], d["bid"], d["ask"])
    bar = Bar(int(d["time"]), d["open"], d["high"], d["low"], d["close"], d["volume"])
    f = d.get("forming")
    forming = None if f is None else Bar(
        int(f["time"]), f["open"], f["high"], f["low"], f["close"], f["volume"]
    )  # fmt: skip
    return BarClose(d["symbol"], Timeframe(d["timeframe"]), bar, forming)


class BusFeed(Feed):
    """The leader's snapshot as history, the ``bus:market`` entries as the stream."""

    name = "bus"

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.connected = False
        self.seq = 0
        self.epoch = 0
        #: seconds from the leader sending the last frame to this process reading it (not
        #: "since": a quiet market sends nothing and is not behind)
        self.lag = 0.0
        self.loaded: Snapshot | None = None  # the snapshot the mirror's market came from

    def bar_clock(self) -> BarClock:
        """The leader's bar clock as of the snapshot loaded."""
        snap = self.snapshot or self.loaded
        return UTC_CLOCK if snap is None else snap.clock

    def load(self, snap: Snapshot) -> None:
        """A fresh snapshot: drop what was queued, the stream goes on from ``snap.seq``."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.snapshot, self.epoch, self.seq = snap, snap.epoch, snap.seq
        self.queue.put_nowait(_RESYNC)

    def offer(self, epoch: int, seq: int, event: FeedEvent | OwnerValues, sent_at: float) -> bool:
        """Queue the entry ``epoch-seq``; False (nothing queued) when it is not the next one."""
        if epoch != self.epoch or seq != self.seq + 1:
            return False
        self.seq = seq
        if sent_at:
            self.lag = max(0.0, time.time() - sent_at)
        self.queue.put_nowait(event)
        return True

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.queue.put_nowait(None)

    def _snap(self) -> Snapshot:
        if self.snapshot is None:
            raise FeedUnavailable("no engine has published its market yet")
        return self.snapshot

    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted({s for s, _ in self._snap().bars}))

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        return tuple(tf for s, tf in self._snap().bars if s == symbol)

    async def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Bars:
        # every bar the leader holds, whatever ``count``: indicators run over all of them
        return self._snap().bars[(symbol, timeframe)]

    async def stream(self) -> AsyncIterator[Any]:  # FeedEvent, and OwnerValues
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if item is _RESYNC:
                if self.snapshot is not None and self.snapshot is self.loaded:
                    continue  # the mirror holds this snapshot already
                raise FeedUnavailable("reloading the engine's market snapshot")
            if isinstance(item, Tick | BarClose | OwnerValues):
                yield item

    def status(self) -> FeedStatus:
        return FeedStatus(connected=self.connected and self.snapshot is not None)


class Mirror(Engine):
    """``Engine`` over a ``BusFeed``; ``resync`` makes it reload the snapshot."""

    feed: BusFeed

    def __init__(self, feed: BusFeed, stale_after: float) -> None:
        super().__init__(
            feed, history_bars=0, stale_after=stale_after, retry_first=0.1, retry_max=1.0
        )
        #: the owner's lines as the leader draws them (None: every series computed)
        self.owner: OwnerLines | None = None

    def resync(self) -> None:
        """The next entries are not the ones the mirror needs: reload from a snapshot."""
        self.feed.snapshot = None
        self.feed.queue.put_nowait(_RESYNC)

    async def _prepare(self) -> None:
        snap = self.feed.snapshot
        if snap is None:
            self._loaded = False
            raise FeedUnavailable("waiting for the engine's market snapshot")
        if self.feed.loaded is not snap:
            self._loaded = False
            self.market = MarketState(self.market.n)
            self._cache.clear()
            self.owner = _owner_of(snap)
            if self.owner is not None:
                self.market.make_indicators = self.owner.indicators
                self.owner.market = self.market
        was_loaded = self._loaded
        await super()._prepare()
        if not was_loaded:
            self.feed.loaded = snap
            for key, (version, tick_version, updated_at) in snap.versions.items():
                st = self.market.series[key]
                st.version, st.tick_version, st.updated_at = version, tick_version, updated_at
            self.market.last_tick = dict(snap.last_tick)

    def process(self, event: Tick | BarClose | OwnerValues) -> IndicatorChanges | None:
        """A feed event as ``Engine.process``; the owner's values go to the owner's lines
        (a redraw bumps the series' tick version, as it did on the leader)."""
        if isinstance(event, OwnerValues):
            if self.owner is not None:
                self.owner.received(event.symbol, event.timeframe, event.rows, event.at)
            self.events += 1
            return None
        return super().process(event)

    def bus_lag(self) -> float:
        """Seconds the last frame took from the leader to this process."""
        return self.feed.lag


def _owner_of(snap: Snapshot) -> OwnerLines | None:
    """The leader's owner lines as of the snapshot (a copy: the mirror adds to it)."""
    if snap.owner is None:
        return None
    spec = str(snap.owner["source"])
    owner = OwnerLines(
        BufferMap.model_validate(snap.owner["map"]), LinesSource.parse(spec), spec=spec
    )
    owner.values = {key: dict(rows) for key, rows in (snap.values or {}).items()}
    owner.last_sent = dict(snap.last_sent or {})
    return owner
