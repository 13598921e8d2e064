"""The chart widget: the open pair drawn by ``tradealerts.client.chart`` (the drawing of
``tradealerts charts``), its ANSI colours turned into Rich text. Redraws are coalesced: a price
frame marks it stale, and it repaints at most ``FPS`` times a second (the newest price shows)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from tradealerts.client.chart import ChartOptions, default_bars, render, window
from tradealerts.tui.base import ta
from tradealerts.tui.store import TIMEFRAMES

__all__ = ["ChartView", "TimeframeBar"]

FPS = 10


class ChartView(Widget):
    """The candles, fractals, lines, last price and alert levels of the store's open chart."""

    DEFAULT_CSS = "ChartView { height: 1fr; width: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stale = True
        self._cache: tuple[tuple[int, int], Text] | None = None

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, self._on_change)
        self.set_interval(1 / FPS, self._flush)

    def _on_change(self, what: str) -> None:
        if what in ("all", "chart", "price", "bar", "alerts"):
            self._stale = True

    def _flush(self) -> None:
        if self._stale:
            self._cache = None
            self._stale = False
            self.refresh()

    def visible_bars(self) -> int:
        chart = ta(self).store.chart
        return chart.count or default_bars(self.size.width)

    def render(self) -> Text:
        size = (self.size.width, self.size.height)
        if self._cache is not None and self._cache[0] == size:
            return self._cache[1]
        text = self._draw(*size)
        self._cache = (size, text)
        return text

    def _draw(self, width: int, height: int) -> Text:
        store = ta(self).store
        chart = store.chart
        payload = store.chart_payload()
        if width < 20 or height < 8:
            return Text("(too small for a chart)")
        if payload is None:
            why = store.lock(chart.symbol, chart.timeframe)
            return Text(why or f"{chart.symbol} {chart.timeframe}: loading …")
        view = window(payload, self.visible_bars(), chart.offset)
        opts = ChartOptions(
            width=width,
            height=height,
            lines=chart.lines,
            fractals=chart.fractals,
            colour=ta(self).colour,
            levels=store.levels(chart.symbol, chart.timeframe),
        )
        return Text.from_ansi(render(view, opts), no_wrap=True, overflow="crop")


class TimeframeBar(Widget):
    """``1 M5 · 2 M15 …``: the open timeframe marked, locked ones with the plan that opens them."""

    DEFAULT_CSS = "TimeframeBar { height: 1; }"

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, lambda what: self.refresh())

    def render(self) -> Text:
        store = ta(self).store
        chart = store.chart
        cells: list[tuple[int, str, bool, str | None]] = []
        for i, tf in enumerate(TIMEFRAMES, 1):
            allowed, need = store.access.get(chart.symbol, {}).get(tf, (True, None))
            cells.append((i, tf, allowed, need))
        full = self._full(chart, cells)
        return full if full.cell_len <= self.size.width else self._compact(chart, cells)

    def _head(self, chart: Any) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(f"{chart.symbol} ", style="bold")
        return out

    def _tail(self, out: Text, chart: Any) -> Text:
        if chart.offset:
            out.append(f"  ◀ {chart.offset} bars back", style="italic")
        return out

    def _full(self, chart: Any, cells: list[tuple[int, str, bool, str | None]]) -> Text:
        """``EURUSD 1:M5 PRO 2:M15 PRO … 4:H1 …``: each locked one with the plan that opens it."""
        out = self._head(chart)
        for i, tf, allowed, need in cells:
            label = f"{i}:{tf}" + ("" if allowed or not need else f" {need}")
            style = "reverse bold" if tf == chart.timeframe else ("dim" if not allowed else "")
            out.append(" ")
            out.append(label, style=style)
        return self._tail(out, chart)

    def _compact(self, chart: Any, cells: list[tuple[int, str, bool, str | None]]) -> Text:
        """``EURUSD 4:H1 6:H4 9:D1 · PRO: 1 2 3 5 7 8`` for a narrow chart."""
        out = self._head(chart)
        for i, tf, allowed, _need in cells:
            if allowed:
                out.append(" ")
                out.append(f"{i}:{tf}", style="reverse bold" if tf == chart.timeframe else "")
        by_tier: dict[str, list[str]] = {}
        for i, _tf, allowed, need in cells:
            if not allowed and need:
                by_tier.setdefault(need, []).append(str(i))
        for need, keys in by_tier.items():
            out.append(f" · {need}: {' '.join(keys)}", style="dim")
        return self._tail(out, chart)
