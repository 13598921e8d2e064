"""``replay:PATH``: bars of one symbol from a CSV file, the first part as history, the rest
streamed as ticks.

The file is read and checked whole by ``barfile`` (plain CSV or MetaTrader 5's export, the
broker's clock converted to UTC). Higher timeframes are built on the bar clock
(``bar_span``).

Each streamed bar becomes four ticks, open → nearer extreme → farther extreme → close, spread
over the bar's time, so a level inside the bar's range is crossed the way it would be live.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np

from tradealerts.core.bars import Bar, Bars, resample
from tradealerts.core.symbols import TYPICAL_SPREAD
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import Timeframe, TimeframeError, bar_span, parse_timeframe
from tradealerts.core.vector import choose
from tradealerts.server.feeds import base
from tradealerts.server.feeds.barfile import ReplayFile, load_bar_file
from tradealerts.server.feeds.base import FeedConfigError, ReplayFileError

__all__ = [
    "TICKS_PER_BAR",
    "ReplayFeed",
    "ReplayFile",
    "load_bar_file",
    "path_of",
    "symbol_from_filename",
    "tick_path",
]

#: Ticks each streamed bar is expanded into (see ``tick_path``).
TICKS_PER_BAR = 4


# -- the feed --------------------------------------------------------------------------------


def symbol_from_filename(path: str | os.PathLike[str]) -> str | None:
    """The first product symbol in a file name's upper-cased stem (``eurusd_h1.csv`` →
    EURUSD, ``EURUSD60.csv`` → EURUSD), or None."""
    stem = Path(path).stem.upper()
    # earliest position first; at the same position the longer name (none are prefixes today)
    found = [(stem.find(s), -len(s), s) for s in ALL_SYMBOLS if s in stem]
    return min(found)[2] if found else None


def path_of(open_: Any, high: Any, low: Any, close: Any) -> tuple[Any, Any, Any, Any]:
    """The prices a bar is replayed through: open, the extreme nearer the open (the high on a
    tie), the other extreme, close. For one bar's prices or for columns of bars alike (a
    backtest takes a window's paths at once: ``core.vector``)."""
    high_first = high - open_ <= open_ - low
    return open_, choose(high_first, high, low), choose(high_first, low, high), close


def tick_path(bar: Bar) -> list[float]:
    """``path_of`` one bar."""
    return list(path_of(bar.open, bar.high, bar.low, bar.close))


class ReplayFeed(base.Feed):
    """Bars of one symbol from a file, replayed at ``options.replay_speed`` bars per second.

    The file's own timeframe and every higher one it divides are served; higher ones are
    resampled from the file's bars.
    """

    name = "replay"

    def __init__(self, path: str | os.PathLike[str], options: base.FeedOptions) -> None:
        self.path = Path(path)
        self.options = options
        given = options.replay_symbol
        symbol = given.strip().upper() if given else symbol_from_filename(self.path)
        if symbol is None and not self.path.exists():
            # the missing file is the fault to name, not the symbol its name does not tell
            raise ReplayFileError(self.path.name, None, f"no such file ({self.path.absolute()})")
        if symbol is None:
            raise ReplayFileError(
                self.path.name,
                None,
                "cannot tell the symbol from the file name: pass it with --symbol "
                f"(TRADEALERTS_REPLAY_SYMBOL), one of {', '.join(ALL_SYMBOLS)}",
            )
        if symbol not in ALL_SYMBOLS:
            raise FeedConfigError(
                f"unknown replay symbol {given!r}: use one of {', '.join(ALL_SYMBOLS)}"
            )
        if options.history_bars < 1:
            raise FeedConfigError(f"history_bars must be at least 1 (got {options.history_bars})")
        if not options.replay_speed >= 0:
            raise FeedConfigError(
                f"replay_speed must be 0 (as fast as possible) or more (got {options.replay_speed})"
            )
        self.symbol = symbol
        self.timeframe: Timeframe | None = None
        self._file: ReplayFile | None = None
        self._base = Bars()  # the file's bars delivered so far (history + streamed), + forming
        self._next = 0  # index in the file of the next bar to stream
        self._closed = False
        self._status = base.FeedStatus(connected=False)

    async def start(self) -> None:
        """Read and check the whole file and split it into history and the part to stream.

        History is the first ``options.history_bars`` bars. At least one bar is always left
        to stream, so a file with no more than ``history_bars`` bars gives all but its last
        bar as history (and a file needs two bars at least).
        """
        # ~0.3 s for 100k rows: off the event loop, so a server stays responsive meanwhile
        opts = self.options
        file = await asyncio.to_thread(load_bar_file, self.path, opts.replay_tz, self.bar_clock())
        all_ = file.bars
        k = min(self.options.history_bars, len(all_) - 1)
        origin, speed = self.options.replay_origin, self.options.replay_speed
        if origin is not None:
            # a standby taking over: the market as it is now, not the file's history again
            # (at speed 0 the first leader streamed it all at once)
            ahead = len(all_) if speed <= 0 else int((self.options.clock() - origin) * speed)
            k = min(len(all_) - 1, k + max(0, ahead))
        self._file = file
        self.timeframe = file.timeframe
        self._base = Bars(
            all_.time[:k], all_.open[:k], all_.high[:k], all_.low[:k], all_.close[:k],
            all_.volume[:k],
        )  # fmt: skip
        self._next = k
        self._closed = False
        self._status = base.FeedStatus(connected=True)

    async def close(self) -> None:
        """End the stream (at its next tick) and mark the feed disconnected."""
        self._closed = True
        self._status.connected = False

    def symbols(self) -> tuple[str, ...]:
        """The one symbol of the file."""
        return (self.symbol,)

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        """The file's timeframe and every higher one it divides (H1 → H1, H2, … D1)."""
        if symbol.strip().upper() != self.symbol:
            return ()
        tf = self._loaded().timeframe
        return tuple(t for t in Timeframe if t.is_multiple_of(tf))

    async def bars(self, symbol: str, timeframe: Timeframe | str, count: int) -> Bars:
        """The last ``count`` closed bars of history plus those streamed so far, with the
        forming bar; a copy. Higher timeframes are resampled from the file's bars."""
        tf = self._loaded().timeframe
        if symbol.strip().upper() != self.symbol:
            raise FeedConfigError(
                f"replay file {self.path.name} holds {self.symbol}, not {symbol.strip()}"
            )
        try:
            want = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise FeedConfigError(str(exc)) from None
        if want == tf:
            return self._base.tail(count)
        if not want.is_multiple_of(tf):
            why = "" if want.seconds < tf.seconds else f" ({want} is no whole number of {tf} bars)"
            raise FeedConfigError(
                f"replay file {self.path.name} holds {tf} bars; {want} cannot be built from it{why}"
            )
        clock = self.bar_clock()
        out = resample(self._base, tf, want, clock)
        # resample leaves the last bucket forming until sub-bars fill it; but when the file
        # goes on in a later bucket (a weekend or other gap), the stream has already closed
        # it. Say so here too, so a market state loaded from bars() agrees with the stream.
        f = out.forming
        upcoming = self._upcoming()
        if f is not None and upcoming is not None and want.bar_open(upcoming, clock) > f.time:
            out.append(f)
            b = self._base.forming
            out.forming = None if b is None else Bar(
                want.bar_open(b.time, clock), b.open, b.high, b.low, b.close, b.volume
            )  # fmt: skip
        return out.tail(count)

    def _loaded(self) -> ReplayFile:
        """The file read by start(); FeedConfigError before that."""
        if self._file is None:
            raise FeedConfigError("start() the replay feed first")
        return self._file

    def _upcoming(self) -> int | None:
        """Open time of the file's next bar not yet closed (streaming or to stream)."""
        f = self._file
        return int(f.bars.time[self._next]) if f is not None and self._next < len(f.bars) else None

    def status(self) -> base.FeedStatus:
        """Connected between start() and close(); the last tick's (simulated) time."""
        s = self._status
        return base.FeedStatus(connected=s.connected, last_tick=dict(s.last_tick), error=s.error)

    async def stream(self) -> AsyncIterator[base.FeedEvent]:
        """Replay the rest of the file; the iterator ends with the file (or at ``close``).

        Each bar gives four ticks at 0, ¼, ½ and ¾ of its span, then its BarClose, then a
        BarClose for every higher timeframe whose bucket it completes: its last sub-bar has
        ended, or the next bar opens in a later bucket. Buckets still partial at the end of
        the file stay forming. At ``replay_speed`` 0 nothing sleeps, so nothing hands the
        event loop back between events either: a consumer that must stay responsive during a
        full-speed replay awaits something of its own.
        """
        loaded = self._loaded()
        file, tf = loaded.bars, loaded.timeframe
        speed = self.options.replay_speed
        pause = 1.0 / (TICKS_PER_BAR * speed) if speed > 0 else 0.0
        spread = TYPICAL_SPREAD.get(self.symbol, 0.0)
        higher = [t for t in Timeframe if t != tf and t.is_multiple_of(tf)]
        sym = self.symbol
        clock = self.bar_clock()
        is_open = base.market_open(self.options)
        while self._next < len(file) and not self._closed:
            bar = file[self._next]
            if is_open is not None and not is_open(sym, bar.time):
                self._next += 1  # its market was closed then: skipped (FEED_MARKET_HOURS)
                continue
            bar_end = bar_span(tf, bar.time, clock)[1]  # 3 or 5 h for an H4 bar at a switch
            for k, price in enumerate(tick_path(bar)):
                if pause:
                    await self.options.sleep(pause)
                if self._closed:
                    return
                t = bar.time + (bar_end - bar.time) * k / TICKS_PER_BAR
                f = self._base.forming
                self._base.forming = Bar(
                    bar.time,
                    bar.open,
                    price if f is None else max(f.high, price),
                    price if f is None else min(f.low, price),
                    price,
                    bar.volume * (k + 1) / TICKS_PER_BAR,  # the file's volume, by ticks seen
                )
                self._status.last_tick[sym] = t
                yield base.Tick(sym, t, price, price + spread)
            self._base.append(bar)  # the file's bar, exactly; clears the forming bar
            self._next += 1
            yield base.BarClose(sym, tf, bar)
            upcoming = self._upcoming()
            for htf in higher:
                bucket, bucket_end = bar_span(htf, bar.time, clock)
                ended = bar_end >= bucket_end
                if ended or (upcoming is not None and htf.bar_open(upcoming, clock) != bucket):
                    yield base.BarClose(sym, htf, _bucket_bar(self._base, bucket, bucket_end))


def _bucket_bar(bars: Bars, bucket: int, end: int) -> Bar:
    """The bar opening at ``bucket`` and ending at ``end``, from the closed bars inside it."""
    lo, hi = (int(i) for i in np.searchsorted(bars.time, [bucket, end]))
    return Bar(
        bucket,
        float(bars.open[lo]),
        float(bars.high[lo:hi].max()),
        float(bars.low[lo:hi].min()),
        float(bars.close[hi - 1]),
        float(bars.volume[lo:hi].sum()),
    )
