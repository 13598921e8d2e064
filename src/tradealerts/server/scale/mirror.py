"""An API process's copy of the leader's market: an ``Engine`` whose feed is the bus.

It loads the leader's snapshot and then applies the very ``Tick`` / ``BarClose`` events the
leader applied, through the same ``MarketState`` and ``Engine.payload`` code, so indicator
bodies and ETags are byte-identical to the leader's (and to the embedded mode's). The reader
(``scale.api``) checks the entries' ids; on a gap or a new leader it calls ``resync`` and the
mirror reloads the newest snapshot (answering 503 ``engine_unavailable`` meanwhile).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.engine import Engine, MarketState
from tradealerts.server.feeds import BarClose, Feed, FeedEvent, FeedStatus, FeedUnavailable, Tick
from tradealerts.server.scale.snapshot import Snapshot

__all__ = ["BusFeed", "Mirror", "event_of"]

_RESYNC = object()


def event_of(kind: str, data: str) -> FeedEvent:
    """The feed event of a ``bus:market`` entry (``k``, ``d``)."""
    d = json.loads(data)
    if kind == "price":
        return Tick(d["symbol"], d["time"], d["bid"], d["ask"])
    bar = Bar(int(d["time"]), d["open"], d["high"], d["low"], d["close"], d["volume"])
    return BarClose(d["symbol"], Timeframe(d["timeframe"]), bar)


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

    def load(self, snap: Snapshot) -> None:
        """A fresh snapshot: drop what was queued, the stream goes on from ``snap.seq``."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.snapshot, self.epoch, self.seq = snap, snap.epoch, snap.seq
        self.queue.put_nowait(_RESYNC)

    def offer(self, epoch: int, seq: int, event: FeedEvent, sent_at: float) -> bool:
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

    async def stream(self) -> AsyncIterator[FeedEvent]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            if item is _RESYNC:
                if self.snapshot is not None and self.snapshot is self.loaded:
                    continue  # the mirror holds this snapshot already
                raise FeedUnavailable("reloading the engine's market snapshot")
            if isinstance(item, Tick | BarClose):
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
        was_loaded = self._loaded
        await super()._prepare()
        if not was_loaded:
            self.feed.loaded = snap
            for key, (version, tick_version, updated_at) in snap.versions.items():
                st = self.market.series[key]
                st.version, st.tick_version, st.updated_at = version, tick_version, updated_at
            self.market.last_tick = dict(snap.last_tick)

    def bus_lag(self) -> float:
        """Seconds the last frame took from the leader to this process."""
        return self.feed.lag
