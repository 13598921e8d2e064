"""The dashboard, the first screen: the watchlist, the open pair's chart, the live feed of
fired alerts and the status bar."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable

from tradealerts.client import endpoints
from tradealerts.client.lang import N_
from tradealerts.tui.base import ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.screens.chart_keys import ChartKeys
from tradealerts.tui.widgets.chart_view import ChartView
from tradealerts.tui.widgets.feed import AlertFeed
from tradealerts.tui.widgets.footer import bottom_bars
from tradealerts.tui.widgets.timeframe_bar import TimeframeBar
from tradealerts.tui.widgets.watchlist import Watchlist

__all__ = ["DashboardScreen"]


class DashboardScreen(ChartKeys):
    AUTO_FOCUS = "Watchlist"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "watch", N_("Watch pair")),
        Binding("x", "unwatch", N_("Unwatch")),
        Binding("tab", "app.focus_next", N_("Next pane"), show=False),
    ]

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield Watchlist(id="watchlist")
            with Vertical(id="chartpane"):
                yield TimeframeBar()
                yield ChartView()
        yield AlertFeed(id="feed")
        yield from bottom_bars()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, Watchlist):
            pair = event.data_table.selected_pair()
            if pair is not None:
                ta(self).open_chart(*pair)

    async def action_watch(self) -> None:
        """Add the open chart's pair to the watchlist."""
        app = ta(self)
        chart = app.store.chart
        try:
            await app.api(endpoints.watchlist_add(chart.symbol, chart.timeframe))
            app.store.watchlist = await app.api(endpoints.watchlist())
        except Handled:
            return
        app.publish("watchlist")
        app.restart_stream()

    async def action_unwatch(self) -> None:
        """Remove the selected pair from the watchlist."""
        app = ta(self)
        pair = self.query_one(Watchlist).selected_pair()
        item = next((w for w in app.store.watchlist if (w.symbol, w.timeframe) == pair), None)
        if item is None:
            return
        try:
            await app.api(endpoints.watchlist_remove(item.id))
            app.store.watchlist = await app.api(endpoints.watchlist())
        except Handled:
            return
        app.publish("watchlist")
        app.restart_stream()
