"""Snapshots of each screen at 80×24 and 120×40 (pytest-textual-snapshot). Deterministic: a
replay server that has finished its file (no live prices), a fresh user each time, a frozen
clock, and the server's address shown as the default one.

Review a changed SVG before accepting it: ``pytest tests/tui/test_tui_snapshots.py
--snapshot-update``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import serve_finished
from tests.server.serverkit import Running, register_and_login
from tests.tui.conftest import Person, log_in

from tradealerts.client import AsyncClient
from tradealerts.tui import make_tui

SIZES = [(80, 24), (120, 40)]
FROZEN = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


#: the server's clock: what it stamps (a notification's time) is the same on every run; ahead
#: of the real time, so the tokens it issues are never due for a refresh on the client
SERVER_NOW = datetime(2030, 1, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    for srv in serve_finished(module_tmp):
        srv.clock.now = SERVER_NOW
        yield srv


@pytest.fixture
def app_for(server: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
            request: pytest.FixtureRequest) -> Callable[[bool], Any]:  # fmt: skip
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

    def make(logged_in: bool = True) -> Any:
        # one per test, named by it: the account screen shows the same address whichever
        # tests run before it (a counter made it depend on the selection)
        name = re.sub("[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
        email = f"snap-{name}@example.com"
        register_and_login(server, email)
        if logged_in:
            asyncio.run(log_in(Person(server, email)))
        client = AsyncClient(server.url)
        client.base_url = "http://127.0.0.1:8000"  # shown only: the test port changes each run
        return make_tui(client, bell=False, clock=lambda: FROZEN)

    return make


async def _ready(pilot: Any) -> None:
    app = pilot.app
    await asyncio.wait_for(app.session_started.wait(), 20)
    for _ in range(200):
        if app.store.connection == "live":
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)  # the chart's next repaint


def _then(*keys: str) -> Callable[[Any], Any]:
    async def run(pilot: Any) -> None:
        await _ready(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.3)
        await pilot.pause(0.3)
        from textual.widgets import Input

        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is on or off at random
        await pilot.pause(0.2)
        await pilot.wait_for_scheduled_animations()

    return run


SCREENS = {
    "dashboard": (),
    "chart": ("C",),
    "alerts": ("A",),
    "alert_form": ("A", "n"),
    "history": ("H",),
    "notifications": ("N",),
    "account": ("U",),
    "help": ("question_mark",),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare: Any, app_for: Callable[..., Any], screen: str,
                size: tuple[int, int]) -> None:  # fmt: skip
    assert snap_compare(app_for(), terminal_size=size, run_before=_then(*SCREENS[screen]))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_login_screen(snap_compare: Any, app_for: Callable[..., Any],
                      size: tuple[int, int]) -> None:  # fmt: skip
    async def wait(pilot: Any) -> None:
        from textual.widgets import Input

        await pilot.pause(0.5)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is on or off at random
        await pilot.pause(0.2)

    assert snap_compare(app_for(logged_in=False), terminal_size=size, run_before=wait)
