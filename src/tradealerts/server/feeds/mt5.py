"""MetaTrader 5: the ``MetaTrader5`` module directly (Windows) or over an rpyc classic bridge.

Every call to the terminal runs in a worker thread so the event loop never blocks. MT5 stamps
rates and ticks in the broker's *server* time; ``utc_offset_hours`` converts them to UTC.

With ``mt5_utc_offset="auto"`` the offset follows the broker's clock: it is derived at connect
from the newest quote, and again from every poll that brings a fresh quote (one that changed
since the last poll), so a daylight-saving switch is picked up on the first quote after it.
The terminal keeps the stamps its bars had when they were built, so each offset is remembered
with the newest server time seen before it took over: a stamp up to that time is converted
with the offset of its day, a later one with the new offset.

The bar clock. MT5 opens every bar on the server's clock, so with ``bar_clock`` ``auto`` (the
default) the feed's ``bar_clock()`` is the offsets it learned, as a ``BarClock``: the engine's
forming bar, frequency windows and the ingest grid then follow the terminal's bars through
switches. A configured clock with daylight saving (``America/New_York@17:00``) also converts
the history's stamps, each with the offset of its own time, so bars from before the last
switch land on their UTC times too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import BarClock, Timeframe, bar_span, known_switch
from tradealerts.server.feeds import base
from tradealerts.server.feeds.base import FeedConfigError, FeedUnavailable

__all__ = ["MT5Feed"]

log = logging.getLogger("tradealerts.feeds.mt5")

_INSTALL_HINT = (
    "the MetaTrader5 module is not installed: on Windows run pip install 'tradealerts[mt5]'; "
    "on Linux run the terminal's Python with an rpyc classic server and use "
    "--feed mt5-rpyc://HOST:PORT (see the owner's guide)"
)
_MAX_BACKOFF = 60.0
#: seconds a fresh quote's time may sit away from a whole half hour off our clock (clock skew
#: and the quote's age); further away, the quote does not say what the offset is
_OFFSET_TOLERANCE = 300.0
#: time zones run from UTC-12 to UTC+14: anything beyond is a stale quote, not an offset
_MAX_OFFSET_HOURS = 14.0
#: closed bars read back at most after an outage, per timeframe
_CATCH_UP_BARS = 1000


class MT5Feed(base.Feed):
    """Ticks by polling ``symbol_info_tick``, bars by ``copy_rates_from_pos``."""

    name = "mt5"

    def __init__(self, options: base.FeedOptions, bridge: tuple[str, int] | None) -> None:
        self.options = options
        self.bridge = bridge
        self.utc_offset_hours = 0.0
        #: (server time, hours): stamps after that server time are ``hours`` ahead of UTC
        self._offsets: list[tuple[float, float]] = [(-math.inf, 0.0)]
        self._offset_set_clock = -math.inf  # our clock when the offset last changed
        self._newest_server = -math.inf  # the newest quote's server time seen so far
        self._seen: dict[str, int] = {}  # each symbol's last time_msc in this connection
        self._mt5: Any = None
        self._conn: Any = None
        self._served: tuple[str, ...] = ()
        self._forming: dict[tuple[str, Timeframe], int] = {}
        self._last_quote: dict[str, tuple[int, float, float]] = {}
        self._closed = False
        self._status = base.FeedStatus(connected=False)
        self._clock = BarClock.learned("auto", 0)

    # -- connection ------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to the terminal, select the symbols and settle the UTC offset."""
        await self._connect()

    async def _connect(self) -> None:
        self._mt5 = await asyncio.to_thread(self._load_module)
        kwargs: dict[str, Any] = {}
        if self.options.mt5_path:
            kwargs["path"] = self.options.mt5_path
        if self.options.mt5_login is not None:
            kwargs["login"] = int(self.options.mt5_login)
        if self.options.mt5_password:
            kwargs["password"] = self.options.mt5_password
        if self.options.mt5_server:
            kwargs["server"] = self.options.mt5_server
        if not await self._call(self._mt5.initialize, **kwargs):
            raise FeedUnavailable(f"MT5 initialize failed: {await self._last_error()}")
        wanted = self.options.symbols or ALL_SYMBOLS
        served, missing = [], []
        for sym in wanted:
            if await self._call(self._mt5.symbol_select, self._broker(sym), True):
                served.append(sym)
            else:
                missing.append(f"{sym} ({self._broker(sym)})")
        if missing:
            log.warning(
                "MT5 terminal has no symbol %s; serving the others (map broker names with "
                "TRADEALERTS_SYMBOL_MAP)",
                ", ".join(missing),
            )
        if not served:
            raise FeedConfigError("the MT5 terminal has none of the product's symbols")
        self._served = tuple(served)
        await self._settle_offset()
        self._status = base.FeedStatus(connected=True, last_tick=self._status.last_tick)

    def _load_module(self) -> Any:
        if self.bridge is None:
            try:
                import MetaTrader5
            except ImportError:
                raise FeedConfigError(_INSTALL_HINT) from None
            return MetaTrader5
        try:
            import rpyc
        except ImportError:
            raise FeedConfigError(
                "the rpyc bridge client is not installed: pip install 'tradealerts[rpyc]'"
            ) from None
        host, port = self.bridge
        try:
            self._conn = rpyc.classic.connect(host, port)
            return self._conn.modules.MetaTrader5
        except (OSError, EOFError) as exc:
            raise FeedUnavailable(f"cannot reach the MT5 bridge at {host}:{port}: {exc}") from None
        except Exception as exc:  # the remote side cannot import MetaTrader5
            raise FeedConfigError(f"the MT5 bridge at {host}:{port} failed: {exc}") from None

    @property
    def _auto(self) -> bool:
        return self.options.mt5_utc_offset == "auto"

    async def _settle_offset(self) -> None:
        """At connect: the set offset, or (auto) the one the newest quote of any symbol says."""
        self._seen = {}  # a quote is fresh only against one seen in this connection
        if not self._auto:
            self._adopt(float(self.options.mt5_utc_offset))
            return
        newest = None
        for sym in self._served:
            tick = await self._call(self._mt5.symbol_info_tick, self._broker(sym))
            if tick is not None and (newest is None or tick.time_msc > newest.time_msc):
                newest = tick
        if newest is None:
            log.warning(
                "MT5 gave no tick to derive the UTC offset from; assuming UTC%+g h",
                self.utc_offset_hours,
            )
            return
        server = float(newest.time_msc) / 1000.0
        hours, residual = self._offset_of(server)
        if abs(hours) > _MAX_OFFSET_HOURS:
            log.warning(
                "the newest MT5 quote is %.1f h away from this machine's clock (a closed "
                "market?): keeping UTC%+g h until a fresh quote says otherwise",
                (server - self.options.clock()) / 3600.0,
                self.utc_offset_hours,
            )
            return
        if abs(residual) > _OFFSET_TOLERANCE:
            log.warning(
                "the newest MT5 quote is %.0f s off a half-hour offset from this machine's "
                "clock (a quiet market, or a clock that is not synchronised): using UTC%+g h; "
                "set TRADEALERTS_MT5_UTC_OFFSET if that is wrong",
                residual,
                hours,
            )
        self._adopt(hours)

    def _offset_of(self, server: float) -> tuple[float, float]:
        """(hours, seconds left over): broker clocks sit on whole or half hours from UTC."""
        diff = server - self.options.clock()
        hours = round(diff / 1800.0) / 2.0
        return hours, diff - hours * 3600.0

    def _adopt(self, hours: float, first: float | None = None) -> None:
        """Take ``hours`` as the offset from now on; stamps up to the newest server time seen
        so far keep the offset they were made with. ``first``: the server time of the quote
        that showed the new offset; when the market was closed in between (a switch on a
        weekend) and a known broker clock fits both, its switch instant is the one used, so
        a bar stamped before the switch but after the last quote (an EET broker's Sunday
        bar) keeps the old offset."""
        if hours == self.utc_offset_hours and self._newest_server > -math.inf:
            return
        self._offset_set_clock = self.options.clock()
        if self._newest_server == -math.inf:  # nothing converted yet: one offset for all
            self._offsets = [(-math.inf, hours)]
            self._clock = BarClock.learned("auto", round(hours * 3600))
            log.info("MT5 server time is UTC%+g h", hours)
        else:
            old = round(self.utc_offset_hours * 3600)
            # bars of the clock use the new offset from the first UTC second after the
            # newest stamp read with the old one, or from the switch a known clock names
            since = math.floor(self._newest_server) - old + 1
            until = since_server = self._newest_server
            if first is not None:
                switch = known_switch(since - 1, math.floor(first - hours * 3600), old,
                                      round(hours * 3600))  # fmt: skip
                if switch is not None:
                    since, since_server = switch, float(switch + old - 1)
            self._offsets.append((max(until, since_server), hours))
            self._clock = BarClock.learned(
                "auto", self._clock.offset, (*self._clock.changes, (since, round(hours * 3600)))
            )
            log.warning(
                "MT5 server time is now UTC%+g h (was UTC%+g h): the broker's clock moved "
                "(a daylight-saving switch); bars up to %s server time keep the old offset",
                hours,
                self.utc_offset_hours,
                _server_text(self._newest_server),
            )
        self.utc_offset_hours = hours

    def _rederive(self, fresh: list[float]) -> None:
        """Auto offset, on a poll: from the newest of the quotes that changed since the last
        poll (they just arrived, whatever the offset). A quote that, read with the offset it
        suggests, is older than the last change of offset is one stamped just before a switch
        and read late: it does not switch back."""
        if not fresh:
            return
        server = max(fresh)
        hours, residual = self._offset_of(server)
        if hours == self.utc_offset_hours:
            return
        if abs(residual) > _OFFSET_TOLERANCE or abs(hours) > _MAX_OFFSET_HOURS:
            log.debug("MT5 quote at %s says nothing about the offset", _server_text(server))
            return
        if server - hours * 3600.0 <= self._offset_set_clock:
            return
        self._adopt(hours, server)

    def bar_clock(self) -> BarClock:
        """The configured bar clock, or (``auto``) the terminal's: the offsets learned."""
        return self.options.bar_clock or self._clock

    def _to_utc(self, stamps: np.ndarray) -> np.ndarray:
        """Server-time stamps (seconds) to UTC, each with the offset of its time."""
        stamps = np.asarray(stamps).astype(np.int64)
        clock = self.options.bar_clock
        if self._auto and clock is not None and not clock.is_fixed:
            # the owner named the broker's clock: each stamp with the offset of its own time
            return np.array([clock.to_utc(int(s)) for s in stamps.tolist()], dtype=np.int64)
        shift = np.full(stamps.shape, round(self._offsets[0][1] * 3600), dtype=np.int64)
        for since, hours in self._offsets[1:]:
            shift[stamps > since] = round(hours * 3600)
        return stamps - shift

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _last_error(self) -> str:
        try:
            code, text = await self._call(self._mt5.last_error)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return f"{text} ({code})"

    def _broker(self, symbol: str) -> str:
        return self.options.symbol_map.get(symbol, symbol)

    def _local(self, value: Any) -> Any:
        """Bring a bridge result over by value, so no remote reference outlives the call."""
        if self._conn is None or value is None:
            return value
        import rpyc

        return rpyc.classic.obtain(value)

    async def close(self) -> None:
        self._closed = True
        self._status.connected = False
        if self._mt5 is not None:
            try:
                await self._call(self._mt5.shutdown)
            except Exception as exc:  # the terminal may already be gone
                log.debug("MT5 shutdown: %s", exc)
            self._mt5 = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)

    # -- data ------------------------------------------------------------------------------
    def symbols(self) -> tuple[str, ...]:
        return self._served

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        return tuple(sorted(Timeframe, key=lambda t: t.seconds))

    def status(self) -> base.FeedStatus:
        return self._status

    async def _rates(self, symbol: str, timeframe: Timeframe, count: int) -> np.ndarray:
        rates = await self._call(
            self._mt5.copy_rates_from_pos, self._broker(symbol), timeframe.mt5, 0, count
        )
        rates = self._local(rates)
        if rates is None:
            raise FeedUnavailable(
                f"MT5 gave no {timeframe} rates for {symbol}: {await self._last_error()}"
            )
        return np.asarray(rates)

    async def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Bars:
        """The last ``count`` closed bars and the forming one (MT5's position 0)."""
        if symbol not in self._served:
            raise FeedConfigError(f"the MT5 feed does not serve {symbol}")
        rates = await self._rates(symbol, timeframe, count + 1)
        t = self._to_utc(rates["time"])
        vol = rates["tick_volume"].astype(np.float64)
        o, h, lo, c = (rates[k].astype(np.float64) for k in ("open", "high", "low", "close"))
        closed = Bars(t[:-1], o[:-1], h[:-1], lo[:-1], c[:-1], vol[:-1])
        if len(rates):
            closed.forming = Bar(
                int(t[-1]), float(o[-1]), float(h[-1]), float(lo[-1]), float(c[-1]), float(vol[-1])
            )
            self._forming[(symbol, timeframe)] = int(t[-1])
        return closed

    # -- live ------------------------------------------------------------------------------
    async def stream(self) -> AsyncIterator[base.FeedEvent]:
        """Poll every symbol; a bar closes when MT5 opens the next one. Reconnects on loss."""
        backoff = 1.0
        while not self._closed:
            try:
                async for event in self._poll_once():
                    yield event
                backoff = 1.0
                await self.options.sleep(self.options.mt5_poll_interval)
            except FeedConfigError:
                raise
            except Exception as exc:  # terminal or bridge gone: translate, report, retry
                if self._closed:
                    return
                self._status.connected = False
                self._status.error = f"MT5 terminal lost: {exc}"
                log.warning("MT5 terminal lost: %s; reconnecting in %gs", exc, backoff)
                await self.options.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
                try:
                    await self._reconnect()
                    log.info("MT5 terminal reconnected")
                    backoff = 1.0
                except FeedConfigError:
                    raise
                except Exception as again:
                    self._status.error = f"MT5 terminal lost: {again}"

    async def _reconnect(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await asyncio.to_thread(conn.close)
            except Exception as exc:
                log.debug("closing the old bridge connection: %s", exc)
        await self._connect()

    async def _poll_once(self) -> AsyncIterator[base.FeedEvent]:
        quotes: list[tuple[str, tuple[int, float, float]]] = []
        fresh: list[float] = []
        for sym in self._served:
            raw = await self._call(self._mt5.symbol_info_tick, self._broker(sym))
            if raw is None:
                raise FeedUnavailable(f"no tick for {sym}: {await self._last_error()}")
            quote = (int(raw.time_msc), float(raw.bid), float(raw.ask))
            seen = self._seen.get(sym)
            self._seen[sym] = quote[0]
            if self._last_quote.get(sym) == quote:
                continue
            self._last_quote[sym] = quote
            quotes.append((sym, quote))
            if seen is not None and quote[0] != seen:  # back in time too: an autumn switch
                fresh.append(quote[0] / 1000.0)
        if self._auto:  # before any conversion: the first quote after a switch is on time
            self._rederive(fresh)
        for sym, quote in quotes:
            server = quote[0] / 1000.0
            self._newest_server = max(self._newest_server, server)
            utc = server - self.utc_offset_hours * 3600
            for tf in self.timeframes(sym):
                closed, forming = await self._closed_bars(sym, tf, utc)
                for i, bar in enumerate(closed):  # the newest carries the terminal's forming
                    yield base.BarClose(sym, tf, bar, forming if i == len(closed) - 1 else None)
            self._status.last_tick[sym] = utc
            self._status.connected, self._status.error = True, None
            yield base.Tick(sym, utc, quote[1], quote[2])

    async def _closed_bars(
        self, symbol: str, tf: Timeframe, utc: float
    ) -> tuple[list[Bar], Bar | None]:
        """The bars MT5 closed since the last look, once a tick is past the forming bar's end
        (all of them, oldest first, should several have closed: an outage, a slow poll), and
        the terminal's new forming bar (its position 0)."""
        key = (symbol, tf)
        forming = self._forming.get(key)
        if forming is not None and utc < bar_span(tf, forming, self.bar_clock())[1]:
            return [], None
        behind = 0 if forming is None else int((utc - forming) // tf.seconds)
        rates = await self._rates(symbol, tf, min(_CATCH_UP_BARS, behind + 2))
        if not len(rates):
            return [], None
        times = self._to_utc(rates["time"])
        newest = int(times[-1])
        if forming is None:
            self._forming[key] = newest
            return [], None
        if newest <= forming:
            return [], None  # MT5 has not opened the next bar yet; look again on the next tick
        self._forming[key] = newest
        r = rates[-1]
        now = Bar(
            newest, float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]),
            float(r["tick_volume"]),
        )  # fmt: skip
        return [
            Bar(
                int(times[i]),
                float(r["open"]),
                float(r["high"]),
                float(r["low"]),
                float(r["close"]),
                float(r["tick_volume"]),
            )
            for i, r in enumerate(rates[:-1])
            if times[i] >= forming
        ], now


def _server_text(server: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(server))
