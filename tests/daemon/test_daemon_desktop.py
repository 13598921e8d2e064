"""End to end on a real desktop stack: a D-Bus session bus, dunst (a real notification server)
on Xvfb, the daemon with desktop-notifier against a real server; the notifications are read back
from dunst's history. Outside CI, missing packages skip these tests (make test-deps)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.daemon.daemonkit import (
    BUS_CONFIG,
    SENTINEL,
    DaemonProc,
    Desktop,
    fire,
    need_tools,
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


def _bare_bus(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A session bus on which no notification server runs (nor can be started)."""
    need_tools("dbus-daemon")
    root.mkdir(parents=True, exist_ok=True)
    (root / "bus.conf").write_text(BUS_CONFIG.format(path=root / "bus"))
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={root / 'bus.conf'}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert bus.stdout is not None
    return bus, bus.stdout.readline().decode().strip()


def test_no_notification_server_at_start_means_the_bell_and_says_why(
    server: Running, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    """Issue #24: a session bus but no working notification server (dunst without a
    display): the daemon picked notify-send and said nothing; every alert then failed."""
    need_tools("notify-send")
    bus, address = _bare_bus(tmp_path / "bus")
    try:
        d = new_user(server, tmp_path, email, DBUS_SESSION_BUS_ADDRESS=address)
        daemons.append(d)
        d.start("--notifier", "auto")
        d.wait_connected()
        problem = "no notification server answers on the D-Bus session bus"
        assert (d.status()["backend"], d.status()["notifier_problem"]) == ("bell", problem)
        assert f"notifier: bell: {problem}" in d.log_text()
        status = d.cli("daemon", "status", COLUMNS="200").stdout
        assert f"bell ({problem})" in status, status
        fire(server, email, message="EURUSD H1 crossed up 1.09000 at 1.09120")
        d.wait_deliveries(1)
        wait_until(lambda: "ALERT EURUSD H1" in d.log_text(), 10, "the alert in the log")
        assert "failed" not in d.log_text()
    finally:
        bus.terminate()
        bus.wait(5)


def test_a_notifier_that_fails_on_a_send_hands_over_to_the_bell(
    server: Running, tmp_path: Path, email: str, desktop: Desktop, daemons: list[DaemonProc]
) -> None:
    """The notification server goes away after the start: the alert still shows (bell and
    log), every later one too, and the log and ``daemon status`` say which notifier works."""
    d = new_user(server, tmp_path, email, **desktop.env)
    daemons.append(d)
    d.start("--notifier", "auto")
    d.wait_connected()
    assert d.status()["backend"] == "desktop-notifier"
    dunst = desktop.procs[-1]
    dunst.terminate()
    dunst.wait(5)
    fire(server, email, message="EURUSD H1 crossed up 1.09000 at 1.09120")
    d.wait_deliveries(1)
    wait_until(lambda: d.status()["backend"] == "bell", 15, "the bell after the failure")
    assert d.status()["notifier_problem"].startswith("desktop-notifier failed")
    assert "ALERT EURUSD H1" in d.log_text() and "go to the bell" in d.log_text()
    status = json.loads(d.cli("daemon", "status", "--json").stdout)
    assert status["notifier"] == "bell"
    assert status["notifier_problem"].startswith("desktop-notifier failed")
    fire(server, email, message="EURUSD H1 crossed down 1.08000 at 1.07990")
    d.wait_deliveries(2)
    wait_until(lambda: d.log_text().count("ALERT EURUSD H1") == 2, 10, "the 2nd on the bell")
    assert d.log_text().count("desktop-notifier failed") == 1  # tried once, not per alert
