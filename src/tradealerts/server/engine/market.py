"""Market state: per (symbol, timeframe) bars, the forming bar, indicators, and the last tick."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.indicators import IndicatorChanges, IndicatorState
from tradealerts.core.messages import _
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe, bar_span
from tradealerts.server.feeds import BarClose, Feed, Tick

__all__ = ["MarketState", "NoMarketData", "SeriesState"]


class NoMarketData(LookupError):
    """The feed serves no data for this symbol or timeframe."""


@dataclass
class SeriesState:
    """One (symbol, timeframe): closed bars, the forming bar and the indicators over them.

    ``version`` changes whenever a bar closes; ``tick_version`` whenever the forming bar moves.
    ``clock`` says where bars open (the broker's clock with MT5): the forming bar is the
    clock's bar that holds the tick, so it is the terminal's position-0 bar.
    """

    symbol: str
    timeframe: Timeframe
    bars: Bars
    indicators: IndicatorState
    version: int = 0
    tick_version: int = 0
    updated_at: float = 0.0
    clock: BarClock = UTC_CLOCK
    #: (open, end) on the clock of the forming bar: computed once per bar, not per tick
    _span: tuple[int, int] = (-1, -1)
    #: a cache of the alert matcher's line views (``alerts/lines.py``), or None (the live
    #: series: no cache). A backtest's own series turns it on: its lines never move
    line_refs: dict[Any, Any] | None = None

    def on_tick(self, tick: Tick) -> None:
        """Move the forming bar with the bid (MT5 builds its bars from bids too)."""
        tf = self.timeframe
        f = self.bars.forming
        price = tick.bid
        if f is not None and f.time != self._span[0]:  # set elsewhere (history, a snapshot)
            self._span = bar_span(tf, f.time, self.clock)
        if f is None or tick.time >= self._span[1]:
            self._span = bar_span(tf, int(tick.time), self.clock)
            opened = self._span[0]
            last = self.bars.last()
            if last is not None and opened <= last.time:
                return  # a late tick for a bar already closed
            self.bars.forming = Bar(opened, price, price, price, price, 1.0)
        else:
            self.bars.forming = Bar(
                f.time, f.open, max(f.high, price), min(f.low, price), price, f.volume + 1.0
            )
        self.tick_version += 1
        self.updated_at = tick.time

    def on_bar(self, bar: Bar, forming: Bar | None = None) -> IndicatorChanges | None:
        """Append a closed bar and update the indicators; None when the bar is not new.
        ``forming``: the source's bar after it (the terminal's position 0), if it says."""
        last = self.bars.last()
        tf = self.timeframe
        if last is not None and bar.time <= last.time:
            return None
        self.bars.append(bar)
        if forming is not None and forming.time > bar.time:
            self.bars.forming = forming
        changes = self.indicators.update(bar.high, bar.low, bar.close)
        self.version += 1
        self.tick_version += 1
        self.updated_at = max(self.updated_at, float(bar_span(tf, bar.time, self.clock)[1]))
        return changes


@dataclass
class MarketState:
    """Everything the engine knows, for the API to read."""

    n: int = 2
    #: where bars open (``bar_span``); with MT5 and ``auto`` the engine keeps it the feed's
    clock: BarClock = UTC_CLOCK
    series: dict[tuple[str, Timeframe], SeriesState] = field(default_factory=dict)
    last_tick: dict[str, Tick] = field(default_factory=dict)
    #: makes a series' indicators from its history (the owner's lines for an ``mt5`` series:
    #: ``OwnerLines.indicators``); None: computed by our spec
    make_indicators: Callable[[str, Timeframe, Bars, int], IndicatorState] | None = None

    async def load(self, feed: Feed, history_bars: int) -> None:
        """Fill every (symbol, timeframe) the feed serves from its history."""
        for symbol in feed.symbols():
            for tf in feed.timeframes(symbol):
                bars = await feed.bars(symbol, tf, history_bars)
                if self.make_indicators is not None:
                    ind = self.make_indicators(symbol, tf, bars, self.n)
                else:
                    ind = IndicatorState.from_arrays(bars.high, bars.low, bars.close, self.n)
                end = bar_span(tf, int(bars.time[-1]), self.clock)[1] if len(bars) else 0
                self.series[(symbol, tf)] = SeriesState(
                    symbol, tf, bars, ind, updated_at=float(end), clock=self.clock
                )

    def set_clock(self, clock: BarClock) -> None:
        """Bars open on ``clock`` from now on (a terminal's clock learned a switch)."""
        if clock == self.clock:
            return
        self.clock = clock
        for st in self.series.values():
            st.clock, st._span = clock, (-1, -1)

    def get(self, symbol: str, timeframe: Timeframe) -> SeriesState:
        """The state of one pair, or NoMarketData."""
        try:
            return self.series[(symbol, timeframe)]
        except KeyError:
            raise NoMarketData(
                _("The server's feed has no {timeframe} data for {symbol}.", timeframe=timeframe,
                  symbol=symbol)
            ) from None  # fmt: skip

    def symbols(self) -> set[str]:
        """The symbols with data."""
        return {s for s, _ in self.series}

    def has(self, symbol: str, timeframe: Timeframe) -> bool:
        return (symbol, timeframe) in self.series

    def apply(self, event: Tick | BarClose) -> IndicatorChanges | None:
        """Apply one feed event; a closed bar returns what it changed in the indicators."""
        if isinstance(event, Tick):
            self.last_tick[event.symbol] = event
            for tf in Timeframe:
                st = self.series.get((event.symbol, tf))
                if st is not None:
                    st.on_tick(event)
            return None
        st = self.series.get((event.symbol, event.timeframe))
        return None if st is None else st.on_bar(event.bar, event.forming)
