"""A real server on the MT5 stand-in whose quotes move only when the test says so, and whose
clock the test moves: a stalled feed and a closed market without sleeping (issue #29)."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    deadline_after,
    free_port,
    server_settings,
    start_server,
)

from tradealerts.server.feeds import FeedOptions, create_feed

STANDIN = Path(__file__).parent.parent / "mt5_standin"
#: a Wednesday in northern winter: every market is open (forex, gold, US30, crypto)
WEDNESDAY = datetime(2026, 12, 9, 12, 0, tzinfo=UTC)


@contextmanager
def standin_module() -> Iterator[Any]:
    """The stand-in MetaTrader5 module, loaded directly (the server runs in this process)."""
    sys.path.insert(0, str(STANDIN))
    try:
        yield importlib.import_module("MetaTrader5")
    finally:
        sys.path.remove(str(STANDIN))
        sys.modules.pop("MetaTrader5", None)


@contextmanager
def feed_server(
    home: Path, symbols: tuple[str, ...] = ("EURUSD", "BTCUSD"), **overrides: Any
) -> Iterator[tuple[Running, Any]]:
    """(a running server on SQLite whose clock reads ``WEDNESDAY``, the stand-in module):
    the feed ticks when the test calls ``mt5._advance``, nothing else moves it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    with standin_module() as mt5:
        levels = {"EURUSD": 1.08, "BTCUSD": 60_000.0, "XAUUSD": 2000.0, "USDJPY": 150.0}
        mt5._configure(
            symbols={s: levels[s] for s in symbols},
            server_utc_offset_hours=2,
            start=WEDNESDAY.timestamp(),
        )
        opts = FeedOptions(
            symbols=symbols,
            mt5_utc_offset=2,
            mt5_poll_interval=0.01,
            history_bars=50,
            clock=lambda: mt5._state["now"],
        )
        values: dict[str, Any] = {
            "history_bars": 50,
            "feed_delayed_seconds": 30.0,
            "feed_check_seconds": 0.05,
            "stream_heartbeat_seconds": 0.5,
        }
        values.update(overrides)
        settings = server_settings(home, f"sqlite:///{home / 'server.db'}", smtp_port, **values)
        clock = Clock()
        clock.now = WEDNESDAY
        srv = start_server(settings, clock, inbox, feed=create_feed("mt5", opts))
        try:
            yield srv, mt5
        finally:
            srv.stop()
            controller.stop()


def feed_states(srv: Running, token: str) -> dict[str, dict[str, Any]]:
    """``GET /api/feed`` by symbol."""
    r = srv.client(token).get("/api/feed")
    assert r.status_code == 200, r.text
    return {item["symbol"]: item for item in r.json()["symbols"]}


def tick_until_seen(srv: Running, mt5: Any, token: str, symbol: str = "EURUSD") -> None:
    """Move the stand-in's quotes until the server has taken a tick of ``symbol`` at the
    server clock's current time."""
    want = srv.clock().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    deadline = deadline_after(10)
    while time.monotonic() < deadline:
        mt5._advance(1.0)
        got = feed_states(srv, token).get(symbol, {})
        if got.get("state") == "live" and got.get("last_data") == want:
            return
        time.sleep(0.02)  # the feed polls the terminal every 10 ms
    raise AssertionError(f"no tick of {symbol} reached the server: {feed_states(srv, token)}")
