"""Scaled out (issue #29): a notice announced by ``admin announce`` (its own process, on the
shared PostgreSQL database) reaches the streams of every API process, and a stopped API
process sends the window's ``retry:``. PostgreSQL and Redis (``TRADEALERTS_TEST_*``)."""

from __future__ import annotations

import json
import signal

from tests.server.scalekit import (
    NEEDS_PG_AND_REDIS,
    Cluster,
    Stream,
    login,
    wait_log,
    wait_up,
)

pytestmark = NEEDS_PG_AND_REDIS

EMAIL = "notice@example.com"


def _notices(s: Stream) -> list[dict[str, object]]:
    return [f["data"] for f in s.frames if f.get("event") == "notice"]


def test_a_notice_reaches_every_api_process(cluster: Cluster) -> None:
    cluster.extra.update(TRADEALERTS_NOTICE_POLL_SECONDS="0.2")
    cluster.user(EMAIL)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    wait_up(api1)
    wait_up(api2)
    streams = [Stream(api.url or "", login(api.url or "", EMAIL)) for api in (api1, api2)]
    for s in streams:
        s.wait(lambda s: s.frames, what="retry frame")
    r = cluster.run("admin", "announce", "Failing over the database", "--duration", "20m", "--json")
    assert r.returncode == 0, r.stderr
    notice = json.loads(r.stdout)
    for s in streams:
        s.wait(lambda s: _notices(s), timeout=30, what="the notice")
        assert [n["id"] for n in _notices(s)] == [notice["id"]]
    api1.signal(signal.SIGTERM)  # one API process stops inside the window
    streams[0].wait(lambda s: any(f.get("event") == "reconnect" for f in s.frames), 30, "reconnect")
    frame = next(f for f in streams[0].frames if f.get("event") == "reconnect")
    assert 19 * 60_000 < int(frame["retry"]) <= 20 * 60_000
    assert frame["data"]["notice"] == notice["id"]
    for s in streams:
        s.close()
