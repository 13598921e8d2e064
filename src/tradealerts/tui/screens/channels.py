"""Push channels from the account screen (``c``): the list (names, services, URLs masked),
add one (the URL typed hidden: it holds the service's token), test, remove. PRO; on FREE
the server's refusal (which plan opens them) is shown under the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Label

from tradealerts.client import Call, endpoints
from tradealerts.client.lang import N_, _
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled

__all__ = ["ChannelsScreen"]

T = TypeVar("T")


class ChannelsScreen(ModalScreen[None]):
    """The user's push channels; every change goes to the server at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", N_("Close")),
        Binding("t", "test", N_("Test")),
        Binding("delete", "remove", N_("Remove")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(_("Push channels (phone, Telegram, ntfy …)"), classes="title")
            yield DataTable(id="channels", cursor_type="row", zebra_stripes=True)
            yield Input(placeholder=_("name, e.g. phone"), id="name", max_length=32)
            yield Input(placeholder=_("Apprise URL, e.g. ntfys://ntfy.sh/TOPIC"), id="url",
                        password=True)  # fmt: skip
            yield Checkbox(_("New alerts push here"), id="default", compact=True)
            yield Label("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button(_("Add"), variant="primary", id="add")
                yield Button(_("Test"), id="test")
                yield Button(_("Remove"), variant="warning", id="remove")
                yield Button(_("Close"), id="close")

    def on_mount(self) -> None:
        table = self.query_one("#channels", DataTable)
        table.add_columns(_("Name"), _("Service"), _("URL"), _("Default"))
        spawn(self, self.reload)

    async def reload(self) -> None:
        try:
            items = (await ta(self).api(endpoints.channels(), quiet=True)).items
        except Handled as exc:
            self._error(str(exc))
            return
        self.show(items)

    def show(self, items: list[Any]) -> None:
        self.names = [i.name for i in items]
        table = self.query_one("#channels", DataTable)
        table.clear()
        for i in items:
            table.add_row(i.name, i.service, i.masked, _("yes") if i.default else "", key=i.name)

    def selected(self) -> str | None:
        table = self.query_one("#channels", DataTable)
        if not self.names or table.cursor_row < 0 or table.cursor_row >= len(self.names):
            return None
        return self.names[table.cursor_row]

    def _error(self, text: str) -> None:
        self.query_one("#error", Label).update(text)

    @on(Input.Submitted, "#url")
    @on(Button.Pressed, "#add")
    async def add(self) -> None:
        name = self.query_one("#name", Input).value.strip().lower()
        url = self.query_one("#url", Input).value.strip()
        if not name or not url:
            self._error(
                _("A name and an Apprise URL (ntfys://ntfy.sh/TOPIC, tgram://TOKEN/CHAT …).")
            )
            return
        default = self.query_one("#default", Checkbox).value
        try:
            ch = await ta(self).api(endpoints.channel_add(name, url, default), quiet=True)
        except Handled as exc:
            self._error(str(exc))
            return
        self.query_one("#name", Input).value = ""
        self.query_one("#url", Input).value = ""
        self._error("")
        ta(self).say(
            _("Added channel {name} ({service}: {masked}).").format(
                name=ch.name, service=ch.service, masked=ch.masked
            )
        )
        await self.reload()

    @on(Button.Pressed, "#test")
    async def action_test(self) -> None:
        done = await self._on_selected(endpoints.channel_test)
        if done is not None:
            self._error("")
            ta(self).say(done[1].message)

    @on(Button.Pressed, "#remove")
    async def action_remove(self) -> None:
        done = await self._on_selected(endpoints.channel_remove)
        if done is not None:
            ta(self).say(_("Removed channel {name}.").format(name=done[0]))
            await self.reload()

    async def _on_selected(self, call: Callable[[str], Call[T]]) -> tuple[str, T] | None:
        """``call`` on the selected channel: its name and the answer, or None (no channel
        selected, or refused: the reason is shown under the list)."""
        name = self.selected()
        if name is None:
            return None
        try:
            return name, await ta(self).api(call(name), quiet=True)
        except Handled as exc:
            self._error(str(exc))
            return None

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
