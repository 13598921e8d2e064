"""In-app notifications, unread first: ``r`` marks one read, ``R`` all."""

from __future__ import annotations

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
from tradealerts.tui.widgets.footer import bottom_bars

__all__ = ["NotificationsScreen"]


class NotificationsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "read", N_("Mark read")),
        Binding("R", "read_all", N_("All read")),
        Binding("g", "reload", N_("Reload")),
    ]

    def compose(self) -> ComposeResult:
        yield Label(_("Notifications"), id="notes-title")
        yield DataTable(id="notes", cursor_type="row")
        yield from bottom_bars()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("new", ""), ("time", N_("Time")), ("title", N_("Title")),
                           ("body", N_("Body"))):  # fmt: skip
            table.add_column(_(label) if label else label, key=key)
        self.items: list[Any] = []
        table.focus()
        spawn(self, self.action_reload)

    async def action_reload(self) -> None:
        try:
            page = await ta(self).api(endpoints.notifications(per_page=50))
        except Handled:
            return
        # unread first, newest first within each
        self.items = sorted(page.items, key=lambda n: (n.read, -n.created_at.timestamp()))
        self.show()

    def show(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        unread = sum(1 for n in self.items if not n.read)
        self.query_one("#notes-title", Label).update(
            _("Notifications: {unread} unread   r mark read · R all read").format(unread=unread)
        )
        for n in self.items:
            table.add_row(
                Text("●", style="bold magenta") if not n.read else "",
                ta(self).local(n.created_at).strftime("%Y-%m-%d %H:%M"),
                Text(n.title, style="bold" if not n.read else ""),
                n.body,
                key=str(n.id),
            )

    async def action_read(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        try:
            await ta(self).api(endpoints.notification_read(int(key or 0)))
        except Handled:
            return
        await self.action_reload()

    async def action_read_all(self) -> None:
        try:
            await ta(self).api(endpoints.notifications_read_all())
        except Handled:
            return
        await self.action_reload()
