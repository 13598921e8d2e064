"""The chart's timeframe bar: ``EURUSD 1M5 2M15 … 9D1``, the open timeframe marked, locked ones
with the plan that opens them; all nine keys fit the dashboard's chart pane at 80 columns."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from tradealerts.client.lang import ngettext
from tradealerts.tui.base import ta
from tradealerts.tui.store import TIMEFRAMES

__all__ = ["TimeframeBar"]

#: (key, timeframe, allowed, the plan that opens it)
Cell = tuple[int, str, bool, str | None]


class TimeframeBar(Widget):
    """One row above the chart. The full form names every timeframe, the key and the
    timeframe joined (``EURUSD 1M5 PRO 2M15 PRO … 4H1``: a PRO account's nine take 45 cells,
    where ``1:M5 …`` took 55 and lost ``9:D1`` in the dashboard's 52-cell chart pane). When that
    is too wide, the compact form names the open ones and lists the locked keys by plan
    (``EURUSD 4H1 6H4 9D1 · PRO: 1 2 3 5 7 8``)."""

    DEFAULT_CSS = "TimeframeBar { height: 1; }"

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, lambda what: self.refresh())

    def render(self) -> Text:
        store = ta(self).store
        chart = store.chart
        cells: list[Cell] = []
        for i, tf in enumerate(TIMEFRAMES, 1):
            allowed, need = store.access.get(chart.symbol, {}).get(tf, (True, None))
            cells.append((i, tf, allowed, need))
        full = self._full(chart, cells)
        return full if full.cell_len <= self.size.width else self._compact(chart, cells)

    def _head(self, chart: Any) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append(chart.symbol, style="bold")
        return out

    def _tail(self, out: Text, chart: Any) -> Text:
        if chart.offset:
            back = ngettext("{count} bar back", "{count} bars back", chart.offset)
            out.append("  ◀ " + back.format(count=chart.offset), style="italic")
        return out

    def _label(self, chart: Any, i: int, tf: str, allowed: bool) -> tuple[str, str]:
        style = "reverse bold" if tf == chart.timeframe else ("dim" if not allowed else "")
        return f"{i}{tf}", style

    def _full(self, chart: Any, cells: list[Cell]) -> Text:
        out = self._head(chart)
        for i, tf, allowed, need in cells:
            out.append(" ")
            out.append(*self._label(chart, i, tf, allowed))
            if not allowed and need:
                out.append(f" {need}", style="dim")
        return self._tail(out, chart)

    def _compact(self, chart: Any, cells: list[Cell]) -> Text:
        out = self._head(chart)
        for i, tf, allowed, _need in cells:
            if allowed:
                out.append(" ")
                out.append(*self._label(chart, i, tf, allowed))
        by_tier: dict[str, list[str]] = {}
        for i, _tf, allowed, need in cells:
            if not allowed:
                # a timeframe no plan opens still shows as locked (``-``), never vanishes
                by_tier.setdefault(need or "-", []).append(str(i))
        for need, keys in by_tier.items():
            out.append(f" · {need}: {' '.join(keys)}", style="dim")
        return self._tail(out, chart)
