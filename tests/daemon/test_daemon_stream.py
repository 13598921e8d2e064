"""The daemon against a real server: each alert delivered exactly once and in order, through a
dead connection, a token expiry, a refused login and a crash between storing and notifying."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
from tests.daemon.daemonkit import (
    SENTINEL,
    DaemonProc,
    fire,
    new_user,
    store_login,
    through_sentinel,
    wait_sentinel,
)
from tests.server.serverkit import Running, wait_until

from tradealerts.daemon.loop import KILL_AFTER_STORE_ENV


def _ids(deliveries: list[dict[str, object]]) -> list[object]:
    return [d["id"] for d in deliveries]


def test_each_alert_once_in_order_with_symbols_filter_and_status(
    server: Running, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    d = new_user(server, tmp_path, email)
    daemons.append(d)
    d.start("--symbols", "EURUSD,XAUUSD")
    d.wait_connected()
    ids = [
        fire(server, email),
        fire(server, email, symbol="BTCUSD"),
        fire(server, email, symbol="XAUUSD"),
    ]
    sentinel = fire(server, email, message=SENTINEL)
    got = wait_sentinel(d, sentinel)
    assert _ids(got) == [ids[0], ids[2]]  # BTCUSD is outside --symbols
    assert got[0]["message"] == "EURUSD H1 crossed up 1.09 at 1.0912"
    assert set(got[0]) == {
        "id",
        "alert_id",
        "symbol",
        "timeframe",
        "condition",
        "level",
        "price",
        "time",
        "message",
    }
    assert "WARNING ALERT EURUSD H1: EURUSD H1 crossed up 1.09" in d.log_text()  # the bell
    status = json.loads(d.cli("daemon", "status", "--json").stdout)
    assert status["running"] and status["connected"] and status["notifier"] == "bell"
    assert status["last_event_id"] == sentinel
    assert status["alerts_today"] == 3 and status["waiting"] == 0
    assert d.terminate() == 0
    assert "received SIGTERM: stopping" in d.log_text()

    d.start()  # restarted: resumes after the last id, shows nothing again
    d.wait_connected(2)
    assert f"(Last-Event-ID {sentinel})" in d.log_text()
    ids.append(fire(server, email))
    assert _ids(through_sentinel(d, server, email)) == [ids[0], ids[2], sentinel, ids[3]]


def test_killed_between_storing_and_notifying_then_restarted(
    server: Running, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    d = new_user(server, tmp_path, email)
    daemons.append(d)
    proc = d.start(**{KILL_AFTER_STORE_ENV: "2"})  # SIGKILL right after storing the 2nd
    d.wait_connected()
    ids = [fire(server, email, price=1.0 + i / 100) for i in range(3)]
    assert proc.wait(30) == -signal.SIGKILL
    assert _ids(d.deliveries()) == [ids[0]]  # the 2nd was stored, never shown

    d.start()
    assert _ids(through_sentinel(d, server, email)) == ids  # zero lost, zero doubled, in order
    assert "delivering 1 event(s) stored before the last stop" in d.log_text()
    assert f"(Last-Event-ID {ids[1]})" in d.log_text()


def test_token_expiry_mid_stream_reconnects_with_a_fresh_token(
    make_server: object, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    srv: Running = make_server(stream_heartbeat_seconds=0.3, access_token_minutes=15)  # type: ignore[operator]
    d = new_user(srv, tmp_path, email)
    daemons.append(d)
    before = json.loads((d.home / "credentials.json").read_text())
    d.start()
    d.wait_connected()
    first = fire(srv, email)
    d.wait_deliveries(1)
    srv.clock.advance(minutes=16)  # the access token is dead: the server sends `reauth`
    d.wait_connected(2)
    assert "again with a refreshed token" in d.log_text()
    after = json.loads((d.home / "credentials.json").read_text())
    assert after != before  # refreshed and stored
    second = fire(srv, email)
    assert _ids(through_sentinel(d, srv, email)) == [first, second]
    assert "stream down" not in d.log_text()  # no backoff: straight back in


def test_no_frame_for_dead_after_seconds_means_a_dead_connection(
    make_server: object, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    # Heartbeats every 30 s, the daemon gives up after 1 s of silence (45 s by default).
    srv: Running = make_server(stream_heartbeat_seconds=30)  # type: ignore[operator]
    d = new_user(srv, tmp_path, email, TRADEALERTS_DAEMON_DEAD_AFTER="1")
    daemons.append(d)
    d.start()
    d.wait_connected(2, timeout=30)
    assert "stream down: ReadTimeout" in d.log_text()
    assert d.status()["reconnects"] >= 1
    first = fire(srv, email)
    d.wait_deliveries(1)
    # the next dead connection and its resume: a resume from the wrong id doubles `first`
    d.wait_connected(d.log_text().count("INFO connected to") + 1)
    assert _ids(through_sentinel(d, srv, email)) == [first]


def test_refused_login_notifies_once_then_waits_for_a_new_login(
    make_server: object, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    srv: Running = make_server(stream_heartbeat_seconds=0.3)  # type: ignore[operator]
    d = new_user(srv, tmp_path, email, TRADEALERTS_DAEMON_LOGIN_POLL="0.5")
    daemons.append(d)
    creds = json.loads((d.home / "credentials.json").read_text())
    refresh = json.loads(next(iter(creds.values())))["refresh_token"]
    d.start()
    d.wait_connected()
    httpx.post(f"{srv.url}/api/auth/logout", json={"refresh_token": refresh}, timeout=10)
    srv.clock.advance(minutes=16)  # reauth → refresh refused
    wait_until(lambda: "tradealerts: log in again" in d.log_text(), 20, "the log-in notice")
    assert d.status()["state"] == "logged_out"
    waiting = fire(srv, email)  # fired while logged out: waits on the server
    # time passing is the point here: three login polls (every 0.5 s) find no new login and
    # show no second notice (counted again below, after the new login is picked up)
    time.sleep(1.5)
    assert d.log_text().count("tradealerts: log in again") == 1
    assert d.deliveries() == []

    from tests.server.serverkit import PW

    r = httpx.post(f"{srv.url}/api/auth/login", json={"email": email, "password": PW})
    store_login(d.home, srv.url, r.json(), email)  # `tradealerts login` again
    assert _ids(through_sentinel(d, srv, email)) == [waiting]
    assert d.log_text().count("tradealerts: log in again") == 1


def test_quiet_hours_hold_notifications_and_show_them_together_afterwards(
    server: Running, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    around_now = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
    later = f"{now + timedelta(hours=2):%H:%M}-{now + timedelta(hours=3):%H:%M}"
    d = new_user(server, tmp_path, email, TZ="UTC")
    daemons.append(d)
    d.start("--quiet-hours", around_now)
    d.wait_connected()
    ids = [fire(server, email), fire(server, email, symbol="XAUUSD")]
    d.wait_deliveries(2)  # --exec runs at once, quiet hours or not
    wait_until(lambda: d.log_text().count("held: quiet hours") == 2, 10, "two held")
    assert "ALERT" not in d.log_text()  # nothing shown
    assert json.loads(d.cli("daemon", "status", "--json").stdout)["waiting"] == 2
    assert d.terminate() == 0

    d.start("--quiet-hours", later)  # quiet hours are over
    wait_until(lambda: "quiet hours over: 2 held event(s) shown" in d.log_text(), 20, "release")
    assert d.log_text().count("ALERT tradealerts: 2 alerts during quiet hours") == 1
    assert _ids(through_sentinel(d, server, email)) == ids  # --exec did not run again
    assert json.loads(d.cli("daemon", "status", "--json").stdout)["waiting"] == 0


def test_first_start_begins_after_the_newest_alert_the_server_holds(
    server: Running, tmp_path: Path, email: str, daemons: list[DaemonProc]
) -> None:
    d = new_user(server, tmp_path, email)
    daemons.append(d)
    old = [fire(server, email), fire(server, email)]  # before the daemon ever ran: history
    d.start()
    d.wait_connected()
    assert f"first start: alerts after event {old[1]} will be shown" in d.log_text()
    assert f"none yet (starts after #{old[1]})" in d.cli("daemon", "status").stdout
    new = fire(server, email)
    sentinel = fire(server, email)
    assert _ids(wait_sentinel(d, sentinel)) == [new]
    assert d.terminate() == 0
    d.start()  # the starting point is kept: no second "first start"
    d.wait_connected(2)
    assert d.log_text().count("first start") == 1
    assert f"(Last-Event-ID {sentinel})" in d.log_text()
