"""The owner's maintenance notice in the TUI (issue #29): ``admin announce`` as its own
process on the server's database; the TUI (pilot) shows the banner on every screen, and a
shutdown inside the window makes it wait the window out, saying so on the status bar."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import _serve
from tests.server.noticekit import announce
from tests.server.serverkit import Running
from tests.tui.conftest import LIVE_REPLAY, until

from tradealerts.tui.screens.alerts import AlertsScreen
from tradealerts.tui.widgets.notice_banner import NoticeBanner


@pytest.fixture(scope="module")
def server(module_tmp: Path) -> Iterator[Running]:
    """This module's own server (its notice must not show in other modules' snapshots)."""
    yield from _serve(module_tmp, **LIVE_REPLAY, notice_poll_seconds=0.2)


def _banner(app: Any) -> str:
    banners = list(app.screen.query(NoticeBanner))
    if len(banners) != 1 or not banners[0].display:
        return ""
    return str(banners[0].render())


async def test_banner_on_every_screen_then_the_maintenance_wait(
    running: Any, server: Running, module_tmp: Path
) -> None:
    pilot = running
    app = pilot.app
    assert _banner(app) == ""  # nothing announced: no banner, no line taken
    db_url = f"sqlite:///{module_tmp / 'server.db'}"
    n = announce(db_url, module_tmp / "owner", "Moving to a new host", "--duration", "30m")
    text = await until(pilot, lambda: _banner(app), what="the banner")
    assert "Maintenance" in text and "Moving to a new host" in text
    assert any("Moving to a new host" in str(t.message) for t in app._notifications)
    await pilot.press("A")  # another screen: the banner is there too
    await until(pilot, lambda: isinstance(app.screen, AlertsScreen), what="the alerts screen")
    assert "Moving to a new host" in await until(pilot, lambda: _banner(app), what="banner")
    assert list(app.store.notices) == [n["id"]]
    # the owner stops the server inside the window: the TUI stays away and says so
    server._server.should_exit = True
    state = await until(
        pilot,
        lambda: app.store.connection if app.store.connection.startswith("maintenance") else "",
        what="the maintenance wait",
    )
    assert re.fullmatch(r"maintenance: reconnecting in (30|31)m", state), state
