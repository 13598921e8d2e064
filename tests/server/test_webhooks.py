"""Outgoing webhooks against a running server and real receivers on loopback: the SSRF guard
itself (address spellings, an injected resolver that rebinds between check and connect, the
connection pinned to the checked address), Standard Webhooks headers verified with the
``standardwebhooks`` library, redirects not followed, Retry-After, 410 Gone."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from tests.server.serverkit import (
    Clock,
    Inbox,
    Running,
    WebhookReceiver,
    register_and_login,
    server_settings,
    set_tier,
    start_server,
    wait_until,
)

from tradealerts.server.alerts.guard import WebhookGuard, address_problem

LOW = 0.5  # below every synthetic EURUSD price: a greater_than alert fires at once


class Rebinder:
    """A resolver whose answers for a name change from call to call, as an attacker's DNS
    does (the last answer repeats); every call is recorded."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, host: str, port: int) -> list[str]:
        with self.lock:
            self.calls.append(host)
            return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture
def serve(tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]) -> Iterator[Any]:
    inbox, smtp_port = smtp
    running: list[Running] = []

    def start(resolver: Any = None, **overrides: Any) -> Running:
        values = {"tick_rate": 20, "rate_limits_enabled": False, **overrides}
        settings = server_settings(tmp_path / f"h{len(running)}", db_url, smtp_port, **values)
        options = {"resolver": resolver} if resolver is not None else {}
        srv = start_server(settings, Clock(), inbox, **options)
        running.append(srv)
        return srv

    yield start
    for srv in running:
        srv.stop()


def pro(srv: Running, email: str) -> Any:
    c = srv.client(register_and_login(srv, email)["access_token"])
    set_tier(srv, email, "PRO")
    return c


def fire_to(c: Any, url: str) -> int:
    r = c.post(
        "/api/alerts",
        json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": LOW,
              "channels": {"webhook_url": url}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def delivery(c: Any) -> dict[str, Any] | None:
    items = c.get("/api/alerts/history").json()["items"]
    return items[0]["deliveries"][0] if items and items[0]["deliveries"] else None


def wake(srv: Running) -> None:
    srv.app.state.loop.call_soon_threadsafe(srv.app.state.alerts.webhooks.wake)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://2130706433/x",  # 127.0.0.1 as one decimal number
        "https://0177.0.0.1/x",  # octal
        "https://0x7f.1/x",  # hex, short form
        "https://127.1/x",
        "https://[::ffff:127.0.0.1]/x",  # IPv4-mapped IPv6
        "https://[::ffff:a00:1]/x",  # 10.0.0.1, mapped, in hex
        "https://[64:ff9b::a9fe:a9fe]/x",  # the metadata address through NAT64
        "https://[2002:a00:1::]/x",  # 6to4 of 10.0.0.1
        "https://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/x",
        "https://[::]/x",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://224.0.0.1/x",
        "https://240.0.0.1/x",
        "https://100.64.0.1/x",  # shared address space (CGNAT)
        "https://192.168.1.5/x",
        "https://[fd12::1]/x",
    ],
)
def test_the_guard_refuses_every_spelling_of_an_inside_address(url: str) -> None:
    guard = WebhookGuard()
    assert guard.refusal(url) is not None, url
    assert WebhookGuard(resolver=lambda h, p: ["93.184.215.14"]).refusal(url) is not None


def test_the_guard_checks_every_resolved_address_and_keeps_the_allow_list() -> None:
    def answers(*addrs: str) -> WebhookGuard:
        return WebhookGuard(resolver=lambda h, p: list(addrs))

    assert answers("93.184.215.14").refusal("https://hooks.example.com/x") is None
    # one inside address among public ones is enough to refuse (DNS answers rotate)
    problem = answers("93.184.215.14", "10.1.2.3").refusal("https://hooks.example.com/x")
    assert problem == "hooks.example.com resolves to a private address (10.1.2.3)"
    assert "metadata" in str(answers("169.254.169.254").refusal("https://a.example/x"))
    assert "does not resolve" in str(answers().refusal("https://a.example/x"))
    # the owner's allow-list: a range, or a host name (which still never reaches metadata)
    ranged = WebhookGuard(["10.20.0.0/16"], resolver=lambda h, p: ["10.20.3.4"])
    assert ranged.refusal("https://automation.internal/x") is None
    assert ranged.refusal("https://10.21.0.1/x") is not None
    named = WebhookGuard(["automation.internal"], resolver=lambda h, p: ["10.9.9.9"])
    assert named.refusal("https://automation.internal/x") is None
    assert named.refusal("https://other.internal/x") is not None
    metadata = WebhookGuard(["automation.internal"], resolver=lambda h, p: ["169.254.169.254"])
    assert metadata.refusal("https://automation.internal/x") is not None
    assert address_problem(ipaddress.ip_address("8.8.8.8")) is None


def test_the_api_refuses_inside_addresses_with_the_reason(serve: Any) -> None:
    srv = serve()
    c = pro(srv, "ssrf@example.com")
    for url in ("https://2130706433/x", "https://[::ffff:127.0.0.1]/x", "https://0x7f.1/x"):
        r = c.post(
            "/api/alerts",
            json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
                  "level": 1.1, "channels": {"webhook_url": url}},
        )  # fmt: skip
        assert r.status_code == 422, url
        assert r.json()["error"]["field"] == "channels.webhook_url"


def test_the_connection_goes_to_the_checked_address(serve: Any) -> None:
    """The resolver says localhost is 127.0.0.3; the system says 127.0.0.1. A receiver
    listens on each, same port: only the checked address may get the call."""
    checked = WebhookReceiver(host="127.0.0.3")
    system = WebhookReceiver(host="127.0.0.1", port=checked.port)
    resolver = Rebinder([["127.0.0.3"]])
    srv = serve(resolver, webhook_allowlist=["127.0.0.3/32"])
    try:
        c = pro(srv, "pin@example.com")
        secret = c.get("/api/user/webhook-secret").json()["secret"]
        fire_to(c, f"http://localhost:{checked.port}/hook")
        headers, body = checked.wait(1)[0]
        assert headers["host"] == f"localhost:{checked.port}"  # the name is kept
        assert system.received == []
        assert Webhook(secret).verify(body, headers)["symbol"] == "EURUSD"
        d = wait_until(lambda: (x := delivery(c)) and x["status"] == "sent" and x, what="sent")
        assert d["done_at"] is not None
        assert resolver.calls == ["localhost", "localhost"]  # creation, then the one attempt
    finally:
        checked.close()
        system.close()


def test_a_name_that_rebinds_after_the_check_is_refused_not_called(serve: Any) -> None:
    """Approved at creation (127.0.0.3), the name then points inside (127.0.0.1, where an
    internal service listens): the delivery is refused and the service never called."""
    inside = WebhookReceiver(host="127.0.0.1")
    resolver = Rebinder([["127.0.0.3"], ["127.0.0.1"]])
    srv = serve(resolver, webhook_allowlist=["127.0.0.3/32"])
    try:
        c = pro(srv, "rebind@example.com")
        fire_to(c, f"http://localhost:{inside.port}/hook")
        d = wait_until(lambda: (x := delivery(c)) and x["status"] != "pending" and x, what="end")
        assert d["status"] == "skipped" and d["attempts"] == 0
        assert "loopback address (127.0.0.1)" in d["last_error"]
        time.sleep(0.2)
        assert inside.received == []
    finally:
        inside.close()


def test_webhook_id_is_stable_across_retries_and_retry_after_is_honoured(serve: Any) -> None:
    hook = WebhookReceiver(statuses=[(503, {"Retry-After": "120"})])
    srv = serve(webhook_allowlist=["127.0.0.1/32"], access_token_minutes=600)
    try:
        c = pro(srv, "later@example.com")
        secret = c.get("/api/user/webhook-secret").json()["secret"]
        fire_to(c, hook.url)
        hook.wait(1)
        wait_until(lambda: (x := delivery(c)) and x["attempts"] == 1, what="the first try")
        srv.clock.advance(seconds=61)  # past the 30 s back-off, not past Retry-After
        wake(srv)
        time.sleep(0.5)
        assert len(hook.received) == 1
        srv.clock.advance(seconds=60)
        wake(srv)
        (h1, b1), (h2, b2) = hook.wait(2)
        assert h1["webhook-id"] == h2["webhook-id"] and b1 == b2
        assert int(h2["webhook-timestamp"]) - int(h1["webhook-timestamp"]) >= 120
        # each attempt is signed for its own timestamp (the second in the server's future)
        wh = Webhook(secret)
        assert json.loads(b1) == wh.verify(b1, h1)
        d = wait_until(lambda: (x := delivery(c)) and x["status"] == "sent" and x, what="sent")
        assert d["attempts"] == 2
    finally:
        hook.close()


def test_redirects_are_not_followed(serve: Any) -> None:
    inside = WebhookReceiver(host="127.0.0.1")
    hook = WebhookReceiver(statuses=[(302, {"Location": inside.url})])
    srv = serve(webhook_allowlist=["127.0.0.1/32"])
    try:
        c = pro(srv, "redirect@example.com")
        fire_to(c, hook.url)
        d = wait_until(lambda: (x := delivery(c)) and x["status"] != "pending" and x, what="end")
        assert (d["status"], d["response_status"]) == ("failed", 302)
        assert "redirects are not followed" in d["last_error"]
        assert inside.received == []
    finally:
        hook.close()
        inside.close()


def test_410_gone_takes_the_webhook_off_and_says_so(serve: Any) -> None:
    hook = WebhookReceiver(statuses=[410])
    srv = serve(webhook_allowlist=["127.0.0.1/32"])
    try:
        c = pro(srv, "gone@example.com")
        alert_id = fire_to(c, hook.url)
        d = wait_until(lambda: (x := delivery(c)) and x["status"] != "pending" and x, what="end")
        assert (d["status"], d["response_status"]) == ("failed", 410)
        assert c.get(f"/api/alerts/{alert_id}").json()["channels"]["webhook_url"] is None
        notes = c.get("/api/notifications").json()["items"]
        gone = [n for n in notes if n["kind"] == "webhook_disabled"]
        assert len(gone) == 1 and str(alert_id) in gone[0]["body"]
    finally:
        hook.close()


# -- webhook formats (issue #15): each body received and checked against docs/api.md --------
def _body_shapes(message: str, chat: int) -> dict[str, Any]:
    """The documented shape of each format, with this fire's message (docs/api.md)."""
    return {
        "discord": {
            "content": message,
            "username": "tradealerts",
            "embeds": [{"title": "EURUSD H1: greater_than", "description": message}],
        },
        "slack": {"text": message},
        "telegram": {"chat_id": chat, "text": message},
    }


def test_each_webhook_format_reaches_a_receiver_in_its_documented_shape(serve: Any) -> None:
    hooks = {fmt: WebhookReceiver() for fmt in ("json", "discord", "slack", "telegram")}
    srv = serve(webhook_allowlist=["127.0.0.1/32"])
    try:
        c = pro(srv, "formats@example.com")
        secret = c.get("/api/user/webhook-secret").json()["secret"]
        ids: dict[str, int] = {}
        for fmt, hook in hooks.items():
            url = hook.url + ("?chat_id=-100123" if fmt == "telegram" else "")
            r = c.post(
                "/api/alerts",
                json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
                      "level": LOW, "message": "{{ticker}} {{interval}} above {{level}}",
                      "channels": {"webhook_url": url, "webhook_format": fmt}},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            ids[fmt] = r.json()["id"]
        got = {fmt: hook.wait(1)[0] for fmt, hook in hooks.items()}
        ours = json.loads(got["json"][1])
        message = "EURUSD H1 above 0.50000"
        assert ours["message"] == message and {"id", "alert_id", "price", "time"} <= set(ours)
        shapes = _body_shapes(message, -100123)
        for fmt in ("discord", "slack", "telegram"):
            headers, raw = got[fmt]
            body = json.loads(raw)
            assert headers["content-type"] == "application/json"
            Webhook(secret).verify(raw, headers)  # signed like every webhook
            want = shapes[fmt]
            for key, value in want.items():
                if key == "embeds":
                    embed = body["embeds"][0]
                    assert {k: embed[k] for k in value[0]} == value[0]
                    # the four alerts may first fire on different ticks: this one's own fire
                    fired = c.get("/api/alerts/history", params={"alert_id": ids[fmt]}).json()
                    assert embed["timestamp"] == fired["items"][0]["time"]
                    assert [f["name"] for f in embed["fields"]] == ["Price", "Level"]
                    assert embed["fields"][1]["value"] == "0.50000"
                else:
                    assert body[key] == value, (fmt, key, body)
        slack = json.loads(got["slack"][1])
        assert [b["type"] for b in slack["blocks"]] == ["section", "context"]
        assert slack["blocks"][0]["text"]["text"] == f"*EURUSD H1: greater_than*\n{message}"
        # the context line is read by people: the fire's time to the second, as {{time}} and
        # docs/api.md show it (the event's own time carries microseconds)
        fired = c.get("/api/alerts/history", params={"alert_id": ids["slack"]}).json()
        when = fired["items"][0]["time"][:19] + "Z"
        context = slack["blocks"][1]["elements"][0]["text"]
        assert context == f"price {context.split()[1]} · level 0.50000 · {when}", context
        assert set(json.loads(got["telegram"][1])) == {"chat_id", "text"}
    finally:
        for hook in hooks.values():
            hook.close()
