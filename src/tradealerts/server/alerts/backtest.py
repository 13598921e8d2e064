"""Alert backtests: when an alert would have fired over the bars the server holds.

No second implementation of any condition: a backtest drives the live ``SymbolMatcher``
over a replay of one series' closed bars, exactly as the replay feed streams them. Each bar
of the window gives four ticks on its OHLC path (``feeds.replay.tick_path``: open, the
nearer of high/low, the other, close, at 0, ¼, ½, ¾ of the bar, ask = bid + the typical
spread), then its ``BarClose``. The indicators are rebuilt bar by bar with the incremental
``IndicatorState.update`` (``SeriesState.on_bar``) from the state just before the window, so
line ids are those that existed at each bar: a line appears only when its fractal is
confirmed, and an alert on a chosen ``line_id`` is armed only from that bar on (live, it
could not be created before). Frequency, cooldown, ``max_fires``, the flood guard, bounces,
buffers and confirmation bars are the matcher's own. Expiry counts from the window's start.

One replay serves every alert of a series (one matcher holds them all; alerts never
interact). Intra-bar conditions are as exact as the OHLC path (MT5's "1 minute OHLC"
model); bar-close conditions are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tradealerts.core.alerts import AlertCreate, Condition, evaluated_on_ticks
from tradealerts.core.bars import Bars
from tradealerts.core.indicators import IndicatorState
from tradealerts.core.messages import _, localise
from tradealerts.core.symbols import TYPICAL_SPREAD
from tradealerts.core.timeframes import UTC_CLOCK, BarClock, Timeframe, bar_span
from tradealerts.server.alerts.lines import find_line
from tradealerts.server.alerts.matcher import SymbolMatcher
from tradealerts.server.alerts.model import Alert, Fired, MatchResult, StatusChange
from tradealerts.server.engine.market import MarketState, SeriesState
from tradealerts.server.feeds import BarClose, Tick
from tradealerts.server.feeds.replay import TICKS_PER_BAR, tick_path

__all__ = [
    "BAR_CLOSE",
    "INTRABAR_NOTE",
    "OHLC_PATH",
    "BacktestAlert",
    "BacktestFire",
    "BacktestRun",
    "Reason",
    "Window",
    "backtest_series",
    "intrabar",
]

OHLC_PATH = "ohlc_path"
BAR_CLOSE = "bar_close"
INTRABAR_NOTE = _(
    "Intra-bar conditions ran on each bar's OHLC path (open, the nearer of high/low, the "
    "other, close), as MT5's tester does on 1-minute OHLC bars; bar-close conditions are exact."
)


class Reason(str):
    """Why a fire fired (``crossed up 1.09000 at 1.09012``): the alert's default sentence
    without its pair, which the result names once; ``into`` says it in a reader's language."""

    full: str
    prefix: str

    def __new__(cls, full: str, prefix: str) -> Reason:
        self = super().__new__(cls, full.removeprefix(prefix))
        self.full, self.prefix = full, prefix
        return self

    def into(self, language: str) -> str:
        """The reason in ``language`` (the pair cut off as in English)."""
        return localise(self.full, language).removeprefix(self.prefix)


#: Conditions whose fire is confirmed by closes beyond a line (``confirm_bar_time``).
_CONFIRMED = frozenset({Condition.line_break, Condition.trendline_break, Condition.line_bounce})


def intrabar(spec: AlertCreate) -> str:
    """``ohlc_path`` when ticks drive the alert, ``bar_close`` when only closed bars do."""
    return OHLC_PATH if evaluated_on_ticks(spec.condition, spec.frequency) else BAR_CLOSE


@dataclass(frozen=True, slots=True)
class BacktestAlert:
    """An alert to test: its spec and how long it lives from the window's start (seconds;
    None: no expiry)."""

    spec: AlertCreate
    lifetime: float | None = None


@dataclass(frozen=True, slots=True)
class BacktestFire:
    """One fire: ``time`` on the path (epoch s), the bar it fell in, and why."""

    time: float
    bar_time: int
    price: float
    level: float | None
    reason: str
    line_id: str | None
    confirm_bar_time: int | None


@dataclass(slots=True)
class BacktestRun:
    """What one alert did over the window: its fires and how it ended (None: still active)."""

    fires: list[BacktestFire] = field(default_factory=list)
    ended: StatusChange | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """The replayed bars: how many, the first bar's open and the last bar's end (epoch s)."""

    bars: int
    start: int
    end: int


def backtest_series(
    bars: Bars,
    window: int,
    alerts: Sequence[BacktestAlert],
    *,
    symbol: str,
    timeframe: Timeframe,
    clock: BarClock = UTC_CLOCK,
    n: int = 2,
) -> tuple[Window, list[BacktestRun]]:
    """Replay the last ``window`` closed bars of ``bars`` (one series) through one matcher
    holding ``alerts`` (all of this symbol and timeframe); one ``BacktestRun`` per alert, in
    order. The bars before the window only build the indicators' starting state."""
    total = len(bars)
    window = max(0, min(window, total))
    first = total - window
    if window == 0:
        return Window(0, 0, 0), [BacktestRun() for _ in alerts]
    t, o, h, lo, c, v = bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume
    head = slice(0, first)
    series = SeriesState(
        symbol,
        timeframe,
        Bars(t[head], o[head], h[head], lo[head], c[head], v[head]),
        IndicatorState.from_arrays(h[head], lo[head], c[head], n),
        clock=clock,
        line_refs={},  # its lines never move under it: the matcher's line views are cached
    )
    market = MarketState(n, clock, {(symbol, timeframe): series})
    start = int(t[first])
    matcher = SymbolMatcher(symbol)
    runs = [BacktestRun() for _ in alerts]
    # chosen lines not yet confirmed: armed at the close that makes them (line id -> rows)
    waiting: dict[str, list[int]] = {}
    specs = [_as_tested(item, start) for item in alerts]
    for i, spec in enumerate(specs):
        if spec.line_id is not None and find_line(series, spec.line_id) is None:
            waiting.setdefault(spec.line_id, []).append(i)
        else:
            matcher.add(Alert(i + 1, 0, spec), market)
    spread = TYPICAL_SPREAD.get(symbol, 0.0)
    confirm = [s.condition in _CONFIRMED for s in specs]
    # bar-close alerts alone need no ticks (live, a tick only expires them, at the same time)
    ticked = any(evaluated_on_ticks(s.condition, s.frequency) for s in specs)
    prev: float | None = None  # the last bid replayed
    for k in range(first, total):
        bar = bars[k]
        bar_end = bar_span(timeframe, bar.time, clock)[1]
        if ticked:
            length = bar_end - bar.time
            t_last = bar.time + length * (TICKS_PER_BAR - 1) / TICKS_PER_BAR
            low = bar.low if prev is None else min(prev, bar.low)
            high = bar.high if prev is None else max(prev, bar.high)
            if prev is not None and matcher.idle(
                (low, low + spread), (high, high + spread), t_last
            ):
                # nothing can fire on this bar's path: only the previous quote moves
                matcher.seed(Tick(symbol, t_last, bar.close, bar.close + spread))
            else:
                path = tick_path(bar)
                for j, price in enumerate(path):
                    at = bar.time + length * j / TICKS_PER_BAR
                    result = matcher.on_tick(Tick(symbol, at, price, price + spread), market)
                    if result:
                        _collect(result, runs, bar.time, confirm)
                    if j < TICKS_PER_BAR - 1:
                        # the rest of the path: skipped as a whole bar is, when it can fire
                        # nothing (the first tick after a close re-checks the moved keys)
                        rest = path[j:]
                        low, high = min(rest), max(rest)
                        if matcher.idle((low, low + spread), (high, high + spread), t_last):
                            matcher.seed(Tick(symbol, t_last, bar.close, bar.close + spread))
                            break
            prev = bar.close
        changes = series.on_bar(bar)
        result = matcher.on_bar(BarClose(symbol, timeframe, bar), changes, market)
        if result:
            _collect(result, runs, bar.time, confirm)
        if waiting and changes is not None and (changes.new_horizontal or changes.new_diagonal):
            for line_id in [x for x in waiting if find_line(series, x) is not None]:
                for i in waiting.pop(line_id):
                    matcher.add(Alert(i + 1, 0, specs[i]), market)
    end = bar_span(timeframe, int(t[total - 1]), clock)[1]
    return Window(window, start, end), runs


def _as_tested(item: BacktestAlert, start: int) -> AlertCreate:
    """The spec as the matcher should see it: the expiry moved to the window's start plus
    its lifetime, and no message template (the reason is the default sentence)."""
    spec = item.spec
    expires = None
    if item.lifetime is not None:
        expires = datetime.fromtimestamp(start + max(0.0, item.lifetime), UTC)
    return spec.model_copy(update={"expires_at": expires, "message": None})


def _collect(
    result: MatchResult, runs: list[BacktestRun], bar_time: int, confirm: list[bool]
) -> None:
    for fired in result.fired:
        i = fired.alert_id - 1
        runs[i].fires.append(_fire(fired, bar_time, confirm[i]))
    for change in result.changed:
        runs[change.alert_id - 1].ended = change


def _fire(fired: Fired, bar_time: int, confirmed: bool) -> BacktestFire:
    prefix = f"{fired.symbol} {fired.timeframe.value} "
    reason = Reason(fired.message, prefix)
    return BacktestFire(
        time=fired.time,
        bar_time=bar_time,
        price=fired.price,
        level=fired.level,
        reason=reason,
        line_id=fired.line_id,
        confirm_bar_time=bar_time if confirmed else None,
    )
