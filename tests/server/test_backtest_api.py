"""POST /api/alerts/backtest through a real uvicorn server (SQLite and PostgreSQL) on a replay
of the real EURUSD H1 bars in tests/data: the four body shapes, the refusals, the quota."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from tests.server.replaykit import wait_replay_done
from tests.server.serverkit import (
    PG_URL,
    Clock,
    Inbox,
    Running,
    free_port,
    register_and_login,
    server_settings,
    set_tier,
    start_server,
)

from tradealerts.server.alerts.backtest import MAX_FIRES

DATA = Path(__file__).resolve().parents[1] / "data" / "eurusd_h1.csv"
HELD = 1200  # every bar of the file is held once the replay has streamed its last bars
URL = "/api/alerts/backtest"


def crossing(level: float = 1.05, **extra: Any) -> dict[str, Any]:
    return {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "condition": "crossing",
        "level": level,
        "frequency": "once_per_bar",
        **extra,
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"] if PG_URL else ["sqlite"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One replay server per database for the whole module (the file streamed to its end)."""
    home = tmp_path_factory.mktemp(f"bt-{request.param}")
    name = None
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'server.db'}"
    else:
        assert PG_URL is not None
        name = f"tradealerts_test_{secrets.token_hex(6)}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = server_settings(
        home / "home", url, port, feed=f"replay:{DATA}", replay_speed=0, history_bars=HELD - 50
    )
    running = start_server(settings, Clock(), inbox)
    try:
        wait_replay_done(running)
        yield running
    finally:
        running.stop()
        controller.stop()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def client(srv: Running, tier: str = "FREE") -> httpx.Client:
    email = f"bt-{secrets.token_hex(4)}@example.com"
    token = register_and_login(srv, email)["access_token"]
    if tier != "FREE":
        set_tier(srv, email, tier)
    c = srv.client(token)
    c.timeout = 30
    return c


def test_flat_body_answers_the_contract_shape(srv: Running) -> None:
    c = client(srv)
    r = c.post(URL, json={**crossing(), "bars": 500})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "EURUSD" and body["timeframe"] == "H1"
    assert body["condition"] == "crossing" and body["bars"] == 500
    assert body["intrabar"] == "ohlc_path" and "OHLC path" in body["note"]
    assert body["from"].endswith("Z") and body["to"].endswith("Z")
    assert body["count"] == len(body["fires"]) > 0
    fire = body["fires"][0]
    assert set(fire) >= {"time", "bar_time", "price", "reason", "line_id", "confirm_bar_time"}
    assert body["first"] == fire["time"] and body["last"] == body["fires"][-1]["time"]
    assert body["from"] <= fire["bar_time"] <= fire["time"] <= body["to"]
    assert body["verdict"] in ("ok", "chatty") and body["server_ms"] > 0
    assert "1.05" in fire["reason"]
    # more bars than held: cut to what is held, and said
    r = c.post(URL, json={**crossing(), "bars": 100_000})
    assert r.status_code == 200 and r.json()["bars"] == HELD


def test_movement_bars_are_condition_bars_in_the_flat_form(srv: Running) -> None:
    c = client(srv)
    move = {"symbol": "EURUSD", "timeframe": "H1", "condition": "moving_up", "amount": 0.002}
    r = c.post(URL, json={**move, "condition_bars": 3, "bars": 300})
    assert r.status_code == 200, r.text
    nested = c.post(URL, json={"alert": {**move, "bars": 3}, "bars": 300})
    assert nested.status_code == 200, nested.text
    assert r.json()["fires"] == nested.json()["fires"]
    assert r.json()["count"] > 0
    r = c.post(URL, json={**move, "bars": 300})  # no condition_bars: the condition lacks it
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("condition_bars")


def test_a_batch_answers_in_order_and_counts_one_request(srv: Running) -> None:
    c = client(srv)
    first = c.post(URL, json={**crossing(), "bars": 50})
    left = int(first.headers["X-RateLimit-Remaining"])
    alerts = [
        crossing(1.06),
        {"symbol": "EURUSD", "timeframe": "H1", "condition": "line_break",
         "frequency": "once_per_bar_close"},
        crossing(9.0),  # never reached: dormant
        {"symbol": "EURUSD", "timeframe": "H4", "condition": "greater_than", "level": 1.0},
    ]  # fmt: skip
    r = c.post(URL, json={"alerts": alerts, "bars": 400})
    assert r.status_code == 200, r.text
    assert int(r.headers["X-RateLimit-Remaining"]) == left - 1  # one request, four alerts
    results = r.json()["results"]
    assert [x["index"] for x in results] == [0, 1, 2, 3]
    assert [(x["timeframe"], x["condition"]) for x in results] == [
        ("H1", "crossing"), ("H1", "line_break"), ("H1", "crossing"), ("H4", "greater_than"),
    ]  # fmt: skip
    assert results[1]["intrabar"] == "bar_close" and results[0]["intrabar"] == "ohlc_path"
    assert results[2]["verdict"] == "dormant" and results[2]["count"] == 0
    assert results[3]["bars"] == 300  # H4: what the server holds of it (1200 H1 bars)
    # each alone answers what it answered in the batch
    alone = c.post(URL, json={"alert": alerts[1], "bars": 400}).json()
    assert alone["fires"] == results[1]["fires"] and alone["count"] > 0
    assert all(f["line_id"] for f in alone["fires"])
    assert all(f["confirm_bar_time"] == f["bar_time"] for f in alone["fires"])


def test_a_stored_alert_as_it_is_and_another_users_is_404(srv: Running) -> None:
    owner = client(srv)
    created = owner.post("/api/alerts", json=crossing(1.04))
    assert created.status_code == 201, created.text
    alert_id = created.json()["id"]
    r = owner.post(URL, json={"alert_id": alert_id, "bars": 600})
    assert r.status_code == 200, r.text
    flat = owner.post(URL, json={**crossing(1.04), "bars": 600}).json()
    assert r.json()["fires"] == flat["fires"] and flat["count"] > 0
    other = client(srv)
    r = other.post(URL, json={"alert_id": alert_id, "bars": 600})
    assert r.status_code == 404, r.text
    assert other.post(URL, json={"alert_id": 2_000_000, "bars": 600}).status_code == 404


def test_refusals(srv: Running) -> None:
    anonymous = srv.client()
    assert anonymous.post(URL, json=crossing()).status_code == 401
    free = client(srv)
    r = free.post(URL, json={**crossing(), "timeframe": "M5"})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["required_tier"] == "PRO"
    r = free.post(URL, json={"alerts": [crossing(), {**crossing(), "symbol": "GBPUSD"}]})
    assert r.status_code == 403  # one locked pair refuses the batch, as create would
    pro = client(srv, "PRO")
    r = pro.post(URL, json={**crossing(), "symbol": "GBPUSD"})  # allowed, but no data held
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_market_data"
    for bars in (9, 0, -5, "many", 1.5, True):
        r = free.post(URL, json={**crossing(), "bars": bars})
        assert r.status_code == 422 and r.json()["error"]["field"] == "bars", bars
    r = free.post(URL, json={"alerts": [crossing()] * 101})
    assert r.status_code == 422 and r.json()["error"]["field"] == "alerts"
    assert free.post(URL, json={"alerts": [crossing()] * 100, "bars": 10}).status_code == 200
    r = free.post(URL, json={"alerts": [crossing(), {**crossing(), "level": -1}]})
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("alerts.1.level")
    r = free.post(URL, json={**crossing(), "condition": "nope"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "condition"
    r = free.post(URL, json={"alert": crossing(), "alert_id": 3})
    assert r.status_code == 422


def test_the_quota_counts_backtests(srv: Running) -> None:
    c = client(srv)
    small = {**crossing(), "bars": 10}
    limit = int(c.post(URL, json=small).headers["X-RateLimit-Limit"])
    codes = [c.post(URL, json=small).status_code for _ in range(limit)]
    assert codes == [200] * (limit - 1) + [429]


def test_expiry_counts_from_the_start_of_the_window(srv: Running) -> None:
    c = client(srv)
    expires = srv.clock() + timedelta(hours=10)
    always = {**crossing(), "condition": "greater_than", "level": 0.5}  # every bar, once
    r = c.post(URL, json={**always, "expires_at": expires.isoformat(), "bars": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    # ten hours of H1 bars from the window's start: ten fires, then expired
    assert body["count"] == 10
    assert body["ended"]["status"] == "expired" and body["ended"]["reason"] == "expired"
    assert body["fires"][0]["bar_time"] == body["from"]
    no_expiry = c.post(URL, json={**always, "bars": 100}).json()
    assert no_expiry["count"] == 100 and no_expiry["ended"] is None


def test_an_alert_that_fires_on_every_tick_is_capped(make_server: Any) -> None:
    """A hostile alert (a touch a whole price unit wide, once a minute: every tick of every
    bar, 4 x 1,400 of them) stops at MAX_FIRES fires: ``capped``, the fires up to there, its
    rate until then; the other alert of the call is answered in full."""
    srv = make_server(history_bars=1400)
    c = client(srv)
    touch = {"symbol": "EURUSD", "timeframe": "H1", "condition": "line_touch",
             "distance": 1.0, "frequency": "once_per_minute"}  # fmt: skip
    body = {"alerts": [touch, {**touch, "frequency": "once_per_bar"}], "bars": 1400}
    r = c.post(URL, json=body)
    assert r.status_code == 200, r.text
    hostile, other = r.json()["results"]
    assert hostile["capped"] is True and hostile["ended"] is None
    assert hostile["count"] == len(hostile["fires"]) == MAX_FIRES
    assert hostile["last"] == hostile["fires"][-1]["time"] < hostile["to"]
    days = (_epoch(hostile["last"]) - _epoch(hostile["from"])) / 86400
    assert hostile["per_day"] == round(MAX_FIRES / days, 3)
    # once a bar: a fire on every bar with a line (all but the first few), under the cap
    assert other["capped"] is False and other["count"] == len(other["fires"]) > 1300


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_replay_runs_in_a_process_of_its_own_that_comes_back_after_a_kill(
    srv: Running,
) -> None:
    """The replays run outside the server's process (one user's backtest never holds the
    server's GIL): killing that process fails the call under way or next with a 503 said
    in words, the server goes on, and the next call starts a fresh one."""
    import os
    import signal

    c = client(srv)
    assert c.post(URL, json={**crossing(), "bars": 200}).status_code == 200
    workers = list(srv.app.state.replays._pool._processes)  # the replays' process
    assert workers and os.getpid() not in workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    r = c.post(URL, json={**crossing(), "bars": 200})
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "backtest_failed" and "try again" in r.text
    assert c.get("/api/user").status_code == 200
    again = c.post(URL, json={**crossing(), "bars": 200})
    assert again.status_code == 200 and again.json()["count"] > 0
    assert set(srv.app.state.replays._pool._processes).isdisjoint(workers)


async def test_the_replay_workers_stop_when_idle_and_start_again() -> None:
    """The workers (~100 MB each) live while backtests come, stop ``idle`` seconds after
    the last, and the next call starts them again with the same answer."""
    import asyncio
    import time

    from tradealerts.core.alerts import validate_alert
    from tradealerts.core.timeframes import UTC_CLOCK, Timeframe
    from tradealerts.server.alerts.backtest import BacktestAlert
    from tradealerts.server.alerts.backtest_answer import Replays
    from tradealerts.server.feeds.replay import load_bar_file

    bars = load_bar_file(DATA).bars
    alerts = [BacktestAlert(validate_alert(crossing(level), now=datetime.now(UTC)))
              for level in (1.05, 1.06, 1.07)]  # fmt: skip
    groups = {("EURUSD", Timeframe.H1): (bars, [0, 1, 2])}
    replays = Replays(idle=0.5)
    try:
        first = await replays.answer(groups, alerts, 300, UTC_CLOCK, 2, "en", batch=True)
        pool = replays._pool
        assert pool is not None and len(pool._processes) == 2  # the two halves at once
        deadline = time.monotonic() + 30
        while replays._pool is not None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert replays._pool is None  # stopped, idle
        again = await replays.answer(groups, alerts, 300, UTC_CLOCK, 2, "en", batch=True)
        results = json.loads(again)["results"]

        def timeless(answer: bytes) -> list[dict[str, Any]]:
            return [{**r, "server_ms": 0} for r in json.loads(answer)["results"]]

        assert timeless(again) == timeless(first) and [r["index"] for r in results] == [0, 1, 2]
        assert sum(r["count"] for r in results) > 0
    finally:
        replays.close()
