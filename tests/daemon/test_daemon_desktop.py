"""End to end on a real desktop stack: a D-Bus session bus, dunst (a real notification server)
on Xvfb, the daemon with desktop-notifier against a real server; the notifications are read back
from dunst's history. Outside CI, missing packages skip these tests (make test-deps)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.daemon.daemonkit import (
    SENTINEL,
    DaemonProc,
    Desktop,
    fire,
    new_user,
    start_desktop,
    through_sentinel,
)
from tests.server.serverkit import Running, wait_until


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    d = start_desktop(tmp_path / "desktop")
    yield d
    d.stop()


def test_an_alert_becomes_a_desktop_notification(
    server: Running, tmp_path: Path, email: str, desktop: Desktop, daemons: list[DaemonProc]
) -> None:
    d = new_user(server, tmp_path, email, **desktop.env)
    daemons.append(d)
    d.start("--notifier", "auto")
    d.wait_connected()
    assert d.status()["backend"] == "desktop-notifier"
    first = fire(server, email, message="EURUSD H1 crossed up 1.09000 at 1.09120")
    broke = fire(
        server,
        email,
        symbol="XAUUSD",
        condition="trendline_break",
        message="XAUUSD H1 closed through the support trendline at 2400.10 (close 2399.5)",
    )
    assert [x["id"] for x in through_sentinel(d, server, email)] == [first, broke]
    # the sentinel's notification is shown after the two (a doubled one would show before it)
    wait_until(lambda: f"delivered event {broke + 1}" in d.log_text(), 10, "its notification")
    shown = desktop.history()
    assert [(n["appname"], n["summary"], n["body"]) for n in shown] == [
        ("tradealerts", "EURUSD H1", "EURUSD H1 crossed up 1.09000 at 1.09120"),
        (
            "tradealerts",
            "XAUUSD H1",
            "XAUUSD H1 closed through the support trendline at 2400.10 (close 2399.5)",
        ),
        ("tradealerts", "EURUSD H1", SENTINEL),
    ]
    # normal, critical (dunstrc), normal
    assert [n["timeout"] for n in shown] == [10_000_000, 0, 10_000_000]
    status = json.loads(d.cli("daemon", "status", "--json").stdout)
    assert status["notifier"] == "desktop-notifier"


def test_gap_is_one_notification_saying_alerts_may_be_missing(
    server: Running, tmp_path: Path, email: str, desktop: Desktop, daemons: list[DaemonProc]
) -> None:
    from sqlalchemy import delete

    from tradealerts.daemon.state import DELIVERED, StateDB
    from tradealerts.server.db.models import Event

    d = new_user(server, tmp_path, email, **desktop.env)
    daemons.append(d)
    ids = [fire(server, email) for _ in range(4)]
    state = StateDB(d.folder / "state.db")  # this daemon saw the first event long ago…
    state.receive(ids[0], {"symbol": "EURUSD", "message": "old"})
    state.mark(ids[0], DELIVERED)
    state.close()
    with server.app.state.sessions() as s:  # …and the server's retention purged the next two
        s.execute(delete(Event).where(Event.id.in_(ids[:3])))
        s.commit()
    d.start("--notifier", "desktop")
    d.wait_deliveries(1)
    assert [x["id"] for x in through_sentinel(d, server, email)] == [ids[3]]
    wait_until(lambda: f"delivered event {ids[3] + 1}" in d.log_text(), 10, "its notification")
    shown = desktop.history()
    assert [(n["summary"], n["body"]) for n in shown][:2] == [
        ("tradealerts: alerts may have been missed", shown[0]["body"]),
        ("EURUSD H1", "EURUSD H1 crossed up 1.09 at 1.0912"),
    ]
    assert [n["body"] for n in shown[2:]] == [SENTINEL]  # one gap notice, nothing doubled
    assert "older than the server keeps" in shown[0]["body"]
