"""Maintenance notices (issue #29): ``admin announce`` as its own process on the server's
database reaches open and later streams, every notification centre, ``GET /api/notices`` and
the ``X-TradeAlerts-Notice`` header; ``--cancel`` withdraws it; a shutdown inside the window
sends ``retry:`` from the notice. SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.server.noticekit import announce
from tests.server.serverkit import SSE, Running, register_and_login, wait_until

from tradealerts.server.notices import HEADER, NoticeError, parse_at, parse_duration


def _poll_fast(make_server: Callable[..., Running]) -> Running:
    return make_server(notice_poll_seconds=0.2, stream_heartbeat_seconds=60)


def _owner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """``admin announce ARGS`` in this process (Typer's runner), on ``db_url``."""
    from typer.testing import CliRunner

    from tradealerts.server.cli import app

    monkeypatch.setenv("TRADEALERTS_HOME", str(tmp_path / "owner"))
    monkeypatch.setenv("TRADEALERTS_DATABASE_URL", db_url)
    return CliRunner().invoke(app, ["admin", "announce", *args])


def test_announce_reaches_streams_centres_header_and_cancel(
    make_server: Callable[..., Running],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv = _poll_fast(make_server)
    a = srv.client(register_and_login(srv, "a@example.com")["access_token"])
    b = srv.client(register_and_login(srv, "b@example.com")["access_token"])
    assert HEADER not in a.get("/api/user").headers  # no notice: no header
    with a.stream("GET", "/api/stream") as sa:
        sse_a = SSE(sa)
        assert sse_a.frame() == {"retry": "3000"}
        n = announce(db_url, tmp_path / "owner", "Broker maintenance tonight", "--duration", "45m")
        live = sse_a.until("notice")["data"]  # picked up from the database by the server
        assert live["id"] == n["id"] and live["message"] == "Broker maintenance tonight"
        assert live["duration"] == 45 * 60 and live["cancelled"] is False
        assert live["at"] is not None and live["until"] is not None
        # every user's notification centre holds it, B's too (no stream open)
        page = b.get("/api/notifications").json()
        first = page["items"][0]  # unread, newest first
        assert (first["kind"], first["body"]) == (
            "maintenance",
            "Broker maintenance tonight",
        )
        assert page["items"][0]["title"].startswith("Maintenance ")
        # a stream opened later learns of it right after retry:
        with b.stream("GET", "/api/stream") as sb:
            sse_b = SSE(sb)
            assert sse_b.frame() == {"retry": "3000"}
            late = sse_b.frame()
            assert late["event"] == "notice" and late["data"]["id"] == n["id"]
        r = b.get("/api/notices")
        assert r.headers[HEADER] == str(n["id"])
        assert [x["id"] for x in r.json()["notices"]] == [n["id"]]
        # withdrawn (in-process this time: the subprocess path is proven above)
        r2 = _owner(db_url, tmp_path, monkeypatch, "--cancel", str(n["id"]))
        assert r2.exit_code == 0, r2.output
        gone = sse_a.until("notice")["data"]
        assert gone["id"] == n["id"] and gone["cancelled"] is True
    wait_until(lambda: HEADER not in a.get("/api/user").headers, 10, "the header to go")
    assert a.get("/api/notices").json() == {"notices": []}
    listed = _owner(db_url, tmp_path, monkeypatch, "--list", "--json")
    assert [(x["id"], x["cancelled"]) for x in json.loads(listed.output)] == [(n["id"], True)]


def test_shutdown_inside_the_window_sends_its_retry(
    make_server: Callable[..., Running],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv = _poll_fast(make_server)
    c = srv.client(register_and_login(srv, "s@example.com")["access_token"])
    owner = tmp_path / "owner"
    later_at = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    r = _owner(
        db_url, tmp_path, monkeypatch, "Later", "--at", later_at, "--duration", "2h", "--json"
    )
    later = json.loads(r.output)
    now = announce(db_url, owner, "Moving the server", "--duration", "20m")
    with c.stream("GET", "/api/stream") as s:
        sse = SSE(s)
        sse.frame()
        seen = {sse.until("notice")["data"]["id"], sse.until("notice")["data"]["id"]}
        assert seen == {later["id"], now["id"]}
        srv._server.should_exit = True  # the owner stops the server inside the 20-min window
        f = sse.until("reconnect", limit=50)
    retry = int(f["retry"])
    # the time left in the window that holds now (not the later one's 2 h)
    assert 19 * 60_000 < retry < 21 * 60_000  # the test server's clock stands still
    assert f["data"]["retry_ms"] == retry and f["data"]["notice"] == now["id"]
    assert f["data"]["until"] == now["until"] and "maintenance" in f["data"]["message"]


def test_shutdown_outside_any_window_keeps_the_usual_delay(
    make_server: Callable[..., Running], db_url: str, tmp_path: Path
) -> None:
    srv = _poll_fast(make_server)
    c = srv.client(register_and_login(srv, "s@example.com")["access_token"])
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    announce(db_url, tmp_path / "owner", "Later work", "--at", at, "--duration", "1h")
    with c.stream("GET", "/api/stream") as s:
        sse = SSE(s)
        sse.frame()
        sse.until("notice")
        srv._server.should_exit = True
        f = sse.until("reconnect", limit=50)
    assert "retry" not in f and "retry_ms" not in f["data"]


def test_announce_refuses_bad_input_with_one_line(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for args, says in [
        (("Work", "--at", "25:00", "--duration", "1h"), "--at: '25:00' is not a time"),
        (("Work", "--at", "22:00"), "--at needs --duration"),
        (("Work", "--duration", "soon"), "--duration: 'soon' is not a duration"),
        (("   ",), "message: say what the notice is about"),
        ((), "give a MESSAGE, or --list, or --cancel ID"),
        (("--cancel", "999"), "--cancel: no notice 999"),
    ]:
        r = _owner(db_url, tmp_path, monkeypatch, *args)
        assert r.exit_code == 2, (args, r.output)
        assert says in r.output, (args, r.output)


def test_times_and_durations() -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 21:30 in Berlin
    assert parse_at("22:00", now, zone) == datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    assert parse_at("21:00", now, zone) == datetime(2026, 12, 8, 20, 0, tzinfo=UTC)  # passed
    assert parse_at("2026-12-08T06:00", now, zone) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    assert parse_at("2026-12-08T06:00Z", now, zone) == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("30m") == timedelta(minutes=30) and parse_duration("2h").seconds == 7200
    for bad in ("", "0m", "8d", "2 hours"):
        with pytest.raises(NoticeError):
            parse_duration(bad)
