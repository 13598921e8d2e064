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


def _never_closed(symbol: str) -> bool:
    return False


@dataclass
class _Cached:
    key: tuple[int, int]
    etag: str
    body: bytes


class Engine:
    """Feed → market state → listeners, on one asyncio task.

    Every failure (the feed cannot connect, loading history fails, the stream breaks, a bug)
    is logged, shown by ``health()`` with its reason, and retried with back-off (``retry_first``
    seconds, doubling to ``retry_max``); only ``stop()`` ends the task. A ``hold`` pauses the
    consumption of the feed before the next event (the alert log asks for it while it cannot
    keep up), so nothing is matched, and nothing skipped, until it is released.
    """

    def __init__(
        self,
        feed: Feed,
        *,
        history_bars: int,
        stale_after: float,
        n: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
        retry_first: float = 1.0,
        retry_max: float = 60.0,
    ) -> None:
        self.feed = feed
        self.history_bars = history_bars
        self.stale_after = stale_after
        self.market = MarketState(n)
        self.listeners: list[Listener] = []
        self.state = "created"
        self.error: str | None = None
        self.failures = 0
        self.retry_at: float | None = None
        self.lag = 0.0
        self.events = 0
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._monotonic = monotonic
        self._started_at = 0.0
        self._last_seen: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._cache: dict[tuple[str, Timeframe, int], _Cached] = {}
        self._connected = False
        self._loaded = False
        self._holds: dict[str, str] = {}
        self._released = asyncio.Event()
        self._released.set()
        #: whether a symbol's market is closed now by its schedule (set by the app): a quiet
        #: closed market is ``closed`` in health, not ``stale`` (issue #29)
        self.is_closed: Callable[[str], bool] = _never_closed

    async def start(self) -> None:
        """Connect the feed and load its history, then consume it on a task.

        The first attempt runs here, so an engine whose feed is fine is ``running`` when this
        returns. A failure does not stop the server: it is logged, shown by health, and the
        task keeps trying with back-off (the MT5 terminal may be closed, its history not yet
        synchronised). Configuration errors are caught before this by ``serve``'s checks.
        """
        self.state = "starting"
        failed = False
        try:
            await self._prepare()
        except Exception as exc:
            self._failed(exc, self.retry_first)
            failed = True
        else:
            self.state = "running"
        self._task = asyncio.create_task(self._supervise(failed), name="tradealerts-engine")

    async def _prepare(self) -> None:
        """Connect (once) and load history (once); what already succeeded is not redone."""
        if not self._connected:
            await self.feed.start()
            self._connected = True
            if self.failures:
                log.info("feed %s connected", self.feed.name)
        if not self._loaded:
            # a failed load may have filled some series: nothing has read them yet
            self.market.set_clock(self.feed.bar_clock())
            await self.market.load(self.feed, self.history_bars)
            self._started_at = self._monotonic()
            for sym in self.market.symbols():
                self._last_seen[sym] = self._started_at
            self._loaded = True

    async def _supervise(self, failed: bool) -> None:
        delay = self.retry_first
        while True:
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
            before = self.events
            try:
                await self._prepare()
                if self.failures and self.state != "running":
                    log.info("engine running again after %d failure(s)", self.failures)
                self.state, self.error, self.retry_at = "running", None, None
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.state == "running" and self.events > before:
                    delay = self.retry_first  # it ran: a new failure starts the back-off again
                self._failed(exc, delay)
                failed = True
                continue
            self.state = "finished"
            log.info("feed %s ended after %d events", self.feed.name, self.events)
            return

    def _failed(self, exc: Exception, retry_in: float) -> None:
        """Log a failure and show it in health until the next attempt succeeds."""
        self.failures += 1
        self.state = "retrying"
        self.retry_at = self._monotonic() + retry_in
        if isinstance(exc, FeedUnavailable):
            # the usual outage (terminal closed, bridge down): a line, not a traceback
            self.error = str(exc)
            log.warning("feed %s unavailable: %s; retrying in %gs", self.feed.name, exc, retry_in)
        elif isinstance(exc, FeedError):
            self.error = str(exc)
            log.error("feed %s failed: %s; retrying in %gs", self.feed.name, exc, retry_in)
        else:
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("engine failed on an unexpected error; retrying in %gs", retry_in)
        if self._connected and not self._loaded:
            self.error = f"loading history: {self.error}"

    async def _consume(self) -> None:
        async for event in self.feed.stream():
            if self._holds:
                await self._held()
            self.process(event)

    async def _held(self) -> None:
        self.state = "paused"
        log.warning("engine paused: %s", "; ".join(self._holds.values()))
        await self._released.wait()
        self.state = "running"
        log.info("engine resumed")

    def hold(self, name: str, reason: str) -> None:
        """Stop matching before the next feed event until ``release(name)``. Engine loop."""
        self._holds[name] = reason
        self._released.clear()

    def release(self, name: str) -> None:
        """Drop the hold ``name``; the engine goes on when no hold is left. Engine loop."""
        self._holds.pop(name, None)
        if not self._holds:
            self._released.set()

    async def stop(self) -> None:
        """Stop consuming and close the feed. Safe to call twice."""
        if self._task is not None:
            self._task.cancel()
            # _supervise already logged whatever ended it
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self.feed.close()
        self.state = "stopped"

    async def wait(self) -> None:
        """Wait until the feed runs out (a replay file ends) or the engine stops."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def process(self, event: Tick | BarClose) -> IndicatorChanges | None:
        """Apply one event and tell the listeners; a listener's failure is logged, not raised."""
        t0 = self._monotonic()
        clock = self.feed.bar_clock()  # a terminal's clock moves at a daylight-saving switch
        if clock is not self.market.clock:
            self.market.set_clock(clock)
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
                "status": "ok"
                if age <= self.stale_after
                else "closed"
                if self.is_closed(sym)
                else "stale",
                "seconds_since_tick": round(age, 3),
            }
        running = self.state == "running"
        feed_ok = running and status.connected
        engine: dict[str, Any] = {
            "status": "ok" if running else self.state,
            "lag_seconds": round(self.lag, 6),
            "events": self.events,
        }
        if self.state == "paused":
            engine["reason"] = "; ".join(self._holds.values())
        if self.error is not None:
            engine["error"] = self.error
            engine["failures"] = self.failures
        if self.retry_at is not None and self.state == "retrying":
            engine["retry_in_seconds"] = round(max(0.0, self.retry_at - now), 1)
        return {
            "feed": {
                "name": self.feed.name,
                "status": "ok"
                if feed_ok and all(s["status"] in ("ok", "closed") for s in symbols.values())
                else "stale"
                if running
                else self.state,
                "connected": status.connected,
                "error": status.error or self.error,
                "stale_after_seconds": self.stale_after,
                "symbols": symbols,
            },
            "engine": engine,
        }
