"""/api/alerts over real HTTP against a running engine: CRUD, refusals naming fields, tier
rules, downgrade pausing, IDOR, and alerts that really fire from the feed into the event
log, the stream, the history, the inbox and a webhook receiver."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from tests.server.serverkit import (
    SSE,
    Running,
    WebhookReceiver,
    register_and_login,
    set_tier,
    user_client,
    wait_until,
)

LOW = 0.5  # below every price the synthetic EURUSD reaches: greater_than fires at once
HIGH = 900_000.0  # above every price: never reached


def alert(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": "EURUSD",
        "timeframe": "H1",
        "condition": "crossing_up",
        "level": 1.09,
    }
    body.update(kw)
    return body


@pytest.fixture
def srv(make_server) -> Running:
    # these tests poll the history while waiting for the feed: quotas are tested elsewhere
    return make_server(tick_rate=20, rate_limits_enabled=False)


def test_create_list_get_update_pause_resume_delete(srv: Running) -> None:
    c = user_client(srv, "a@example.com")
    r = c.post(
        "/api/alerts",
        json=alert(
            symbol="eurusd",
            timeframe="h1",
            frequency="once_per_bar",
            expires_at=(srv.clock() + timedelta(days=7)).isoformat(),
            message="{{symbol}} up through {{level}}",
            channels={"email": True},
        ),
    )
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["symbol"], a["timeframe"], a["status"], a["price_source"]) == (
        "EURUSD",
        "H1",
        "active",
        "bid",
    )
    assert a["channels"] == {"email": True, "webhook_url": None, "webhook_format": "json",
                             "notify": None}  # fmt: skip
    assert a["fire_count"] == 0 and a["name"] == f"eurusd-h1-crossing_up-{a['id']}"
    listing = c.get("/api/alerts").json()
    assert [x["id"] for x in listing["items"]] == [a["id"]]
    assert (listing["active"], listing["limit"]) == (1, 5)
    got = c.get(f"/api/alerts/{a['id']}").json()
    assert a["health"] is None and got["health"]["fires_30d"] == 0  # reads carry health
    assert {**got, "health": None} == a

    r = c.patch(
        f"/api/alerts/{a['id']}", json={"condition": "entering_channel", "lower": 1.0, "upper": 1.1}
    )
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["condition"], changed["level"], changed["lower"], changed["upper"]) == (
        "entering_channel",
        None,
        1.0,
        1.1,
    )
    paused = c.post(f"/api/alerts/{a['id']}/pause").json()
    assert (paused["status"], paused["status_reason"]) == ("paused", "paused_by_user")
    assert c.post(f"/api/alerts/{a['id']}/pause").status_code == 409
    assert c.get("/api/alerts", params={"status": "paused"}).json()["items"][0]["id"] == a["id"]
    assert c.get("/api/alerts", params={"status": "active"}).json()["items"] == []
    assert c.get("/api/alerts", params={"symbol": "xauusd"}).json()["items"] == []
    resumed = c.post(f"/api/alerts/{a['id']}/resume").json()
    assert (resumed["status"], resumed["status_reason"]) == ("active", None)
    assert c.delete(f"/api/alerts/{a['id']}").status_code == 204
    assert c.get(f"/api/alerts/{a['id']}").status_code == 404
    assert c.get("/api/alerts").json()["items"] == []


#: (a bad alert, the field its refusal names); one server and user for them all: a refusal
#: stores nothing, and starting a server per case cost ~3 s each on CI
BAD_ALERTS = [
    (alert(level=float("nan")), "level"),
    (alert(level=-1), "level"),
    (alert(level=1e12), "level"),
    (alert(condition="entering_channel", level=None, lower=1.1, upper=1.0), "lower"),
    (alert(condition="moving_up", level=None, amount=0.01, bars=501), "bars"),
    (alert(condition="moving_up", level=None, amount=0.01, bars=0), "bars"),
    (alert(expires_at="2020-01-01T00:00:00Z"), "expires_at"),
    (alert(channels={"webhook_url": "http://example.com/hook"}), "channels.webhook_url"),
    (alert(message="{{nope}}"), "message"),
    (alert(condition="crossing_sideways"), "condition"),
    (alert(timeframe="H3"), "timeframe"),
]


def test_bad_alerts_are_422_naming_the_field(srv: Running) -> None:
    c = user_client(srv, "bad@example.com", "PRO")
    wrong = []  # every case is tried; the failure names each one that went wrong
    for body, field in BAD_ALERTS:
        raw = json.dumps(body)  # NaN goes on the wire as the token NaN
        r = c.post("/api/alerts", content=raw, headers={"Content-Type": "application/json"})
        err = (r.json().get("error") or {}) if r.status_code == 422 else {}
        if err.get("code") != "invalid_input" or field not in err.get("message", ""):
            wrong.append((field, raw, r.status_code, r.text))
    assert not wrong, wrong
    assert c.get("/api/alerts").json()["items"] == []


def test_unknown_symbol_and_malformed_json_are_refused_plainly(srv: Running) -> None:
    c = user_client(srv, "u@example.com")
    r = c.post("/api/alerts", json=alert(symbol="DOGEUSD"))
    assert r.status_code == 422 and "symbol" in r.json()["error"]["message"]
    r = c.post("/api/alerts", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    assert c.get("/api/alerts").json()["items"] == []


def test_tier_rules_pair_webhook_and_limit(srv: Running) -> None:
    c = user_client(srv, "free@example.com")
    r = c.post("/api/alerts", json=alert(symbol="GBPUSD"))
    assert r.status_code == 403 and r.json()["error"]["required_tier"] == "PRO"
    r = c.post("/api/alerts", json=alert(timeframe="M5"))
    assert r.status_code == 403 and "PRO" in r.json()["error"]["message"]
    r = c.post("/api/alerts", json=alert(channels={"webhook_url": "https://example.com/h"}))
    assert r.status_code == 403 and r.json()["error"]["required_tier"] == "PRO"
    for i in range(5):
        assert c.post("/api/alerts", json=alert(level=1.09 + i / 100)).status_code == 201
    r = c.post("/api/alerts", json=alert(level=1.2))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "alert_limit" and "5" in r.json()["error"]["message"]
    # a paused alert does not count: pausing one makes room
    first = c.get("/api/alerts").json()["items"][0]["id"]
    c.post(f"/api/alerts/{first}/pause")
    assert c.post("/api/alerts", json=alert(level=1.2)).status_code == 201
    # and now resuming would exceed the limit
    r = c.post(f"/api/alerts/{first}/resume")
    assert r.status_code == 403 and r.json()["error"]["code"] == "alert_limit"


def test_webhooks_to_private_addresses_are_refused(srv: Running) -> None:
    c = user_client(srv, "ssrf@example.com", "PRO")
    for url in ("https://127.0.0.1/hook", "https://10.1.2.3/x", "http://localhost:9/x"):
        r = c.post("/api/alerts", json=alert(channels={"webhook_url": url}))
        assert r.status_code == 422, url
        assert "webhook_url" in r.json()["error"]["message"]


def test_downgrade_pauses_without_deleting_and_resume_is_refused(srv: Running) -> None:
    c = user_client(srv, "pro@example.com", "PRO")
    ids = []
    for i in range(6):
        ids.append(c.post("/api/alerts", json=alert(level=HIGH + i)).json()["id"])
    gbp = c.post("/api/alerts", json=alert(symbol="GBPUSD", level=HIGH)).json()["id"]
    m5 = c.post("/api/alerts", json=alert(timeframe="M5", level=HIGH)).json()["id"]
    runtime = srv.app.state.alerts
    wait_until(lambda: len(runtime.book) == 8, what="8 alerts in the engine")

    set_tier(srv, "pro@example.com", "FREE")
    items = {a["id"]: a for a in c.get("/api/alerts").json()["items"]}
    assert len(items) == 8  # nothing deleted
    paused = {i for i, a in items.items() if a["status"] == "paused"}
    assert paused == {ids[5], gbp, m5}  # the pairs FREE lacks, and the 6th of 6 EURUSD H1
    assert all(items[i]["status_reason"] == "tier_downgrade" for i in paused)
    # the engine stops matching them (the change reaches it through the change feed)
    wait_until(lambda: len(runtime.book) == 5, what="the engine to drop the paused alerts")
    r = c.post(f"/api/alerts/{gbp}/resume")
    assert r.status_code == 403
    assert "plan changed" in r.json()["error"]["message"] and "PRO" in r.json()["error"]["message"]
    kinds = [n["kind"] for n in c.get("/api/notifications").json()["items"]]
    assert "alerts_paused" in kinds


def test_users_cannot_reach_each_others_alerts(srv: Running) -> None:
    a = user_client(srv, "a@example.com", "PRO")
    b = user_client(srv, "b@example.com", "PRO")
    mine = a.post("/api/alerts", json=alert(condition="greater_than", level=LOW)).json()["id"]
    wait_until(lambda: a.get("/api/alerts/history").json()["total"] == 1, what="A's alert")
    for method, path, body in [
        ("GET", f"/api/alerts/{mine}", None),
        ("PATCH", f"/api/alerts/{mine}", {"level": 1.5}),
        ("DELETE", f"/api/alerts/{mine}", None),
        ("POST", f"/api/alerts/{mine}/pause", None),
        ("POST", f"/api/alerts/{mine}/resume", None),
    ]:
        r = b.request(method, path, json=body)
        assert r.status_code == 404, (method, path)
    assert b.get("/api/alerts").json()["items"] == []
    assert b.get("/api/alerts/history").json()["total"] == 0
    assert b.get("/api/alerts/history", params={"alert_id": mine}).json()["items"] == []
    assert a.get(f"/api/alerts/{mine}").status_code == 200  # untouched


def test_an_alert_fires_into_log_stream_history_mail_and_webhook(make_server) -> None:
    hook = WebhookReceiver()
    srv = make_server(
        tick_rate=20,
        webhook_allowlist=["127.0.0.1/32"],  # the loopback receiver, owner-approved
        stream_heartbeat_seconds=0.5,
        rate_limits_enabled=False,
    )
    try:
        c = user_client(srv, "fire@example.com", "PRO")
        secret = c.get("/api/user/webhook-secret").json()["secret"]
        with c.stream("GET", "/api/stream", timeout=15) as stream:
            sse = SSE(stream)
            sse.frame()  # retry advice
            r = c.post(
                "/api/alerts",
                json=alert(
                    condition="greater_than",
                    level=LOW,
                    message="{{symbol}} {{timeframe}} above {{level}} at {{price}}",
                    channels={"email": True, "webhook_url": hook.url},
                ),
            )
            assert r.status_code == 201, r.text
            alert_id = r.json()["id"]
            frame = sse.until("alert")
        data = frame["data"]
        assert data["alert_id"] == alert_id and int(frame["id"]) == data["id"]
        assert data["price"] > LOW and data["level"] == LOW
        assert data["message"].startswith("EURUSD H1 above 0.5")
        # once: the alert is now triggered and never fires again
        a = c.get(f"/api/alerts/{alert_id}").json()
        assert (a["status"], a["fire_count"]) == ("triggered", 1)

        alert_mail = wait_until(
            lambda: [m for m in srv.inbox.messages if "EURUSD H1" in m["Subject"]],
            what="the alert email",
        )
        assert len(alert_mail) == 1 and alert_mail[0]["To"] == "fire@example.com"
        assert data["message"] in alert_mail[0].get_payload(decode=True).decode()

        headers, body = hook.wait(1)[0]
        assert json.loads(body)["id"] == data["id"]
        # a receiver verifies with the Standard Webhooks library and the user's secret
        assert Webhook(secret).verify(body, headers)["id"] == data["id"]
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body + b" ", headers)

        def delivered() -> Any:
            items = c.get("/api/alerts/history").json()["items"]
            chans = {d["channel"]: d["status"] for d in items[0]["deliveries"]}
            return chans if set(chans.values()) == {"sent"} else None

        assert wait_until(delivered, what="the webhook delivery") == {
            "email": "sent",
            "webhook": "sent",
        }
        history = c.get("/api/alerts/history", params={"alert_id": alert_id}).json()
        assert history["total"] == 1 and history["items"][0]["id"] == data["id"]
        assert any(n["kind"] == "alert" for n in c.get("/api/notifications").json()["items"])
    finally:
        hook.close()


def test_webhook_retries_with_backoff_then_gives_up_after_a_day(make_server) -> None:
    hook = WebhookReceiver(statuses=[500, 503] + [500] * 100)
    # the test's clock runs a day ahead: keep the access token valid meanwhile
    srv = make_server(
        tick_rate=20,
        webhook_allowlist=["127.0.0.1/32"],  # the loopback receiver, owner-approved
        access_token_minutes=3000,
        rate_limits_enabled=False,
    )
    try:
        c = user_client(srv, "retry@example.com", "PRO")
        c.post(
            "/api/alerts",
            json=alert(condition="greater_than", level=LOW, channels={"webhook_url": hook.url}),
        )
        hook.wait(1)

        def delivery() -> dict[str, Any] | None:
            items = c.get("/api/alerts/history").json()["items"]
            return items[0]["deliveries"][0] if items and items[0]["deliveries"] else None

        d = wait_until(lambda: (x := delivery()) and x["attempts"] == 1 and x, what="1 try")
        assert (d["status"], d["response_status"], d["last_error"]) == ("pending", 500, "HTTP 500")
        sender = srv.app.state.alerts.webhooks
        srv.clock.advance(seconds=29)  # not due yet: the first wait is 30 s
        srv.app.state.loop.call_soon_threadsafe(sender.wake)
        time.sleep(0.5)
        assert len(hook.received) == 1
        srv.clock.advance(seconds=2)
        srv.app.state.loop.call_soon_threadsafe(sender.wake)
        hook.wait(2)
        wait_until(lambda: delivery()["attempts"] == 2, what="2 tries")  # type: ignore[index]
        for _ in range(40):  # a day later it gives up
            tries = delivery()["attempts"]  # type: ignore[index]
            srv.clock.advance(hours=1)
            srv.app.state.loop.call_soon_threadsafe(sender.wake)
            d = wait_until(
                lambda t=tries: (x := delivery()) and x["attempts"] > t and x, what="a retry"
            )
            if d["status"] == "failed":
                break
        final = delivery()
        assert final is not None and final["status"] == "failed" and final["attempts"] > 2
    finally:
        hook.close()


def test_missed_fires_arrive_exactly_once_on_resume(srv: Running) -> None:
    c = user_client(srv, "r@example.com")
    c.post("/api/alerts", json=alert(condition="greater_than", level=LOW))
    first = wait_until(lambda: c.get("/api/alerts/history").json()["items"], what="a fire")
    last_seen = first[0]["id"]
    # offline: two more alerts fire
    for _ in range(2):
        c.post("/api/alerts", json=alert(condition="greater_than", level=LOW))
    missed = wait_until(
        lambda: (h := c.get("/api/alerts/history").json())["total"] == 3 and h["items"],
        what="two more fires",
    )
    expected = sorted(x["id"] for x in missed if x["id"] > last_seen)
    with c.stream("GET", "/api/stream", headers={"Last-Event-ID": str(last_seen)}) as r:
        sse = SSE(r)
        got = [int(sse.until("alert")["id"]) for _ in expected]
    assert got == expected


def test_expiry_stops_an_alert_and_says_so(srv: Running) -> None:
    c = user_client(srv, "exp@example.com")
    expires = srv.clock() + timedelta(minutes=5)
    a = c.post("/api/alerts", json=alert(level=HIGH, expires_at=expires.isoformat())).json()
    srv.clock.advance(minutes=6)

    def status() -> str | None:
        s = c.get(f"/api/alerts/{a['id']}").json()
        return s if s["status"] == "expired" else None

    s = wait_until(status, what="the alert to expire")
    assert s["status_reason"] == "expired"
    r = c.post(f"/api/alerts/{a['id']}/resume")
    assert r.status_code == 409 and "expired" in r.json()["error"]["message"]
    assert any(n["kind"] == "alert_expired" for n in c.get("/api/notifications").json()["items"])


def test_a_deleted_alerts_id_is_never_reused_and_the_next_alert_fires(srv: Running) -> None:
    c = user_client(srv, "reuse@example.com")
    gone = c.post("/api/alerts", json=alert(level=HIGH)).json()["id"]
    assert c.delete(f"/api/alerts/{gone}").status_code == 204
    new = c.post("/api/alerts", json=alert(condition="greater_than", level=LOW)).json()["id"]
    assert new > gone
    fired = wait_until(lambda: c.get("/api/alerts/history").json()["items"], what="a fire")
    assert [e["alert_id"] for e in fired] == [new]


def test_a_nul_byte_in_a_filter_is_a_422_on_every_database(server: Running) -> None:
    """PostgreSQL cannot compare a NUL byte: a name filter (or the owner's user search) with
    one was a 500 there; it is refused as bad input before any query."""
    from tests.server.test_admin_dashboard import make_admin

    c = server.client(register_and_login(server, "nul@example.com")["access_token"])
    r = c.get("/api/alerts", params={"name": "a\x00b"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name", r.text
    admin = make_admin(server, "boss@example.com")
    r = admin.get("/api/admin/users", params={"search": "gmail\x00"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "search", r.text
