"""The owner's MT5 indicator lines scaled out (issues #16 and #17), with real processes: the
engines run ``--lines-source`` mt5 for EURUSD H1, a stand-in bridge posts to API process 2,
a subscriber on API process 1 gets the owner's lines, byte for byte what the embedded server
gives for the same posts; the leader SIGKILLed, the standby loads the stored values from the
database, keeps the lines and fires an alert on one of them; a post taken while Redis is
down reaches the subscribers once it is back."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from tests.server.bridgekit import StandInBridge, fractal_buffers, read_bars
from tests.server.replaykit import wait_replay_done
from tests.server.scalekit import (
    NEEDS_PG_AND_REDIS,
    Cluster,
    Proc,
    Stream,
    login,
    pg_database,
    private_redis,
    wait_log,
)
from tests.server.serverkit import (
    Clock,
    Inbox,
    register_and_login,
    server_settings,
    start_server,
    wait_until,
)
from tests.server.test_owner_lines import CSV, OWNER, WINDOW, ingest_token, listed

pytestmark = NEEDS_PG_AND_REDIS

EMAIL = "trader@example.com"
#: the whole file but its last bar as history, for every leader (a later one loads as much
#: as the first, so the lines are drawn over the same bars), and the embedded server
HISTORY = 1200
PATH = f"/api/indicators/EURUSD/H1?bars={WINDOW}"
#: only the engines are told: the API processes draw with the leader's source and map
ENGINE = {
    "TRADEALERTS_LINES_SOURCE": str(OWNER["lines_source"]),
    "TRADEALERTS_BUFFER_MAP": json.dumps(OWNER["buffer_map"]),
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _health(api: Proc) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"{api.url}/api/system/health", timeout=5).json())
    except (httpx.TransportError, ValueError):
        return {}


def _resyncs(c: Cluster) -> int:
    """Snapshots the API process has loaded (its heartbeat)."""
    try:
        procs = c.status()["processes"].values()
    except AssertionError:  # Redis is starting
        return 0
    return sum(int(p.get("resyncs", 0)) for p in procs if p["role"] == "api" and p["alive"])


def _lines(body: bytes) -> tuple[Any, Any, Any]:
    d = json.loads(body)
    return d["fractals"], d["horizontal_lines"], d["diagonal_lines"]


def test_owner_lines_posted_to_one_api_process_served_by_all(
    cluster: Cluster, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    bars = read_bars(CSV)
    times, rows = [int(x) for x in bars["time"]], fractal_buffers(bars)
    # the whole file at once (speed 0): the engines and the embedded server end alike
    feed = f"replay:{CSV}"
    cluster.extra.update(
        TRADEALERTS_FEED=feed, TRADEALERTS_REPLAY_SPEED="0",
        TRADEALERTS_HISTORY_BARS=str(HISTORY),
    )  # fmt: skip
    cluster.user(EMAIL)
    first = cluster.engine("engine1", **ENGINE)
    wait_log(first, "engine leading")
    second = cluster.engine("engine2", **ENGINE)
    wait_log(second, "standing by")
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    for api in (api1, api2):  # the mirror holds the leader's market and its lines source
        wait_until(lambda api=api: "lines" in _health(api), 30, f"{api.name}'s mirror")
    assert _health(api1)["lines"]["status"] == "waiting"  # nothing from the bridge yet
    token = login(api1.url or "", EMAIL)

    made = cluster.run("ingest-token", "create")
    assert made.returncode == 0, made.stderr
    bridge = StandInBridge(api2.url or "", made.stdout.strip().splitlines()[0])
    bridge.start(times, rows)  # the EA's OnInit, to API process 2 only
    bridge.close()

    # the embedded server, the same replay, the same posts
    embedded = start_server(
        server_settings(
            tmp_path / "embedded", f"sqlite:///{tmp_path / 'e.db'}", smtp[1],
            feed=feed, replay_speed=0, history_bars=HISTORY, **OWNER,
        ),
        Clock(),
        smtp[0],
    )  # fmt: skip
    try:
        wait_replay_done(embedded)
        own = StandInBridge(embedded.url, ingest_token(embedded.settings.data_dir,
                                                       embedded.settings.database_url))  # fmt: skip
        own.start(times, rows)
        own.close()
        user = register_and_login(embedded, "sub@example.com")
        want = embedded.client(user["access_token"]).get(PATH)
        assert want.status_code == 200
    finally:
        embedded.stop()
    owner_h, _owner_d = listed(1, len(times))
    assert {ln["id"]: ln["price"] for ln in json.loads(want.content)["horizontal_lines"]} == owner_h

    def served(api: Proc) -> httpx.Response | None:
        r = httpx.get(f"{api.url}{PATH}", headers=_auth(token), timeout=10)
        return r if r.status_code == 200 and r.content == want.content else None

    got1 = wait_until(lambda: served(api1), 20, "the owner's lines on API process 1")
    got2 = wait_until(lambda: served(api2), 20, "the owner's lines on API process 2")
    assert got1.headers["etag"] == got2.headers["etag"]
    sent = _health(api1)["lines"]["series"]["EURUSD:H1"]
    assert sent["source"] == "mt5" and sent["last_sent"] and sent["bars"] == len(times)
    leader = next(p for p in cluster.status()["processes"].values() if p["role"] == "leader")
    assert leader["lines"]["series"]["EURUSD:H1"]["last_sent"] == sent["last_sent"]
    compare = cluster.run("lines", "compare", "EURUSD", "H1", "--json", **ENGINE)
    assert compare.returncode == 0, compare.stderr
    # (over the feed's history, as embedded: test_owner_lines checks the differences)
    compared = json.loads(compare.stdout)["lines"]["owner"]["horizontal"]
    assert compared == len(listed(1, len(times) - 1)[0])

    # an alert on an active line of the owner's (not one of ours), near the price
    ours_h, _ours_d = listed(2, len(times))
    _f, horizontal, _d = _lines(want.content)
    close = json.loads(want.content)["bars"]["close"][-1]
    line = min(
        (ln for ln in horizontal if ln["broken_time"] is None and ln["id"] not in ours_h),
        key=lambda ln: abs(ln["price"] - close),
    )
    r = httpx.post(
        f"{api1.url}/api/alerts", headers=_auth(token), timeout=10,
        json={"symbol": "EURUSD", "timeframe": "H1", "condition": "line_touch",
              "line_id": line["id"], "distance": abs(line["price"] - close) + 0.01},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    alert_id = r.json()["id"]
    stream = Stream(api1.url or "", token)
    stream.wait(lambda s: s.frames, what="retry frame")
    time.sleep(1.0)
    assert stream.alerts() == []  # the first leader's replay is over: no tick to match

    # the leader dies; the standby takes the values from the database, not from anyone's
    # memory, and its replay streams the file's last bar: the owner's line is touched
    first.signal(signal.SIGKILL)
    wait_log(second, "engine leading", timeout=15)
    stream.wait(lambda s: s.alerts(), timeout=20, what="the alert on the owner's line")
    frame = stream.alerts()[0]["data"]
    assert frame["alert_id"] == alert_id and frame["condition"] == "line_touch"
    assert frame["level"] == line["price"]
    after = wait_until(lambda: served(api1), 20, "the owner's lines after the fail-over")
    assert after.headers["etag"] != got1.headers["etag"]  # the new leader's version
    stream.close()


def test_owner_lines_posted_while_redis_is_down(tmp_path: Path) -> None:
    """Redis stopped (its data gone when it starts again): the bridge's post is still taken
    and stored; once Redis is back the API process serves the owner's lines (the leader read
    them from the database, its new snapshot carries them)."""
    bars = read_bars(CSV)
    times, rows = [int(x) for x in bars["time"]], fractal_buffers(bars)
    with pg_database() as db, private_redis() as (url, redis_server):
        c = Cluster(tmp_path, db, url)
        c.extra.update(
            TRADEALERTS_FEED=f"replay:{CSV}", TRADEALERTS_REPLAY_SPEED="0",
            TRADEALERTS_HISTORY_BARS=str(HISTORY),
        )  # fmt: skip
        try:
            c.user(EMAIL)
            engine = c.engine(**ENGINE)
            wait_log(engine, "engine leading")
            api = c.api()
            wait_until(lambda: "lines" in _health(api), 30, "the mirror")
            token = login(api.url or "", EMAIL)
            made = c.run("ingest-token", "create")
            assert made.returncode == 0, made.stderr
            redis_server("stop")
            bridge = StandInBridge(api.url or "", made.stdout.strip().splitlines()[0])
            bridge.start(times, rows)  # 200: stored in the database, Redis or not
            bridge.close()
            redis_server("start")
            owner_h, owner_d = listed(1, len(times))

            def owners() -> bool:
                r = httpx.get(f"{api.url}{PATH}", headers=_auth(token), timeout=10)
                if r.status_code != 200:
                    return False
                _f, h, d = _lines(r.content)
                return {ln["id"]: ln["price"] for ln in h} == owner_h and {
                    ln["id"] for ln in d
                } == owner_d

            wait_until(owners, 30, "the owner's lines after Redis came back")
            # again, with nothing new: the mirror reloads a snapshot the leader wrote whole
            # again into the empty Redis, buffer values included
            resyncs = _resyncs(c)
            redis_server("stop")
            redis_server("start")
            wait_until(lambda: _resyncs(c) > resyncs, 30, "the mirror to reload")
            wait_until(owners, 30, "the owner's lines after the second restart")
        finally:
            c.stop()
