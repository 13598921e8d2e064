"""A seeded, reproducible market for demos and tests: all 15 symbols, nine timeframes, live ticks.

History is one *base* series per symbol. Each timeframe X has a window W(X): its last
``history_bars`` bars, the start aligned down to 00:00 UTC, all windows ending "now". The base
resolution at a moment is the longest bar length that tiles every window covering it (M5 over
the last ``history_bars`` × 5 min, M15 before that, …, D1 at the far end). Every timeframe's bars
are that base series aggregated into its own UTC buckets, so wherever two timeframes overlap the
higher one is exactly the lower one resampled, and the whole market is ~32k base bars per symbol
instead of millions of M5 bars.

Prices follow a slowly mean-reverting random walk of the log price (Ornstein-Uhlenbeck, half-life
of a year): at chart scales it is a random walk, yet years of D1 history stay around the symbol's
realistic level instead of drifting off to wherever a pure walk would take them.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from tradealerts.core.bars import Bar, Bars, FloatArray, IntArray, aggregate
from tradealerts.core.symbols import PRICE_DIGITS, TYPICAL_SPREAD
from tradealerts.core.tiers import ALL_SYMBOLS
from tradealerts.core.timeframes import BarClock, Timeframe, TimeframeError, parse_timeframe
from tradealerts.server.feeds import base
from tradealerts.server.feeds.base import FeedConfigError

__all__ = ["HALF_LIFE_DAYS", "SYMBOL_PARAMS", "SymbolParams", "SyntheticFeed"]

DAY = 86_400
#: How fast the log price is pulled back to the symbol's level: half the gap closes in this time.
HALF_LIFE_DAYS = 365.0
_THETA = math.log(2.0) / (HALF_LIFE_DAYS * DAY)  # mean-reversion rate per second
#: Mean tick volume of one M5 bar; longer bars get proportionally more (volume adds up).
_M5_VOLUME = 100.0
_VOLUME_SHAPE = 2.0  # gamma shape per M5 bar: volumes vary, but not wildly


@dataclass(frozen=True)
class SymbolParams:
    """Everything the synthetic market needs to know about one symbol."""

    #: the realistic level: the price "now", and what the walk wanders around
    price: float
    #: standard deviation of one day's log return
    daily_vol: float
    #: ask - bid, in price units
    spread: float
    #: decimals of a quoted price; every synthetic price is rounded to them
    digits: int


def _params(price: float, daily_vol: float, symbol: str) -> SymbolParams:
    # spread and digits are shared with displays and the replay feed, so they live in core.symbols
    return SymbolParams(price, daily_vol, TYPICAL_SPREAD[symbol], PRICE_DIGITS[symbol])


#: One row per product symbol: level and daily volatility here, spread and digits from core.
SYMBOL_PARAMS: dict[str, SymbolParams] = {
    "AUDJPY": _params(99.0, 0.007, "AUDJPY"),
    "AUDUSD": _params(0.66, 0.007, "AUDUSD"),
    "BTCUSD": _params(60_000.0, 0.030, "BTCUSD"),
    "ETHUSD": _params(3_000.0, 0.035, "ETHUSD"),
    "EURUSD": _params(1.08, 0.005, "EURUSD"),
    "GBPJPY": _params(190.0, 0.008, "GBPJPY"),
    "GBPUSD": _params(1.27, 0.006, "GBPUSD"),
    "NDX100": _params(18_000.0, 0.012, "NDX100"),
    "NZDUSD": _params(0.61, 0.007, "NZDUSD"),
    "US30": _params(39_000.0, 0.009, "US30"),
    "USDCAD": _params(1.36, 0.005, "USDCAD"),
    "USDCHF": _params(0.88, 0.005, "USDCHF"),
    "USDJPY": _params(150.0, 0.006, "USDJPY"),
    "XAGUSD": _params(24.0, 0.015, "XAGUSD"),
    "XAUUSD": _params(2_000.0, 0.010, "XAUUSD"),
}

_FINEST_FIRST: tuple[Timeframe, ...] = tuple(sorted(Timeframe, key=lambda tf: tf.seconds))


def _ou_step(seconds: FloatArray | float) -> tuple[FloatArray, FloatArray]:
    """Decay and noise scale (per unit of daily volatility) of an OU step of ``seconds``.

    The noise scale is ~sqrt(seconds / DAY) for short steps, i.e. volatility grows with the
    square root of the bar length, as in a random walk.
    """
    dt = np.asarray(seconds, dtype=np.float64)
    decay = np.exp(-_THETA * dt)
    noise = np.sqrt(-np.expm1(-2.0 * _THETA * dt) / (2.0 * _THETA * DAY))
    return decay, noise


def _window_starts(now: int, count: int) -> dict[Timeframe, int]:
    """Where each timeframe's window starts: ``count`` bars back, aligned down to 00:00 UTC."""
    starts = {tf: tf.bar_open(now) - count * tf.seconds for tf in Timeframe}
    return {tf: s - s % DAY for tf, s in starts.items()}


def _base_times(now: int, count: int) -> tuple[IntArray, IntArray]:
    """Open times and lengths of the base bars, oldest first, up to the M5 bar holding ``now``.

    The windows are nested (a longer timeframe reaches further back), so the span between two
    window starts is covered by one timeframe and every longer one. Its bars are the gcd of
    those lengths, not simply the shortest: between the H8 and H4 window starts, H8 base bars
    would straddle the 12:00 boundary of H12 bars, so that span uses H4 bars.
    """
    starts = _window_starts(now, count)
    coarse_first = _FINEST_FIRST[::-1]
    parts_t: list[IntArray] = []
    parts_len: list[IntArray] = []
    for k, tf in enumerate(coarse_first):
        end = starts[coarse_first[k + 1]] if k + 1 < len(coarse_first) else now + 1
        step = math.gcd(*(c.seconds for c in coarse_first[: k + 1]))
        t = np.arange(starts[tf], end, step, dtype=np.int64)
        parts_t.append(t)
        parts_len.append(np.full(t.shape[0], step, dtype=np.int64))
    return np.concatenate(parts_t), np.concatenate(parts_len)


class _Series:
    """One symbol's state: per timeframe the bars closed since the start and the forming
    bar, the log deviation from its level, its ticks.

    The history before the start is not kept: it is the same every time it is built (the
    seed, the start time), so ``bars`` builds it again when asked. The engine asks once per
    run and keeps its own copy; holding a second one here cost a server ~32 MB for 15 x 9 x
    5,000 bars (bench_memory)."""

    def __init__(
        self,
        symbol: str,
        bars: dict[Timeframe, Bars],
        deviation: float,
        rng: np.random.Generator,
    ) -> None:
        self.symbol = symbol
        self.params = SYMBOL_PARAMS[symbol]
        self.bars = bars  # closed since the start, and the forming bar
        #: timeframes whose bars since the start were cut to ``history_bars``: the history
        #: before the start no longer joins them
        self.cut: set[Timeframe] = set()
        self.deviation = deviation  # log(price / level)
        self.rng = rng


class SyntheticFeed(base.Feed):
    """A reproducible random-walk market: the same seed and start time give the same prices
    and the same ticks."""

    name = "synthetic"

    def __init__(self, options: base.FeedOptions) -> None:
        self.options = options
        requested = options.symbols if options.symbols is not None else ALL_SYMBOLS
        # keep the caller's order, drop repeats (a repeated symbol would tick twice)
        syms = tuple(dict.fromkeys(s.strip().upper() for s in requested))
        unknown = [s for s in syms if s not in SYMBOL_PARAMS]
        if unknown:
            raise FeedConfigError(
                f"the synthetic feed has no symbol {', '.join(unknown)}: "
                f"use some of {', '.join(ALL_SYMBOLS)}"
            )
        if not syms:
            raise FeedConfigError("the synthetic feed needs at least one symbol")
        if options.history_bars < 1:
            raise FeedConfigError(f"history_bars must be at least 1 (got {options.history_bars})")
        if not options.tick_rate > 0 or not options.clock_speed > 0:
            raise FeedConfigError(
                "tick_rate and clock_speed must be positive "
                f"(got {options.tick_rate} and {options.clock_speed})"
            )
        self._symbols = syms
        self._series: dict[str, _Series] = {}
        #: what ``start`` built the history from, to build it again (``_history``)
        self._plan: tuple[IntArray, IntArray, dict[Timeframe, int]] = (
            np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), {},
        )  # fmt: skip
        self._built: tuple[str, dict[Timeframe, Bars]] | None = None
        self._start = 0
        self._off = 0  # the bar clock's offset (s): fixed for the run
        self._fixed: tuple[int, BarClock] | None = None
        self._steps = 0
        self._closed = False
        self._status = base.FeedStatus(connected=False)

    # -- history ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Build the history of every symbol and timeframe (vectorised; ~10 ms per symbol)."""
        opts = self.options
        now = opts.start_time if opts.start_time is not None else math.floor(opts.clock())
        self._start = int(now)
        self._steps = 0
        self._closed = False
        # The bar clock's offset at the start: the market is built on that clock's grid
        # (UTC-aligned in its local time, then moved back to UTC). A clock with daylight
        # saving keeps the offset it had at the start: the synthetic market has no switch.
        off = self._off = self.bar_clock().offset
        base_t, base_len = _base_times(self._start + off, opts.history_bars)
        base_t = base_t - off
        starts = {
            tf: s - off for tf, s in _window_starts(self._start + off, opts.history_bars).items()
        }
        self._plan = (base_t, base_len, starts)
        self._built = None
        for sym in self._symbols:
            history, deviation = self._build(sym, base_t, base_len, starts)
            since = {tf: Bars(forming=b.forming) for tf, b in history.items()}
            self._series[sym] = _Series(sym, since, deviation, self._rng(sym, 1))
        self._status = base.FeedStatus(connected=True)

    def _rng(self, symbol: str, stream: int) -> np.random.Generator:
        # keyed by the symbol's place among ALL symbols: its prices do not depend on which
        # other symbols are served; stream 0 is history, stream 1 the live ticks
        return np.random.default_rng([self.options.seed, ALL_SYMBOLS.index(symbol), stream])

    def _build(
        self,
        symbol: str,
        base_t: IntArray,
        base_len: IntArray,
        starts: dict[Timeframe, int],
    ) -> tuple[dict[Timeframe, Bars], float]:
        p = SYMBOL_PARAMS[symbol]
        now = self._start
        rng = self._rng(symbol, 0)
        size = base_t.shape[0]
        # the last base bar is the current M5 bar: only its elapsed part has happened
        elapsed = base_len.astype(np.float64)
        elapsed[-1] = max(1.0, float(now - base_t[-1]))
        _, noise = _ou_step(elapsed)
        sigma = p.daily_vol * noise
        # Walk the log deviation *backwards* from 0 at "now", so the price now is the level.
        # A stationary OU process is time-reversible, so this is the same market as one run
        # forwards that happens to end at the level. Reversed, x[j+1] = d[j] x[j] + b[j] has
        # the closed form x[j] = exp(-theta tau[j]) * sum_{i<j} b[i] exp(theta tau[i+1]),
        # tau = time back from now; stable, as every factor exp(theta (tau[i+1] - tau[j])) <= 1.
        b = (sigma * rng.standard_normal(size))[::-1]
        tau = np.concatenate(([0.0], np.cumsum(elapsed[::-1])))
        grow = np.exp(_THETA * tau)
        back = np.concatenate(([0.0], np.cumsum(b * grow[1:]))) / grow
        dev = back[::-1]  # dev[0] is the first bar's open, dev[k + 1] bar k's close
        open_ = p.price * np.exp(dev[:-1])
        close = p.price * np.exp(dev[1:])
        wick = 0.6 * sigma * np.abs(rng.standard_normal((2, size)))
        high = np.maximum(open_, close) * np.exp(wick[0])
        low = np.minimum(open_, close) * np.exp(-wick[1])
        # rounding is monotone, so low <= open, close <= high survives it, and open == the
        # previous close because both round the same number
        o, h, lo, c = (np.round(a, p.digits) for a in (open_, high, low, close))
        # gamma volumes add up: k bars of shape a sum to one of shape k*a, so a D1 base bar has
        # the same distribution as 288 M5 bars summed and no timeframe's volume jumps where the
        # base resolution changes
        vol = np.round(rng.gamma(_VOLUME_SHAPE * elapsed / 300.0, _M5_VOLUME / _VOLUME_SHAPE))

        bars: dict[Timeframe, Bars] = {}
        for tf in Timeframe:
            keep = base_t >= starts[tf]
            t, bo, bh, bl, bc, bv = aggregate(
                base_t[keep], o[keep], h[keep], lo[keep], c[keep], vol[keep], tf,
                self.bar_clock(),
            )  # fmt: skip
            # the last bucket holds "now": it is the forming bar, every earlier one is closed
            k = t.shape[0] - 1
            s = slice(max(0, k - self.options.history_bars), k)
            bars[tf] = Bars(
                t[s], bo[s], bh[s], bl[s], bc[s], bv[s],
                forming=Bar(
                    int(t[k]), float(bo[k]), float(bh[k]), float(bl[k]), float(bc[k]),
                    float(bv[k]),
                ),
            )  # fmt: skip
        return bars, float(dev[-1])

    def _history(self, symbol: str) -> dict[Timeframe, Bars]:
        """``symbol``'s bars before the start, built again (the last symbol's kept: the
        engine loads a symbol's timeframes one after another)."""
        if self._built is None or self._built[0] != symbol:
            base_t, base_len, starts = self._plan
            self._built = (symbol, self._build(symbol, base_t, base_len, starts)[0])
        return self._built[1]

    async def close(self) -> None:
        """End the stream (at its next step) and mark the feed disconnected."""
        self._closed = True
        self._status.connected = False

    def bar_clock(self) -> BarClock:
        """The configured clock, fixed at its offset at the start (a zone's DST is not
        simulated)."""
        clock = self.options_clock()
        if clock.is_fixed:
            return clock
        start = self._start or math.floor(self.options.clock())
        if self._fixed is None or self._fixed[0] != start:
            off = clock.offset_at(start)
            self._fixed = (start, BarClock(name=f"{clock.name} (UTC{off / 3600:+g} h)", offset=off))
        return self._fixed[1]

    def symbols(self) -> tuple[str, ...]:
        """The served symbols, in the order of ``options.symbols`` (or all 15, sorted)."""
        return self._symbols

    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        """All nine: the synthetic market has every timeframe for every symbol."""
        return _FINEST_FIRST

    async def bars(self, symbol: str, timeframe: Timeframe | str, count: int) -> Bars:
        """The last ``count`` closed bars (history plus those closed live) and the forming bar.

        Returns a copy: callers may keep it while the stream moves on.
        """
        if not self._series:
            raise FeedConfigError("start() the synthetic feed first")
        series = self._series.get(symbol.strip().upper())
        if series is None:
            raise FeedConfigError(
                f"the synthetic feed does not serve {symbol!r}: it serves "
                f"{', '.join(self._symbols)}"
            )
        try:
            tf = parse_timeframe(timeframe)
        except TimeframeError as exc:
            raise FeedConfigError(str(exc)) from None
        since = series.bars[tf]
        if tf in series.cut or len(since) >= count:
            return since.tail(count)
        before = self._history(series.symbol)[tf].tail(count - len(since))
        return Bars(
            np.concatenate((before.time, since.time)),
            np.concatenate((before.open, since.open)),
            np.concatenate((before.high, since.high)),
            np.concatenate((before.low, since.low)),
            np.concatenate((before.close, since.close)),
            np.concatenate((before.volume, since.volume)),
            forming=since.forming,
        )

    def status(self) -> base.FeedStatus:
        """Connected between start() and close(); last tick time per symbol in simulated time."""
        s = self._status
        return base.FeedStatus(connected=s.connected, last_tick=dict(s.last_tick), error=s.error)

    # -- live ------------------------------------------------------------------------------
    async def stream(self) -> AsyncIterator[base.FeedEvent]:
        """One tick per symbol every 1/tick_rate real seconds; simulated time advances
        ``clock_speed`` times faster, from the start time on. Before a tick, a BarClose for
        every timeframe whose bucket the tick leaves, shortest timeframe first."""
        if not self._series:
            raise FeedConfigError("start() the synthetic feed before streaming")
        interval = 1.0 / self.options.tick_rate
        dt = interval * self.options.clock_speed
        decay, noise = _ou_step(dt)
        step_decay, step_noise = float(decay), float(noise)
        clock = self.options.clock
        origin = float(self._start)
        if self.options.start_time is None and self.options.clock_speed == 1.0:
            # live: tick times are wall-clock times, not "start + steps" behind by however
            # long the history took to build
            origin = max(origin, clock())
        paced_from = clock() - self._steps * interval
        is_open = base.market_open(self.options)
        while not self._closed:
            # sleep to the next step's deadline, not for a fixed interval: the time the
            # consumer takes must not make the feed fall further behind every step
            await self.options.sleep(max(0.0, paced_from + (self._steps + 1) * interval - clock()))
            if self._closed:
                return
            self._steps += 1
            # from the step count, not by adding dt up: no float drift over long runs
            now = origin + self._steps * dt
            for sym in self._symbols:
                if self._closed:  # close() while the consumer held a tick: end right there
                    return
                if is_open is not None and not is_open(sym, now):
                    continue  # its market is closed: no tick, no bar (FEED_MARKET_HOURS)
                series = self._series[sym]
                p = series.params
                series.deviation = step_decay * series.deviation + (
                    p.daily_vol * step_noise * float(series.rng.standard_normal())
                )
                bid = round(p.price * math.exp(series.deviation), p.digits)
                tick = base.Tick(sym, now, bid, round(bid + p.spread, p.digits))
                for tf in _FINEST_FIRST:
                    closed = self._roll(series, tf, tick)
                    if closed is not None:
                        yield base.BarClose(sym, tf, closed)
                self._status.last_tick[sym] = now
                yield tick

    def _roll(self, series: _Series, tf: Timeframe, tick: base.Tick) -> Bar | None:
        """Move the forming bar with the tick's bid; return the bar it closed, if any.

        Bars are built from bids, as MT5's are. When a tick step is longer than a bar, buckets
        without a tick get no bar, as in a real feed; every timeframe sees the same ticks, so
        they stay consistent with each other either way.
        """
        bars = series.bars[tf]
        f = bars.forming
        price = tick.bid
        if f is not None and tick.time < f.time + tf.seconds:  # bars are whole on a fixed clock
            bars.forming = Bar(
                f.time, f.open, max(f.high, price), min(f.low, price), price, f.volume + 1.0
            )
            return None
        if f is not None:
            bars.append(f)  # also clears forming
            if len(bars) >= 2 * self.options.history_bars:
                # keep memory bounded on a long or fast run; amortised O(1) per bar
                bars = series.bars[tf] = bars.tail(self.options.history_bars)
                series.cut.add(tf)
        opened = tf.bar_open(int(tick.time) + self._off) - self._off
        bars.forming = Bar(opened, price, price, price, price, 1.0)
        return f
