"""``tradealerts status``: the server's feed state per watched symbol (issue #29), against a
real server on the MT5 stand-in whose feed stalls and whose clock moves to a weekend."""

from __future__ import annotations

import os
from pathlib import Path

from tests.cli.conftest import Cli, make_home
from tests.server.feedkit import feed_server, feed_states, tick_until_seen
from tests.server.serverkit import deadline_after, register_and_login


def wait_state(srv, token: str, symbol: str, state: str) -> None:
    import time

    deadline = deadline_after(10)
    while feed_states(srv, token)[symbol]["state"] != state:
        assert time.monotonic() < deadline, feed_states(srv, token)
        time.sleep(0.05)


def test_status_shows_each_watched_symbol(tmp_path: Path) -> None:
    with feed_server(
        tmp_path / "srv", symbols=("EURUSD", "BTCUSD", "USDJPY"), access_token_minutes=10_080
    ) as (srv, mt5):
        make_home(tmp_path / "me")
        me = Cli(srv, tmp_path / "me", f"status-{os.getpid()}@example.com")
        me.tokens = register_and_login(srv, me.email, me.password)
        token = me.tokens["access_token"]
        me.login()
        c = srv.client(token)
        assert c.patch("/api/user/preferences", json={"timezone": "Asia/Tokyo"}).is_success
        for pair in ("EURUSD", "BTCUSD"):  # USDJPY is not watched
            assert c.post("/api/watchlist", json={"symbol": pair, "timeframe": "H1"}).is_success
        tick_until_seen(srv, mt5, token)
        out = me.ok("status")
        assert "EURUSD" in out and "BTCUSD" in out and "USDJPY" not in out
        assert out.count("live") == 2 and "Asia/Tokyo" in out
        # Saturday 12:00 UTC, nothing since Wednesday: EURUSD closed until Sunday 22:00 UTC
        # (Monday 07:00 in Tokyo); BTCUSD, open every day, delayed since its last price
        # (Wednesday 12:00 UTC and a few stand-in seconds: 21:00 in Tokyo)
        srv.clock.advance(days=3)
        wait_state(srv, token, "EURUSD", "closed")
        out = me.ok("status")
        assert "market closed (opens Mon 07:00)" in out, out
        assert "data delayed since Wed 21:00" in out, out
        assert "Sun 17:00 - Fri 17:00 America/New_York" in out and "24/7" in out
        every = me.json("status", "--all")
        assert {s["symbol"]: s["state"] for s in every} == {
            "BTCUSD": "delayed", "EURUSD": "closed", "USDJPY": "closed",
        }  # fmt: skip
