"""A seeded, reproducible market for demos and tests: all 15 symbols, nine timeframes, live ticks.

History is one *base* series per symbol whose resolution is the finest timeframe whose window
covers each moment (M5 for the last ``history_bars`` × 5 min, M15 before that, …, D1 at the
far end). Every timeframe's bars are that base series aggregated into its own UTC buckets, so
wherever two timeframes overlap the higher one is exactly the lower one resampled — and the
whole market is ~30k base bars per symbol instead of millions of M5 bars.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from tradealerts.core.bars import Bar, Bars, aggregate
from tradealerts.core.symbols import PRICE_DIGITS, TYPICAL_SPREAD
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.feeds.base import (
    BarClose,
    Feed,
    FeedConfigError,
    FeedEvent,
    FeedOptions,
    FeedStatus,
    Tick,
)

__all__ = ["SYMBOL_PARAMS", "SymbolParams", "SyntheticFeed"]

DAY = 86_400


@dataclass(frozen=True)
class SymbolParams:
    """A symbol's realistic level and daily volatility."""

    price: float
    daily_vol: float


SYMBOL_PARAMS: dict[str, SymbolParams] = {
    "AUDJPY": SymbolParams(99.0, 0.007),
    "AUDUSD": SymbolParams(0.66, 0.007),
    "BTCUSD": SymbolParams(60_000.0, 0.03),
    "ETHUSD": SymbolParams(3_000.0, 0.035),
    "EURUSD": SymbolParams(1.08, 0.005),
    "GBPJPY": SymbolParams(190.0, 0.008),
    "GBPUSD": SymbolParams(1.27, 0.006),
    "NDX100": SymbolParams(18_000.0, 0.012),
    "NZDUSD": SymbolParams(0.61, 0.007),
    "US30": SymbolParams(39_000.0, 0.009),
    "USDCAD": SymbolParams(1.36, 0.005),
    "USDCHF": SymbolParams(0.88, 0.005),
    "USDJPY": SymbolParams(150.0, 0.006),
    "XAGUSD": SymbolParams(24.0, 0.015),
    "XAUUSD": SymbolParams(2_000.0, 0.01),
}

_FINEST_FIRST = sorted(Timeframe, key=lambda tf: tf.seconds)


def _day_floor(t: int) -> int:
    return t - t % DAY


def _window_starts(now: int, count: int) -> dict[Timeframe, int]:
    """Where each timeframe's history starts: ``count`` bars back, aligned to 00:00 UTC."""
    return {tf: _day_floor(tf.bar_open(now) - count * tf.seconds) for tf in Timeframe}


def _base_times(now: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Open times and lengths of the base bars, oldest first, up to the M5 bar holding ``now``."""
    starts = _window_starts(now, count)
    parts_t, parts_len = [], []
    coarse_first = list(reversed(_FINEST_FIRST))
    for k, tf in enumerate(coarse_first):
        end = starts[coarse_first[k + 1]] if k + 1 < len(coarse_first) else now + 1
        t = np.arange(starts[tf], end, tf.seconds, dtype=np.int64)
        parts_t.append(t)
        parts_len.append(np.full(t.shape[0], tf.seconds, dtype=np.int64))
    return np.concatenate(parts_t), np.concatenate(parts_len)


class _Series:
    """One symbol's live state: its bars per timeframe and the current price."""

    def __init__(self, symbol: str, bars: dict[Timeframe, Bars], price: float) -> None:
        self.symbol = symbol
        self.bars = bars
        self.price = price


class SyntheticFeed(Feed):
    """A reproducible random-walk market (same seed and start time, same prices)."""

    name = "synthetic"

    def __init__(self, options: FeedOptions) -> None:
        self.options = options
        syms = options.symbols or ALL_SYMBOLS
        unknown = [s for s in syms if s not in SYMBOL_PARAMS]
        if unknown:
            raise FeedConfigError(f"the synthetic feed has no symbol {', '.join(unknown)}")
        self._symbols = tuple(syms)
        self._series: dict[str, _Series] = {}
        self._now = 0.0
        self._closed = False
        self._status = FeedStatus(connected=False)

    # -- history ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Build the history of every symbol and timeframe."""
        now = int(self.options.start_time or math.floor(self.options.clock()))
        self._now = float(now)
        count = self.options.history_bars
        base_t, base_len = _base_times(now, count)
        starts = _window_starts(now, count)
        for sym in self._symbols:
            self._series[sym] = self._build(sym, now, base_t, base_len, starts)
        self._status = FeedStatus(connected=True)

    def _rng(self, symbol: str, stream: int) -> np.random.Generator:
        # one stream per symbol, independent of which other symbols are served
        return np.random.default_rng([self.options.seed, ALL_SYMBOLS.index(symbol), stream])

    def _build(
        self,
        symbol: str,
        now: int,
        base_t: np.ndarray,
        base_len: np.ndarray,
        starts: dict[Timeframe, int],
    ) -> _Series:
        p = SYMBOL_PARAMS[symbol]
        rng = self._rng(symbol, 0)
        size = base_t.shape[0]
        # the current M5 bar is partial: only the elapsed part of it has happened
        elapsed = base_len.astype(np.float64)
        elapsed[-1] = max(1.0, float(now - base_t[-1]))
        sigma = p.daily_vol * np.sqrt(elapsed / DAY)
        steps = sigma * rng.standard_normal(size)
        # anchor the walk so that the price now is the symbol's realistic level
        log_close = np.cumsum(steps)
        log_close -= log_close[-1]
        close = p.price * np.exp(log_close)
        open_ = np.empty(size)
        open_[0] = close[0] * math.exp(-steps[0])
        open_[1:] = close[:-1]
        wick = 0.6 * sigma * np.abs(rng.standard_normal((2, size)))
        high = np.maximum(open_, close) * np.exp(wick[0])
        low = np.minimum(open_, close) * np.exp(-wick[1])
        o, h, lo, c = (np.round(a, PRICE_DIGITS[symbol]) for a in (open_, high, low, close))
        vol = np.round(rng.gamma(2.0, 50.0, size) * np.sqrt(elapsed / 300.0))
        bars: dict[Timeframe, Bars] = {}
        for tf in Timeframe:
            keep = base_t >= starts[tf]
            t, bo, bh, bl, bc, bv = aggregate(
                base_t[keep], o[keep], h[keep], lo[keep], c[keep], vol[keep], tf
            )
            current = tf.bar_open(now)
            closed = t < current
            series = Bars(t[closed], bo[closed], bh[closed], bl[closed], bc[closed], bv[closed])
            k = int(np.flatnonzero(~closed)[0])
            series.forming = Bar(
                int(t[k]), float(bo[k]), float(bh[k]), float(bl[k]), float(bc[k]), float(bv[k])
            )
            bars[tf] = series.tail(self.options.history_bars)
            bars[tf].forming = series.forming
        return _Series(symbol, bars, float(c[-1]))

    async def close(self) -> None:
        self._closed = True
        self._status.connected = False

    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        return tuple(_FINEST_FIRST)

    async def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Bars:
        series = self._series.get(symbol)
        if series is None:
            raise FeedConfigError(f"the synthetic feed does not serve {symbol}")
        return series.bars[timeframe].tail(count)

    def status(self) -> FeedStatus:
        return self._status

    # -- live ------------------------------------------------------------------------------
    async def stream(self) -> AsyncIterator[FeedEvent]:
        """One tick per symbol every 1/tick_rate s; simulated time runs clock_speed× faster."""
        if not self._series:
            raise FeedConfigError("start() the feed before streaming")
        interval = 1.0 / self.options.tick_rate
        dt = interval * self.options.clock_speed
        rngs = {sym: self._rng(sym, 1) for sym in self._symbols}
        step = 0
        while not self._closed:
            await self.options.sleep(interval)
            if self._closed:
                return
            step += 1
            self._now += dt
            for sym in self._symbols:
                tick = self._next_tick(self._series[sym], rngs[sym], dt)
                for tf in _FINEST_FIRST:
                    closed = self._roll(self._series[sym], tf, tick)
                    if closed is not None:
                        yield BarClose(sym, tf, closed)
                self._status.last_tick[sym] = tick.time
                yield tick

    def _next_tick(self, series: _Series, rng: np.random.Generator, dt: float) -> Tick:
        p = SYMBOL_PARAMS[series.symbol]
        sigma = p.daily_vol * math.sqrt(dt / DAY)
        series.price *= math.exp(sigma * float(rng.standard_normal()))
        digits = PRICE_DIGITS[series.symbol]
        bid = round(series.price, digits)
        return Tick(
            series.symbol, self._now, bid, round(bid + TYPICAL_SPREAD[series.symbol], digits)
        )

    @staticmethod
    def _roll(series: _Series, tf: Timeframe, tick: Tick) -> Bar | None:
        """Move the forming bar with the tick's bid; return the bar it closed, if any."""
        bars = series.bars[tf]
        f = bars.forming
        price = tick.bid
        if f is not None and tick.time < f.time + tf.seconds:
            bars.forming = Bar(
                f.time, f.open, max(f.high, price), min(f.low, price), price, f.volume + 1
            )
            return None
        closed = f
        if f is not None:
            bars.append(f)  # clears forming
        bars.forming = Bar(tf.bar_open(int(tick.time)), price, price, price, price, 1.0)
        return closed
