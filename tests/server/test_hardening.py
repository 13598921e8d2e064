"""Small hardening of issue #22 over real HTTP: the tier checked on every write that leaves
an alert active, a strict Last-Event-ID, bounded paging, codes kept out of the access log,
headers on token answers and HTML pages, a public health without failure texts, and
Stripe events about objects Stripe does not know."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from tests.server.serverkit import (
    PW,
    SSE,
    Clock,
    Inbox,
    Running,
    register_and_login,
    server_settings,
    set_tier,
    user_client,
    wait_until,
)
from tests.server.stripekit import StripeDouble, event
from tests.server.test_admin_dashboard import make_admin

from tradealerts.server.app import create_app
from tradealerts.server.db.models import StripeEvent
from tradealerts.server.serving import make_server as make_uvicorn

REMOTE = {"X-Forwarded-For": "203.0.113.50"}  # a client elsewhere, through the local proxy


def error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


# -- the tier on every write -------------------------------------------------------------


def test_a_free_user_cannot_revive_an_expired_pro_pair_alert(server: Running) -> None:
    """It was 200 and the alert fired: the tier was checked only when the symbol,
    timeframe or webhook changed, not when a new expiry made the alert active again."""
    c = user_client(server, "was-pro@example.com", "PRO")
    expires = server.clock() + timedelta(minutes=5)
    body = {"symbol": "GBPUSD", "timeframe": "M15", "condition": "greater_than",
            "level": 900_000.0, "expires_at": expires.isoformat()}  # fmt: skip
    r = c.post("/api/alerts", json=body)
    assert r.status_code == 201, r.text
    alert_id = r.json()["id"]
    server.clock.advance(minutes=6)
    wait_until(
        lambda: c.get(f"/api/alerts/{alert_id}").json()["status"] == "expired",
        what="the alert to expire",
    )
    set_tier(server, "was-pro@example.com", "FREE")
    later = (server.clock() + timedelta(days=1)).isoformat()
    r = c.patch(f"/api/alerts/{alert_id}", json={"expires_at": later})
    assert r.status_code == 403, r.text
    assert error(r)["required_tier"] == "PRO"
    assert c.get(f"/api/alerts/{alert_id}").json()["status"] == "expired"


def test_patching_an_active_alert_past_the_tiers_count_is_refused(server: Running) -> None:
    """An active alert is re-checked on every PATCH, the count included: six active
    alerts on FREE (the owner put the sixth there) cannot be edited into staying so."""
    c = user_client(server, "many@example.com")
    ids = []
    for n in range(5):
        body = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
                "level": 900_000.0 + n}  # fmt: skip
        r = c.post("/api/alerts", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    set_tier(server, "many@example.com", "PRO")
    r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1",
                                    "condition": "greater_than", "level": 900_010.0})  # fmt: skip
    assert r.status_code == 201
    # FREE again, but by a path that does not pause (the owner's direct edit of the row)
    with server.app.state.sessions() as s:
        from tradealerts.server import accounts

        user = accounts.find_user(s, "many@example.com")
        assert user is not None
        user.tier = "FREE"
        s.commit()
    r = c.patch(f"/api/alerts/{ids[0]}", json={"level": 900_100.0})
    assert r.status_code == 403 and error(r)["code"] == "alert_limit", r.text


# -- Last-Event-ID -----------------------------------------------------------------------


#: bad Last-Event-ID values: one server and user for them all (a refusal changes nothing)
BAD_EVENT_IDS: dict[str, str | bytes] = {
    "junk": "abc",
    "over-int64": "9223372036854775808",
    "over-int32": "2147483648",
    "raw-b2": b"\xb2",
    "arabic-digits": "\u0661\u0662".encode(),
    "negative": "-1",
    "plus": "+5",
}


def test_a_bad_last_event_id_is_a_422_not_a_500(server: Running) -> None:
    token = register_and_login(server, "leid@example.com")
    c = server.client(token["access_token"])
    wrong = []  # every value is tried; the failure names each one that went wrong
    for name, value in BAD_EVENT_IDS.items():
        r = c.get("/api/stream", headers={"Last-Event-ID": value})
        if r.status_code != 422 or error(r).get("field") != "Last-Event-ID":
            wrong.append((name, r.status_code, r.text))
    assert not wrong, wrong


def test_the_largest_event_id_opens_a_stream_that_stays_open(
    make_server: Callable[..., Running],
) -> None:
    srv = make_server(stream_heartbeat_seconds=0.2)
    token = register_and_login(srv, "bigid@example.com")["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Last-Event-ID": str(2**31 - 1)}
    with (
        httpx.Client(base_url=srv.url, timeout=10) as c,
        c.stream("GET", "/api/stream", headers=headers) as r,
    ):
        assert r.status_code == 200
        sse = SSE(r)
        assert "retry" in sse.frame()
        for _ in range(2):  # heartbeats: the stream lives on (it was cut after the 200)
            assert "comment" in sse.frame()


# -- paging ------------------------------------------------------------------------------


def test_error_log_paging_is_bounded(server: Running) -> None:
    admin = make_admin(server, "boss@example.com")
    wrong = []  # every value is tried (one server for them all); each wrong one is named
    for after_id in ["1e20", "99999999999999999999", "2147483648", "-1", "x"]:
        r = admin.get("/api/admin/error-logs", params={"after_id": after_id})
        if r.status_code != 422 or error(r).get("field") != "after_id":
            wrong.append((after_id, r.status_code, r.text))
    assert not wrong, wrong


# -- codes never logged ------------------------------------------------------------------


@pytest.fixture
def logged_server(tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]) -> Iterator[Running]:
    """A server that writes uvicorn's access log (the test servers otherwise do not)."""
    inbox, smtp_port = smtp
    settings = server_settings(tmp_path / "home", db_url, smtp_port)
    clock = Clock()
    app = create_app(settings, clock=clock)
    server = make_uvicorn(app, "127.0.0.1", settings.port, log_level="info", lifespan="on")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    srv = Running(f"http://127.0.0.1:{settings.port}", settings, clock, inbox, app, server,
                  thread)  # fmt: skip
    yield srv
    srv.stop()


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_mailed_code_never_reaches_the_access_log(logged_server: Running) -> None:
    access = logging.getLogger("uvicorn.access")
    lines = Lines()
    access.addHandler(lines)
    try:
        c = logged_server.client()
        r = c.get("/verify", params={"email": "a@example.com", "code": "918273"})
        assert r.status_code == 200
        r = c.get("/api/symbols", params={"token": "s3cret-token", "x": "1"})
        wait_until(lambda: len(lines.lines) >= 2, what="the access lines")
    finally:
        access.removeHandler(lines)
    text = "\n".join(lines.lines)
    assert "/verify?email=a%40example.com&code=***" in text, text
    assert "918273" not in text and "s3cret-token" not in text, text


# -- headers -----------------------------------------------------------------------------


def test_token_answers_are_not_cached(server: Running) -> None:
    tokens = register_and_login(server, "cache@example.com")
    c = server.client()
    r = c.post("/api/auth/login", json={"email": "cache@example.com", "password": PW})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    r = c.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    me = server.client(tokens["access_token"])
    r = me.post("/api/auth/2fa/setup")  # the TOTP secret
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def test_html_pages_forbid_framing_and_foreign_content(server: Running) -> None:
    c = server.client()
    for r in (
        c.get("/verify", params={"email": "a@example.com", "code": "123456"}),
        c.post("/verify", data={"email": "a@example.com", "code": "000000"}),
    ):
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["x-frame-options"] == "DENY"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp


# -- health ------------------------------------------------------------------------------


def test_public_health_names_no_failure_text(server: Running) -> None:
    """A failing part says its status to anyone; what failed, in words (which can hold a
    database's message), only to the owner: a client on this machine or an admin."""
    secret_text = "connection to server at db.internal (10.1.2.3) failed"
    engine = server.app.state.engine
    server.app.state.loop.call_soon_threadsafe(engine.hold, "db", secret_text)
    try:
        c = server.client()

        def degraded() -> httpx.Response | None:
            r = c.get("/api/system/health", headers=REMOTE)
            return r if r.status_code == 503 else None

        public = wait_until(degraded, what="the hold to show")
        assert public.json()["engine"]["status"] == "paused"
        assert "db.internal" not in public.text and "10.1.2.3" not in public.text
        # the owner sees it: from this machine, or with an admin's token from anywhere
        assert secret_text in c.get("/api/system/health").text
        admin = make_admin(server, "health-boss@example.com")
        assert secret_text in admin.get("/api/system/health", headers=REMOTE).text
        user = server.client(register_and_login(server, "nosy@example.com")["access_token"])
        assert secret_text not in user.get("/api/system/health", headers=REMOTE).text
    finally:
        server.app.state.loop.call_soon_threadsafe(engine.release, "db")


# -- Stripe ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        ("invoice.paid", {"id": "in_nosuchinvoice", "object": "invoice", "customer": "cus_x"}),
        ("customer.subscription.updated", {"id": "sub_nosuchsub", "object": "subscription"}),
        ("checkout.session.completed", {"id": "cs_x", "subscription": "sub_nosuchsub"}),
    ],
)
def test_a_signed_event_for_an_unknown_object_is_recorded_and_answered_2xx(
    billing_server: Running, double: StripeDouble, kind: str, obj: dict[str, Any]
) -> None:
    """It was a 500 on every retry (Stripe retries for days); no retry can find an object
    Stripe does not have: the event is recorded as seen and answered 200."""
    evt = event(kind, obj)
    r = double.deliver(evt)
    assert r.status_code == 200, r.text
    with billing_server.app.state.sessions() as s:
        assert s.scalar(select(StripeEvent.id).where(StripeEvent.id == evt["id"])) is not None
    again = double.deliver(evt)
    assert again.status_code == 200 and again.json()["duplicate"] is True
