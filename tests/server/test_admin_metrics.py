"""/metrics read by prometheus-client's own parser, and the product plan's route aliases."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.server.serverkit import PW, Running, free_port, register_and_login, wait_until


def scrape(c: httpx.Client, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    r = c.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_metrics_parse_and_move_with_requests(make_server: Callable[..., Running]) -> None:
    srv = make_server(metrics_enabled=True)
    token = register_and_login(srv, "m@example.com")["access_token"]
    c = srv.client(token)
    before = scrape(c)
    ok = (("family", "symbols"), ("status", "2xx"))
    start = before.get("tradealerts_requests_total", {}).get(ok, 0.0)
    for _ in range(5):
        assert c.get("/api/symbols").status_code == 200
    for _ in range(3):
        assert c.get("/api/indicators/EURUSD/H1?bars=5").status_code == 200
    after = scrape(c)
    assert after["tradealerts_requests_total"][ok] == start + 5
    ind = after["tradealerts_requests_total"][(("family", "indicators"), ("status", "2xx"))]
    assert ind == 3  # the fast path counts too
    buckets = after["tradealerts_request_latency_seconds_bucket"]
    assert buckets[(("family", "indicators"), ("le", "+Inf"))] == 3
    assert after["tradealerts_request_latency_seconds_count"][(("family", "indicators"),)] == 3
    assert after["tradealerts_open_streams"][()] == 0
    assert after["tradealerts_feed_up"][(("feed", "synthetic"),)] == 1
    assert after["tradealerts_mail_queue"][()] == 0  # the sign-up's mail went out
    assert after["tradealerts_mail_quarantined"][()] == 0
    # the engine's time on its last event: above 0 once it has processed one (0 without one)
    assert after["tradealerts_engine_lag_seconds"][()] > 0
    assert after["tradealerts_webhook_queue"][()] == 0

    # an alert that fires on the next tick: one more fire in the log, counted
    fires = after["tradealerts_fires_total"][()]
    body = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": 0.5}
    assert c.post("/api/alerts", json=body).status_code == 201
    wait_until(lambda: c.get("/api/alerts/history").json()["total"] == 1, 30, "the fire")
    assert scrape(c)["tradealerts_fires_total"][()] == fires + 1


def test_metrics_count_mails_not_yet_sent(make_server: Callable[..., Running]) -> None:
    srv = make_server(metrics_enabled=True, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    c = srv.client()  # loopback: no token needed
    assert scrape(c)["tradealerts_mail_queue"][()] == 0
    for n in range(2):  # nothing listens on that SMTP port: each sign-up's code waits
        r = c.post("/api/auth/register", json={"email": f"q{n}@example.com", "password": PW})
        assert r.status_code == 202
    # sign-ups are made in the background (the same answer for known and unknown emails)
    wait_until(lambda: scrape(c)["tradealerts_mail_queue"][()] == 2, 30, "two mails waiting")


def test_metrics_off_by_default_and_token_protected(make_server: Callable[..., Running]) -> None:
    off = make_server()
    r = off.client().get("/metrics")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    guarded = make_server(metrics_enabled=True, metrics_token="scrape-token-123")
    c = guarded.client()
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "tradealerts_requests_total" in scrape(c, Authorization="Bearer scrape-token-123")


def test_documented_aliases(server: Running) -> None:
    tokens = register_and_login(server, "alias@example.com")
    c = server.client(tokens["access_token"])
    r = c.put("/api/user/profile", json={"display_name": "Ada"})
    assert r.status_code == 200 and r.json()["display_name"] == "Ada"
    assert c.put("/api/user/preferences", json={"timezone": "Europe/Paris"}).status_code == 200
    assert c.put("/api/user/appearance", json={"chart_style": "line"}).status_code == 200
    assert c.put("/api/user/privacy", json={"marketing_opt_in": True}).status_code == 200
    assert c.put("/api/user/language", json={"language": "fr"}).status_code == 200
    prefs = c.get("/api/user/preferences").json()
    assert (prefs["timezone"], prefs["chart_style"], prefs["marketing_opt_in"]) == (
        "Europe/Paris",
        "line",
        True,
    )
    assert prefs["language"] == "fr"
    assert c.put("/api/user/appearance", json={"theme": "nope"}).status_code == 422
    note = c.get("/api/notifications").json()["items"][0]
    r = c.put(f"/api/notifications/{note['id']}/read")
    assert r.status_code == 200 and r.json()["read"] is True
    r = c.request("DELETE", "/api/user/account", json={"password": "wrong password"})
    assert r.status_code in (400, 401, 403, 422) and "error" in r.json()
    assert c.request("DELETE", "/api/user/account", json={"password": PW}).status_code == 204
    assert c.get("/api/user").status_code == 401
