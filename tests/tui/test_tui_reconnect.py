"""The server killed and started again: the TUI says "reconnecting", resumes with
Last-Event-ID, and its feed gets exactly the alerts that fired meanwhile, once each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    fire_event,
    free_port,
    register_and_login,
    server_settings,
    start_server,
)
from tests.tui.conftest import log_in, started, until

from tradealerts.client import AsyncClient
from tradealerts.tui import make_tui


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _alert_while_down(db_url: str, email: str) -> int:
    """An alert stored in the stopped server's database, as another process would."""
    from datetime import UTC, datetime

    from tradealerts.core.alerts import AlertCreate
    from tradealerts.server import accounts
    from tradealerts.server.alerts import records
    from tradealerts.server.alerts.guard import WebhookGuard
    from tradealerts.server.db.session import make_engine, make_sessionmaker

    db = make_engine(db_url)
    try:
        with make_sessionmaker(db)() as s:
            user = accounts.find_user(s, email)
            assert user is not None
            spec = {"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up",
                    "level": 9.0}  # fmt: skip
            row = records.create_alert(s, user, AlertCreate.model_validate(spec),
                                       datetime.now(UTC), WebhookGuard())  # fmt: skip
            s.commit()
            return int(row.id)
    finally:
        db.dispose()


async def test_server_restart_backfills_exactly_the_missed_alerts(
    tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    inbox, smtp_port = smtp
    settings = server_settings(tmp_path / "server", f"sqlite:///{tmp_path / 'server.db'}",
                               smtp_port, stream_heartbeat_seconds=1.0)  # fmt: skip
    srv: Running = start_server(settings, Clock(), inbox)
    email = f"restart-{os.getpid()}@example.com"
    try:
        register_and_login(srv, email)
        from tests.tui.conftest import Person

        person = Person(srv, email)
        await log_in(person)
        app = make_tui(AsyncClient(srv.url), bell=False)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await started(pilot)
            before = fire_event(srv, email, message="before the restart")
            await until(pilot, lambda: [i.id for i in app.store.feed] == [before])
            srv._server.force_exit = True  # a crash: open streams are cut, not waited for
            srv.stop()
            await until(pilot, lambda: app.store.connection.startswith("reconnecting in "),
                        what="reconnecting")  # fmt: skip
            status = str(app.screen.query_one("StatusBar").render())
            assert "reconnecting in " in status
            srv = start_server(settings, Clock(), inbox)  # same database, same port
            missed = [fire_event(srv, email, message=f"missed {n}") for n in range(3)]
            await until(pilot, lambda: len(app.store.feed) >= 4, what="the back-fill")
            await until(pilot, lambda: app.store.connection == "live", what="live again")
            await pilot.pause(1.5)  # a heartbeat or two: nothing comes twice
            assert [i.id for i in app.store.feed] == [*reversed(missed), before]
            assert [i.data["message"] for i in app.store.feed[:3]] == [
                "missed 2", "missed 1", "missed 0"]  # fmt: skip
    finally:
        srv.stop()


async def test_an_alert_made_while_the_stream_was_down_shows_after_the_reconnect(
    tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``alerts_changed`` is live only: a change made while no stream was open reaches the
    session because a reconnect reads the alerts again (no alert fires to do it)."""
    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    inbox, smtp_port = smtp
    settings = server_settings(tmp_path / "server", f"sqlite:///{tmp_path / 'server.db'}",
                               smtp_port, stream_heartbeat_seconds=1.0)  # fmt: skip
    srv: Running = start_server(settings, Clock(), inbox)
    email = f"offline-{os.getpid()}@example.com"
    try:
        register_and_login(srv, email)
        from tests.tui.conftest import Person

        await log_in(Person(srv, email))
        app = make_tui(AsyncClient(srv.url), bell=False)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await started(pilot)
            srv._server.force_exit = True
            srv.stop()
            await until(pilot, lambda: app.store.connection.startswith("reconnecting in "),
                        what="reconnecting")  # fmt: skip
            made_offline = _alert_while_down(settings.db_url, email)
            srv = start_server(settings, Clock(), inbox)
            await until(pilot, lambda: app.store.connection == "live", what="live again")
            await until(pilot, lambda: made_offline in [a.id for a in app.store.alerts.items],
                        what="the alert made while down")  # fmt: skip
    finally:
        srv.stop()
