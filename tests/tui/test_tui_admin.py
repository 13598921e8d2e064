"""The owner's Admin screen against a real server: seeded accounts on known days, the four
views filled with the server's own figures, a non-admin kept out, and a snapshot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.cli.conftest import serve_finished
from tests.server.serverkit import DEADLINE_SCALE, Running, register_and_login, set_tier
from tests.tui.conftest import Person, log_in, started, toasts, until
from textual.widgets import DataTable, Static, TabbedContent

from tradealerts.client import AsyncClient
from tradealerts.tui import make_tui
from tradealerts.tui.screens.admin import AdminScreen
from tradealerts.tui.widgets.bar_chart import BarChart

#: The snapshot's server clock: sign-ups land on known days, whatever today is. (The usage
#: view needs the real clock: the server stamps usage minutes with the wall clock.)
DAY = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A fresh server per test: the figures are the whole server's."""
    yield from serve_finished(tmp_path_factory.mktemp("admin"))


def _seed(server: Running) -> str:
    """Two users three days ago, one of them moved to PRO today, and the owner today."""
    from tradealerts.server.db.models import User

    today = server.clock.now
    server.clock.now = today - timedelta(days=3)
    register_and_login(server, "ann@example.com")
    register_and_login(server, "bob@example.com")
    server.clock.now = today
    set_tier(server, "bob@example.com", "PRO")
    register_and_login(server, "owner@example.com")
    with server.app.state.sessions() as s:
        owner = s.query(User).filter_by(email="owner@example.com").one()
        owner.is_admin = True
        s.commit()
    return "owner@example.com"


def _owner(server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Person:
    """The seeded server's owner, logged in on this machine."""
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.delenv("TRADEALERTS_TOKEN", raising=False)
    person = Person(server, _seed(server))
    asyncio.run(log_in(person))
    return person


@pytest.fixture
def owner(server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Person:
    return _owner(server, tmp_path, monkeypatch)


def _text(screen: AdminScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_the_owner_sees_the_four_views_with_the_servers_figures(owner: Person):
    app = make_tui(AsyncClient(owner.server.url), bell=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        # a real 5xx: this server has no billing, so an upgrade answers 503 (recorded)
        token = app.client.credentials.access_token
        with owner.server.client(token) as c:
            refused = c.put("/api/subscription/upgrade")
        assert refused.status_code == 503
        request_id = refused.json()["error"]["request_id"]
        await pilot.press("O")
        screen = await until(pilot, lambda: app.screen if isinstance(app.screen, AdminScreen)
                             else None, what="the admin screen")  # fmt: skip
        await until(pilot, lambda: "stats" in screen.loaded, what="the stats")
        stats = _text(screen, "#stats-summary")
        assert "3 users (FREE 2  PRO 1)" in stats, stats
        assert "FREE→PRO 1" in stats and "churn 0" in stats
        chart = screen.query_one("#stats-chart", BarChart)
        signups = dict(zip(chart.labels, chart.values, strict=True))
        today = owner.server.clock.now
        then = (today - timedelta(days=3)).strftime("%m-%d")
        assert signups[then] == 2 and signups[today.strftime("%m-%d")] == 1
        assert sum(signups.values()) == 3
        assert "sign-ups per day" in chart.render().plain
        table = screen.query_one("#stats-table", DataTable)
        assert [table.get_row_at(i)[:2] for i in range(table.row_count)] == [
            ["FREE", "2"],
            ["PRO", "1"],
        ]
        for key, view in (("2", "revenue"), ("3", "usage"), ("4", "errors")):
            await pilot.press(key)
            assert screen.query_one(TabbedContent).active == view
            await until(pilot, lambda view=view: view in screen.loaded, what=view)
        assert "MRR [b]0" not in _text(screen, "#revenue-summary")  # markup rendered
        assert "MRR 0   ARR 0   live subscriptions 0" in _text(screen, "#revenue-summary")
        usage = screen.loaded["usage"]
        assert usage["requests"] > 0  # this session's own requests, counted by the server
        assert f"{usage['requests']} requests" in _text(screen, "#usage-summary")
        assert "1 recent server errors" in _text(screen, "#errors-summary")
        errors = screen.query_one("#errors-table", DataTable)
        row = [str(v) for v in errors.get_row_at(0)]
        assert row[1:2] == ["ApiError:billing_disabled"] and row[-1] == request_id, row
        assert "PUT /api/subscription/upgrade" in row
        families = screen.query_one("#usage-table", DataTable)
        assert families.row_count == len(usage["families"]) > 0


async def test_the_incidents_view_shows_what_the_server_opened(owner: Person):
    """The server's own check opens a real incident (no disk has that much free space);
    ``5`` shows it, open, with its detail."""
    srv = owner.server
    monitor = srv.app.state.incidents
    srv.settings.incident_disk_free_mb = 10**12
    srv.settings.incident_grace_seconds = 0
    try:
        srv.app.state.loop.call_soon_threadsafe(monitor.wake)
        deadline = time.monotonic() + 20 * DEADLINE_SCALE
        while "disk:free" not in monitor.open:
            assert time.monotonic() < deadline, "no incident opened"
            await asyncio.sleep(0.02)
        app = make_tui(AsyncClient(srv.url), bell=False)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await started(pilot)
            await pilot.press("O")
            screen = await until(pilot, lambda: app.screen if isinstance(app.screen,
                                 AdminScreen) else None, what="the admin screen")  # fmt: skip
            await pilot.press("5")
            assert screen.query_one(TabbedContent).active == "incidents"
            await until(pilot, lambda: "incidents" in screen.loaded, what="the incidents")
            assert "1 open incident(s)" in _text(screen, "#incidents-summary")
            table = screen.query_one("#incidents-table", DataTable)
            row = [str(v) for v in table.get_row_at(0)]
            assert row[:2] == ["open", "disk space is low"], row
            assert "MiB free under" in row[-1]
    finally:
        srv.settings.incident_disk_free_mb = 0


async def test_a_user_without_the_admin_role_is_kept_out(
    server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    register_and_login(server, "plain@example.com")
    await log_in(Person(server, "plain@example.com"))
    app = make_tui(AsyncClient(server.url), bell=False)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(pilot)
        await pilot.press("O")
        await pilot.pause(0.2)
        assert app.current_mode == "dashboard"
        assert any("for the server's administrators" in t for t in toasts(app))
        # and the server refuses the figures themselves, whatever a client shows
        app.switch_mode("admin")
        screen = await until(pilot, lambda: app.screen if isinstance(app.screen, AdminScreen)
                             else None)  # fmt: skip
        summary = lambda: [str(w.render()) for w in screen.query("#stats-summary")]  # noqa: E731
        await until(pilot, lambda: "administrator account" in "".join(summary()), what="the 403")
        assert "stats" not in screen.loaded


@pytest.fixture
def owner_on_a_known_day(server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                         ) -> Person:  # fmt: skip
    server.clock.now = DAY
    return _owner(server, tmp_path, monkeypatch)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_admin_screen_snapshot(snap_compare: Any, owner_on_a_known_day: Person,
                               size: tuple[int, int]) -> None:  # fmt: skip
    owner = owner_on_a_known_day
    client = AsyncClient(owner.server.url)
    client.base_url = "http://127.0.0.1:8000"  # shown only: the test port changes each run
    app = make_tui(client, bell=False, clock=lambda: DAY)

    async def run_before(pilot: Any) -> None:
        await started(pilot)
        await pilot.press("O")
        screen = await until(pilot, lambda: app.screen if isinstance(app.screen, AdminScreen)
                             else None)  # fmt: skip
        await until(pilot, lambda: "stats" in screen.loaded)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
