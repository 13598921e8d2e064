"""The chart's keys, shared by the dashboard and the chart screen: ``1``–``9`` timeframes,
``←/→`` pan, ``+/-`` zoom, ``l`` lines, ``f`` fractals."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

from tradealerts.client.chart import default_bars
from tradealerts.client.lang import N_
from tradealerts.tui.base import ta
from tradealerts.tui.store import TIMEFRAMES

__all__ = ["ChartKeys"]

PAN_STEP = 0.25  # of the candles shown
MIN_BARS = 10


class ChartKeys(Screen[None]):
    """A screen with a chart (``self.chart_width()`` gives the chart's columns)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(i), f"timeframe('{tf}')", f"Timeframe {tf}", show=False)
            for i, tf in enumerate(TIMEFRAMES, 1)
        ),
        Binding("left", "pan(1)", N_("Pan back"), priority=True, show=False),
        Binding("right", "pan(-1)", N_("Pan forward"), priority=True, show=False),
        Binding("plus,equals_sign", "zoom(-1)", N_("Zoom in"), show=False),
        Binding("minus", "zoom(1)", N_("Zoom out"), show=False),
        Binding("l", "toggle_lines", N_("Lines")),
        Binding("f", "toggle_fractals", N_("Fractals")),
    ]

    def chart_width(self) -> int:
        from tradealerts.tui.widgets.chart_view import ChartView

        return self.query_one(ChartView).size.width

    def _shown(self) -> int:
        chart = ta(self).store.chart
        return int(chart.count or default_bars(self.chart_width()))

    def action_timeframe(self, tf: str) -> None:
        store = ta(self).store
        ta(self).open_chart(store.chart.symbol, tf)

    def action_pan(self, direction: int) -> None:
        store = ta(self).store
        payload = store.chart_payload()
        if payload is None:
            return
        shown = self._shown()
        step = max(1, int(shown * PAN_STEP))
        most = max(0, len(payload["bars"]["time"]) - shown)
        store.chart.offset = max(0, min(most, store.chart.offset + direction * step))
        ta(self).publish("chart")

    def action_zoom(self, direction: int) -> None:
        store = ta(self).store
        shown = self._shown()
        fit = default_bars(self.chart_width())
        factor = 1.5 if direction > 0 else 1 / 1.5
        store.chart.count = max(MIN_BARS, min(fit * 3, int(shown * factor)))
        ta(self).publish("chart")

    def action_toggle_lines(self) -> None:
        chart = ta(self).store.chart
        chart.lines = not chart.lines
        ta(self).publish("chart")

    def action_toggle_fractals(self) -> None:
        chart = ta(self).store.chart
        chart.fractals = not chart.fractals
        ta(self).publish("chart")
