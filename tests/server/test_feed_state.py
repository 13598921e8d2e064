"""The ``feed`` stream event and ``GET /api/feed`` over real HTTP (issue #29): a stalled feed
is ``delayed`` and comes back ``live``; a weekend closes EURUSD while BTCUSD, which never
closes, is ``delayed``; health counts the closed market as closed, not stale."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.server.feedkit import feed_server, feed_states, tick_until_seen
from tests.server.serverkit import SSE, deadline_after, register_and_login

BIN = Path(sys.executable).parent


def feed_events(sse: SSE, count: int) -> dict[str, dict]:
    got: dict[str, dict] = {}
    while len(got) < count:
        f = sse.until("feed", limit=60)  # heartbeats every 0.5 s: ~30 s at most
        assert "id" not in f  # live only: never in the event log
        got[f["data"]["symbol"]] = f["data"]
    return got


def test_feed_events_stalled_back_and_closed(tmp_path: Path) -> None:
    # tokens outlive the moved clock (a weekend), so one stream sees it all
    with feed_server(tmp_path, access_token_minutes=7 * 24 * 60) as (srv, mt5):
        token = register_and_login(srv, "feed@example.com")["access_token"]
        tick_until_seen(srv, mt5, token, "EURUSD")
        last = srv.clock()
        with srv.client(token).stream("GET", "/api/stream", timeout=10) as r:
            sse = SSE(r)
            assert sse.frame() == {"retry": "3000"}
            # the feed stalls (the stand-in's quotes stop): past feed_delayed_seconds, both
            # symbols are delayed since their last data
            srv.clock.advance(seconds=45)
            got = feed_events(sse, 2)
            assert got["EURUSD"]["state"] == "delayed"
            assert got["BTCUSD"]["state"] == "delayed"
            assert got["EURUSD"]["since"] == last.isoformat().replace("+00:00", "Z")
            assert got["EURUSD"]["next_change"] == "2026-12-11T22:00:00Z"  # Friday's close
            # the quotes move again: live at once
            mt5._advance(5.0)
            got = feed_events(sse, 2)
            assert {s: d["state"] for s, d in got.items()} == {"EURUSD": "live", "BTCUSD": "live"}
            # Saturday, no quote since Wednesday: EURUSD's market is closed (not an outage),
            # BTCUSD trades every day: its silence is a delay
            srv.clock.advance(days=3)
            got = feed_events(sse, 2)
            assert got["EURUSD"]["state"] == "closed"
            assert got["EURUSD"]["since"] == "2026-12-11T22:00:00Z"
            assert got["EURUSD"]["next_change"] == "2026-12-13T22:00:00Z"
            assert got["BTCUSD"]["state"] == "delayed"
        # a client that connects late reads the same
        states = feed_states(srv, token)
        assert states["EURUSD"]["state"] == "closed"
        assert states["EURUSD"]["schedule"] == "Sun 17:00 - Fri 17:00 America/New_York"
        assert states["BTCUSD"]["state"] == "delayed" and states["BTCUSD"]["schedule"] == "24/7"
        # health: once the engine's own staleness limit passes (real seconds since the last
        # tick), the closed market is "closed", the silent crypto "stale"
        deadline = deadline_after(10)
        while True:
            symbols = srv.client().get("/api/system/health").json()["feed"]["symbols"]
            if symbols["BTCUSD"]["status"] != "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert symbols["EURUSD"]["status"] == "closed"
        assert symbols["BTCUSD"]["status"] == "stale"
        said = subprocess.run(
            [str(BIN / "tradealerts-server"), "status", "--server", srv.url],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "0/2 symbols fresh · market closed: EURUSD · stale: BTCUSD" in said.stdout, said
        # Sunday, 10 s after the open: no price yet, which is no delay yet
        srv.clock.now = datetime(2026, 12, 13, 22, 0, 10, tzinfo=UTC)
        assert feed_states(srv, token)["EURUSD"]["state"] == "closed"
        # past feed_delayed_seconds without a price: delayed since the open
        srv.clock.advance(seconds=30)
        states = feed_states(srv, token)
        assert states["EURUSD"]["state"] == "delayed"
        assert states["EURUSD"]["since"] == "2026-12-13T22:00:00Z"


def test_feed_needs_a_login(tmp_path: Path) -> None:
    with feed_server(tmp_path, symbols=("EURUSD",)) as (srv, _mt5):
        assert srv.client().get("/api/feed").status_code == 401
