"""What subscribers see of the feed (issue #29): each symbol ``live``, ``delayed`` or
``closed``, and a ``feed`` stream event when that changes.

A symbol is ``live`` while its data is fresh (the last tick or bar came within
``feed_delayed_seconds``, by the app's clock), whatever the schedule says: a market that ticks
is open. Without fresh data it is ``closed`` when its schedule (``core.market_hours``, with the
owner's ``market_hours`` overrides) says the market is closed (a quiet closed market is not
an outage), else ``delayed``: the market should be trading and no data comes.

Each process watches the engine it holds: the embedded engine, or a scaled-out API process's
mirror, which sees the leader's ticks over ``bus:market``. So every API process sends the
events to its own streams and answers ``GET /api/feed`` without a bus entry of its own, and a
leader that stops publishing makes its mirrors' symbols ``delayed``, which is what a
subscriber of any process then sees. Events are live only (no ``id:``, never in the event
log); a client that connects reads ``GET /api/feed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tradealerts.core.market_hours import Schedule, schedule_for
from tradealerts.server.engine import Engine
from tradealerts.server.events import Bus, sse_frame
from tradealerts.server.feeds import BarClose, Tick
from tradealerts.server.worker import end_task

__all__ = ["FeedWatch", "SymbolFeed", "iso"]

log = logging.getLogger("tradealerts.feedstate")

LIVE, DELAYED, CLOSED = "live", "delayed", "closed"


def iso(t: datetime | None) -> str | None:
    """``2026-12-07T01:02:03Z`` (seconds), or None."""
    if t is None:
        return None
    return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SymbolFeed:
    """One symbol's state as subscribers see it."""

    symbol: str
    state: str
    #: since when: the last data (``delayed``, or the market's open when later), the
    #: market's close (``closed``), the first fresh data (``live``)
    since: datetime
    #: when the last tick or bar of the symbol arrived (None: none since the start)
    last_data: datetime | None
    #: when the schedule next opens or closes the market (None: 24/7)
    next_change: datetime | None
    schedule: str

    def as_dict(self) -> dict[str, Any]:
        """The ``data:`` of a ``feed`` event, and an item of ``GET /api/feed``."""
        return {
            "symbol": self.symbol,
            "state": self.state,
            "since": iso(self.since),
            "last_data": iso(self.last_data),
            "next_change": iso(self.next_change),
            "schedule": self.schedule,
        }


class FeedWatch:
    """Derives each symbol's state from the engine's events and the clock, and tells the
    bus (``Bus.feed``) when one changes. Event loop only."""

    def __init__(
        self,
        engine: Engine,
        bus: Bus,
        clock: Callable[[], datetime],
        *,
        overrides: Mapping[str, str] | None = None,
        delayed_after: float = 60.0,
        every: float = 1.0,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.clock = clock
        self.overrides = dict(overrides or {})
        self.delayed_after = timedelta(seconds=delayed_after)
        self.every = every
        self.states: dict[str, SymbolFeed] = {}
        self.last_data: dict[str, datetime] = {}
        self._started: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    def schedule(self, symbol: str) -> Schedule:
        """The symbol's market hours (the owner's override, else its asset class's)."""
        return schedule_for(symbol, self.overrides)

    def listener(self, event: Tick | BarClose, _changes: object) -> None:
        """Engine listener: the symbol's data is fresh; it is ``live`` again at once."""
        now = self.clock()
        sym = event.symbol
        self.last_data[sym] = now
        cur = self.states.get(sym)
        if cur is None or cur.state != LIVE:
            self._set(self._evaluate(sym, now))

    def is_closed(self, symbol: str) -> bool:
        """True when the symbol's market is closed by its schedule now (for health: a quiet
        closed market is not stale)."""
        return not self.schedule(symbol).is_open(self.clock())

    def _evaluate(self, sym: str, now: datetime) -> SymbolFeed:
        sched = self.schedule(sym)
        last = self.last_data.get(sym)
        seen = last or self._started or now  # the history loaded at the start is data
        if now - seen <= self.delayed_after:
            cur = self.states.get(sym)
            since = cur.since if cur is not None and cur.state == LIVE else seen
            return SymbolFeed(sym, LIVE, since, last, sched.next_change(now), str(sched))
        if not sched.is_open(now):
            closed_at = sched.last_change(now) or seen
            return SymbolFeed(sym, CLOSED, closed_at, last, sched.next_change(now), str(sched))
        opened = sched.last_change(now)
        since = max(seen, opened) if opened is not None else seen
        cur = self.states.get(sym)
        if cur is not None and cur.state == CLOSED and now - since <= self.delayed_after:
            # the market has just opened: its first prices may take a moment; it opens for
            # subscribers with them (closed → live), or is delayed once they are late
            return SymbolFeed(sym, CLOSED, cur.since, last, sched.next_change(now), str(sched))
        return SymbolFeed(sym, DELAYED, since, last, sched.next_change(now), str(sched))

    def _set(self, st: SymbolFeed) -> None:
        cur = self.states.get(st.symbol)
        self.states[st.symbol] = st
        if cur is not None and cur.state == st.state:
            return
        if cur is not None or st.state != LIVE:  # the first "live" of each symbol is quiet
            log.info("feed %s: %s since %s", st.symbol, st.state, iso(st.since))
            self.bus.feed(sse_frame("feed", st.as_dict()))

    def check(self) -> None:
        """Re-evaluate every symbol now (the timer calls this every ``every`` seconds)."""
        now = self.clock()
        if self._started is None:
            self._started = now
        for sym in sorted(self.engine.market.symbols()):
            self._set(self._evaluate(sym, now))

    def current(self) -> list[SymbolFeed]:
        """Every symbol's state, evaluated now (``GET /api/feed``)."""
        self.check()
        return [self.states[s] for s in sorted(self.states)]

    def start(self) -> None:
        """Evaluate now, then every ``every`` seconds, on a task."""
        self.check()
        self._task = asyncio.create_task(self._run(), name="tradealerts-feedstate")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                self.check()
            except Exception:  # a bug here must not stop the watch
                log.exception("feed state check failed")

    async def stop(self) -> None:
        await end_task(self._task)
        self._task = None
