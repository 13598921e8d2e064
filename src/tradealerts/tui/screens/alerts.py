"""The alerts table: every alert with its status, pair, condition, values, frequency, expiry,
fired count and health, in short so that the nine fit 80 columns; the active count against the
tier's limit. ``n`` new, ``e`` edit, ``space`` pause/resume, ``d`` delete (confirmed), ``h`` the
selected alert's history."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Label

from tradealerts.client import endpoints
from tradealerts.client.lang import N_, _
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.widgets.footer import bottom_bars, help_only

__all__ = ["AlertsScreen", "values_of"]

_STATUS_STYLE = {"active": "green", "paused": "yellow", "triggered": "magenta", "expired": "dim"}

#: the columns, key ones first (an 80-column terminal shows them all for usual alerts; a
#: longer row scrolls sideways, never hiding the pair and condition)
COLUMNS = (("id", "#"), ("status", N_("Status")), ("pair", N_("Pair")),
           ("condition", N_("Condition")), ("values", N_("Values")),
           ("frequency", N_("Freq")), ("expires", N_("Expires")), ("fired", N_("Fired")),
           ("health", N_("Health")))  # fmt: skip
#: ``once_per_bar`` as ``1/bar``: "once per bar" in five cells
FREQUENCY = {"once": "once", "once_per_bar": "1/bar", "once_per_bar_close": "1/close",
             "once_per_minute": "1/min"}  # fmt: skip
#: the side of a fractal alert as the chart draws it (``R``/``S`` lines, ▲▼ fractals)
SIDE = {"support": "S", "resistance": "R", "up": "▲", "down": "▼", "either": "▲▼"}


#: what was done to an alert, whole sentences
_DONE = {"created": N_("Alert #{id} created."), "updated": N_("Alert #{id} updated."),
         "paused": N_("Alert #{id} paused."), "resumed": N_("Alert #{id} resumed.")}  # fmt: skip


def health_of(alert: Any) -> str:
    """Fires in the last 24 hours and the flags (``alerts list --health`` in short)."""
    h = alert.health
    if h is None:
        return "—"
    flags = " ".join(f for f, on in (("dormant", h.dormant), ("chatty", h.chatty)) if on)
    return f"{h.fires_24h} {flags or 'ok'}"


def _num(value: float) -> str:
    """A value as typed: ``1.09``, ``0.0005`` (no exponent, no trailing zeros)."""
    return f"{value:.8f}".rstrip("0").rstrip(".")


def values_of(alert: Any) -> str:
    """The condition's values in short: ``1.09`` (a level), ``1.03–1.05`` (a channel),
    ``0.5%/3 bars`` (a move), ``R hr-… ±0.0008 +0.0005 ×2`` (side, line, touch distance,
    break buffer, confirming bars)."""
    a = alert
    parts: list[str] = []
    if a.level is not None:
        parts.append(_num(a.level))
    if a.lower is not None and a.upper is not None:
        parts.append(f"{_num(a.lower)}–{_num(a.upper)}")
    if a.amount is not None:
        pct = "%" if str(a.condition).endswith("_pct") else ""
        parts.append(f"{_num(a.amount)}{pct}/{a.bars} bars" if a.bars else f"{_num(a.amount)}{pct}")
    if a.side is not None:
        side = str(getattr(a.side, "value", a.side))
        parts.append(SIDE.get(side, side))
    if a.line_id:
        parts.append(a.line_id)
    if a.distance is not None:
        parts.append(f"±{_num(a.distance)}")
    if a.buffer is not None:
        parts.append(f"+{_num(a.buffer)}")
    if a.confirm_bars is not None:
        parts.append(f"×{a.confirm_bars}")
    return " ".join(parts)


def expiry_of(when: datetime | None, now: datetime) -> str:
    """``14:48`` within a day of now, ``07 Dec`` this year and next, else the date."""
    if when is None:
        return "—"
    if abs(when - now) < timedelta(days=1):
        return when.strftime("%H:%M")
    if abs(when - now) < timedelta(days=300):
        return when.strftime("%d %b")
    return when.strftime("%Y-%m-%d")


#: under this many columns the table is compact (issue #24: at 80, a line alert's values
#: pushed ``Fired`` and ``Health`` out of sight): no ``Fired`` column (the total is in the
#: alert's history and ``alerts show``; ``Health`` keeps the last 24 hours' fires), and the
#: values wrap at their spaces onto a second line rather than widen the table
NARROW = 100
#: what the other columns leave the values at 80 columns, at worst (``entering_channel``,
#: ``triggered``, ``0 dormant``) and at least
VALUES_MIN = 12


def _wrapped(value: str, width: int) -> str:
    """``value`` on lines of at most ``width`` cells, broken only at its spaces (a line id,
    a price or a word stays whole)."""
    lines: list[str] = []
    for word in value.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return "\n ".join(lines)


def _cell(value: str, style: str = "") -> Text:
    """A cell with one leading space: the table has no cell padding (two cells between
    columns cost nine columns 18 of 80), so one space separates them."""
    return Text(f" {value}", style=style, no_wrap=True, end="")


class AlertsScreen(Screen[None]):
    """The user's alerts, one row each (the chart's lines resolved to their prices): new,
    edit, pause or resume, delete, and an alert's own history."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", N_("New")),
        Binding("e", "edit", N_("Edit")),
        Binding("space", "pause_resume", N_("Pause/resume")),
        Binding("d", "delete", N_("Delete")),
        Binding("h", "history", N_("Its history")),
        help_only("r", "reload", N_("Reload")),
    ]

    def compose(self) -> ComposeResult:
        yield Label("", id="alerts-title")
        yield DataTable(id="alerts", cursor_type="row", cell_padding=0)
        yield from bottom_bars()

    narrow: bool | None = None

    def on_mount(self) -> None:
        ta(self).changed.subscribe(self, self._on_change)
        self.rebuild()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        if (self.size.width < NARROW) != self.narrow:
            self.rebuild()

    def _columns(self, table: DataTable[Any]) -> None:
        """The columns for this width: all nine, or the compact eight under ``NARROW``."""
        narrow = self.size.width < NARROW
        if narrow == self.narrow and table.columns:
            return
        self.narrow = narrow
        table.clear(columns=True)
        for key, label in COLUMNS:
            if not (narrow and key == "fired"):
                table.add_column(_cell(_(label) if label != "#" else label), key=key)

    def _on_change(self, what: str) -> None:
        if what in ("all", "alerts"):
            self.rebuild()

    def rebuild(self) -> None:
        app = ta(self)
        table = self.query_one(DataTable)
        listing = app.store.alerts
        selected = self.selected()
        self._columns(table)
        table.clear()
        for column in table.columns.values():  # clear() keeps the widest cell's width
            column.content_width = column.label.cell_len
        if listing is None:
            self.query_one("#alerts-title", Label).update(_("Alerts: loading …"))
            return
        title = _("Alerts: {active} active of {limit} on {tier}").format(
            active=listing.active, limit=listing.limit, tier=app.store.tier
        )
        # the keys again where they fit whole; the footer names them at 80 columns
        hint = "   " + _("n new · e edit · space pause/resume · d delete · h history")
        self.query_one("#alerts-title", Label).update(title if self.narrow else title + hint)
        now = app.local(app.clock())
        rows = []
        for a in listing.items:
            expires = expiry_of(app.local(a.expires_at) if a.expires_at else None, now)
            rows.append({
                "id": str(a.id), "status": a.status.value, "pair": f"{a.symbol} {a.timeframe}",
                "condition": a.condition.value, "values": values_of(a),
                "frequency": FREQUENCY.get(a.frequency.value, a.frequency.value),
                "expires": expires, "fired": str(a.fire_count), "health": health_of(a),
            })  # fmt: skip
        if self.narrow:
            # the values get what the other columns (each as wide as its widest cell, plus
            # its leading space) and the vertical scrollbar leave
            keys = [k for k in table.columns if k.value != "values"]
            others = sum(
                1 + max([len(str(table.columns[k].label).strip())] + [
                    len(line) for r in rows for line in r[str(k.value)].split("\n")])
                for k in keys
            )  # fmt: skip
            room = max(VALUES_MIN, self.size.width - others - 1 - 2)
            for r in rows:
                r["values"] = _wrapped(r["values"], room)
        for r, a in zip(rows, listing.items, strict=True):
            table.add_row(
                *(_cell(r[str(k.value)], _STATUS_STYLE.get(r["status"], "") if k.value ==
                        "status" else "") for k in table.columns),
                key=str(a.id),
                height=r["values"].count("\n") + 1,
            )  # fmt: skip
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
        """Send ``call``; say ``done`` (a key of ``_DONE``) of the alert it answers."""
        try:
            result = await ta(self).api(call)
            await self._reload()
        except Handled:
            return
        if result is not None:
            ta(self).say(_(_DONE.get(done, done)).format(id=result.id))

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

        question = _("Delete alert #{id} ({what})?").format(
            id=alert.id, what=f"{alert.symbol} {alert.condition.value}"
        )
        ta(self).push_screen(ConfirmScreen(question), answered)

    async def _delete(self, alert_id: int) -> None:
        try:
            await ta(self).api(endpoints.alert_delete(alert_id))
            await self._reload()
        except Handled:
            return
        ta(self).say(_("Alert #{id} deleted.").format(id=alert_id))

    def action_history(self) -> None:
        from tradealerts.tui.screens.history import HistoryScreen

        alert = self.selected()
        if alert is not None:
            ta(self).push_screen(HistoryScreen(alert_id=alert.id))
