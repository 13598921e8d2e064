"""Owner alerts with real parts (issue #29): the MT5 stand-in disconnected mid-run (over a
real rpyc bridge), the bridge EA's stand-in silenced, the fault proxy holding PostgreSQL, and
an aiosmtpd sink as the owner's inbox. Each incident opens once, reminds once the server's
clock has moved by the reminder interval, and closes with its recovery message; market hours
decide what is stale (a Sunday: EURUSD closed, BTCUSD open)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.server.bridgekit import StandInBridge, fractal_buffers, read_bars
from tests.server.incidentkit import (
    body,
    checks_pass,
    mail,
    rows,
    serve,
    subjects,
    the_three,
    until,
)
from tests.server.serverkit import DATA, PG_URL, Inbox
from tests.server.test_feed_mt5 import standin_bridge
from tests.server.test_owner_lines import ingest_token

WEDNESDAY = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)  # every market open
SUNDAY = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # forex closed (opens ~22:00), crypto open


@pytest.fixture
def terminal() -> Iterator[tuple[int, Any]]:
    """The stand-in MT5 terminal over a real rpyc bridge: (port, its module)."""
    with standin_bridge() as (port, control):
        mt5 = control.modules.MetaTrader5
        mt5._configure(
            symbols={"EURUSD": 1.08, "BTCUSD": 90000.0},
            server_utc_offset_hours=2,
            start=time.time() - 3600,
        )
        yield port, mt5


def mt5_settings(port: int) -> dict[str, Any]:
    return {
        "feed": f"mt5-rpyc://127.0.0.1:{port}",
        "mt5_utc_offset": "2",
        "mt5_poll_interval": 0.02,
        "history_bars": 30,
    }


def test_the_terminal_disconnected_mid_run_opens_reminds_and_recovers(
    tmp_path: Path, smtp: tuple[Inbox, int], terminal: tuple[int, Any]
) -> None:
    inbox, smtp_port = smtp
    port, mt5 = terminal
    db = f"sqlite:///{tmp_path / 'server.db'}"
    title = "the mt5 feed is disconnected"
    with serve(tmp_path / "home", db, smtp_port, inbox, WEDNESDAY, **mt5_settings(port)) as srv:
        engine = srv.app.state.engine

        def market() -> None:
            mt5._advance(1.0)

        until(srv, lambda: engine.events > 5, market, "ticks")
        checks_pass(srv, each=market)
        assert rows(srv) == [] and subjects(inbox) == []  # a running feed: nothing to say

        mt5._disconnect()  # the terminal goes away mid-run
        opened = mail(inbox, f"[tradealerts] INCIDENT: {title}")
        assert "subscribers get no prices or alerts" in body(opened)
        checks_pass(srv)
        assert the_three(inbox, title) == (1, 0, 0)  # once, however many checks see it

        srv.clock.advance(minutes=srv.settings.incident_remind_minutes)
        mail(inbox, f"[tradealerts] STILL OPEN: {title}")
        checks_pass(srv)
        assert the_three(inbox, title) == (1, 1, 0)

        mt5._reconnect()
        recovered = mail(inbox, f"[tradealerts] RECOVERED: {title}")
        assert "after it opened" in body(recovered)
        checks_pass(srv, each=market)
        assert the_three(inbox, title) == (1, 1, 1)
        (row,) = rows(srv)
        assert (row.key, row.reminders, row.closed_at) == ("feed:down", 1, srv.clock.now)


def test_market_hours_a_sunday_stale_btcusd_opens_one_a_closed_eurusd_none(
    tmp_path: Path, smtp: tuple[Inbox, int], terminal: tuple[int, Any]
) -> None:
    inbox, smtp_port = smtp
    port, mt5 = terminal
    db = f"sqlite:///{tmp_path / 'server.db'}"
    options = {**mt5_settings(port), "incident_feed_stale_seconds": 60,
               "incident_grace_seconds": 30}  # fmt: skip
    with serve(tmp_path / "home", db, smtp_port, inbox, SUNDAY, **options) as srv:
        monitor = srv.app.state.incidents
        seen = monitor.checks.last_tick

        def market() -> None:
            mt5._advance(1.0)

        until(srv, lambda: {"EURUSD", "BTCUSD"} <= set(seen), market, "both ticking")
        mt5._close_market("EURUSD", mt5._state["now"])  # the forex weekend: no more quotes
        checks_pass(srv, each=market)  # its last quote is in before the clock moves
        # five minutes on the server's clock: EURUSD silent, BTCUSD ticking on
        srv.clock.advance(minutes=5)
        until(srv, lambda: seen["BTCUSD"] == srv.clock.now, market, "a BTCUSD tick")
        eurusd_last = seen["EURUSD"]
        srv.clock.advance(seconds=31)  # past the grace: whatever is pending would open now
        until(srv, lambda: seen["BTCUSD"] == srv.clock.now, market, "a BTCUSD tick")
        checks_pass(srv, each=market)
        assert seen["EURUSD"] == eurusd_last  # EURUSD really is silent, for 5.5 min
        assert srv.clock.now - eurusd_last > timedelta(minutes=5)
        assert rows(srv) == [] and subjects(inbox) == []  # a closed market is no outage
        assert "feed:stale:EURUSD" not in monitor.pending

        mt5._close_market("BTCUSD", mt5._state["now"])  # BTCUSD's quotes stop on a Sunday
        checks_pass(srv, each=market)
        srv.clock.advance(minutes=5)
        until(srv, lambda: "feed:stale:BTCUSD" in monitor.pending, market, "BTCUSD pending")
        srv.clock.advance(seconds=31)
        opened = mail(inbox, "[tradealerts] INCIDENT: BTCUSD is stale")
        assert "while its market is open" in body(opened)
        srv.clock.advance(minutes=srv.settings.incident_remind_minutes)
        mail(inbox, "[tradealerts] STILL OPEN: BTCUSD is stale")

        mt5._state["closed"] = {"EURUSD": mt5._state["closed"]["EURUSD"]}  # BTCUSD is back
        back = "[tradealerts] RECOVERED: BTCUSD is stale"
        until(srv, lambda: back in subjects(inbox), market, "the recovery mail")
        checks_pass(srv, each=market)
        assert the_three(inbox, "BTCUSD is stale") == (1, 1, 1)
        assert [r.key for r in rows(srv)] == ["feed:stale:BTCUSD"]
        assert not any("EURUSD" in s for s in subjects(inbox))


OWNER_LINES = {
    "lines_source": "computed,EURUSD:H1=mt5",
    "buffer_map": {"up_fractal": 0, "down_fractal": 1, "confirm_bars": 1},
    "feed": f"replay:{DATA / 'eurusd_h1.csv'}",
    "replay_speed": 0.0001,  # no bar closes during the test
    "history_bars": 1000,
}


def test_the_bridge_silenced_opens_survives_a_restart_and_recovers(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, smtp_port = smtp
    db = f"sqlite:///{tmp_path / 'server.db'}"
    home = tmp_path / "home"
    title = "the bridge is silent on EURUSD H1"
    bars = read_bars(DATA / "eurusd_h1.csv")
    times, values = [int(t) for t in bars["time"]], fractal_buffers(bars)
    with serve(home, db, smtp_port, inbox, WEDNESDAY, **OWNER_LINES) as srv:
        token = ingest_token(home, db)
        bridge = StandInBridge(srv.url, token)
        bridge.start(times[:1000], values[:1000])
        checks_pass(srv)
        assert rows(srv) == []
        # the bridge goes quiet: three H1 bars on the server's clock is the limit
        srv.clock.advance(hours=2, minutes=59)
        checks_pass(srv)
        assert subjects(inbox) == []
        srv.clock.advance(minutes=2)
        opened = mail(inbox, f"[tradealerts] INCIDENT: {title}")
        assert "for 3 bars" in body(opened)
        srv.clock.advance(minutes=srv.settings.incident_remind_minutes)
        mail(inbox, f"[tradealerts] STILL OPEN: {title}")
        (before,) = rows(srv)
        now = srv.clock.now
    # a restart: the incident goes on (no second "INCIDENT" mail), the same row
    with serve(home, db, smtp_port, inbox, now + timedelta(minutes=1), **OWNER_LINES) as srv:
        checks_pass(srv, n=5)
        assert the_three(inbox, title) == (1, 1, 0)
        (row,) = rows(srv)
        assert row.id == before.id and row.closed_at is None
        bridge = StandInBridge(srv.url, token)
        bridge.closed(times, values, 1000)  # the EA is back
        recovered = mail(inbox, f"[tradealerts] RECOVERED: {title}")
        assert "Recovered at" in body(recovered)
        checks_pass(srv)
        assert the_three(inbox, title) == (1, 1, 1)
        (row,) = rows(srv)
        assert row.id == before.id and row.closed_at == srv.clock.now and row.reminders == 1
        bridge.close()


@pytest.mark.skipif(PG_URL is None, reason="needs TRADEALERTS_TEST_DATABASE_URL (PostgreSQL)")
def test_postgresql_held_by_the_fault_proxy_the_alert_log_incident(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    from sqlalchemy.engine import make_url
    from tests.faultproxy import FaultProxy
    from tests.server.scalekit import pg_database
    from tests.server.serverkit import register_and_login

    inbox, smtp_port = smtp
    title = "the alert log's writer is retrying"
    with pg_database() as direct:
        url = make_url(direct)
        proxy = FaultProxy(url.port or 5432).start()
        through = url.set(port=proxy.port).render_as_string(hide_password=False)
        options = {"feed": f"replay:{DATA / 'eurusd_h1.csv'}", "replay_speed": 5,
                   "history_bars": 1000}  # fmt: skip
        try:
            with serve(tmp_path / "home", through, smtp_port, inbox, WEDNESDAY, **options) as srv:
                c = srv.client(register_and_login(srv, "sub@example.com")["access_token"])
                r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1",
                           "condition": "greater_than", "level": 0.5,
                           "frequency": "once_per_bar"})  # fmt: skip
                assert r.status_code == 201, r.text
                alerts = srv.app.state.alerts
                until(srv, lambda: alerts.fired > 0, what="a fire")
                checks_pass(srv)
                assert rows(srv) == []
                proxy.close()  # PostgreSQL is gone: every connection cut, none let in
                # the database is the incident: the mail goes straight to SMTP
                opened = mail(inbox, f"[tradealerts] INCIDENT: {title}")
                assert "fires wait" in body(opened)
                srv.clock.advance(minutes=srv.settings.incident_remind_minutes)
                mail(inbox, f"[tradealerts] STILL OPEN: {title}")
                proxy = FaultProxy(url.port or 5432, port=proxy.port).start()  # back
                mail(inbox, f"[tradealerts] RECOVERED: {title}", timeout=30)
                checks_pass(srv)
                assert the_three(inbox, title) == (1, 1, 1)
                # stored once the database answered again, opened and closed
                got = until(srv, lambda: [r for r in rows(srv) if r.key == "alert_log"])
                assert got[0].closed_at is not None and got[0].reminders == 1
        finally:
            proxy.close()
