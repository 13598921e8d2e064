"""The owner's dashboard over a real server: seeded accounts on known days, requests made by
the test, and every figure of analytics and usage checked against what the test counts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.server.serverkit import PW, Running, free_port, register_and_login, set_tier, wait_until

from tradealerts.server.quota import Quota

ADMIN_GETS = (
    "/api/admin/users",
    "/api/admin/analytics",
    "/api/admin/api-usage",
    "/api/admin/error-logs",
    "/api/admin/audit",
)


def login(srv: Running, email: str) -> httpx.Client:
    r = srv.client().post("/api/auth/login", json={"email": email, "password": PW})
    assert r.status_code == 200, r.text
    return srv.client(r.json()["access_token"])


def make_admin(srv: Running, email: str) -> httpx.Client:
    """Seed: the owner's account (the CLI's create-user --admin does the same)."""
    register_and_login(srv, email)
    with srv.app.state.sessions() as s:
        from tradealerts.server import accounts

        user = accounts.find_user(s, email)
        assert user is not None
        user.is_admin = True
        s.commit()
    return login(srv, email)


def user_id(srv: Running, email: str) -> int:
    from tradealerts.server import accounts

    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        return user.id


def register_on(srv: Running, email: str, when: datetime) -> None:
    """Sign up through the real flow with the server's clock on ``when``."""
    real = srv.clock.now
    srv.clock.now = when
    try:
        register_and_login(srv, email)
    finally:
        srv.clock.now = real


def never_fires(**kw: Any) -> dict[str, Any]:
    return {"symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up", "level": 1000.0}


def fires_now() -> dict[str, Any]:
    """Fires on the next tick: every price of the synthetic EURUSD is above."""
    return {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 0.5}


def fires_logged(srv: Running) -> int:
    from sqlalchemy import func, select

    from tradealerts.server.db.models import Event

    with srv.app.state.sessions() as s:
        return int(s.scalar(select(func.count()).where(Event.kind == "alert")) or 0)


def test_analytics_and_usage_equal_what_the_test_did(make_server: Callable[..., Running]) -> None:
    srv = make_server(usage_flush_seconds=3600)  # only the admin routes flush
    now = srv.clock.now
    today = now.date()
    register_on(srv, "a@example.com", now - timedelta(days=10))
    register_on(srv, "b@example.com", now - timedelta(days=10))
    register_on(srv, "c@gmail.com", now - timedelta(days=3))
    register_on(srv, "old@example.com", now - timedelta(days=40))  # outside the 30 days
    register_on(srv, "d@gmail.com", now)
    admin = make_admin(srv, "boss@example.com")
    set_tier(srv, "b@example.com", "PRO")  # a conversion
    set_tier(srv, "c@gmail.com", "PRO")  # a conversion ...
    set_tier(srv, "c@gmail.com", "FREE")  # ... and a churn

    # fires on known days through the real path: an alert created through the API, matched
    # on the synthetic feed's next tick, logged by the engine at the server's clock
    def fire_on(when: datetime, count: int) -> None:
        real = srv.clock.now
        srv.clock.now = when
        try:
            c = login(srv, "old@example.com")
            before = fires_logged(srv)
            for _ in range(count):
                assert c.post("/api/alerts", json=fires_now()).status_code == 201
            wait_until(lambda: fires_logged(srv) == before + count, 30, "the fires")
        finally:
            srv.clock.now = real

    fire_on(now - timedelta(days=2), 3)
    fire_on(now, 1)

    a, b, d = login(srv, "a@example.com"), login(srv, "b@example.com"), login(srv, "d@gmail.com")
    for _ in range(3):
        assert a.get("/api/symbols").status_code == 200
    for _ in range(2):
        assert a.post("/api/alerts", json=never_fires()).status_code == 201
    assert b.post("/api/alerts", json=never_fires()).status_code == 201
    # the first goes through the route (which caches the caller), the rest the fast path
    for _ in range(4):
        assert b.get("/api/indicators/EURUSD/H1?bars=10").status_code == 200
    statuses = [d.get("/api/symbols").status_code for _ in range(62)]  # FREE: 60 an hour
    assert statuses.count(429) == 2

    # a non-admin is refused everywhere
    for path in ADMIN_GETS:
        r = a.get(path)
        assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only", path
    assert a.put("/api/admin/user/1", json={"tier": "PRO"}).status_code == 403
    assert a.delete("/api/admin/user/1").status_code == 403

    r = admin.get("/api/admin/analytics")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["users_by_tier"] == {"FREE": 5, "PRO": 1}
    assert got["users_total"] == 6
    signups = {x["date"]: x["count"] for x in got["signups_per_day"]}
    assert len(signups) == 30 and sum(signups.values()) == 5
    assert signups[(today - timedelta(days=10)).isoformat()] == 2
    assert signups[(today - timedelta(days=3)).isoformat()] == 1
    assert signups[today.isoformat()] == 2
    fires = {x["date"]: x["count"] for x in got["fires_per_day"]}
    assert fires[(today - timedelta(days=2)).isoformat()] == 3 and fires[today.isoformat()] == 1
    assert sum(fires.values()) == 4
    # a, b, d and old (its fires); the admin's first authenticated call is this one,
    # counted once it ends
    assert got["active_users"] == {"day": 4, "week": 4, "month": 4}
    assert got["conversions_30d"] == 2 and got["churn_30d"] == 1
    assert got["active_alerts_by_tier"] == {"FREE": 2, "PRO": 1}

    r = admin.get("/api/admin/api-usage", params={"hours": 1})
    assert r.status_code == 200, r.text
    usage = r.json()
    fam = {f["family"]: f for f in usage["families"]}
    assert fam["symbols"]["requests"] == 3 + 62
    assert fam["symbols"]["s429"] == 2 and fam["symbols"]["s2xx"] == 63
    assert usage["rate_limited"] == 2
    assert fam["indicators"]["requests"] == 4 and fam["indicators"]["s2xx"] == 4
    assert fam["alerts"]["requests"] == 3 + 4  # and old's four (usage minutes go by the wall clock)
    # a's seven refusals, and the analytics call (this one is still running)
    assert fam["admin"]["requests"] == 7 + 1
    assert fam["admin"]["s4xx"] == 7 and fam["admin"]["s2xx"] == 1
    for f in usage["families"]:
        assert f["p50_ms"] is not None and f["p50_ms"] <= f["p95_ms"] <= f["p99_ms"]
    per = {(x["tier"], x["family"]): 0 for x in usage["per_hour"]}
    for x in usage["per_hour"]:
        per[(x["tier"], x["family"])] += x["requests"]
    assert per[("FREE", "symbols")] == 65 and per[("PRO", "indicators")] == 4
    top = {u["email"]: u["requests"] for u in usage["top_users"]}
    assert top["d@gmail.com"] == 62
    assert top["a@example.com"] == 3 + 2 + len(ADMIN_GETS) + 2
    assert top["b@example.com"] == 1 + 4
    assert usage["top_users"][0]["email"] == "d@gmail.com"


def test_admin_users_search_filter_page_and_changes_audited(server: Running) -> None:
    for email in ("a@gmail.com", "b@example.com", "c@gmail.com"):
        register_and_login(server, email)
    set_tier(server, "c@gmail.com", "PRO")
    admin = make_admin(server, "boss@example.com")
    r = admin.get("/api/admin/users", params={"search": "GMAIL"})
    assert [u["email"] for u in r.json()["users"]] == ["a@gmail.com", "c@gmail.com"]
    r = admin.get("/api/admin/users", params={"search": "gmail", "tier": "PRO"})
    assert [u["email"] for u in r.json()["users"]] == ["c@gmail.com"]
    r = admin.get("/api/admin/users", params={"per_page": 2, "page": 2})
    assert r.json()["total"] == 4 and [u["email"] for u in r.json()["users"]] == [
        "c@gmail.com",
        "boss@example.com",
    ]
    r = admin.get("/api/admin/users", params={"status": "admin"})
    assert [u["email"] for u in r.json()["users"]] == ["boss@example.com"]
    assert admin.get("/api/admin/users", params={"tier": "GOLD"}).status_code == 422

    a_id = user_id(server, "a@gmail.com")
    a = login(server, "a@gmail.com")
    r = admin.put(f"/api/admin/user/{a_id}", json={"tier": "PRO", "role": "admin"})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["tier"] == "PRO" and r.json()["user"]["role"] == "admin"
    assert a.get("/api/user").json()["tier"] == "PRO"  # through set_tier: applies at once
    notes = [n["kind"] for n in a.get("/api/notifications").json()["items"]]
    assert "tier_changed" in notes
    r = admin.put(f"/api/admin/user/{a_id}", json={"disabled": True, "role": "user"})
    assert r.status_code == 200
    r = a.get("/api/user")  # disabling ended its sessions: the token is refused at once
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"
    r = server.client().post("/api/auth/login", json={"email": "a@gmail.com", "password": PW})
    assert r.status_code == 403 and r.json()["error"]["code"] == "account_disabled"
    assert admin.get("/api/admin/users", params={"status": "disabled"}).json()["total"] == 1
    assert admin.put(f"/api/admin/user/{a_id}", json={}).status_code == 400
    assert admin.put(f"/api/admin/user/{a_id}", json={"tier": "GOLD"}).status_code == 422
    assert admin.put("/api/admin/user/99999", json={"tier": "PRO"}).status_code == 404
    boss_id = user_id(server, "boss@example.com")
    r = admin.put(f"/api/admin/user/{boss_id}", json={"role": "user"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "own_account"
    assert admin.delete(f"/api/admin/user/{boss_id}").status_code == 409
    b_id = user_id(server, "b@example.com")
    assert admin.delete(f"/api/admin/user/{b_id}").status_code == 204
    assert admin.delete(f"/api/admin/user/{b_id}").status_code == 404

    entries = admin.get("/api/admin/audit").json()["entries"]
    changes = [(e["action"], e["target"]) for e in entries if e["action"] != "list_users"]
    assert changes == [
        ("delete_user", "b@example.com"),
        ("disable", "a@gmail.com"),
        ("set_role", "a@gmail.com"),
        ("set_role", "a@gmail.com"),
        ("set_tier", "a@gmail.com"),
        ("set_tier", "c@gmail.com"),  # set_tier audits every change, the owner's included
    ]
    # the admin's changes carry their email; the first tier change was made through the
    # service (serverkit.set_tier), whose actor is the default "system"
    assert [e["actor"] for e in entries if e["target"] != "c@gmail.com"] == ["boss@example.com"] * (
        len(entries) - 1
    )


def test_a_real_500_is_recorded_with_the_request_id_the_client_saw(
    server: Running, db_url: str
) -> None:
    admin = make_admin(server, "boss@example.com")
    register_and_login(server, "u@example.com")
    u = login(server, "u@example.com")
    assert u.get("/api/notifications").status_code == 200
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE notifications"))
    engine.dispose()
    r = u.get("/api/notifications", headers={"X-Request-ID": "req-under-test-1"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "req-under-test-1"
    assert r.json()["error"] == {
        "code": "internal_error",
        "message": "Something went wrong on the server; it has been logged. Quote the request "
        "id if you contact support.",
        "request_id": "req-under-test-1",
    }
    r2 = u.get("/api/notifications")
    assert r2.status_code == 500 and len(r2.headers["x-request-id"]) == 32
    got = admin.get("/api/admin/error-logs").json()["errors"]
    assert [e["request_id"] for e in got] == [r2.headers["x-request-id"], "req-under-test-1"]
    first = got[1]
    assert first["route"] == "/api/notifications" and first["method"] == "GET"
    assert first["status"] == 500 and first["user_id"] == user_id(server, "u@example.com")
    assert first["type"] in {"sqlalchemy.exc.OperationalError", "sqlalchemy.exc.ProgrammingError"}
    assert "notifications" in first["message"]
    assert first["fingerprint"] == got[0]["fingerprint"] and first["repeats"] == 2
    newer = admin.get("/api/admin/error-logs", params={"after_id": first["id"]}).json()["errors"]
    assert [e["request_id"] for e in newer] == [r2.headers["x-request-id"]]
    assert (datetime.fromisoformat(first["time"]) - server.clock.now.astimezone(UTC)) < timedelta(
        seconds=5
    )


def test_a_failure_behind_the_indicators_fast_path_is_answered_and_recorded_by_the_stack(
    make_server: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    """The fast path answers in front of the middleware stack; what it cannot answer without
    waiting (here a quota in Redis, which is down) it leaves to the stack, which answers it
    as any route's failure: the 500 body with the X-Request-ID the client sees, the error
    record and the usage count. (The fast path itself never waits for Redis: nothing fails
    there, nothing is logged as its failure.)"""
    srv = make_server(caller_cache_seconds=600)  # the caller stays cached: the fast path runs
    admin = make_admin(srv, "boss@example.com")
    register_and_login(srv, "u@example.com")
    u = login(srv, "u@example.com")
    url = "/api/indicators/EURUSD/H1?bars=5"
    assert u.get(url).status_code == 200  # the route, which caches the caller
    assert u.get(url).headers["server-timing"].startswith("fastpath")
    srv.app.state.quota = Quota(f"redis://127.0.0.1:{free_port()}/0", "down")
    with caplog.at_level(logging.ERROR, "tradealerts.api"):
        r = u.get(url, headers={"X-Request-ID": "req-fast-down"})
    assert r.status_code == 500 and "server-timing" not in r.headers
    assert r.headers["x-request-id"] == "req-fast-down"
    assert r.json()["error"]["code"] == "internal_error"
    assert r.json()["error"]["request_id"] == "req-fast-down"
    assert not any("fast path failed" in rec.getMessage() for rec in caplog.records)
    got = admin.get("/api/admin/error-logs").json()["errors"]
    assert [(e["request_id"], e["route"], e["status"], e["type"]) for e in got] == [
        (
            "req-fast-down",
            "/api/indicators/{symbol}/{timeframe}",
            500,
            "redis.exceptions.ConnectionError",
        )
    ]
    assert got[0]["user_id"] == user_id(srv, "u@example.com")
    usage = admin.get("/api/admin/api-usage", params={"hours": 1}).json()
    fam = {f["family"]: f for f in usage["families"]}
    assert fam["indicators"]["requests"] == 3
    assert fam["indicators"]["s2xx"] == 2 and fam["indicators"]["s5xx"] == 1
