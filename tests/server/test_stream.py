"""GET /api/stream over real HTTP: resume exactly once and in order, live prices, refusals,
heartbeats, gap, reauth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.server.serverkit import SSE, Running, fire_event, register_and_login, set_tier


def open_stream(srv: Running, token: str, **headers: str):
    params = headers.pop("params", None)
    c = srv.client(token)
    return c.stream("GET", "/api/stream", headers=headers, params=params, timeout=10)


def test_resume_gets_exactly_the_missed_events_in_order(make_server) -> None:
    srv = make_server(stream_heartbeat_seconds=0.2)
    a = register_and_login(srv, "a@example.com")["access_token"]
    register_and_login(srv, "b@example.com")
    first = fire_event(srv, "a@example.com", price=1.0901)
    # A is offline while three more fire (and one for B)
    missed = [fire_event(srv, "a@example.com", price=p) for p in (1.0902, 1.0903, 1.0904)]
    fire_event(srv, "b@example.com")
    with open_stream(srv, a, **{"Last-Event-ID": str(first)}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        sse = SSE(r)
        assert sse.frame() == {"retry": "3000"}
        got = [sse.until("alert") for _ in missed]
        assert [int(f["id"]) for f in got] == missed
        assert [f["data"]["price"] for f in got] == [1.0902, 1.0903, 1.0904]
        assert got[0]["data"]["message"] == "EURUSD crossed up 1.09"
        # a live one arrives on the open stream, once
        live = fire_event(srv, "a@example.com", price=1.0905)
        f = sse.until("alert")
        assert int(f["id"]) == live
        assert sse.frame() == {"comment": "heartbeat"}  # nothing else, no duplicate


def test_live_prices_for_the_pairs_asked(make_server) -> None:
    srv = make_server(stream_heartbeat_seconds=1)
    token = register_and_login(srv, "p@example.com")["access_token"]
    with open_stream(srv, token, params={"symbols": "eurusd:h1"}) as r:
        sse = SSE(r)
        f = sse.until("price")
        assert f["data"]["symbol"] == "EURUSD" and f["data"]["ask"] > f["data"]["bid"]
        # only the symbol asked for: the next three prices (the feed ticks every symbol)
        prices = [sse.until("price")["data"]["symbol"] for _ in range(3)]
        assert prices == ["EURUSD"] * 3


def test_forbidden_or_bad_pairs_refused_up_front(server: Running) -> None:
    token = register_and_login(server, "f@example.com")["access_token"]
    c = server.client(token)
    wrong = []  # every pair is tried (one server and user); each wrong one is named
    for symbols, status, code in [
        ("GBPUSD:H1", 403, "tier_forbidden"),
        ("EURUSD:M5", 403, "tier_forbidden"),
        ("EURUSD", 422, "invalid_input"),
        ("DOGE:H1", 404, "unknown_symbol"),
    ]:
        r = c.get("/api/stream", params={"symbols": symbols})
        if r.status_code != status or r.json()["error"]["code"] != code:
            wrong.append((symbols, r.status_code, r.text))
    assert not wrong, wrong


def test_no_token_no_stream(server: Running) -> None:
    r = server.client().get("/api/stream")
    assert r.status_code == 401


def test_reauth_when_the_token_expires(make_server) -> None:
    srv = make_server(stream_heartbeat_seconds=0.1)
    token = register_and_login(srv, "x@example.com")["access_token"]
    with open_stream(srv, token) as r:
        sse = SSE(r)
        assert sse.frame() == {"retry": "3000"}
        srv.clock.advance(minutes=16)
        f = sse.until("reauth")
        assert "expired" in f["data"]["message"]
        with pytest.raises(EOFError):
            sse.frame()


def test_tier_change_is_pushed(make_server) -> None:
    srv = make_server(stream_heartbeat_seconds=0.1)
    token = register_and_login(srv, "t@example.com")["access_token"]
    with open_stream(srv, token) as r:
        sse = SSE(r)
        sse.frame()
        set_tier(srv, "t@example.com", "PRO")  # as from another process: no bus call
        assert sse.until("tier")["data"] == {"tier": "PRO"}


def test_gap_when_the_id_is_older_than_retention(make_server) -> None:
    srv = make_server(stream_heartbeat_seconds=0.2)
    token = register_and_login(srv, "g@example.com")["access_token"]
    seen, *purged = [fire_event(srv, "g@example.com") for _ in range(3)]
    from tradealerts.server.events import purge

    with srv.app.state.sessions() as s:
        assert purge(s, srv.clock() + timedelta(days=91), 90) == 3
        s.commit()
    after = fire_event(srv, "g@example.com")
    # the client saw `seen`; the two after it are gone: it is told, then gets what is left
    with open_stream(srv, token, **{"Last-Event-ID": str(seen)}) as r:
        sse = SSE(r)
        sse.frame()
        gap = sse.frame()
        assert gap["event"] == "gap" and gap["data"]["after"] == seen
        assert int(sse.until("alert")["id"]) == after
    # a client that is up to date gets no gap
    with open_stream(srv, token, **{"Last-Event-ID": str(after)}) as r:
        sse = SSE(r)
        sse.frame()
        assert sse.frame() == {"comment": "heartbeat"}
    assert purged


def test_bad_last_event_id(server: Running) -> None:
    token = register_and_login(server, "l@example.com")["access_token"]
    r = server.client(token).get("/api/stream", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "Last-Event-ID"


def test_many_open_streams_leave_the_server_responsive(make_server) -> None:
    """Each stream used to hold a pooled database connection for its whole life: 15 open
    streams exhausted the pool and every other request waited."""
    srv = make_server(stream_heartbeat_seconds=5)
    token = register_and_login(srv, "many@example.com")["access_token"]
    c = srv.client(token)
    streams = [open_stream(srv, token) for _ in range(30)]
    opened = [s.__enter__() for s in streams]
    try:
        assert all(r.status_code == 200 for r in opened)
        r = c.get("/api/symbols", timeout=5)
        assert r.status_code == 200
        event_id = fire_event(srv, "many@example.com")
        for r in opened[:3]:
            assert int(SSE(r).until("alert")["id"]) == event_id
    finally:
        for s in streams:
            s.__exit__(None, None, None)


def test_without_last_event_id_the_stream_starts_live(make_server) -> None:
    srv = make_server(stream_heartbeat_seconds=0.3)
    token = register_and_login(srv, "live@example.com")["access_token"]
    before = fire_event(srv, "live@example.com")
    with open_stream(srv, token) as r:
        sse = SSE(r)
        sse.frame()  # retry advice
        assert sse.frame() == {"comment": "heartbeat"}  # the old event is not replayed
        now = fire_event(srv, "live@example.com")
        assert int(sse.until("alert")["id"]) == now
    with open_stream(srv, token, **{"Last-Event-ID": "0"}) as r:
        sse = SSE(r)
        assert [int(sse.until("alert")["id"]) for _ in range(2)] == [before, now]


def test_a_stream_ends_when_its_session_does(make_server) -> None:
    """Logout ends an open stream within a heartbeat (its token would stream until expiry)."""
    srv = make_server(stream_heartbeat_seconds=0.2)
    tokens = register_and_login(srv, "out@example.com")
    with open_stream(srv, tokens["access_token"]) as r:
        sse = SSE(r)
        assert sse.frame() == {"retry": "3000"}
        assert sse.frame() == {"comment": "heartbeat"}
        out = srv.client().post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert out.status_code == 204
        f = sse.until("reauth", limit=20)
        assert "session ended" in f["data"]["message"]
        with pytest.raises(EOFError):
            sse.frame()


def test_alert_changes_reach_the_stream_live(make_server) -> None:
    """Issue #24 item 5: every change to the user's alerts, wherever it is made (a create,
    a delete, an alerts file, a tier change's pauses), is an ``alerts_changed`` event on
    their open streams with the ids, live only (no ``id:``, never in the event log)."""
    srv = make_server(stream_heartbeat_seconds=0.2)
    token = register_and_login(srv, "ch@example.com")["access_token"]
    set_tier(srv, "ch@example.com", "PRO")
    api = srv.client(token)
    spec = {"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up", "level": 9.0}
    with open_stream(srv, token) as r:
        sse = SSE(r)
        sse.frame()
        created = api.post("/api/alerts", json=spec)
        assert created.status_code == 201, created.text
        alert_id = created.json()["id"]
        f = sse.until("alerts_changed")
        assert f["data"] == {"ids": [alert_id]} and "id" not in f
        assert api.delete(f"/api/alerts/{alert_id}").status_code == 204
        assert sse.until("alerts_changed")["data"] == {"ids": [alert_id]}
        file = [{**spec, "name": "one"}, {**spec, "name": "m5", "timeframe": "M5"}]
        plan = api.post("/api/alerts/apply", json={"alerts": file})
        assert plan.status_code == 200, plan.text
        ids = sorted(item["id"] for item in plan.json()["items"])
        assert sorted(sse.until("alerts_changed")["data"]["ids"]) == ids  # one event a commit
        set_tier(srv, "ch@example.com", "FREE")  # M5 is PRO's: that alert is paused
        m5 = next(i["id"] for i in plan.json()["items"] if i["name"] == "m5")
        assert sse.until("alerts_changed")["data"] == {"ids": [m5]}
        # a dry run changes nothing: no event (the next one is this pause's)
        dry = api.post("/api/alerts/apply", json={"alerts": file[:1], "dry_run": True,
                                                  "prune": True})  # fmt: skip
        assert dry.status_code == 200, dry.text
        assert api.post(f"/api/alerts/{ids[0]}/pause").status_code == 200
        assert sse.until("alerts_changed")["data"] == {"ids": [ids[0]]}
