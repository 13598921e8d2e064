"""Push channels in the TUI against a real server and real Apprise: the account screen's
``c`` lists, adds (the URL typed hidden, shown masked), tests and removes channels; the
alert form's "Push to" names them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import _serve
from tests.server.pushkit import PushReceiver
from tests.server.serverkit import Running, set_tier
from tests.tui.conftest import LIVE_REPLAY, Person, open_account, until
from textual.widgets import Input

from tradealerts.tui.screens.alert_form import AlertFormScreen
from tradealerts.tui.screens.alerts import AlertsScreen
from tradealerts.tui.screens.channels import ChannelsScreen

SECRET = "my-secret-topic"


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    yield from _serve(module_tmp, **LIVE_REPLAY, webhook_allowlist=["127.0.0.1/32"])


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver()
    yield r
    r.close()


async def _channels(pilot: Any) -> ChannelsScreen:
    await open_account(pilot)
    await pilot.press("c")
    return await until(pilot, lambda: pilot.app.screen
                       if isinstance(pilot.app.screen, ChannelsScreen) else None)  # fmt: skip


async def test_channels_on_the_account_screen_and_in_the_alert_form(
    running: Any, person: Person, receiver: PushReceiver
) -> None:
    app = running.app
    set_tier(person.server, person.email, "PRO")
    screen = await _channels(running)
    screen.query_one("#name", Input).value = "phone"
    url = screen.query_one("#url", Input)
    assert url.password  # typed hidden: it holds the token
    url.value = f"ntfy://127.0.0.1:{receiver.port}/{SECRET}"
    await running.click("#add")
    await until(running, lambda: screen.names == ["phone"], what="the channel listed")
    table = screen.query_one("#channels")
    shown = " ".join(str(c) for c in table.get_row("phone"))
    assert "my-s…" in shown and SECRET not in shown
    await running.click("#test")
    [arrived] = receiver.wait(1)
    assert arrived.body["topic"] == SECRET
    await running.press("escape")
    await until(running, lambda: not isinstance(app.screen, ChannelsScreen))

    await running.press("A")
    await until(running, lambda: isinstance(app.screen, AlertsScreen))
    await running.press("n")
    form = await until(running, lambda: app.screen if isinstance(app.screen, AlertFormScreen)
                       else None)  # fmt: skip
    form.query_one("#level", Input).value = "1.5"
    form.query_one("#notify", Input).value = "Phone"
    await running.pause(0.1)
    await running.press("ctrl+s")
    await until(running, lambda: app.store.alerts is not None and app.store.alerts.items)
    assert app.store.alerts.items[0].channels.notify == ["phone"]

    screen = await _channels(running)
    await until(running, lambda: screen.names == ["phone"])
    screen.query_one("#channels").focus()
    await running.press("delete")  # the row under the cursor
    await until(running, lambda: screen.names == [], what="the channel removed")
