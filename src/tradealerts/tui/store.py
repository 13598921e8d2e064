"""What the TUI knows, in one object: the account, the tier's map of pairs, the watchlist, the
chart's payloads, the alerts and the feed of fired ones. Filled once from the API, then kept
current by stream frames (``apply_price``, ``apply_bar``, ``apply_alert``); no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tradealerts.client.chart import add_bar, move_forming
from tradealerts.client.lang import _

__all__ = ["TIMEFRAMES", "ChartView", "FeedItem", "Store"]

#: The chart's ``1``–``9`` keys, in order.
TIMEFRAMES = ("M5", "M15", "M30", "H1", "H2", "H4", "H8", "H12", "D1")
#: Bars held per chart payload: panning back reaches this far, bar frames never grow it more.
CHART_BARS = 500
#: Bars fetched per watchlist pair (its sparkline and change).
SPARK_BARS = 30
FEED_KEEP = 200


@dataclass
class ChartView:
    """The open chart: its pair and how it is shown."""

    symbol: str = "EURUSD"
    timeframe: str = "H1"
    count: int = 0  # candles shown; 0 = as many as fit
    offset: int = 0  # bars panned back from the newest
    lines: bool = True
    fractals: bool = True


@dataclass
class FeedItem:
    """One fired alert in the feed."""

    id: int
    data: dict[str, Any]
    seen: bool = False


@dataclass
class Store:
    me: Any = None  # UserPublic
    preferences: Any = None  # Preferences
    #: symbol -> timeframe -> (allowed, required tier or None)
    access: dict[str, dict[str, tuple[bool, str | None]]] = field(default_factory=dict)
    watchlist: list[Any] = field(default_factory=list)  # WatchlistItemPublic
    payloads: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: the ETag of each chart payload (CHART_BARS wide) held in ``payloads``
    etags: dict[tuple[str, str], str | None] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)
    alerts: Any = None  # AlertList
    feed: list[FeedItem] = field(default_factory=list)
    last_event_id: int | None = None
    chart: ChartView = field(default_factory=ChartView)
    connection: str = "connecting"
    #: the owner's maintenance notices by id (the stream's ``notice`` data), issue #29
    notices: dict[int, dict[str, Any]] = field(default_factory=dict)
    quota: str = ""
    #: each symbol's feed state from the server (``GET /api/feed``, then ``feed`` frames):
    #: ``{symbol, state, since, next_change, …}`` (issue #29)
    market: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply_feed(self, data: dict[str, Any]) -> bool:
        """A ``feed`` frame; True when it changed what the open chart's symbol shows."""
        symbol = str(data.get("symbol") or "")
        if not symbol:
            return False
        self.market[symbol] = data
        return symbol == self.chart.symbol

    #: fire markers drawn on a pair's chart: (time, price) of where an alert would have fired
    #: (``t``) or really fired (its history), and what they are, for the notice
    fire_marks: dict[tuple[str, str], tuple[tuple[float, float], ...]] = field(default_factory=dict)

    # -- tiers -----------------------------------------------------------------------------
    @property
    def tier(self) -> str:
        return str(self.me.tier) if self.me is not None else "?"

    def set_symbols(self, symbols: Any) -> None:
        """The ``/api/symbols`` answer: which pairs the tier opens, and who opens the rest."""
        self.access = {
            s.symbol: {p.timeframe: (p.allowed, p.required_tier) for p in s.timeframes}
            for s in symbols.symbols
            if s.available or s.allowed
        }

    def lock(self, symbol: str, timeframe: str) -> str | None:
        """None when the pair is open to this tier; else the sentence that says who opens it."""
        allowed, need = self.access.get(symbol, {}).get(timeframe, (False, None))
        if allowed:
            return None
        pair = f"{symbol} {timeframe}"
        if need:
            return _("{pair} needs the {tier} plan (you are on {current}).").format(
                pair=pair, tier=need, current=self.tier
            )
        return _("{pair} is not served by this server.").format(pair=pair)

    def stream_pairs(self) -> list[str]:
        """The ``symbols=`` of the stream: the watchlist and the open chart, open pairs only."""
        pairs = [(w.symbol, w.timeframe) for w in self.watchlist]
        pairs.append((self.chart.symbol, self.chart.timeframe))
        out: list[str] = []
        for sym, tf in pairs:
            key = f"{sym}:{tf}"
            if key not in out and self.lock(sym, tf) is None:
                out.append(key)
        return out

    # -- market ----------------------------------------------------------------------------
    def chart_payload(self) -> dict[str, Any] | None:
        return self.payloads.get((self.chart.symbol, self.chart.timeframe))

    def apply_price(self, data: dict[str, Any]) -> bool:
        """A ``price`` frame: the last price and every forming candle of the symbol."""
        sym, bid = data.get("symbol"), data.get("bid")
        if not isinstance(sym, str) or not isinstance(bid, int | float):
            return False
        self.last_price[sym] = float(bid)
        for (s, _tf), payload in self.payloads.items():
            if s == sym:
                move_forming(payload, float(bid), int(data.get("time", 0)))
        return True

    def apply_bar(self, data: dict[str, Any]) -> bool:
        """A ``bar`` frame: the closed bar joins its pair's candles. True if it was new."""
        key = (str(data.get("symbol")), str(data.get("timeframe")))
        payload = self.payloads.get(key)
        if payload is None or "time" not in data:
            return False
        keep = CHART_BARS if key == (self.chart.symbol, self.chart.timeframe) else SPARK_BARS
        return add_bar(payload, data, keep)

    def last(self, symbol: str, timeframe: str) -> float | None:
        """The last price of a symbol: the stream's, else the payload's newest close."""
        if symbol in self.last_price:
            return self.last_price[symbol]
        payload = self.payloads.get((symbol, timeframe))
        if payload is None:
            return None
        forming = payload.get("forming")
        if forming:
            return float(forming["close"])
        closes = payload["bars"]["close"]
        return float(closes[-1]) if closes else None

    def change(self, symbol: str, timeframe: str) -> float | None:
        """Last price minus the previous bar's close."""
        payload = self.payloads.get((symbol, timeframe))
        last = self.last(symbol, timeframe)
        if payload is None or last is None or not payload["bars"]["close"]:
            return None
        return last - float(payload["bars"]["close"][-1])

    def closes(self, symbol: str, timeframe: str) -> list[float]:
        payload = self.payloads.get((symbol, timeframe))
        if payload is None:
            return []
        out = [float(c) for c in payload["bars"]["close"][-SPARK_BARS:]]
        if payload.get("forming"):
            out.append(float(payload["forming"]["close"]))
        return out

    # -- alerts ----------------------------------------------------------------------------
    def active_alerts(self, symbol: str) -> list[Any]:
        items = self.alerts.items if self.alerts is not None else []
        return [a for a in items if a.symbol == symbol and a.status == "active"]

    def levels(self, symbol: str, timeframe: str) -> tuple[tuple[str, float], ...]:
        """The user's alert levels on a pair, labelled with the alert id."""
        out: list[tuple[str, float]] = []
        for a in self.active_alerts(symbol):
            if a.timeframe != timeframe:
                continue
            for name in ("level", "lower", "upper"):
                value = getattr(a, name)
                if value is not None:
                    out.append((f"#{a.id}", float(value)))
        return tuple(out)

    def apply_alert(self, event_id: int, data: dict[str, Any]) -> bool:
        """An ``alert`` frame (or a history row): newest first, once. True if it was new."""
        if any(item.id == event_id for item in self.feed):
            return False
        self.feed.insert(0, FeedItem(event_id, data))
        self.feed.sort(key=lambda item: item.id, reverse=True)
        del self.feed[FEED_KEEP:]
        if self.last_event_id is None or event_id > self.last_event_id:
            self.last_event_id = event_id
        return True

    def unseen(self) -> int:
        return sum(1 for item in self.feed if not item.seen)
