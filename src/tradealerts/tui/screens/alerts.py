"""The alerts table: every alert with its status, pair, condition, values, frequency, expiry
and fired count; the active count against the tier's limit. ``n`` new, ``e`` edit, ``space``
pause/resume, ``d`` delete (confirmed), ``h`` the selected alert's history."""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label

from tradealerts.client import endpoints
from tradealerts.core.alerts import VALUE_FIELDS
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.widgets.status_bar import StatusBar

__all__ = ["AlertsScreen", "values_of"]

_STATUS_STYLE = {"active": "green", "paused": "yellow", "triggered": "magenta", "expired": "dim"}


def health_of(alert: Any) -> str:
    """Fires in the last 24 hours and the flags (``alerts list --health`` in short)."""
    h = alert.health
    if h is None:
        return "—"
    flags = " ".join(f for f, on in (("dormant", h.dormant), ("chatty", h.chatty)) if on)
    return f"{h.fires_24h} {flags or 'ok'}"


def values_of(alert: Any) -> str:
    parts = []
    for name in VALUE_FIELDS:
        value = getattr(alert, name)
        if value is not None:
            parts.append(f"{name}={getattr(value, 'value', value)}")
    return " ".join(parts)


class AlertsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("space", "pause_resume", "Pause/resume"),
        Binding("d", "delete", "Delete"),
        Binding("h", "history", "Its history"),
        Binding("r", "reload", "Reload"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("", id="alerts-title")
        yield DataTable(id="alerts", cursor_type="row")
        yield StatusBar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("id", "#"), ("status", "Status"), ("pair", "Pair"),
                           ("condition", "Condition"), ("values", "Values"),
                           ("frequency", "Frequency"), ("expires", "Expires"),
                           ("fired", "Fired"), ("health", "24 h · health")):  # fmt: skip
            table.add_column(label, key=key)
        ta(self).changed.subscribe(self, self._on_change)
        self.rebuild()
        table.focus()

    def _on_change(self, what: str) -> None:
        if what in ("all", "alerts"):
            self.rebuild()

    def rebuild(self) -> None:
        app = ta(self)
        table = self.query_one(DataTable)
        listing = app.store.alerts
        selected = self.selected()
        table.clear()
        if listing is None:
            self.query_one("#alerts-title", Label).update("Alerts: loading …")
            return
        self.query_one("#alerts-title", Label).update(
            f"Alerts: {listing.active} active of {listing.limit} on {app.store.tier}"
            "   n new · e edit · space pause/resume · d delete · h history"
        )
        for a in listing.items:
            expires = app.local(a.expires_at).strftime("%Y-%m-%d %H:%M") if a.expires_at else "—"
            table.add_row(
                str(a.id),
                Text(a.status.value, style=_STATUS_STYLE.get(a.status.value, "")),
                f"{a.symbol} {a.timeframe}",
                a.condition.value,
                values_of(a),
                a.frequency.value,
                expires,
                str(a.fire_count),
                health_of(a),
                key=str(a.id),
            )
        if selected is not None and str(selected.id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected.id)))

    def selected(self) -> Any:
        table = self.query_one(DataTable)
        listing = ta(self).store.alerts
        if listing is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((a for a in listing.items if str(a.id) == key), None)

    async def _reload(self) -> None:
        ta(self).store.alerts = await ta(self).api(endpoints.alerts())
        ta(self).publish("alerts")

    async def action_reload(self) -> None:
        with contextlib.suppress(Handled):
            await self._reload()

    def action_new(self) -> None:
        from tradealerts.tui.screens.alert_form import AlertFormScreen

        chart = ta(self).store.chart
        ta(self).push_screen(AlertFormScreen(symbol=chart.symbol, timeframe=chart.timeframe),
                             self._saved_new)  # fmt: skip

    def action_edit(self) -> None:
        from tradealerts.tui.screens.alert_form import AlertFormScreen

        alert = self.selected()
        if alert is None:
            return
        form = AlertFormScreen(symbol=alert.symbol, timeframe=alert.timeframe, alert=alert)
        ta(self).push_screen(form, lambda update: self._saved_edit(alert.id, update))

    def _saved_new(self, alert: Any) -> None:
        if alert is not None:
            spawn(self, partial(self._send, endpoints.alert_create(alert), "created"))

    def _saved_edit(self, alert_id: int, update: Any) -> None:
        if update is not None:
            spawn(self, partial(self._send, endpoints.alert_update(alert_id, update), "updated"))

    async def _send(self, call: Any, done: str) -> None:
        try:
            result = await ta(self).api(call)
            await self._reload()
        except Handled:
            return
        if result is not None:
            ta(self).say(f"Alert #{result.id} {done}.")

    async def action_pause_resume(self) -> None:
        alert = self.selected()
        if alert is None:
            return
        call = endpoints.alert_pause if alert.status == "active" else endpoints.alert_resume
        await self._send(call(alert.id), "paused" if alert.status == "active" else "resumed")

    def action_delete(self) -> None:
        from tradealerts.tui.screens.confirm import ConfirmScreen

        alert = self.selected()
        if alert is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                spawn(self, partial(self._delete, alert.id))

        question = f"Delete alert #{alert.id} ({alert.symbol} {alert.condition.value})?"
        ta(self).push_screen(ConfirmScreen(question), answered)

    async def _delete(self, alert_id: int) -> None:
        try:
            await ta(self).api(endpoints.alert_delete(alert_id))
            await self._reload()
        except Handled:
            return
        ta(self).say(f"Alert #{alert_id} deleted.")

    def action_history(self) -> None:
        from tradealerts.tui.screens.history import HistoryScreen

        alert = self.selected()
        if alert is not None:
            ta(self).push_screen(HistoryScreen(alert_id=alert.id))
