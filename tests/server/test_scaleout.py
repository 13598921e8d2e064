"""Scale-out (issue #17) with real processes: ``tradealerts-server engine`` (leader and
standby) and ``serve --scale-out`` as subprocesses of the real CLI, on the machine's
PostgreSQL and Redis (a private ``redis-server`` where the test restarts it), loopback only."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.server.scalekit import (
    NEEDS_PG_AND_REDIS,
    PW,
    Cluster,
    Proc,
    Stream,
    login,
    pg_database,
    private_redis,
    wait_log,
    wait_up,
)
from tests.server.serverkit import DATA, deadline_after, free_port

pytestmark = NEEDS_PG_AND_REDIS

EMAIL = "trader@example.com"
REPLAY = DATA / "eurusd_h1.csv"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _price(api: Proc, token: str, symbol: str = "EURUSD") -> float:
    r = httpx.get(f"{api.url}/api/indicators/{symbol}/H1?bars=5", headers=_auth(token))
    assert r.status_code == 200, r.text
    return float(r.json()["forming"]["close"])


def _alert(api: Proc, token: str, **spec: Any) -> int:
    body = {"symbol": "EURUSD", "timeframe": "H1", **spec}
    r = httpx.post(f"{api.url}/api/alerts", json=body, headers=_auth(token), timeout=10)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _fires_per_alert(c: Cluster) -> dict[int, int]:
    out: dict[int, int] = {}
    for _id, alert_id in c.db_events(EMAIL):
        assert alert_id is not None
        out[alert_id] = out.get(alert_id, 0) + 1
    return out


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = deadline_after(timeout)
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(0.05)


def test_two_api_processes_one_engine(cluster: Cluster) -> None:
    """A stream on API 1 gets the alert created through API 2, matched on the next tick
    (the engine's table poll is set to an hour: only the bus brings the change at all);
    indicator bodies and ETags agree across the processes; ``status`` shows the roles."""
    from aiosmtpd.controller import Controller
    from tests.server.serverkit import Inbox, free_port

    inbox, smtp_port = Inbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    cluster.extra.update(
        TRADEALERTS_TICK_RATE="5", TRADEALERTS_ALERT_SYNC_SECONDS="3600",
        TRADEALERTS_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", TRADEALERTS_MAIL_POLL_SECONDS="3600",
    )  # fmt: skip
    cluster.user(EMAIL)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    # api2 as docs/deploy.md starts it, without --scale-out: the engine's lease decides
    api1, api2 = cluster.api("api1"), cluster.api("api2", flag=False)
    wait_up(api1)
    wait_up(api2)
    assert "serving the API only" in api2.text()
    token = login(api2.url or "", EMAIL)
    stream = Stream(api1.url or "", token)
    stream.wait(lambda s: s.frames, what="retry frame")
    price = _price(api2, token)
    alert_id = _alert(api2, token, condition="greater_than", level=round(price * 0.5, 5))
    stream.wait(lambda s: s.alerts(), timeout=60, what="alert frame on API 1")
    frame = stream.alerts()[0]
    assert frame["data"]["alert_id"] == alert_id
    assert [i for i, _a in cluster.db_events(EMAIL)] == stream.ids()

    # the same versions give the same bytes, on the fast path of either process
    matched = fast = 0
    for _ in range(50):
        r1 = httpx.get(f"{api1.url}/api/indicators/EURUSD/H1?bars=50", headers=_auth(token))
        r2 = httpx.get(f"{api2.url}/api/indicators/EURUSD/H1?bars=50", headers=_auth(token))
        assert r1.status_code == r2.status_code == 200
        fast += "fastpath" in r1.headers.get("server-timing", "")
        if r1.headers["etag"] == r2.headers["etag"]:
            assert r1.content == r2.content
            matched += 1
    assert matched >= 5, "the two mirrors never showed the same version"
    assert fast > 0  # the fast path serves the mirror too (the route when the caller is cold)

    status = cluster.status()
    roles = sorted(p["role"] for p in status["processes"].values() if p["alive"])
    assert roles == ["api", "api", "leader"]
    assert status["lease"]["epoch"] == 1
    apis = [p for p in status["processes"].values() if p["role"] == "api"]
    assert all("lag_seconds" in p and "behind" in p for p in apis)
    assert status["open_streams"] == 1
    assert status["bus"]["bus:market"] > 0
    text = cluster.run("status")
    assert text.returncode == 0 and "leader" in text.stdout and "api" in text.stdout
    stream.close()

    # mail queued through an API process is sent once, by the engine, woken over the bus
    r = httpx.post(
        f"{api1.url}/api/auth/register", json={"email": "new@example.com", "password": PW}
    )
    assert r.status_code == 202
    inbox.wait_for("new@example.com", timeout=60)  # the mailer's own poll is hourly here
    # a second sign-up's mail: the mailer sends in queue order, so a second copy of the
    # first mail would have gone out before this one
    r = httpx.post(
        f"{api1.url}/api/auth/register", json={"email": "next@example.com", "password": PW}
    )
    assert r.status_code == 202
    inbox.wait_for("next@example.com", timeout=60)
    sent = [m["To"] for m in inbox.messages if m["To"] in ("new@example.com", "next@example.com")]
    assert sent == ["new@example.com", "next@example.com"]
    smtp.stop()


def test_tier_change_reaches_every_api_process(cluster: Cluster) -> None:
    """The owner moves a user to FREE through API 2: API 1's stream says ``tier`` and its
    cached copy of the user is dropped (the cache would hold it an hour here, the stream's
    own check comes with its heartbeat, hourly too: only the bus brings either)."""
    cluster.extra.update(
        TRADEALERTS_CALLER_CACHE_SECONDS="3600", TRADEALERTS_STREAM_HEARTBEAT_SECONDS="3600"
    )
    user_id = cluster.user(EMAIL)
    cluster.user("owner@example.com", admin=True)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    wait_up(api1)
    wait_up(api2)
    token = login(api1.url or "", EMAIL)
    pro_only = f"{api1.url}/api/indicators/ETHUSD/H1?bars=5"
    assert httpx.get(pro_only, headers=_auth(token)).status_code == 200  # cached as PRO
    stream = Stream(api1.url or "", token)
    stream.wait(lambda s: s.frames, what="retry frame")
    owner = login(api2.url or "", "owner@example.com")
    r = httpx.put(
        f"{api2.url}/api/admin/user/{user_id}", json={"tier": "FREE"}, headers=_auth(owner)
    )
    assert r.status_code == 200, r.text
    stream.wait(
        lambda s: any(f.get("event") == "tier" for f in s.frames), timeout=60, what="tier event"
    )
    assert [f["data"] for f in stream.frames if f.get("event") == "tier"] == [{"tier": "FREE"}]
    _wait(lambda: httpx.get(pro_only, headers=_auth(token)).status_code == 403, 60, "403")
    stream.close()


def test_alert_changes_reach_every_api_process(cluster: Cluster) -> None:
    """An alert created and deleted through API 2 (the CLI's process) is an
    ``alerts_changed`` event on the user's stream at API 1 (the TUI's), through Redis."""
    cluster.user(EMAIL)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    wait_up(api1)
    wait_up(api2)
    token = login(api1.url or "", EMAIL)
    stream = Stream(api1.url or "", token)
    stream.wait(lambda s: s.frames, what="retry frame")
    alert_id = _alert(api2, token, condition="crossing_up", level=9.0)

    def changes(s: Stream) -> list[Any]:
        return [f["data"] for f in s.frames if f.get("event") == "alerts_changed"]

    stream.wait(lambda s: changes(s), timeout=60, what="alerts_changed event")
    assert changes(stream) == [{"ids": [alert_id]}]
    r = httpx.delete(f"{api2.url}/api/alerts/{alert_id}", headers=_auth(token), timeout=10)
    assert r.status_code == 204, r.text
    stream.wait(lambda s: len(changes(s)) == 2, timeout=60, what="the delete's event")
    stream.close()


def test_indicators_equal_embedded_mode(cluster: Cluster, tmp_path: Path) -> None:
    """A replay run whole (speed 0) in embedded mode and through engine + API process:
    the same bodies and ETags, for several timeframes and windows."""
    from tests.server.serverkit import Clock, Inbox, free_port, server_settings, start_server

    feed = f"replay:{REPLAY}"
    cluster.extra.update(TRADEALERTS_FEED=feed, TRADEALERTS_REPLAY_SPEED="0")
    cluster.user(EMAIL)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    api = cluster.api()
    wait_up(api)
    token = login(api.url or "", EMAIL)
    embedded = start_server(
        server_settings(
            tmp_path / "embedded", f"sqlite:///{tmp_path / 'e.db'}", free_port(),
            feed=feed, replay_speed=0, history_bars=300,
            secret_key="scale-test-secret-key-0123456789abcdef",
        ),
        Clock(),
        Inbox(),
    )  # fmt: skip
    try:
        from tests.server.scalekit import PW

        r = embedded.client().post("/api/auth/register", json={"email": EMAIL, "password": PW})
        assert r.status_code == 202
        embedded.app.state.signups.wait(EMAIL)  # the account is made after the answer
        from tests.server.serverkit import set_tier

        set_tier(embedded, EMAIL, "PRO")
        with embedded.app.state.sessions() as s:
            from tradealerts.server import accounts

            user = accounts.find_user(s, EMAIL)
            assert user is not None
            user.email_verified = True
            s.commit()
        etoken = login(embedded.url, EMAIL)
        _wait(lambda: embedded.app.state.engine.state == "finished", 30, "embedded replay")
        for tf, bars in (("H1", 100), ("H1", 1000), ("H4", 50), ("D1", 30)):
            path = f"/api/indicators/EURUSD/{tf}?bars={bars}"
            want = httpx.get(embedded.url + path, headers=_auth(etoken))
            assert want.status_code == 200

            def same(path: str = path, want: httpx.Response = want) -> bool:
                got = httpx.get(f"{api.url}{path}", headers=_auth(token))
                return got.status_code == 200 and got.headers["etag"] == want.headers["etag"]

            _wait(same, 20, f"{path} at the embedded mode's version")
            got = httpx.get(f"{api.url}{path}", headers=_auth(token))
            assert got.content == want.content
            assert got.headers["etag"] == want.headers["etag"]
    finally:
        embedded.stop()


def _crossing_alerts(api: Proc, token: str, count: int = 12) -> list[int]:
    """Alerts on levels spread over the replay file's range: they fire all through it."""
    import csv

    with REPLAY.open() as fh:
        closes = [float(row["close"]) for row in csv.DictReader(fh)][300:]
    lo, hi = min(closes), max(closes)
    levels = [round(lo + (hi - lo) * (k + 1) / (count + 1), 5) for k in range(count)]
    return [
        _alert(api, token, condition="crossing", frequency="once_per_bar", level=level)
        for level in levels
    ]


def test_api_killed_mid_stream_resumes_on_the_other(cluster: Cluster) -> None:
    """API 1 SIGKILLed mid-stream: the client reconnects to API 2 with Last-Event-ID and
    gets every logged alert once, in order."""
    cluster.extra.update(
        TRADEALERTS_FEED=f"replay:{REPLAY}", TRADEALERTS_REPLAY_SPEED="60",
        TRADEALERTS_HISTORY_BARS="900", TRADEALERTS_STREAM_HEARTBEAT_SECONDS="0.5",
    )  # fmt: skip
    cluster.user(EMAIL)
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    wait_up(api1, "/api/openapi.json")
    wait_up(api2, "/api/openapi.json")
    token = login(api2.url or "", EMAIL)
    _crossing_alerts(api2, token)  # before the engine: its book holds them from the start
    first = Stream(api1.url or "", token, last_event_id=0)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    first.wait(lambda s: len(s.alerts()) >= 5, timeout=20, what="five alerts on API 1")
    api1.signal(signal.SIGKILL)
    first.wait(lambda s: s.done, timeout=10, what="the end of API 1's stream")
    got = first.ids()
    second = Stream(api2.url or "", token, last_event_id=got[-1])
    _wait(lambda: "finished" in str(cluster.status()["processes"]), 30, "the replay's end")
    logged = [i for i, _a in cluster.db_events(EMAIL)]
    second.wait(lambda s: got + s.ids() == logged, timeout=15, what="every logged alert")
    assert len(logged) > len(got) > 0
    assert len(set(got + second.ids())) == len(logged)
    second.close()


def test_leader_killed_standby_leads(cluster: Cluster) -> None:
    """The leader SIGKILLed: the standby leads within 10 s; alerts fired before are not
    fired again, alerts created while no engine led fire once; streams go on."""
    cluster.extra.update(TRADEALERTS_TICK_RATE="5")
    cluster.user(EMAIL)
    first = cluster.engine("engine1")
    wait_log(first, "engine leading")
    second = cluster.engine("engine2")
    wait_log(second, "standing by")
    api = cluster.api()
    wait_up(api)
    token = login(api.url or "", EMAIL)
    stream = Stream(api.url or "", token)
    stream.wait(lambda s: s.frames, what="retry frame")
    roles = sorted(p["role"] for p in cluster.status()["processes"].values() if p["alive"])
    assert roles == ["api", "leader", "standby"]
    low = round(_price(api, token) * 0.5, 5)
    before = [_alert(api, token, condition="greater_than", level=low) for _ in range(3)]
    stream.wait(lambda s: len(s.alerts()) == 3, what="three alerts from the first leader")
    first.signal(signal.SIGKILL)
    during = [_alert(api, token, condition="greater_than", level=low) for _ in range(3)]
    wait_log(second, "engine leading", timeout=60)  # bench_scaleout.py times the takeover
    stream.wait(lambda s: len(s.alerts()) == 6, what="three alerts from the new leader")
    after = [_alert(api, token, condition="greater_than", level=low) for _ in range(2)]
    stream.wait(lambda s: len(s.alerts()) == 8, what="two more alerts")
    # a sentinel: the leader fires in tick order, so a second fire of any alert above (on a
    # tick it matched again) is logged before the sentinel's first
    sentinel = _alert(api, token, condition="greater_than", level=low)
    stream.wait(lambda s: len(s.alerts()) >= 9, what="the sentinel's fire")
    assert _fires_per_alert(cluster) == dict.fromkeys([*before, *during, *after, sentinel], 1)
    assert stream.ids() == [i for i, _a in cluster.db_events(EMAIL)]
    status = cluster.status()
    assert status["lease"]["epoch"] == 2
    leader = [p for p in status["processes"].values() if p["role"] == "leader" and p["alive"]]
    assert len(leader) == 1 and leader[0]["epoch"] == 2
    stream.close()


def test_standby_replay_goes_on_from_now(cluster: Cluster) -> None:
    """A replay's new leader starts at the bar the clock implies since the first leader
    began, not at the file's history again (nothing old comes back as new ticks)."""
    cluster.extra.update(
        TRADEALERTS_FEED=f"replay:{REPLAY}", TRADEALERTS_REPLAY_SPEED="20",
        TRADEALERTS_HISTORY_BARS="300",
    )  # fmt: skip
    cluster.user(EMAIL)
    first = cluster.engine("engine1")
    wait_log(first, "engine leading")
    second = cluster.engine("engine2")
    wait_log(second, "standing by")
    api = cluster.api()
    wait_up(api)
    token = login(api.url or "", EMAIL)
    path = f"{api.url}/api/indicators/EURUSD/H1?bars=1"

    def last_bar() -> tuple[int, str]:
        r = httpx.get(path, headers=_auth(token))
        return (int(r.json()["bars"]["time"][-1]), r.headers["etag"]) if r.is_success else (0, "")

    time.sleep(2)
    before, _etag = last_bar()
    first.signal(signal.SIGKILL)
    wait_log(second, "engine leading", timeout=15)

    def new_leader() -> bool:  # epoch 2 numbers tick versions from 2**32
        _t, etag = last_bar()
        return bool(etag) and int(etag.split("-")[2].split(".")[1]) >= 2**32

    _wait(new_leader, 15, "the mirror on the new leader's market")
    after, _etag = last_bar()
    # from the history again, the newest bar would be the 300th (2024-09-25T12:00Z), behind
    assert after > before > 1727265600, (before, after)


def test_paused_leader_is_fenced(cluster: Cluster) -> None:
    """The leader SIGSTOPped: the standby takes over; the old leader, SIGCONTed, has its
    writes refused and stops (status 3); every alert fired once."""
    cluster.extra.update(TRADEALERTS_TICK_RATE="10")
    cluster.user(EMAIL)
    old = cluster.engine("old")
    wait_log(old, "engine leading")
    new = cluster.engine("new")
    wait_log(new, "standing by")
    api = cluster.api()
    wait_up(api)
    token = login(api.url or "", EMAIL)
    low = round(_price(api, token) * 0.5, 5)
    first = _alert(api, token, condition="greater_than", level=low)
    _wait(lambda: _fires_per_alert(cluster) == {first: 1}, 10, "the first fire")
    old.signal(signal.SIGSTOP)
    wait_log(new, "engine leading", timeout=15)
    # alerts the old leader will hear of (through the bus) when it wakes, and match
    later = [_alert(api, token, condition="greater_than", level=low) for _ in range(3)]
    _wait(lambda: len(_fires_per_alert(cluster)) == 4, 10, "the new leader's fires")
    old.signal(signal.SIGCONT)
    assert old.popen.wait(15) == 3, old.text()[-2000:]
    log = old.text()
    assert "engine lease lost" in log
    time.sleep(0.5)
    assert _fires_per_alert(cluster) == dict.fromkeys([first, *later], 1)


def test_fence_refuses_an_old_epoch_and_orders_a_takeover(cluster: Cluster) -> None:
    """The lease on the real database: a takeover waits for a fire commit under way
    (``FOR SHARE``), and the old epoch's next transaction is refused."""
    import threading

    from tradealerts.server.db.migrate import upgrade
    from tradealerts.server.db.session import make_engine, make_sessionmaker
    from tradealerts.server.scale.lease import Lease, LeaseLost

    db = make_engine(cluster.database_url)
    upgrade(db)
    sessions = make_sessionmaker(db)
    a, b = Lease(sessions, "a", ttl=0.3), Lease(sessions, "b", ttl=5)
    try:
        assert a.try_acquire() and a.epoch == 1
        assert not b.try_acquire()
        with sessions() as s:  # a's fire transaction, under way while its lease runs out
            a.fence(s.connection())
            time.sleep(0.4)
            result: list[bool] = []
            taker = threading.Thread(target=lambda: result.append(b.try_acquire()))
            taker.start()
            taker.join(0.5)
            assert taker.is_alive(), "the takeover did not wait for the commit under way"
            s.commit()
        taker.join(5)
        assert result == [True] and b.epoch == 2
        with sessions() as s, pytest.raises(LeaseLost):
            a.fence(s.connection())
        assert not a.renew()
        with sessions() as s:
            b.fence(s.connection())  # the new leader writes
        b.release()  # a clean stop: the next engine leads at once, not after the lease
        assert a.try_acquire() and a.epoch == 3
        with sessions() as s, pytest.raises(LeaseLost):
            b.fence(s.connection())
    finally:
        db.dispose()


def test_redis_restart_mid_run(tmp_path: Path) -> None:
    """A private Redis stopped and started again mid-run (its data gone): the processes
    reconnect, the stream goes on, the alert that fired while Redis was down arrives (the
    engine's change feed and the log carry it), the mirror reloads the new snapshot."""
    with pg_database() as db, private_redis() as (url, redis_server):
        c = Cluster(tmp_path, db, url, extra={"TRADEALERTS_TICK_RATE": "5"})
        try:
            c.user(EMAIL)
            engine = c.engine()
            wait_log(engine, "engine leading")
            api = c.api()
            wait_up(api)
            token = login(api.url or "", EMAIL)
            stream = Stream(api.url or "", token)
            stream.wait(lambda s: s.frames, what="retry frame")
            low = round(_price(api, token) * 0.5, 5)
            _alert(api, token, condition="greater_than", level=low)
            stream.wait(lambda s: len(s.alerts()) == 1, what="the first alert")
            redis_server("stop")
            during = _alert(api, token, condition="greater_than", level=low)
            # the engine reads the change feed table without Redis, and fires it
            _wait(lambda: during in _fires_per_alert(c), 10, "the fire while Redis is down")
            assert len(stream.alerts()) == 1  # nothing can carry it yet
            redis_server("start")
            stream.wait(
                lambda s: len(s.alerts()) == 2, timeout=20, what="the alert fired meanwhile"
            )
            _alert(api, token, condition="greater_than", level=low)
            stream.wait(lambda s: len(s.alerts()) == 3, timeout=20, what="an alert after")
            assert stream.ids() == [i for i, _a in c.db_events(EMAIL)]
            assert not stream.done
            _wait(
                lambda: (
                    httpx.get(
                        f"{api.url}/api/indicators/EURUSD/H1?bars=5", headers=_auth(token)
                    ).status_code
                    == 200
                ),
                15,
                "indicators after the restart",
            )
            status = c.status()
            assert sorted(p["role"] for p in status["processes"].values() if p["alive"]) == [
                "api",
                "leader",
            ]
            stream.close()
        finally:
            c.stop()


def test_serve_workers_share_a_port(cluster: Cluster) -> None:
    """``serve --scale-out --workers 2``: two API processes on one port, each with its
    mirror; SIGTERM stops them all."""
    cluster.user(EMAIL)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    port = free_port()
    proc = cluster.spawn(
        "workers", ["serve", "--scale-out", "--port", str(port), "--workers", "2"], {}
    )
    proc.url = f"http://127.0.0.1:{port}"
    wait_up(proc)
    _wait(
        lambda: (
            sum(
                1
                for p in cluster.status()["processes"].values()
                if p["role"] == "api" and p["alive"]
            )
            == 2
        ),
        20,
        "two API processes in status",
    )
    token = login(proc.url, EMAIL)
    for _ in range(10):  # whichever process answers, the same market
        r = httpx.get(f"{proc.url}/api/indicators/EURUSD/H1?bars=5", headers=_auth(token))
        assert r.status_code == 200
    proc.signal(signal.SIGTERM)
    assert proc.popen.wait(60) == 0
