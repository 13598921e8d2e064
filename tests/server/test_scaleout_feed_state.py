"""Issue #29 scaled out: the ``feed`` event reaches the streams of every API process (each
derives the state from the market its mirror receives over the bus), and each answers
``GET /api/feed``: the leading engine stops, every stream hears BTCUSD is delayed; a new
engine leads, every stream hears it is live. BTCUSD trades every day, so its silence is a
delay whatever day the test runs."""

from __future__ import annotations

from typing import Any

import httpx
from tests.server.scalekit import (
    NEEDS_PG_AND_REDIS,
    Cluster,
    Stream,
    login,
    wait_log,
    wait_up,
)

pytestmark = NEEDS_PG_AND_REDIS

EMAIL = "feed-scale@example.com"


def states(s: Stream, symbol: str = "BTCUSD") -> list[str]:
    return [
        f["data"]["state"]
        for f in s.frames
        if f.get("event") == "feed" and f["data"]["symbol"] == symbol
    ]


def test_feed_events_reach_every_api_process(cluster: Cluster) -> None:
    cluster.extra.update(
        TRADEALERTS_FEED_DELAYED_SECONDS="3",
        TRADEALERTS_FEED_CHECK_SECONDS="0.2",
        TRADEALERTS_STREAM_HEARTBEAT_SECONDS="1",
    )
    cluster.user(EMAIL)
    engine = cluster.engine()
    wait_log(engine, "engine leading")
    api1, api2 = cluster.api("api1"), cluster.api("api2")
    wait_up(api1)
    wait_up(api2)
    token = login(api1.url or "", EMAIL)
    streams = [Stream(api.url or "", token) for api in (api1, api2)]
    for s in streams:
        s.wait(lambda s: s.frames, what="retry frame")
    engine.stop()  # no leader: no market frames on the bus
    for s in streams:
        s.wait(lambda s: "delayed" in states(s), timeout=30, what="BTCUSD delayed")
    for api in (api1, api2):
        r = httpx.get(f"{api.url}/api/feed", headers={"Authorization": f"Bearer {token}"})
        got: dict[str, Any] = {i["symbol"]: i for i in r.json()["symbols"]}
        assert got["BTCUSD"]["state"] == "delayed", got["BTCUSD"]
    cluster.engine("engine2")
    for s in streams:
        s.wait(lambda s: states(s)[-1:] == ["live"], timeout=60, what="BTCUSD live again")
        assert states(s)[-2:] == ["delayed", "live"]
        s.close()
