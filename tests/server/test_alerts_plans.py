"""/api/alerts/{id}/clone, /bulk and /apply over real HTTP: the error envelope with each
failing entry, filters required, another user's alerts untouched, names unique per user,
and an engine that fires what apply created."""

from __future__ import annotations

from typing import Any

import pytest
from tests.server.serverkit import Running, user_client, wait_until

LOW = 0.5  # below every synthetic EURUSD price: greater_than fires at once
HIGH = 900_000.0


def entry(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "symbol": "EURUSD", "timeframe": "H1", "condition": "crossing_up",
            "level": HIGH} | kw  # fmt: skip


@pytest.fixture
def srv(make_server) -> Running:
    return make_server(tick_rate=20, rate_limits_enabled=False)


def test_apply_refuses_whole_naming_each_entry_and_field(srv: Running) -> None:
    c = user_client(srv, "plan@example.com")
    bad = [entry("ok"), entry("no-level", level=None), {"symbol": "EURUSD"}, entry("ok"),
           entry("gbp", symbol="GBPUSD"), "text"]  # fmt: skip
    r = c.post("/api/alerts/apply", json={"alerts": bad})
    assert r.status_code == 422 and r.json()["error"]["code"] == "apply_invalid"
    got = [(p["index"], p["name"], p["field"]) for p in r.json()["error"]["problems"]]
    assert (1, "no-level", "level") in got and (3, "ok", "name") in got
    assert (4, "gbp", "symbol") in got and (5, None, None) in got
    assert (2, None, "timeframe") in got and (2, None, "condition") in got
    assert c.get("/api/alerts").json()["items"] == []
    over = [entry(f"n{i}", level=HIGH + i) for i in range(6)]
    r = c.post("/api/alerts/apply", json={"alerts": over})
    body = r.json()["error"]
    assert r.status_code == 403 and body["code"] == "alert_limit"
    assert [p["name"] for p in body["problems"]] == ["n5"] and body["required_tier"] == "PRO"
    assert c.get("/api/alerts").json()["items"] == []
    plan = c.post("/api/alerts/apply", json={"alerts": over[:5], "dry_run": True}).json()
    assert plan["applied"] is False and [i["op"] for i in plan["items"]] == ["create"] * 5
    assert c.get("/api/alerts").json()["items"] == []


def test_apply_creates_alerts_the_engine_fires_and_names_stay_per_user(srv: Running) -> None:
    c = user_client(srv, "fires@example.com")
    plan = c.post("/api/alerts/apply", json={"alerts": [
        entry("fires", condition="greater_than", level=LOW, frequency="once_per_minute"),
    ]}).json()  # fmt: skip
    assert plan["applied"] and plan["items"][0]["op"] == "create"
    wait_until(lambda: c.get("/api/alerts/history").json()["total"] >= 1, what="a fire")
    other = user_client(srv, "other@example.com")
    assert other.post("/api/alerts", json=entry("fires")).status_code == 201  # per user
    r = c.post("/api/alerts", json=entry("fires"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "name_taken"


def test_clone_and_bulk(srv: Running) -> None:
    c = user_client(srv, "bulk@example.com", "PRO")
    other = user_client(srv, "stranger@example.com")
    theirs = other.post("/api/alerts", json=entry("theirs")).json()["id"]
    a = c.post("/api/alerts", json=entry("mine", cooldown="1h", max_fires=3)).json()
    copy = c.post(f"/api/alerts/{a['id']}/clone", json={"symbol": "gbpusd", "timeframe": "H4"})
    assert copy.status_code == 201
    got = copy.json()
    assert (got["symbol"], got["timeframe"], got["cooldown"], got["max_fires"]) == (
        "GBPUSD", "H4", 3600, 3,
    )  # fmt: skip
    assert got["name"] == f"gbpusd-h4-crossing_up-{got['id']}"
    assert c.post(f"/api/alerts/{theirs}/clone", json={}).status_code == 404
    r = c.post("/api/alerts/bulk", json={"action": "pause"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "filter_required"
    r = c.post("/api/alerts/bulk", json={"action": "pause", "all": True})
    assert r.status_code == 200 and sorted(r.json()["ids"]) == sorted([a["id"], got["id"]])
    assert other.get(f"/api/alerts/{theirs}").json()["status"] == "active"  # untouched
    r = c.post("/api/alerts/bulk", json={"action": "delete", "symbol": "GBPUSD"})
    assert r.json()["ids"] == [got["id"]]
    assert [x["id"] for x in c.get("/api/alerts").json()["items"]] == [a["id"]]


def test_destructive_flags_take_a_json_boolean_only(srv: Running) -> None:
    """``prune`` and ``all`` delete: a string or a number is refused (422, the field named),
    never read as true; nothing changes. Every flag on one server and user."""
    c = user_client(srv, "flags@example.com")
    assert c.post("/api/alerts/apply", json={"alerts": [entry("kept")]}).json()["applied"]
    wrong = []  # every flag and field is tried; the failure names each one that went wrong
    for flag in ["yes", "true", 1, "1"]:
        for field, path, body in [
            ("prune", "/api/alerts/apply", {"alerts": [], "prune": flag}),
            ("dry_run", "/api/alerts/apply", {"alerts": [entry("other")], "dry_run": flag}),
            ("all", "/api/alerts/bulk", {"action": "delete", "all": flag}),
        ]:
            r = c.post(path, json=body)
            if r.status_code != 422 or r.json()["error"].get("field") != field:
                wrong.append((field, flag, r.status_code, r.text))
        names = [a["name"] for a in c.get("/api/alerts").json()["items"]]
        if names != ["kept"]:
            wrong.append(("alerts changed", flag, names))
    assert not wrong, wrong
