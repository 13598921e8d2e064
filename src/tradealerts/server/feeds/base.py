"""The one async interface every market feed implements, and its errors.

Exception tree (classified by what the caller does next)::

    FeedError                 root of everything a feed raises
    ├── FeedConfigError       the owner must fix something (spec, file, module); stop
    │   └── ReplayFileError   a replay CSV is wrong: file, line and problem
    └── FeedUnavailable       temporary (terminal lost, bridge down); retry with backoff
"""

from __future__ import annotations

import asyncio
import time as _time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tradealerts.core.bars import Bar, Bars
from tradealerts.core.frozen import quick_init
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe

__all__ = [
    "BarClose",
    "Feed",
    "FeedConfigError",
    "FeedError",
    "FeedEvent",
    "FeedOptions",
    "FeedStatus",
    "FeedUnavailable",
    "ReplayFileError",
    "Tick",
    "market_open",
]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class FeedError(Exception):
    """Root of every feed error."""


class FeedConfigError(FeedError):
    """Something the owner must fix; retrying will not help."""


class ReplayFileError(FeedConfigError):
    """A replay file that cannot be used: names the file, the line and the problem."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


class FeedUnavailable(FeedError):
    """The data source is gone for now (terminal closed, bridge down); retry later."""


@quick_init
@dataclass(frozen=True, slots=True)
class Tick:
    """A quote. ``time`` is epoch seconds (UTC), fractional."""

    symbol: str
    time: float
    bid: float
    ask: float


@quick_init
@dataclass(frozen=True, slots=True)
class BarClose:
    """A bar of ``timeframe`` that has just closed; ``forming``: the bar that opened after
    it as the source has it (MT5's position 0), which the market takes as its forming bar,
    so the forming candle is the terminal's and not one rebuilt from the ticks polled."""

    symbol: str
    timeframe: Timeframe
    bar: Bar
    forming: Bar | None = None

    def as_dict(self) -> dict[str, Any]:
        """The bar as the bus and the stream carry it (with the source's forming bar)."""
        data: dict[str, Any] = {
            "symbol": self.symbol,
            "timeframe": self.timeframe.value,
            **self.bar.as_dict(),
        }
        if self.forming is not None:
            data["forming"] = self.forming.as_dict()
        return data


FeedEvent = Tick | BarClose


@dataclass
class FeedStatus:
    """What health reporting needs: is the source connected, and how fresh is each symbol."""

    connected: bool
    last_tick: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class FeedOptions:
    """Every knob a feed reads. The server's settings map onto this."""

    seed: int = 42
    #: synthetic: closed bars of history per timeframe; replay: bars of the file used as history
    history_bars: int = 5000
    #: synthetic: ticks per second per symbol (real time)
    tick_rate: float = 2.0
    #: synthetic: simulated seconds per real second
    clock_speed: float = 1.0
    #: synthetic: the simulated "now" at start (epoch s); None = the wall clock
    start_time: int | None = None
    #: replay: bars per second; 0 = as fast as possible
    replay_speed: float = 1.0
    #: replay: the wall time an earlier engine began streaming the file (scale-out); the
    #: stream then starts at the bar that time implies, not where the history ends
    replay_origin: float | None = None
    #: replay: the symbol of the file, when its name does not say it
    replay_symbol: str | None = None
    #: mt5: terminal credentials and location (None = the terminal's current login)
    mt5_login: int | None = None
    mt5_password: str | None = field(default=None, repr=False)
    mt5_server: str | None = None
    mt5_path: str | None = None
    mt5_poll_interval: float = 0.25
    #: mt5: hours to subtract from the broker's server time to get UTC, or "auto"
    mt5_utc_offset: float | str = "auto"
    #: where H2…D1 bars open; None: ``auto``, the source's own clock (MT5: the terminal's)
    bar_clock: BarClock | None = None
    #: replay: the clock of the file's naive times (an MT5 export is in broker time)
    replay_tz: BarClock | None = None
    #: mt5: our symbol -> the broker's name (US30 -> US30.cash)
    symbol_map: dict[str, str] = field(default_factory=dict)
    #: the symbols to serve (None = all the product's symbols the source has)
    symbols: tuple[str, ...] | None = None
    sleep: Sleep = asyncio.sleep
    clock: Clock = _time.time
    #: synthetic and replay: send nothing for a symbol while its market is closed by its
    #: schedule (``core.market_hours``; these are the owner's per-symbol overrides, ``{}``
    #: for the defaults); None: every day, around the clock (the demo's default)
    market_hours: dict[str, str] | None = None


def market_open(options: FeedOptions) -> Callable[[str, float], bool] | None:
    """``(symbol, epoch seconds) -> open?`` for a feed that honours market hours, or None
    when it does not (``options.market_hours`` is None)."""
    if options.market_hours is None:
        return None
    from datetime import UTC, datetime

    from tradealerts.core.market_hours import schedule_for

    hours = options.market_hours
    schedules: dict[str, Any] = {}

    def is_open(symbol: str, t: float) -> bool:
        sched = schedules.get(symbol)
        if sched is None:
            sched = schedules[symbol] = schedule_for(symbol, hours)
        return sched.is_open(datetime.fromtimestamp(t, UTC))

    return is_open


class Feed(ABC):
    """A market data source: history on demand, then live ticks and closed bars."""

    name: str = "feed"

    @abstractmethod
    async def start(self) -> None:
        """Connect and load what is needed; raises FeedConfigError or FeedUnavailable."""

    @abstractmethod
    async def close(self) -> None:
        """Release the source. Safe to call twice."""

    @abstractmethod
    def symbols(self) -> tuple[str, ...]:
        """The product symbols this feed serves (after start)."""

    @abstractmethod
    def timeframes(self, symbol: str) -> tuple[Timeframe, ...]:
        """The timeframes available for ``symbol`` (replay cannot go below its file's)."""

    @abstractmethod
    async def bars(self, symbol: str, timeframe: Timeframe, count: int) -> Bars:
        """The last ``count`` closed bars, with the forming bar if there is one."""

    @abstractmethod
    def stream(self) -> AsyncIterator[FeedEvent]:
        """Live events in time order: ticks, and each timeframe's bar as it closes.

        A closed bar is yielded before the first tick of the next bar. The iterator ends
        only when the source does (a replay file runs out) or ``close`` is called.
        """

    def bar_clock(self) -> BarClock:
        """The clock this source's bars open on: the configured one, or (MT5, ``auto``) the
        terminal's. The engine reads it after every event: a terminal's clock can change."""
        return self.options_clock()

    def options_clock(self) -> BarClock:
        opts: FeedOptions | None = getattr(self, "options", None)
        return UTC_CLOCK if opts is None or opts.bar_clock is None else opts.bar_clock

    @abstractmethod
    def status(self) -> FeedStatus:
        """Connection state and the time of each symbol's last tick."""
