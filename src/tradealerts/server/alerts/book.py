"""All matchers of the server: routes changes and feed events to the symbol's matcher."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from tradealerts.core.indicators import IndicatorChanges
from tradealerts.server.alerts.matcher import SymbolMatcher
from tradealerts.server.alerts.model import NOTHING, Alert, MatchResult, StatusChange
from tradealerts.server.engine.market import MarketState
from tradealerts.server.feeds import BarClose, Tick

__all__ = ["AlertBook", "Sink"]

#: Receives every non-empty result, in feed order (the server logs, then publishes).
Sink = Callable[[MatchResult], None]

_Op = Alert | int  # an alert to put, or the id of one to remove


class AlertBook:
    """One ``SymbolMatcher`` per symbol, fed by the engine.

    ``add``/``update``/``remove`` may be called from any thread: they only queue the change,
    and the queue is applied before the next feed event, so a change takes effect on the next
    tick (and never in the middle of one).
    """

    def __init__(self) -> None:
        self.matchers: dict[str, SymbolMatcher] = {}
        self._where: dict[int, str] = {}  # alert id -> symbol
        self._ops: deque[_Op] = deque()
        # the last tick per symbol: a matcher created later still knows the previous price
        self._last_tick: dict[str, Tick] = {}

    # -- changes (any thread) --------------------------------------------------------------
    def add(self, alert: Alert) -> None:
        """Match ``alert`` from the next event on (only if its status is active)."""
        self._ops.append(alert)

    def update(self, alert: Alert) -> None:
        """Replace the alert with its id (a pause is an update to status paused)."""
        self._ops.append(alert)

    def remove(self, alert_id: int) -> None:
        """Stop matching the alert."""
        self._ops.append(alert_id)

    def apply_changes(self, market: MarketState | None = None) -> None:
        """Apply the queued changes now (the engine's thread; done before every event)."""
        ops = self._ops
        while ops:
            item = ops.popleft()
            if isinstance(item, Alert):
                self._put(item, market)
            else:
                self._remove(item)

    def _put(self, alert: Alert, market: MarketState | None) -> None:
        symbol = alert.spec.symbol
        before = self._where.get(alert.id)
        if before is not None and before != symbol:
            self.matchers[before].remove(alert.id)
        matcher = self.matchers.get(symbol)
        if matcher is None:
            matcher = self.matchers[symbol] = SymbolMatcher(symbol)
            if symbol in self._last_tick:
                matcher.seed(self._last_tick[symbol])
        matcher.add(alert, market)
        self._where[alert.id] = symbol

    def _remove(self, alert_id: int) -> None:
        symbol = self._where.pop(alert_id, None)
        if symbol is not None:
            self.matchers[symbol].remove(alert_id)

    # -- events (the engine's thread) ------------------------------------------------------
    def on_tick(self, tick: Tick, market: MarketState) -> MatchResult:
        if self._ops:
            self.apply_changes(market)
        matcher = self.matchers.get(tick.symbol)
        self._last_tick[tick.symbol] = tick
        result = NOTHING if matcher is None else matcher.on_tick(tick, market)
        self._forget(result)
        return result

    def on_bar(
        self, bar_close: BarClose, changes: IndicatorChanges | None, market: MarketState
    ) -> MatchResult:
        if self._ops:
            self.apply_changes(market)
        matcher = self.matchers.get(bar_close.symbol)
        result = NOTHING if matcher is None else matcher.on_bar(bar_close, changes, market)
        self._forget(result)
        return result

    def on_event(
        self, event: Tick | BarClose, changes: IndicatorChanges | None, market: MarketState
    ) -> MatchResult:
        """Either kind of feed event (the Engine listener's shape plus the market)."""
        if isinstance(event, Tick):
            return self.on_tick(event, market)
        return self.on_bar(event, changes, market)

    def expire_due(self, now: float) -> list[StatusChange]:
        """Expire due alerts of every symbol (call now and then: a closed market has no
        ticks to do it)."""
        out: list[StatusChange] = []
        for symbol in sorted(self.matchers):
            out += self.matchers[symbol].expire_due(now)
        for change in out:
            self._where.pop(change.alert_id, None)
        return out

    def listener(
        self, market: MarketState, sink: Sink
    ) -> Callable[[Tick | BarClose, IndicatorChanges | None], None]:
        """An ``Engine.listeners`` entry: matches every event, hands non-empty results on."""

        def listen(event: Tick | BarClose, changes: IndicatorChanges | None) -> None:
            result = self.on_event(event, changes, market)
            if result:
                sink(result)

        return listen

    def _forget(self, result: MatchResult) -> None:
        for change in result.changed:
            self._where.pop(change.alert_id, None)

    def __len__(self) -> int:
        return sum(len(m) for m in self.matchers.values())
