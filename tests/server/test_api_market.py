"""Market data over real HTTP: tier gating of every pair, the indicator payload, ETags,
the hourly quota and the watchlist."""

from __future__ import annotations

import re

import numpy as np
from tests.server.serverkit import DATA, Running, register_and_login, set_tier

from tradealerts.core.indicators import diagonal_lines, find_fractals, horizontal_lines
from tradealerts.core.tiers import ALL_SYMBOLS, Tier, required_tier
from tradealerts.core.timeframes import Timeframe


def err(r) -> dict:
    return r.json()["error"]


def test_every_pair_gated_for_both_tiers(make_server) -> None:
    srv = make_server(rate_limits_enabled=False, history_bars=60)
    free = srv.client(register_and_login(srv, "free@example.com")["access_token"])
    pro_tokens = register_and_login(srv, "pro@example.com")
    set_tier(srv, "pro@example.com", "PRO")
    pro = srv.client(pro_tokens["access_token"])
    checked = 0
    for sym in ALL_SYMBOLS:
        for tf in Timeframe:
            url = f"/api/indicators/{sym}/{tf.value}?bars=5"
            assert pro.get(url).status_code == 200, url
            r = free.get(url)
            if required_tier(sym, tf) is Tier.FREE:
                assert r.status_code == 200, url
            else:
                assert r.status_code == 403, url
                assert err(r)["code"] == "tier_forbidden" and err(r)["required_tier"] == "PRO"
                assert "PRO" in err(r)["message"]
            checked += 1
    assert checked == 135


def test_symbols_lists_access_per_pair(server: Running) -> None:
    c = server.client(register_and_login(server, "s@example.com")["access_token"])
    body = c.get("/api/symbols").json()
    assert body["tier"] == "FREE" and len(body["symbols"]) == 15
    by = {s["symbol"]: s for s in body["symbols"]}
    assert by["EURUSD"]["allowed"] and by["EURUSD"]["available"]
    h1 = next(p for p in by["EURUSD"]["timeframes"] if p["timeframe"] == "H1")
    m5 = next(p for p in by["EURUSD"]["timeframes"] if p["timeframe"] == "M5")
    assert h1 == {"timeframe": "H1", "allowed": True, "required_tier": "FREE"}
    assert m5 == {"timeframe": "M5", "allowed": False, "required_tier": "PRO"}
    assert not by["GBPUSD"]["allowed"]


def test_errors_for_symbol_timeframe_and_bars(server: Running) -> None:
    c = server.client(register_and_login(server, "e@example.com")["access_token"])
    r = c.get("/api/indicators/DOGEUSD/H1")
    assert r.status_code == 404 and err(r)["code"] == "unknown_symbol"
    r = c.get("/api/indicators/EURUSD/H3")
    assert r.status_code == 422 and err(r)["code"] == "invalid_timeframe"
    assert "M5, M15, M30, H1, H2, H4, H8, H12, D1" in err(r)["message"]
    r = c.get("/api/indicators/GBPUSD/H1")
    assert r.status_code == 403 and err(r)["required_tier"] == "PRO"
    r = c.get("/api/indicators/EURUSD/M5")
    assert r.status_code == 403 and err(r)["required_tier"] == "PRO"
    for bad in ("0", "5001", "abc"):
        r = c.get(f"/api/indicators/EURUSD/H1?bars={bad}")
        assert r.status_code == 422 and err(r)["field"] == "bars"


def test_indicator_payload_from_a_replay_file(make_server) -> None:
    srv = make_server(feed=f"replay:{DATA / 'eurusd_h1.csv'}", replay_speed=0.0, history_bars=800)
    c = srv.client(register_and_login(srv, "rp@example.com")["access_token"])
    # a replay at full speed runs to the end of the file; wait until it has
    engine = srv.app.state.engine
    for _ in range(500):
        if engine.state == "finished":
            break
        import time

        time.sleep(0.01)
    r = c.get("/api/indicators/eurusd/h1?bars=300")
    assert r.status_code == 200
    p = r.json()
    assert p["symbol"] == "EURUSD" and p["timeframe"] == "H1"
    assert len(p["bars"]["time"]) == 300 and set(p["bars"]) == {
        "time",
        "open",
        "high",
        "low",
        "close",
        "volume",
    }
    # the server's lines are the core functions over the whole file
    import csv
    from datetime import datetime

    rows = list(csv.DictReader((DATA / "eurusd_h1.csv").open()))
    h = np.array([float(x["high"]) for x in rows])
    lo = np.array([float(x["low"]) for x in rows])
    cl = np.array([float(x["close"]) for x in rows])
    times = [int(datetime.fromisoformat(x["time"]).timestamp()) for x in rows]
    assert p["bars"]["time"] == times[-300:]
    up, _ = find_fractals(h, lo)
    assert [f["time"] for f in p["fractals"]["up"]] == [
        times[i] for i in up if i >= len(rows) - 300
    ]
    want_h = [
        ln
        for ln in horizontal_lines(h, lo, cl)
        if ln.broken is None or ln.broken >= len(rows) - 300
    ]
    assert [(x["kind"], x["price"], x["origin_time"]) for x in p["horizontal_lines"]] == [
        (ln.kind, ln.price, times[ln.origin]) for ln in want_h
    ]
    want_d = [
        d for d in diagonal_lines(h, lo, cl) if d.broken is None or d.broken >= len(rows) - 300
    ]
    got_d = p["diagonal_lines"]
    assert [(x["t1"], x["t2"], x["broken_time"]) for x in got_d] == [
        (times[d.i1], times[d.i2], None if d.broken is None else times[d.broken]) for d in want_d
    ]
    assert all(x["id"].startswith(("dr-", "ds-")) for x in got_d)
    # the window never changes the lines' answers, only what is listed
    small = c.get("/api/indicators/EURUSD/H1?bars=20").json()
    assert {x["id"] for x in small["horizontal_lines"] if x["broken_time"] is None} == {
        x["id"] for x in p["horizontal_lines"] if x["broken_time"] is None
    }
    # higher timeframes come resampled from the file; lower ones do not exist
    assert c.get("/api/indicators/EURUSD/H4?bars=10").status_code == 200
    d1 = c.get("/api/indicators/EURUSD/D1?bars=10").json()
    assert all(t % 86400 == 0 for t in d1["bars"]["time"])


def test_etag_gives_304(server: Running) -> None:
    c = server.client(register_and_login(server, "etag@example.com")["access_token"])
    # a feed that moves changes the payload; pin the engine's state by reading twice quickly
    r = c.get("/api/indicators/EURUSD/D1?bars=5")
    etag = r.headers["etag"]
    again = c.get("/api/indicators/EURUSD/D1?bars=5", headers={"If-None-Match": etag})
    if again.status_code == 200:  # a tick landed between the two reads
        etag = again.headers["etag"]
        again = c.get("/api/indicators/EURUSD/D1?bars=5", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = c.get("/api/indicators/EURUSD/D1?bars=5", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


def test_the_fast_path_answers_exactly_as_the_documented_route(make_server) -> None:
    # a replay fed at once does not move: both answers describe the same market state
    srv = make_server(feed=f"replay:{DATA / 'eurusd_h1.csv'}", replay_speed=0.0, history_bars=300)
    c = srv.client(register_and_login(srv, "same@example.com")["access_token"])
    routed = c.get("/api/indicators/EURUSD/H1?bars=120&via=route")  # the fast path declines
    fast = c.get("/api/indicators/EURUSD/H1?bars=120")  # the caller is cached by now
    assert fast.status_code == routed.status_code == 200
    # which path answered: only the fast path names itself
    assert fast.headers["server-timing"].startswith("fastpath")
    assert "server-timing" not in routed.headers
    assert fast.content == routed.content and len(fast.content) > 1000
    for name in ("etag", "cache-control", "content-type", "content-length", "x-ratelimit-limit"):
        assert fast.headers[name] == routed.headers[name], name
    assert (
        int(fast.headers["x-ratelimit-remaining"])
        == int(routed.headers["x-ratelimit-remaining"]) - 1
    )
    for r in (fast, routed):  # both counted, both with a request id
        assert r.headers["x-request-id"]
    etag = fast.headers["etag"]
    for url in (
        "/api/indicators/EURUSD/H1?bars=120",
        "/api/indicators/EURUSD/H1?bars=120&via=route",
    ):
        again = c.get(url, headers={"If-None-Match": f'"other", {etag}'})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert ("server-timing" in again.headers) == ("via=route" not in url)
    # a 304 costs nothing, on either path: the next answer with a body is counted right after
    # the last one that had a body
    after = c.get("/api/indicators/EURUSD/H1?bars=120")
    assert after.status_code == 200
    assert (
        int(after.headers["x-ratelimit-remaining"])
        == int(fast.headers["x-ratelimit-remaining"]) - 1
    )


def test_the_fast_path_gives_request_ids_as_every_route_does(make_server) -> None:
    """The fast path answers in front of the middleware stack, request id included: the
    client's X-Request-ID when it is 1-64 printable characters, else a new 32-hex one, once."""
    srv = make_server(feed=f"replay:{DATA / 'eurusd_h1.csv'}", replay_speed=0.0, history_bars=300)
    c = srv.client(register_and_login(srv, "rid@example.com")["access_token"])
    url = "/api/indicators/EURUSD/H1?bars=5"
    routed = c.get(f"{url}&via=route", headers={"X-Request-ID": "chosen-by-client"})
    assert routed.status_code == 200 and "server-timing" not in routed.headers
    assert routed.headers["x-request-id"] == "chosen-by-client"
    for extra, status in (({}, 200), ({"If-None-Match": routed.headers["etag"]}, 304)):
        given = c.get(url, headers={"X-Request-ID": "chosen-by-client", **extra})
        made = c.get(url, headers=extra)
        too_long = c.get(url, headers={"X-Request-ID": "x" * 65, **extra})
        for r in (given, made, too_long):
            assert r.status_code == status and r.headers["server-timing"].startswith("fastpath")
        assert given.headers["x-request-id"] == "chosen-by-client"
        ids = {made.headers["x-request-id"], too_long.headers["x-request-id"]}
        assert len(ids) == 2 and all(re.fullmatch("[0-9a-f]{32}", i) for i in ids), ids


def test_the_61st_request_in_an_hour_is_429(server: Running) -> None:
    c = server.client(register_and_login(server, "q@example.com")["access_token"])
    for i in range(60):
        r = c.get("/api/symbols")
        assert r.status_code == 200
        assert r.headers["x-ratelimit-limit"] == "60"
        assert r.headers["x-ratelimit-remaining"] == str(59 - i)
        assert int(r.headers["x-ratelimit-reset"]) > 0
    r = c.get("/api/indicators/EURUSD/H1?bars=5")
    assert r.status_code == 429
    assert 3500 <= int(r.headers["retry-after"]) <= 3601
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert "60 requests" in err(r)["message"]
    # account endpoints are not counted
    assert c.get("/api/user").status_code == 200


def test_pro_quota_is_300(server: Running) -> None:
    tokens = register_and_login(server, "p3@example.com")
    set_tier(server, "p3@example.com", "PRO")
    r = server.client(tokens["access_token"]).get("/api/symbols")
    assert r.headers["x-ratelimit-limit"] == "300"


def test_watchlist_limits_duplicates_and_ownership(server: Running) -> None:
    a = server.client(register_and_login(server, "wa@example.com")["access_token"])
    b = server.client(register_and_login(server, "wb@example.com")["access_token"])
    pairs = [("eurusd", "h1"), ("EURUSD", "H4"), ("USDJPY", "D1"), ("XAUUSD", "H1"), ("US30", "H4")]
    ids = []
    for sym, tf in pairs:
        r = a.post("/api/watchlist", json={"symbol": sym, "timeframe": tf})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    assert a.get("/api/watchlist").json()[0] == {
        **a.get("/api/watchlist").json()[0],
        "symbol": "EURUSD",
        "timeframe": "H1",
    }
    r = a.post("/api/watchlist", json={"symbol": "BTCUSD", "timeframe": "D1"})
    assert r.status_code == 403 and err(r)["code"] == "watchlist_full"
    assert err(r)["required_tier"] == "PRO" and "50" in err(r)["message"]
    r = a.post("/api/watchlist", json={"symbol": "GBPUSD", "timeframe": "H1"})
    assert r.status_code == 403 and err(r)["required_tier"] == "PRO"
    assert a.delete(f"/api/watchlist/{ids[0]}").status_code == 204
    r = a.post("/api/watchlist", json={"symbol": "EURUSD", "timeframe": "H4"})
    assert r.status_code == 409 and err(r)["code"] == "duplicate"
    # B cannot see or remove A's items by guessing ids
    assert b.get("/api/watchlist").json() == []
    assert b.delete(f"/api/watchlist/{ids[1]}").status_code == 404
    assert len(a.get("/api/watchlist").json()) == 4


def test_bad_bodies_are_4xx_with_the_error_body(server: Running) -> None:
    c = server.client(register_and_login(server, "bb@example.com")["access_token"])
    before = c.get("/api/watchlist").json()
    wrong = []  # every body is tried (one server and user); each wrong one is named
    for body in ['{"symbol": "EURUSD"', "[]", '{"symbol": 1, "timeframe": []}']:
        r = c.post("/api/watchlist", content=body, headers={"content-type": "application/json"})
        if r.status_code not in (400, 422) or not set(err(r)) >= {"code", "message", "request_id"}:
            wrong.append((body, r.status_code, r.text))
    assert not wrong, wrong
    assert c.get("/api/watchlist").json() == before  # nothing was added


def test_fast_path_and_documented_route_answer_alike(server: Running) -> None:
    """The second request takes the fast path (its caller is cached); an extra query
    parameter sends the third to the documented route. Same body, ETag and counting."""
    token = register_and_login(server, "fast@example.com")["access_token"]
    c = server.client(token)
    url = "/api/indicators/EURUSD/H1"
    answers = [c.get(url, params=p) for p in ({"bars": 50}, {"bars": 50}, {"bars": 50, "x": 1})]
    assert [r.status_code for r in answers] == [200, 200, 200]
    fast_answer, documented = answers[1], answers[2]
    paths = ["server-timing" in r.headers for r in answers]
    assert paths == [False, True, False]  # route (caller not cached yet), fast, route
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in answers]
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2]  # each counted once
    assert all(r.headers.get("X-Request-ID") for r in answers)
    # one version of the market, the same bytes on either path (ticks move it: pairs until
    # one falls between two ticks)
    for _ in range(8):
        if fast_answer.headers["ETag"] == documented.headers["ETag"]:
            assert fast_answer.content == documented.content
            break
        fast_answer = c.get(url, params={"bars": 50})
        documented = c.get(url, params={"bars": 50, "x": 1})
    else:
        raise AssertionError("no two answers between the same two ticks")
    etag = documented.headers["ETag"]
    fast = c.get(url, params={"bars": 50}, headers={"If-None-Match": etag})
    # unchanged: 304; a tick since: the new version, whole
    assert (fast.status_code, fast.content) == (304, b"") or (
        fast.status_code == 200 and fast.headers["ETag"] != etag
    ), fast.status_code
    # refusals still come from the documented route, with the one error body
    r = c.get("/api/indicators/GBPUSD/H1")
    assert r.status_code == 403 and r.json()["error"]["required_tier"] == "PRO"
    r = c.get(url, params={"bars": 0})
    assert r.status_code == 422 and r.json()["error"]["field"] == "bars"
    set_tier(server, "fast@example.com", "PRO")
    r = c.get("/api/indicators/GBPUSD/H1")
    assert r.status_code == 200  # at once, not in a second
    assert "server-timing" not in r.headers  # the change dropped the cached caller
    assert "server-timing" in c.get("/api/indicators/GBPUSD/H1").headers


def test_a_new_callers_first_burst_loads_it_once(server: Running) -> None:
    """Requests of a user whose snapshot is not cached yet, arriving together, wait for one
    load of it rather than each loading it (``deps.caller_by_id``)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import event

    token = register_and_login(server, "burst-load@example.com")["access_token"]
    loads: list[str] = []

    def count(_conn, _cursor, statement: str, *_args) -> None:
        if "users.disabled" in statement and "FROM users" in statement:
            loads.append(statement)

    db = server.app.state.db_engine
    event.listen(db, "before_cursor_execute", count)
    try:
        clients = [server.client(token) for _ in range(12)]
        url = "/api/indicators/EURUSD/H1?bars=5"
        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(lambda c: c.get(url).status_code, clients))
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert codes == [200] * 12
    assert len(loads) == 1, loads
