"""The engine component: loads history, then applies every feed event to the market state.

Started and stopped by the app's lifespan (embedded default) or by ``tradealerts-server
engine`` when scaled out. Listeners (the alert engine) are called for every event, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradealerts.core.indicators import IndicatorChanges
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.engine.market import MarketState
from tradealerts.server.engine.payload import indicator_payload
from tradealerts.server.feeds import BarClose, Feed, FeedError, FeedUnavailable, Tick

__all__ = ["Engine", "Listener"]

log = logging.getLogger("tradealerts.engine")

Listener = Callable[[Tick | BarClose, IndicatorChanges | None], None]


@dataclass
class _Cached:
    key: tuple[int, int]
    etag: str
    body: bytes


class Engine:
    """Feed → market state → listeners, on one asyncio task."""

    def __init__(
        self,
        feed: Feed,
        *,
        history_bars: int,
        stale_after: float,
        n: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed = feed
        self.history_bars = history_bars
        self.stale_after = stale_after
        self.market = MarketState(n)
        self.listeners: list[Listener] = []
        self.state = "created"
        self.error: str | None = None
        self.lag = 0.0
        self.events = 0
        self._monotonic = monotonic
        self._started_at = 0.0
        self._last_seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._cache: dict[tuple[str, Timeframe, int], _Cached] = {}

    async def start(self) -> None:
        """Connect the feed, load history and start consuming live events.

        A feed that is temporarily unavailable (the MT5 terminal is closed) does not stop
        the server: the engine keeps trying in the background and reports itself stale.
        """
        self.state = "starting"
        try:
            await self.feed.start()
        except FeedUnavailable as exc:
            self.state, self.error = "connecting", str(exc)
            log.warning("feed %s unavailable at start: %s; retrying", self.feed.name, exc)
            self._task = asyncio.create_task(self._connect_then_run(), name="tradealerts-engine")
            return
        await self._load_and_run()

    async def _connect_then_run(self) -> None:
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self.feed.start()
            except FeedUnavailable as exc:
                self.error = str(exc)
                delay = min(delay * 2, 60.0)
                continue
            self.error = None
            log.info("feed %s connected", self.feed.name)
            await self._load_and_run(spawn=False)
            await self._run()
            return

    async def _load_and_run(self, spawn: bool = True) -> None:
        await self.market.load(self.feed, self.history_bars)
        self._started_at = self._monotonic()
        for sym in self.market.symbols():
            self._last_seen[sym] = self._started_at
        self.state = "running"
        if spawn:
            self._task = asyncio.create_task(self._run(), name="tradealerts-engine")

    async def stop(self) -> None:
        """Stop consuming and close the feed. Safe to call twice."""
        if self._task is not None:
            self._task.cancel()
            # _run already logged whatever ended it
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.feed.close()
        if self.state != "failed":
            self.state = "stopped"

    async def wait(self) -> None:
        """Wait until the feed runs out (a replay file ends) or the engine stops."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            async for event in self.feed.stream():
                self.process(event)
            self.state = "finished"
            log.info("feed %s ended after %d events", self.feed.name, self.events)
        except asyncio.CancelledError:
            raise
        except FeedError as exc:
            self.state, self.error = "failed", str(exc)
            log.error("feed %s failed: %s", self.feed.name, exc)
        except Exception as exc:
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("engine stopped on an unexpected error")

    def process(self, event: Tick | BarClose) -> IndicatorChanges | None:
        """Apply one event and tell the listeners; a listener's failure is logged, not raised."""
        t0 = self._monotonic()
        changes = self.market.apply(event)
        self._last_seen[event.symbol] = t0
        for listener in self.listeners:
            try:
                listener(event, changes)
            except Exception:
                log.exception("listener %r failed on %s", listener, event)
        self.events += 1
        self.lag = self._monotonic() - t0
        return changes

    def payload(self, symbol: str, timeframe: Timeframe, count: int) -> tuple[str, bytes]:
        """The indicator payload as (ETag, JSON bytes), built once per market change."""
        st = self.market.get(symbol, timeframe)
        key = (st.tick_version, count)
        cached = self._cache.get((symbol, timeframe, count))
        if cached is not None and cached.key == key:
            return cached.etag, cached.body
        body = json.dumps(
            indicator_payload(st, count), separators=(",", ":"), allow_nan=False
        ).encode()
        etag = f'"{symbol}-{timeframe.value}-{st.version}.{st.tick_version}-{count}"'
        self._cache[(symbol, timeframe, count)] = _Cached(key, etag, body)
        return etag, body

    def health(self) -> dict[str, Any]:
        """Feed connection, freshness per symbol, engine state and lag."""
        now = self._monotonic()
        status = self.feed.status()
        symbols = {}
        for sym in sorted(self.market.symbols()):
            age = now - self._last_seen.get(sym, now)
            symbols[sym] = {
                "status": "ok" if age <= self.stale_after else "stale",
                "seconds_since_tick": round(age, 3),
            }
        running = self.state == "running"
        feed_ok = running and status.connected
        return {
            "feed": {
                "name": self.feed.name,
                "status": "ok"
                if feed_ok and all(s["status"] == "ok" for s in symbols.values())
                else "stale"
                if running
                else self.state,
                "connected": status.connected,
                "error": status.error or self.error,
                "stale_after_seconds": self.stale_after,
                "symbols": symbols,
            },
            "engine": {
                "status": "ok" if running else self.state,
                "lag_seconds": round(self.lag, 6),
                "events": self.events,
            },
        }
