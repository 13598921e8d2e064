"""Push channels (issue #27) through a running server and real Apprise: receivers on
loopback that speak ntfy's and Gotify's HTTP API, and ``json://`` (allow-listed: loopback);
the URL's secret never in the log, API answers or error bodies; the SSRF guard at creation
and at every send (a name that rebinds to loopback is refused, not called); FREE → 403; a
receiver that never answers holds only its owner's channel; a channel that cannot be read is
quarantined while another user's pushes go."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.server.hostilekit import NeverAnswers, SlowDrip
from tests.server.pushkit import PushReceiver
from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    register_and_login,
    server_settings,
    set_tier,
    start_server,
    wait_until,
)

from tradealerts.server import quarantine
from tradealerts.server.db.models import Delivery, ErrorRecord, PushChannel

LOW = 0.5  # below every synthetic EURUSD price: a greater_than alert fires at once
LOOPBACK = ["127.0.0.1/32"]
SECRETS = ("my-secret-topic", "GotifyAppToken42", "json-secret-path")


@pytest.fixture
def serve(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[Any]:
    inbox, smtp_port = smtp
    running: list[Running] = []

    def start(db_url: str | None = None, resolver: Any = None, **overrides: Any) -> Running:
        home = tmp_path / f"h{len(running)}"
        url = db_url or f"sqlite:///{home}.db"
        values = {"tick_rate": 20, "rate_limits_enabled": False, "access_token_minutes": 600,
                  **overrides}  # fmt: skip
        settings = server_settings(home, url, smtp_port, **values)
        options = {"resolver": resolver} if resolver is not None else {}
        srv = start_server(settings, Clock(), inbox, **options)
        running.append(srv)
        return srv

    yield start
    for srv in running:
        srv.stop()


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    r = PushReceiver()
    yield r
    r.close()


def pro(srv: Running, email: str) -> Any:
    c = srv.client(register_and_login(srv, email)["access_token"])
    set_tier(srv, email, "PRO")
    return c


def add(c: Any, name: str, url: str, **extra: Any) -> Any:
    return c.post("/api/channels", json={"name": name, "url": url, **extra})


def fire(c: Any, **channels: Any) -> int:
    body: dict[str, Any] = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
                            "level": LOW}  # fmt: skip
    if channels:
        body["channels"] = channels
    r = c.post("/api/alerts", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def unseal(srv: Running, name: str) -> None:
    """Make a stored channel's sealed URL junk (as when the server's key changed): a push
    no try can send."""
    with srv.app.state.sessions() as s:
        row = s.scalar(select(PushChannel).where(PushChannel.name == name))
        assert row is not None
        row.url_secret = "not-a-fernet-token"
        s.commit()


def pushes(srv: Running, user_email: str | None = None) -> list[Delivery]:
    with srv.app.state.sessions() as s:
        return list(s.scalars(select(Delivery).where(Delivery.channel == "push")))


def test_a_fired_alert_reaches_ntfy_gotify_and_json_and_no_secret_shows(
    serve: Any, db_url: str, receiver: PushReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    srv = serve(db_url, webhook_allowlist=LOOPBACK)
    c = pro(srv, "trader@example.com")
    port = receiver.port
    r = add(c, "phone", f"ntfy://127.0.0.1:{port}/my-secret-topic")
    assert r.status_code == 201, r.text
    assert r.json()["masked"] == f"ntfy://127.0.0.1:{port}/my-s…"
    assert r.json()["service"] == "ntfy"
    assert add(c, "desk", f"gotify://127.0.0.1:{port}/GotifyAppToken42").status_code == 201
    r = add(c, "hook", f"json://127.0.0.1:{port}/json-secret-path", default=True)
    assert r.status_code == 201, r.text
    assert add(c, "phone", f"ntfy://127.0.0.1:{port}/x").status_code == 409
    listed = c.get("/api/channels")
    assert [i["name"] for i in listed.json()["items"]] == ["desk", "hook", "phone"]
    # at rest: sealed, not the URL
    with srv.app.state.sessions() as s:
        stored = " ".join(row.url_secret for row in s.scalars(select(PushChannel)))
    # an unknown name: 422 naming the field
    r = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1",
                                    "condition": "greater_than", "level": LOW,
                                    "channels": {"notify": ["phone", "pager"]}})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "channels.notify", r.text

    alert_id = fire(c, notify=["phone", "desk"])
    got = receiver.wait(2)
    by_path = {a.path: a for a in got}
    ntfy, gotify = by_path["/"], by_path["/message"]
    assert (
        ntfy.body["topic"] == "my-secret-topic" and ntfy.body["title"] == "EURUSD H1: greater_than"
    )
    assert gotify.headers["x-gotify-key"] == "GotifyAppToken42"
    assert gotify.body["message"] and gotify.body["title"] == "EURUSD H1: greater_than"

    # every attempt's status in the alert's history
    def sent() -> list[dict[str, Any]]:
        return [
            d
            for e in c.get("/api/alerts/history").json()["items"]
            if e["alert_id"] == alert_id
            for d in e["deliveries"]
            if d["channel"] == "push" and d["status"] == "sent"
        ]

    history = wait_until(lambda: len(got := sent()) == 2 and got, what="push deliveries sent")
    assert all(d["attempts"] == 1 for d in history)
    # an alert naming no channels names the defaults ("hook")
    created = c.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1",
                                          "condition": "greater_than", "level": LOW})  # fmt: skip
    assert created.json()["channels"]["notify"] == ["hook"]
    wait_until(lambda: any(a.path == "/json-secret-path" for a in receiver.received))
    # the test push, now
    r = c.post("/api/channels/desk/test")
    assert r.status_code == 200 and r.json()["sent"] is True, r.text
    wait_until(lambda: len(receiver.received) == 4, what="the test push")
    # a service that refuses: 502 with its reason, without the token
    receiver.status = 500
    failed = c.post("/api/channels/desk/test")
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "push_failed"
    # remove: gone from the list and from the alerts that named it
    assert c.delete("/api/channels/phone").status_code == 204
    assert c.get(f"/api/alerts/{alert_id}").json()["channels"]["notify"] == ["desk"]
    assert c.delete("/api/channels/phone").status_code == 404
    export = c.get("/api/user/export")
    assert [ch["masked"] for ch in export.json()["push_channels"]] == [
        f"gotify://127.0.0.1:{port}/Goti…",
        f"json://127.0.0.1:{port}/json…",
    ]
    shown = listed.text + r.text + failed.text + c.get("/api/channels").text + stored
    shown += export.text
    shown += c.get("/api/alerts/history").text + caplog.text
    for secret in SECRETS:
        assert secret not in shown, secret


def test_private_targets_are_refused_and_free_users_are_told_the_plan(
    serve: Any, receiver: PushReceiver
) -> None:
    port = receiver.port
    answers = {
        "rebind.example": [["93.184.215.14"], ["127.0.0.1"]],
        "ok.example": [["93.184.215.14"]],
    }
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def resolver(host: str, port_: int) -> list[str]:
        with lock:
            n = calls[host] = calls.get(host, 0) + 1
        plan = answers.get(host)
        if plan is None:
            import socket

            return [str(i[4][0]) for i in socket.getaddrinfo(host, port_)]
        return plan[min(n, len(plan)) - 1]

    srv = serve(resolver=resolver)  # no allow-list: loopback and private ranges refused
    free = srv.client(register_and_login(srv, "free@example.com")["access_token"])
    r = add(free, "phone", "ntfy://ntfy.sh/my-secret-topic")
    assert r.status_code == 403 and r.json()["error"]["required_tier"] == "PRO", r.text
    assert "PRO" in r.json()["error"]["message"]
    r = free.post("/api/alerts", json={"symbol": "EURUSD", "timeframe": "H1",
                                       "condition": "greater_than", "level": LOW,
                                       "channels": {"notify": ["phone"]}})  # fmt: skip
    assert r.status_code == 403, r.text

    c = pro(srv, "pro@example.com")
    for url in (
        f"ntfy://127.0.0.1:{port}/my-secret-topic",
        "gotify://10.1.2.3/GotifyAppToken42",
        "json://169.254.169.254/json-secret-path",
        "json://[::1]:8080/json-secret-path",
        "ntfys://localhost/my-secret-topic",
    ):
        r = add(c, "x", url)
        assert r.status_code == 422 and r.json()["error"]["field"] == "url", (url, r.text)
        assert not any(secret in r.text for secret in SECRETS), r.text
    # an alerts file naming a channel the user does not have: the entry's problem
    entry = {"name": "e1", "symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
             "level": LOW, "channels": {"notify": ["pager"]}}  # fmt: skip
    r = c.post("/api/alerts/apply", json={"alerts": [entry]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "apply_invalid", r.text
    assert r.json()["error"]["problems"][0]["field"] == "channels.notify"
    r = add(c, "bad", "nonsense://my-secret-topic")
    assert r.status_code == 422 and "my-secret-topic" not in r.text
    # checked again at every send: the name now points at loopback: refused, not called
    assert add(c, "rebound", f"json://rebind.example:{port}/json-secret-path").status_code == 201
    fire(c, notify=["rebound"])
    d = wait_until(lambda: next((x for x in pushes(srv) if x.status != "pending"), None))
    assert d.status == "skipped" and d.attempts == 0
    assert d.last_error == "rebind.example resolves to a loopback address (127.0.0.1): not called"
    assert receiver.received == []


def test_a_silent_receiver_stalls_only_its_owners_channel(
    serve: Any, receiver: PushReceiver
) -> None:
    """The hostile user's pushes go first and hang on a receiver that never answers (its
    read timeout raised to the deadline): two at a time at most, while the other user's push
    arrives; a channel whose URL cannot be read is quarantined, and the rest go on."""
    never = NeverAnswers()
    srv = serve(webhook_allowlist=LOOPBACK, push_deadline_seconds=8, push_threads=4,
                metrics_enabled=True)  # fmt: skip
    try:
        h = pro(srv, "hostile@example.com")
        g = pro(srv, "good@example.com")
        url = f"gotify://127.0.0.1:{never.port}/GotifyAppToken42?rto=8"
        assert add(h, "silent", url).status_code == 201
        for _ in range(3):
            fire(h, notify=["silent"])
        wait_until(lambda: never.open == 2, what="two calls held")
        # a poison channel: its sealed URL is junk (the server's key changed, say)
        assert (
            add(h, "broken", f"ntfy://127.0.0.1:{receiver.port}/my-secret-topic").status_code == 201
        )
        unseal(srv, "broken")
        fire(h, notify=["broken"])
        assert add(g, "phone", f"ntfy://127.0.0.1:{receiver.port}/good-topic").status_code == 201
        fire(g, notify=["phone"])
        got = receiver.wait(1)
        assert got[0].body["topic"] == "good-topic"
        assert never.open == 2 and never.peak == 2  # still held: delivered beside them
        poison = wait_until(
            lambda: next((d for d in pushes(srv) if d.status == "quarantined"), None)
        )
        assert "cannot be read" in (poison.last_error or "")
        with srv.app.state.sessions() as s:
            record = s.scalar(select(ErrorRecord).where(ErrorRecord.user_id == poison.user_id))
            assert record is not None and record.route == f"push delivery {poison.id}"
            # the owner's list, health and /metrics count it with the webhooks' (and apart)
            held = quarantine.listing(s)
        assert [(i["id"], i["what"]) for i in held] == [
            (f"delivery-{poison.id}", f"push delivery of event {poison.event_id}")]  # fmt: skip
        health = srv.client().get("/api/system/health").json()["deliveries"]
        assert health == {"status": "ok", "quarantined": 1}
        metrics = srv.client().get("/metrics").text
        assert "tradealerts_push_quarantined 1.0" in metrics
        assert 'tradealerts_push_attempts_total{outcome="quarantined"} 1.0' in metrics
        assert "tradealerts_deliveries_quarantined 1.0" in metrics
    finally:
        never.close()


def test_a_dripping_receiver_is_cut_at_the_whole_calls_deadline(serve: Any) -> None:
    """A byte every half second never trips a per-read timeout; at the deadline the push's
    connection is shut, so its thread (and its owner's slot) is free again, and the push is
    retried later."""
    drip = SlowDrip(interval=0.5)
    srv = serve(webhook_allowlist=LOOPBACK, push_deadline_seconds=2)
    try:
        c = pro(srv, "dripper@example.com")
        assert add(c, "slow", f"json://127.0.0.1:{drip.port}/json-secret-path").status_code == 201
        fire(c, notify=["slow"])
        wait_until(lambda: drip.open == 1, what="the call made")
        d = wait_until(lambda: next((x for x in pushes(srv) if x.attempts == 1), None))
        assert d.status == "pending"
        assert d.last_error == "no answer within 2 s (the whole call's deadline)"
        wait_until(lambda: drip.open == 0, timeout=5, what="the connection cut")
    finally:
        drip.close()


def test_a_quarantined_push_opens_the_owners_incident(serve: Any, smtp: tuple[Inbox, int]) -> None:
    """A push no try can send (its sealed URL unreadable) is quarantined, and the owner hears
    of it as of a quarantined mail or webhook: one incident that names the push."""
    from tests.server.incidentkit import FAST, OWNER, body, mail

    inbox, _port = smtp
    srv = serve(webhook_allowlist=LOOPBACK, owner_email=OWNER, **FAST)
    h = pro(srv, "poisoner@example.com")
    assert add(h, "broken", "ntfy://127.0.0.1:9/my-secret-topic").status_code == 201
    unseal(srv, "broken")
    fire(h, notify=["broken"])
    opened = mail(inbox, "[tradealerts] INCIDENT: items are quarantined")
    assert "1 push(es) quarantined" in body(opened)
    assert "my-secret-topic" not in body(opened)
