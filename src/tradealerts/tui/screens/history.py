"""Every fired alert, newest first: filter by pair and date, page with ``[`` and ``]``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Input, Label

from tradealerts.client import endpoints
from tradealerts.client.lang import N_, _
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.widgets.footer import bottom_bars

__all__ = ["HistoryScreen"]

PER_PAGE = 50


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "page(-1)", N_("Newer")),
        Binding("right_square_bracket", "page(1)", N_("Older")),
        Binding("escape", "back", N_("Back"), show=False),
        Binding("c", "on_chart", N_("Its fires on the chart"), show=False),
    ]

    def __init__(self, alert_id: int | None = None) -> None:
        super().__init__()
        self.alert_id = alert_id
        self.page = 1
        self.total = 0

    def compose(self) -> ComposeResult:
        yield Label(self._what(), id="history-title")
        with Horizontal(id="filters"):
            yield Input(placeholder=_("pair, e.g. EURUSD"), id="symbol")
            yield Input(placeholder=_("since YYYY-MM-DD"), id="since")
        yield DataTable(id="history", cursor_type="row")
        yield from bottom_bars()

    def _what(self) -> str:
        if self.alert_id:
            return _("History of alert #{id}").format(id=self.alert_id)
        return _("History")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("id", "#"), ("time", N_("Time")), ("pair", N_("Pair")),
                           ("condition", N_("Condition")), ("price", N_("Price")),
                           ("message", N_("Message"))):  # fmt: skip
            table.add_column(_(label) if label != "#" else label, key=key)
        table.focus()
        self.load()

    def load(self) -> None:
        spawn(self, self._load, group="history", exclusive=True)

    async def _load(self) -> None:
        symbol = self.query_one("#symbol", Input).value.strip().upper() or None
        since = self.query_one("#since", Input).value.strip() or None
        if since is not None:
            try:
                since = datetime.fromisoformat(since).date().isoformat()
            except ValueError:
                ta(self).say(_("since: use a date like 2026-11-30"), severity="warning")
                return
        try:
            page = await ta(self).api(endpoints.alert_history(
                alert_id=self.alert_id, symbol=symbol, since=since, page=self.page,
                per_page=PER_PAGE))  # fmt: skip
        except Handled:
            return
        self.total = page.total
        self.show(page.items)

    def show(self, items: list[Any]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for ev in items:
            table.add_row(
                str(ev.id),
                ta(self).local(ev.time).strftime("%Y-%m-%d %H:%M:%S"),
                f"{ev.symbol} {ev.timeframe}",
                ev.condition,
                str(ev.price),
                ev.message,
                key=str(ev.id),
            )
        pages = max(1, -(-self.total // PER_PAGE))
        self.query_one("#history-title", Label).update(
            _("{what}: {total} fired · page {page} of {pages}   [ newer · ] older").format(
                what=self._what(), total=self.total, page=self.page, pages=pages
            )
        )

    @on(Input.Submitted)
    def _filter(self) -> None:
        self.page = 1
        self.load()
        self.query_one(DataTable).focus()

    def action_page(self, step: int) -> None:
        pages = max(1, -(-self.total // PER_PAGE))
        new = max(1, min(pages, self.page + step))
        if new != self.page:
            self.page = new
            self.load()

    def action_on_chart(self) -> None:
        """``c``: the alert's real fires (this history's, newest 200) as markers on its
        chart, and the chart shown."""
        if self.alert_id is None:
            ta(self).say(_("Open one alert's history (h on Alerts) to draw its fires."),
                         severity="warning")  # fmt: skip
            return
        spawn(self, self._on_chart, group="history-chart", exclusive=True)

    async def _on_chart(self) -> None:
        from tradealerts.tui.backtest import history_marks

        app = ta(self)
        try:
            page = await app.api(endpoints.alert_history(alert_id=self.alert_id, per_page=200))
        except Handled:
            return
        if not page.items:
            app.say(_("Alert #{id} has not fired yet: nothing to draw.").format(id=self.alert_id))
            return
        sym, tf = page.items[0].symbol, page.items[0].timeframe
        app.store.fire_marks[(sym, tf)] = history_marks(page.items)
        if not app.open_chart(sym, tf):
            return
        await app.action_switch_mode("chart")
        app.say(_("Alert #{id}: {shown} of its {total} fires marked on {pair} (x clears them).")
                .format(id=self.alert_id, shown=len(page.items), total=page.total,
                        pair=f"{sym} {tf}"))  # fmt: skip

    def action_back(self) -> None:
        if len(ta(self).screen_stack) > 1:
            ta(self).pop_screen()
