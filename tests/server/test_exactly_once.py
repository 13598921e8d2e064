"""Exactly once through the real path: replay ticks → matcher → event log → GET /api/stream.

Every event here was fired by the engine from a replay file, never written by the test; what
a client receives is judged against the log by a lost / duplicated / unexpected checker.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.faultproxy import Fault, FaultProxy, check_history
from tests.server.replaykit import (
    every_bar,
    logged_ids,
    once,
    prepare,
    replay_done,
    replay_server,
    wait_replay_done,
    write_replay,
)
from tests.server.serverkit import SSE, Running, wait_until

# backlog -> (every-bar alerts, streamed bars, once alerts): A x B + once events
BACKLOGS = {
    0: (0, 5, 0),
    1: (0, 5, 1),
    499: (1, 499, 0),
    500: (20, 25, 0),
    501: (3, 167, 0),
    5000: (20, 250, 0),
}


def collect(sse: SSE, want: int, seconds: float) -> tuple[list[int], int]:
    """Alert ids until ``want`` of them (or the time is up), then two heartbeats' worth of
    frames: anything after the backlog that is not a heartbeat is counted as extra."""
    ids: list[int] = []
    deadline = time.monotonic() + seconds
    while len(ids) < want and time.monotonic() < deadline:
        f = sse.frame()
        if f.get("event") == "alert":
            ids.append(int(f["id"]))
    beats = extra = 0
    while beats < 2 and time.monotonic() < deadline + 5:
        f = sse.frame()
        if f.get("comment") == "heartbeat":
            beats += 1
        elif f.get("event") == "alert":
            ids.append(int(f["id"]))
            extra += 1
    return ids, extra


@pytest.mark.parametrize("backlog", list(BACKLOGS))
def test_resume_sends_the_whole_backlog(
    make_server: Callable[..., Running], tmp_path: Path, backlog: int
) -> None:
    """Last-Event-ID: 0 after a replay fired N alerts → exactly those N, in order, then only
    heartbeats (the stream used to send 500 and stop)."""
    per_bar, bars, n_once = BACKLOGS[backlog]
    email = f"b{backlog}@example.com"
    tokens = prepare(make_server, tmp_path, email, [every_bar()] * per_bar + [once()] * n_once)
    srv = replay_server(
        make_server, write_replay(tmp_path / "EURUSD_H1.csv", bars), stream_heartbeat_seconds=0.5
    )
    wait_replay_done(srv)
    logged = logged_ids(srv, email)
    assert len(logged) == per_bar * bars + n_once == backlog  # fired from the data, all of it
    c = srv.client(tokens["access_token"])
    with c.stream("GET", "/api/stream", headers={"Last-Event-ID": "0"}, timeout=30) as r:
        assert r.status_code == 200
        ids, extra = collect(SSE(r), backlog, seconds=60)
    verdict = check_history(logged, ids)
    assert verdict.ok, str(verdict)
    assert extra == 0


def test_live_fires_while_the_backlog_is_sent(
    make_server: Callable[..., Running], tmp_path: Path
) -> None:
    """Connected with more than a page logged while the replay keeps firing: the rest of the
    backlog and every live fire arrive, once, in order (ids 501..N used to be skipped)."""
    email = "live@example.com"
    tokens = prepare(make_server, tmp_path, email, [every_bar()] * 20)
    srv = replay_server(
        make_server,
        write_replay(tmp_path / "EURUSD_H1.csv", 240),
        speed=60,
        stream_heartbeat_seconds=0.5,
    )
    wait_until(lambda: len(logged_ids(srv, email)) > 600, timeout=30, what="600 fires")
    c = srv.client(tokens["access_token"])
    ids: list[int] = []
    with c.stream("GET", "/api/stream", headers={"Last-Event-ID": "0"}, timeout=30) as r:
        sse = SSE(r)
        assert srv.app.state.engine.state == "running"  # the replay is still firing
        deadline = time.monotonic() + 60
        while len(ids) < 240 * 20 and time.monotonic() < deadline:
            f = sse.frame()
            if f.get("event") == "alert":
                ids.append(int(f["id"]))
    wait_replay_done(srv)
    verdict = check_history(logged_ids(srv, email), ids)
    assert verdict.expected == 240 * 20
    assert verdict.ok, str(verdict)


def resuming_reader(
    url: str, token: str, done: Callable[[], bool], seconds: float, read_timeout: float = 5
) -> tuple[list[int], int]:
    """A client as the SSE spec describes one: on any break, reconnect with Last-Event-ID of
    the last complete frame. Returns (alert ids in arrival order, connections made)."""
    ids: list[int] = []
    last = "0"
    connections = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        while time.monotonic() < deadline:
            connections += 1
            try:
                with c.stream(
                    "GET",
                    "/api/stream",
                    headers={"Last-Event-ID": last},
                    timeout=httpx.Timeout(5, read=read_timeout),
                ) as r:
                    if r.status_code != 200:
                        time.sleep(0.05)
                        continue
                    sse = SSE(r)
                    quiet = 0  # heartbeats since the replay was done: two, and nothing is due
                    while True:
                        f = sse.frame()
                        if f.get("event") == "alert":
                            ids.append(int(f["id"]))
                            last = f["id"]
                        elif f.get("comment") == "heartbeat" and (quiet or done()):
                            quiet += 1
                            if quiet == 3:
                                return ids, connections
            except (httpx.HTTPError, EOFError):
                continue
    return ids, connections


def test_two_hundred_random_cuts_lose_and_double_nothing(
    make_server: Callable[..., Running], tmp_path: Path
) -> None:
    """A fault proxy cuts (FIN) or resets (RST) 200 connections at random byte offsets while
    a replay fires alerts; the resuming client ends with every alert exactly once, in order."""
    email = "cuts@example.com"
    tokens = prepare(make_server, tmp_path, email, [every_bar()] * 5)
    srv = replay_server(
        make_server,
        write_replay(tmp_path / "EURUSD_H1.csv", 300),
        speed=40,
        stream_heartbeat_seconds=0.3,
    )
    rng = random.Random(13)  # a reproducible plan
    plan = [
        Fault(cut_at=rng.randint(1, 3000))
        if rng.random() < 0.5
        else Fault(reset_at=rng.randint(1, 3000))
        for _ in range(200)
    ]
    with FaultProxy(srv.settings.port, plan) as proxy:
        ids, connections = resuming_reader(
            proxy.url, tokens["access_token"], lambda: replay_done(srv), seconds=90
        )
        assert sum(proxy.faults_applied.values()) == 200
    assert connections > 200
    logged = logged_ids(srv, email)
    assert len(logged) == 300 * 5
    verdict = check_history(logged, ids)
    assert verdict.ok, str(verdict)


def test_a_black_holed_connection_is_left_and_resumed(
    make_server: Callable[..., Running], tmp_path: Path
) -> None:
    """A connection that goes silent mid-stream (no FIN, no RST) and a slow one: the client's
    read timeout ends the silent one, it resumes, and nothing is lost or doubled."""
    email = "hole@example.com"
    tokens = prepare(make_server, tmp_path, email, [every_bar()] * 5)
    srv = replay_server(
        make_server,
        write_replay(tmp_path / "EURUSD_H1.csv", 60),
        speed=20,
        stream_heartbeat_seconds=0.3,
    )
    plan = [Fault(blackhole_at=1500), Fault(delay=0.05, cut_at=5000), Fault(blackhole_at=200)]
    with FaultProxy(srv.settings.port, plan) as proxy:
        ids, connections = resuming_reader(
            proxy.url,
            tokens["access_token"],
            lambda: replay_done(srv),
            seconds=60,
            read_timeout=1.0,
        )
        assert proxy.faults_applied["blackhole"] == 2
    assert connections >= 4
    verdict = check_history(logged_ids(srv, email), ids)
    assert verdict.expected == 300 and verdict.ok, str(verdict)


def test_alerts_that_exist_at_start_see_the_first_tick(
    make_server: Callable[..., Running], tmp_path: Path
) -> None:
    """At REPLAY_SPEED=0 the whole replay runs at once: alerts loaded after the feed started
    used to fire nothing. Every alert fires on the first streamed tick, at its time."""
    email = "first@example.com"
    below = {**every_bar(), "condition": "less_than", "level": 9.0}
    prepare(make_server, tmp_path, email, [once(), every_bar(), below])
    srv = replay_server(make_server, write_replay(tmp_path / "EURUSD_H1.csv", 10))
    wait_replay_done(srv)
    c = srv.client(
        httpx.post(
            f"{srv.url}/api/auth/login",
            json={"email": email, "password": "correct horse battery"},
        ).json()["access_token"]
    )
    items: list[dict[str, Any]] = c.get("/api/alerts/history", params={"per_page": 100}).json()[
        "items"
    ]
    first_tick = 1_767_225_600 + 40 * 3600  # the first streamed bar's open
    by_alert: dict[int, list[int]] = {}
    for it in sorted(items, key=lambda x: x["id"]):
        # the API's times are UTC (ISO 8601 with its offset): no local time zone comes in
        at = datetime.fromisoformat(it["time"].replace("Z", "+00:00"))
        assert at.utcoffset() == timedelta(0), it["time"]  # UTC, and saying so
        t = int(at.timestamp())
        by_alert.setdefault(it["alert_id"], []).append(t)
    assert len(by_alert) == 3
    assert sum(len(v) for v in by_alert.values()) == 1 + 10 + 10
    for times in by_alert.values():
        assert times[0] == first_tick
