"""The daemon's feed alarm (issue #29): one notification when the market data of a watched
symbol has been ``delayed`` for ``feed_down_after`` seconds, and one when it is back.

The server sends a ``feed`` event when a symbol's state changes (``live``, ``delayed``,
``closed``) and answers ``GET /api/feed`` with the state now, which the daemon reads on each
connection (feed events are live only). The wait is counted on this machine's monotonic
clock from when the daemon learnt of the delay (the server's ``since`` may be on another
clock); a delay that ends before it raises nothing. A closed market is not an outage: it
cancels a pending alarm and never raises one. Watched symbols: ``--symbols`` when given, else
the symbols on the person's watchlist (read on each connection; all while it is empty)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tradealerts.client.feedstate import CLOSED, DELAYED, LIVE, feed_label
from tradealerts.client.lang import _
from tradealerts.daemon.notify import Notice

__all__ = ["FeedAlarm"]

log = logging.getLogger("tradealerts.daemon")


class FeedAlarm:
    """Per watched symbol: delayed long enough → one notice; then live → one notice."""

    def __init__(
        self,
        down_after: float,
        show: Callable[[Notice], Awaitable[None]],
        *,
        symbols: frozenset[str] | None = None,
        sound: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.down_after = down_after
        self.show = show
        self.fixed = symbols  # --symbols: these, whatever the watchlist
        self.watchlist: frozenset[str] = frozenset()
        self.sound = sound
        self._monotonic = monotonic
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._down: set[str] = set()  # notified as down, not yet back
        self._last: dict[str, dict[str, Any]] = {}

    def watches(self, symbol: str) -> bool:
        """True for a symbol the person watches."""
        wanted = self.fixed if self.fixed is not None else self.watchlist
        return not wanted or symbol.upper() in wanted

    def set_watchlist(self, symbols: Iterable[str]) -> None:
        self.watchlist = frozenset(s.upper() for s in symbols)

    def on_feed(self, data: Any) -> None:
        """A ``feed`` event, or an item of ``GET /api/feed``."""
        if not isinstance(data, dict):
            return
        symbol = str(data.get("symbol") or "").upper()
        if not symbol or not self.watches(symbol):
            return
        state = data.get("state")
        before = self._last.get(symbol, {}).get("state")
        self._last[symbol] = data
        if state == DELAYED:
            if symbol not in self._pending and symbol not in self._down:
                self._pending[symbol] = asyncio.create_task(self._alarm(symbol))
            return
        task = self._pending.pop(symbol, None)
        if task is not None:
            task.cancel()
        if state == LIVE and symbol in self._down:
            self._down.discard(symbol)
            log.info("feed %s is back", symbol)
            self._spawn_show(
                Notice(
                    _("tradealerts: {symbol} data is back").format(symbol=symbol),
                    _("Prices of {symbol} arrive again; alerts on it fire as usual.").format(
                        symbol=symbol
                    ),
                    False,
                    self.sound,
                )
            )
        elif state == CLOSED and before == DELAYED:
            log.info("feed %s: the market closed while its data was delayed", symbol)

    async def _alarm(self, symbol: str) -> None:
        try:
            await asyncio.sleep(self.down_after)
            data = self._last.get(symbol, {})
            if data.get("state") != DELAYED:
                return
            self._down.add(symbol)
            label = feed_label(data)
            log.warning("feed %s down for %g s: %s", symbol, self.down_after, label)
            await self.show(
                Notice(
                    _("tradealerts: {symbol} {state}").format(symbol=symbol, state=label),
                    _(
                        "The server has had no price of {symbol} for a while: alerts on it "
                        "cannot fire until its data is back."
                    ).format(symbol=symbol),
                    False,
                    self.sound,
                )
            )
        finally:
            if self._pending.get(symbol) is asyncio.current_task():
                self._pending.pop(symbol, None)

    def _spawn_show(self, notice: Notice) -> None:
        task = asyncio.ensure_future(self.show(notice))
        task.add_done_callback(_logged)

    async def refresh(self, client: Any) -> None:
        """On each connection: the watchlist (without ``--symbols``) and every state now."""
        from tradealerts.client import endpoints

        if self.fixed is None:
            items = await client.run(endpoints.watchlist())
            self.set_watchlist(i.symbol for i in items)
        got = await client.run(endpoints.feed())
        for item in got.get("symbols", []):
            self.on_feed(item)

    def close(self) -> None:
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()


def _logged(task: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            log.error("feed notice failed: %s", exc)
