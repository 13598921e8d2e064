"""``BarChart``: counts or amounts per day, month or hour, drawn by the one chart module
(``tradealerts.client.chart.bar_chart``) at the widget's size."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from tradealerts.client.chart import bar_chart
from tradealerts.tui.base import ta

__all__ = ["BarChart"]


class BarChart(Widget):
    DEFAULT_CSS = "BarChart { height: 12; }"

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.labels: list[str] = []
        self.values: list[float] = []

    def show(self, labels: list[str], values: list[float], title: str | None = None) -> None:
        self.labels, self.values = labels, values
        if title is not None:
            self.title = title
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if width < 20 or height < 6:
            return Text("")
        text = bar_chart(
            self.labels,
            self.values,
            title=self.title,
            width=width,
            height=height,
            colour=ta(self).colour,
        )
        return Text.from_ansi(text, no_wrap=True, overflow="crop")
