"""The chart widget: the open pair drawn by ``tradealerts.client.chart`` (the drawing of
``tradealerts charts``), its ANSI colours turned into Rich text. A price frame costs a
``LiveChart`` render: the closed part of the chart is drawn once per bar (or pan, zoom, toggle,
resize), the forming candle, last price and title on top of it (well under a millisecond).
Redraws are coalesced: a price frame marks it stale and repaints it at once, or, within 1/FPS
of the last repaint, when that time is up: at most ``FPS`` repaints a second, and the newest
price always shows."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tradealerts.client.chart import ChartOptions, LiveChart, default_bars, window
from tradealerts.client.lang import _
from tradealerts.tui.base import ta

__all__ = ["ChartView"]

#: In step with the app's price updates (``app.PRICE_EVERY``): a frame waits at most 1/FPS.
FPS = 30


class ChartView(Widget):
    """The candles, fractals, lines, last price and alert levels of the store's open chart."""

    DEFAULT_CSS = "ChartView { height: 1fr; width: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stale = True
        #: the rows on screen, (ANSI line, text); None: draw again
        self._rows: list[tuple[str, Text]] | None = None
        self._drawn_size = (0, 0)
        #: each row's strip once built, by its ANSI line (rows of the chart on screen only)
        self._strips: dict[str, Strip] = {}
        self._last_flush = 0.0
        self._flush_due = False
        #: the drawing, with the closed part of the chart kept between price frames
        self.chart = LiveChart()

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, self._on_change)

    def _on_change(self, what: str) -> None:
        """Mark the chart stale and repaint: at once when the last repaint is 1/FPS old,
        else when it will be (a leading-edge throttle: a lone frame shows without waiting for
        a tick of a fixed timer, a burst still costs at most FPS repaints a second; and with
        no frames nothing runs at all)."""
        if what not in ("all", "chart", "price", "bar", "alerts"):
            return
        self._stale = True
        if self._flush_due:
            return
        self._flush_due = True
        wait = self._last_flush + 1 / FPS - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._flush)
        else:
            self.call_later(self._flush)

    def _flush(self) -> None:
        """Draw the chart again and repaint the rows that changed only: a price frame moves
        a few rows, and Textual re-renders (styles, crops, the compositor) only those."""
        self._flush_due = False
        if not self._stale:
            return
        self._last_flush = time.monotonic()
        self._stale = False
        old, size = self._rows, (self.size.width, self.size.height)
        self._rows = None
        if old is None or self._drawn_size != size:
            self.refresh()
            return
        new = self._current()
        if len(new) != len(old):
            self.refresh()
            return
        width = size[0]
        changed = [
            Region(0, y, width, 1)
            for y, (a, b) in enumerate(zip(old, new, strict=True))
            if a[0] != b[0]
        ]
        if changed:
            self.refresh(*changed)

    def visible_bars(self) -> int:
        chart = ta(self).store.chart
        return chart.count or default_bars(self.size.width)

    def render(self) -> Text:
        """The whole chart as one ``Text`` (what is on screen, for whoever reads it)."""
        return Text("\n", no_wrap=True, overflow="crop").join(t for _, t in self._current())

    def render_line(self, y: int) -> Strip:
        """Textual's line API: each row's strip, built once per distinct row (a price frame
        changes a few rows of the chart; the others are reused as they are)."""
        rows = self._current()
        width = self.size.width
        if y >= len(rows):
            return Strip.blank(width, self.rich_style)
        key, text = rows[y]
        strip = self._strips.get(key)
        if strip is None:
            segments = list(text.render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, None).apply_style(self.rich_style)
            self._strips[key] = strip
        return strip

    def _current(self) -> list[tuple[str, Text]]:
        """The rows on screen: (ANSI line, its text); drawn again when stale or resized."""
        size = (self.size.width, self.size.height)
        if self._rows is None or self._drawn_size != size:
            rows = [(k or str(t), t) for k, t in self._draw(*size)]
            keep = {k for k, _ in rows} if self._drawn_size == size else set()
            self._strips = {k: v for k, v in self._strips.items() if k in keep}
            self._rows, self._drawn_size = rows, size
        return self._rows

    def _draw(self, width: int, height: int) -> list[tuple[str, Text]]:
        """(ANSI line, its text) per row; a message is one row keyed by itself."""
        store = ta(self).store
        chart = store.chart
        payload = store.chart_payload()
        if width < 20 or height < 8:
            return [("", Text(_("(too small for a chart)")))]
        if payload is None:
            why = store.lock(chart.symbol, chart.timeframe)
            loading = _("{pair}: loading …").format(pair=f"{chart.symbol} {chart.timeframe}")
            return [("", Text(why or loading))]
        return self.chart.lines(*self.inputs(payload, width, height))

    def inputs(
        self, payload: dict[str, Any], width: int, height: int
    ) -> tuple[dict[str, Any], ChartOptions]:
        """What is drawn: the window of the payload on screen, and the options."""
        store = ta(self).store
        chart = store.chart
        view = window(payload, self.visible_bars(), chart.offset)
        view["feed_state"] = ta(self).feed_label(chart.symbol)  # the title says it
        opts = ChartOptions(
            width=width,
            height=height,
            lines=chart.lines,
            fractals=chart.fractals,
            colour=ta(self).colour,
            levels=store.levels(chart.symbol, chart.timeframe),
            lines_hint="l",
            marks=store.fire_marks.get((chart.symbol, chart.timeframe), ()),
            # the time axis on the person's clock, as everywhere in the app
            zone=store.preferences.timezone if store.preferences is not None else "UTC",
        )
        return view, opts
