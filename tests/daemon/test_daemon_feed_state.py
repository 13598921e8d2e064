"""Issue #29 in the daemon, on a real desktop stack (a D-Bus session bus, dunst): the data of
a watched symbol delayed past ``--feed-down-after`` raises one notification, its return one
more; an unwatched symbol's delay and a closed market raise none. A real server on the MT5
stand-in (quotes move only when the test says) whose clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.daemon.daemonkit import (
    SENTINEL,
    DaemonProc,
    Desktop,
    fire,
    start_desktop,
    store_login,
)
from tests.server.feedkit import feed_server, feed_states, tick_until_seen
from tests.server.serverkit import register_and_login, wait_until


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[Desktop]:
    d = start_desktop(tmp_path / "desktop")
    yield d
    d.stop()


def test_one_notice_when_a_watched_feed_is_down_and_one_when_back(
    tmp_path: Path, desktop: Desktop, daemons: list[DaemonProc]
) -> None:
    with feed_server(tmp_path / "srv", access_token_minutes=10_080) as (srv, mt5):
        email = "daemon-feed@example.com"
        tokens = register_and_login(srv, email)
        c = srv.client(tokens["access_token"])
        # EURUSD is watched, BTCUSD is not
        assert c.post("/api/watchlist", json={"symbol": "EURUSD", "timeframe": "H1"}).is_success
        d = DaemonProc(tmp_path / "me", srv.url, dict(desktop.env))
        store_login(d.home, srv.url, tokens, email)
        daemons.append(d)
        tick_until_seen(srv, mt5, tokens["access_token"])
        d.start("--notifier", "auto", "--feed-down-after", "0.5")
        d.wait_connected()

        def summaries() -> list[str]:
            return [n["summary"] for n in desktop.history()]

        srv.clock.advance(seconds=45)  # the feed stalls: EURUSD and BTCUSD delayed
        wait_until(lambda: len(summaries()) >= 1, 20, "the delay's notification")
        mt5._advance(5.0)  # prices again
        wait_until(lambda: len(summaries()) >= 2, 20, "the return's notification")
        # a weekend: EURUSD's market closes (no notification), then an alert as a sentinel
        srv.clock.advance(days=3)
        wait_until(
            lambda: feed_states(srv, tokens["access_token"])["EURUSD"]["state"] == "closed",
            10,
            "closed",
        )
        fire(srv, email, message=SENTINEL)
        wait_until(lambda: len(summaries()) >= 3, 20, "the sentinel's notification")
        shown = desktop.history()
        assert [n["summary"] for n in shown][:2] == [
            shown[0]["summary"],
            "tradealerts: EURUSD data is back",
        ]
        assert shown[0]["summary"].startswith("tradealerts: EURUSD data delayed since ")
        assert "no price of EURUSD" in shown[0]["body"]
        assert [n["body"] for n in shown][2] == SENTINEL  # nothing for BTCUSD, nor the close
        assert len(shown) == 3
