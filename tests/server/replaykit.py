"""Alerts that fire through the real path: a replay file, alerts created through the API
before the replay server starts, the engine's matcher writing the event log.

The numbers are known from the data: a ``greater_than`` alert below every price with
``once_per_bar`` fires once on each streamed bar (on its first tick), and a ``once`` alert
fires once, so a user with A such alerts and a replay of B bars has exactly A × B + once
events in the log.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.server.serverkit import Running, register_and_login, set_tier, wait_until

HISTORY = 40
START = 1_767_225_600  # 2026-01-01 00:00 UTC
H1 = 3600


def write_replay(path: Path, streamed: int, history: int = HISTORY) -> Path:
    """An H1 wave around 1.0900 with ``history`` + ``streamed`` bars (the file's name gives
    the symbol: ``EURUSD_H1.csv``)."""
    rows = []
    close = 1.0890
    for i in range(history + streamed):
        o = close
        c = round(1.0900 + 0.0030 * math.sin(i / 3.0), 5)
        h = round(max(o, c) + 0.0004 + 0.0001 * (i % 3), 5)
        lo = round(min(o, c) - 0.0003 - 0.0001 * (i % 4), 5)
        rows.append(f"{START + i * H1},{o},{h},{lo},{c},100\n")
        close = c
    path.write_text("time,open,high,low,close,volume\n" + "".join(rows))
    return path


def every_bar(level: float = 0.5) -> dict[str, Any]:
    """An alert that fires once on every streamed bar."""
    return {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "condition": "greater_than",
        "level": level,
        "frequency": "once_per_bar",
    }


def once(level: float = 0.5) -> dict[str, Any]:
    """An alert that fires on the first streamed tick, and never again."""
    return {**every_bar(level), "frequency": "once"}


def prepare(
    make_server: Callable[..., Running], folder: Path, email: str, alerts: list[dict[str, Any]]
) -> dict[str, Any]:
    """A PRO user and their EURUSD alerts, made through the API of a server whose feed has
    no EURUSD (a USDJPY replay: nothing fires them there); returns the token pair. The
    EURUSD replay server started next on the same database loads them before its first tick."""
    other = write_replay(folder / "USDJPY_H1.csv", 2)
    srv = make_server(feed=f"replay:{other}", replay_speed=0, history_bars=HISTORY)
    tokens = register_and_login(srv, email)
    set_tier(srv, email, "PRO")
    with srv.client(tokens["access_token"]) as c:
        for body in alerts:
            r = c.post("/api/alerts", json=body)
            assert r.status_code == 201, r.text
    srv.stop()
    return tokens


def replay_server(
    make_server: Callable[..., Running], csv: Path, speed: float = 0, **overrides: Any
) -> Running:
    return make_server(feed=f"replay:{csv}", replay_speed=speed, history_bars=HISTORY, **overrides)


def logged_ids(srv: Running, email: str) -> list[int]:
    """The user's event ids as the log holds them (what the stream must deliver)."""
    from sqlalchemy import select

    from tradealerts.server import accounts
    from tradealerts.server.db.models import Event

    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        return list(s.scalars(select(Event.id).where(Event.user_id == user.id).order_by(Event.id)))


def replay_done(srv: Running) -> bool:
    """The replay has ended and every fire it matched is committed (health says both)."""
    body = httpx.get(f"{srv.url}/api/system/health", timeout=5).json()
    return bool(
        body.get("engine", {}).get("status") == "finished"
        and body.get("alerts", {}).get("waiting") == 0
    )


def wait_replay_done(srv: Running, timeout: float = 60) -> None:
    """Until the replay has ended and its last fires are committed."""
    wait_until(lambda: replay_done(srv), timeout=timeout, what="the replay to finish")
