"""``replay:PATH``: bars from a CSV file, the first part as history, the rest streamed as ticks.

Each streamed bar becomes four ticks, open → nearer extreme → farther extreme → close, spread
over the bar's time, so a level inside the bar's range is crossed the way it would be live.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from tradealerts.core.bars import Bar, Bars, resample
from tradealerts.core.symbols import TYPICAL_SPREAD
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds._csv import detect_timeframe, read_bars
from tradealerts.server.feeds.base import (
    BarClose,
    Feed,
    FeedConfigError,
    FeedEvent,
    FeedOptions,
    FeedStatus,
    ReplayFileError,
    Tick,
)

__all__ = ["ReplayFeed", "symbol_from_filename", "tick_path"]


def symbol_from_filename(path: str | os.PathLike[str]) -> str | None:
    """The product symbol a file name starts with or contains (``eurusd_h1.csv`` → EURUSD)."""
    stem = Path(path).stem.upper()
    found = [(stem.find(s), -len(s), s) for s in ALL_SYMBOLS if s in stem]
    return min(found)[2] if found else None


def tick_path(bar: Bar) -> list[float]:
    """Prices a bar is replayed through: open, the extreme nearer the open, the other, close."""
    high_first = bar.high - bar.open <= bar.open - bar.low
    first, second = (bar.high, bar.low) if high_first else (bar.low, bar.high)
    return [bar.open, first, second, bar.close]


class ReplayFeed(Feed):
    """Bars of one symbol from a file, replayed at ``replay_speed`` bars per second."""

    name = "replay"

    def __init__(self, path: str | os.PathLike[str], options: FeedOptions) -> None:
        self.path = Path(path)
        self.options = options
        symbol = options.replay_symbol or symbol_from_filename(self.path)
        if symbol is None:
            raise ReplayFileError(
                self.path.name,
                None,
                "cannot tell the symbol from the file name: pass it with --symbol "
                f"(TRADEALERTS_REPLAY_SYMBOL), one of {', '.join(ALL_SYMBOLS)}",
            )
        symbol = symbol.upper()
        if symbol not in ALL_SYMBOLS:
            raise FeedConfigError(f"unknown symbol {symbol!r}: use one of {', '.join(ALL_SYMBOLS)}")
        self.symbol = symbol
        self.timeframe: Timeframe | None = None
        self._all: Bars | None = None
        self._base = Bars()  # the file's bars delivered so far
        self._next = 0  # index in _all of the next bar to stream
        self._closed = False
        self._status = FeedStatus(connected=False)

    async def start(self) -> None:
        """Read and check the whole file; the first history_bars bars become history."""
        bars = read_bars(self.path)
        self.timeframe = detect_timeframe(self.path.name, bars)
        self._all = bars
        history = max(1, min(self.options.history_bars, len(bars) - 1))
        self._base = Bars(
            bars.time[:history],
            bars.open[:history],
            bars.high[:history],
            bars.low[:history],
            bars.close[:history],
            bars.volume[:history],
        )
        self._next = history
        self._status = FeedStatus(connected=True)

    async def close(self) -> None:
        self._closed = True
        self._status.connected = False

    def symbols(self) -> tuple[str, ...]:
        return (self.symbol,)

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        tf = self._file_tf()
        return tuple(t for t in sorted(Timeframe, key=lambda x: x.seconds) if t.is_multiple_of(tf))

    def _file_tf(self) -> Timeframe:
        if self.timeframe is None:
            raise FeedConfigError("start() the replay feed first")
        return self.timeframe

    async def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Bars:
        """History plus every bar streamed so far, resampled for higher timeframes."""
        tf = self._file_tf()
        if symbol != self.symbol:
            raise FeedConfigError(f"replay file {self.path.name} holds {self.symbol}, not {symbol}")
        if timeframe == tf:
            return self._base.tail(count)
        if not timeframe.is_multiple_of(tf):
            raise FeedConfigError(
                f"replay file {self.path.name} holds {tf} bars; {timeframe} cannot be built from it"
            )
        return resample(self._base, tf, timeframe).tail(count)

    def status(self) -> FeedStatus:
        return self._status

    async def stream(self) -> AsyncIterator[FeedEvent]:
        """Replay the rest of the file; ends when the file does."""
        tf = self._file_tf()
        if self._all is None:
            raise FeedConfigError("start() the replay feed first")
        speed = self.options.replay_speed
        pause = 1.0 / (4 * speed) if speed > 0 else 0.0
        spread = TYPICAL_SPREAD.get(self.symbol, 0.0)
        higher = [t for t in self.timeframes(self.symbol) if t != tf]
        while self._next < len(self._all) and not self._closed:
            bar = self._all[self._next]
            prices = tick_path(bar)
            for k, price in enumerate(prices):
                if pause:
                    await self.options.sleep(pause)
                if self._closed:
                    return
                t = bar.time + k * tf.seconds / len(prices)
                f = self._base.forming
                self._base.forming = Bar(
                    bar.time,
                    bar.open,
                    max(price, f.high) if f else price,
                    min(price, f.low) if f else price,
                    price,
                    bar.volume if k == len(prices) - 1 else 0.0,
                )
                self._status.last_tick[self.symbol] = t
                yield Tick(self.symbol, t, price, price + spread)
            self._base.append(bar)  # the file's bar, exactly; clears forming
            self._next += 1
            yield BarClose(self.symbol, tf, bar)
            nxt = self._all[self._next].time if self._next < len(self._all) else None
            for htf in higher:
                bucket = htf.bar_open(bar.time)
                ended = bar.time + tf.seconds >= bucket + htf.seconds
                if ended or (nxt is not None and htf.bar_open(nxt) != bucket):
                    yield BarClose(self.symbol, htf, _bucket_bar(self._base, htf, bucket))


def _bucket_bar(bars: Bars, tf: Timeframe, bucket: int) -> Bar:
    """The higher-timeframe bar of ``bucket`` built from the bars inside it."""
    t = bars.time
    lo, hi = np.searchsorted(t, [bucket, bucket + tf.seconds])
    inside = slice(int(lo), int(hi))
    return Bar(
        bucket,
        float(bars.open[inside][0]),
        float(bars.high[inside].max()),
        float(bars.low[inside].min()),
        float(bars.close[inside][-1]),
        float(bars.volume[inside].sum()),
    )
