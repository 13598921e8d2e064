"""User settings, export and deletion, notifications, support tickets, health."""

from __future__ import annotations

from tests.server.serverkit import PW, Running, register_and_login


def err(r) -> dict:
    return r.json()["error"]


def test_profile_and_preferences(server: Running) -> None:
    c = server.client(register_and_login(server, "pref@example.com")["access_token"])
    assert c.patch("/api/user/profile", json={"display_name": "Ann", "bio": "FX"}).json() == {
        "display_name": "Ann",
        "bio": "FX",
    }
    r = c.patch(
        "/api/user/preferences",
        json={
            "theme": "nord",
            "language": "ja",
            "timezone": "Europe/Madrid",
            "marketing_opt_in": True,
            "alert_bell": False,
        },
    )
    assert r.status_code == 200
    assert r.json() | {} == {
        "theme": "nord",
        "chart_style": "candles",
        "language": "ja",
        "timezone": "Europe/Madrid",
        "analytics_opt_in": False,
        "marketing_opt_in": True,
        "alert_bell": False,
    }
    assert c.get("/api/user/preferences").json()["timezone"] == "Europe/Madrid"


#: (a bad preferences body, the field its refusal names): one server and user for them all
BAD_PREFERENCES = [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"language": "xx"}, "language"),
    ({"theme": "neon"}, "theme"),
    ({"chart_style": "pie"}, "chart_style"),
    ({"alert_bell": "loud"}, "alert_bell"),
    ({"colour": "red"}, "colour"),
]


def test_bad_preferences_name_the_field(server: Running) -> None:
    c = server.client(register_and_login(server, "bad@example.com")["access_token"])
    before = c.get("/api/user/preferences").json()
    wrong = []  # every body is tried; the failure names each one that went wrong
    for body, field in BAD_PREFERENCES:
        r = c.patch("/api/user/preferences", json=body)
        if r.status_code != 422 or err(r)["field"] != field:
            wrong.append((body, r.status_code, r.text))
    assert not wrong, wrong
    assert c.get("/api/user/preferences").json() == before  # nothing was changed


def test_change_password_and_email(server: Running) -> None:
    tokens = register_and_login(server, "chg@example.com")
    c = server.client(tokens["access_token"])
    other = (
        server.client()
        .post("/api/auth/login", json={"email": "chg@example.com", "password": PW})
        .json()
    )  # the same account on another device
    r = c.post(
        "/api/user/password", json={"current_password": "wrong one!!", "new_password": "x" * 12}
    )
    assert r.status_code == 422 and err(r)["field"] == "current_password"
    r = c.post(
        "/api/user/password", json={"current_password": PW, "new_password": "a fresh passphrase"}
    )
    assert r.status_code == 200
    # other sessions ended, their access tokens too; this one goes on
    anon = server.client()
    assert (
        anon.post("/api/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code
        == 401
    )
    r = server.client(other["access_token"]).get("/api/user")
    assert r.status_code == 401 and err(r)["code"] == "session_ended"
    assert c.get("/api/user").status_code == 200
    r = c.post(
        "/api/user/email", json={"new_email": "new@example.com", "password": "a fresh passphrase"}
    )
    assert r.status_code == 202
    code = server.inbox.code_for("new@example.com")
    r = c.post("/api/user/email/verify", json={"email": "new@example.com", "code": code})
    assert r.status_code == 200 and r.json()["email"] == "new@example.com"
    assert (
        anon.post(
            "/api/auth/login", json={"email": "new@example.com", "password": "a fresh passphrase"}
        ).status_code
        == 200
    )
    kinds = [n["kind"] for n in c.get("/api/notifications").json()["items"]]
    assert "password_changed" in kinds and "email_verified" in kinds


def test_export_and_delete_account(server: Running) -> None:
    c = server.client(register_and_login(server, "gone@example.com")["access_token"])
    c.post("/api/watchlist", json={"symbol": "EURUSD", "timeframe": "H1"})
    c.post("/api/support", json={"subject": "hi", "body": "question"})
    data = c.get("/api/user/export").json()
    assert data["account"]["email"] == "gone@example.com"
    assert "password_hash" not in data["account"] and "totp_secret" not in data["account"]
    assert (
        data["watchlist"][0]["symbol"] == "EURUSD" and data["support_tickets"][0]["subject"] == "hi"
    )
    r = c.request("DELETE", "/api/user", json={"password": "not it at all"})
    assert r.status_code == 422
    assert c.request("DELETE", "/api/user", json={"password": PW}).status_code == 204
    r = c.get("/api/user")
    assert r.status_code == 401
    from sqlalchemy import func, select

    from tradealerts.server.db.models import Notification, SupportTicket, User, WatchlistItem

    with server.app.state.sessions() as s:
        for model in (User, WatchlistItem, Notification, SupportTicket):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model


def test_notifications_unread_first_and_private(server: Running) -> None:
    a = server.client(register_and_login(server, "na@example.com")["access_token"])
    b = server.client(register_and_login(server, "nb@example.com")["access_token"])
    a.patch("/api/user/profile", json={"display_name": "A"})
    a.post(
        "/api/user/password", json={"current_password": PW, "new_password": "another passphrase"}
    )
    page = a.get("/api/notifications").json()
    assert page["total"] == 2 and page["unread"] == 2
    first, second = page["items"]
    assert a.post(f"/api/notifications/{second['id']}/read").json()["read"] is True
    items = a.get("/api/notifications").json()["items"]
    assert [i["read"] for i in items] == [False, True]  # unread first
    assert a.get("/api/notifications?per_page=1&page=2").json()["items"][0]["id"] == second["id"]
    # B guessing A's ids
    assert b.post(f"/api/notifications/{first['id']}/read").status_code == 404
    assert b.delete(f"/api/notifications/{first['id']}").status_code == 404
    assert a.delete(f"/api/notifications/{first['id']}").status_code == 204
    assert a.get("/api/notifications").json()["total"] == 1


def test_support_ticket_mails_the_owner_and_stays_private(server: Running) -> None:
    a = server.client(register_and_login(server, "sa@example.com")["access_token"])
    b = server.client(register_and_login(server, "sb@example.com")["access_token"])
    r = a.post("/api/support", json={"subject": "Lines look off", "body": "EURUSD H1 ..."})
    assert r.status_code == 201
    mail = server.inbox.wait_for("owner@example.com")[0]
    assert mail["Subject"] == f"[support #{r.json()['id']}] Lines look off"
    assert "sa@example.com" in mail.get_payload(decode=True).decode()
    assert [t["subject"] for t in a.get("/api/support").json()] == ["Lines look off"]
    assert b.get("/api/support").json() == []
    r = a.post("/api/support", json={"subject": "", "body": "x"})
    assert r.status_code == 422 and err(r)["field"] == "subject"


def test_health_reports_database_feed_and_engine(server: Running) -> None:
    r = server.client().get("/api/system/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["database"]["status"] == "ok"
    assert set(body["feed"]["symbols"]) == set(
        __import__("tradealerts.core.tiers").core.tiers.ALL_SYMBOLS
    )
    assert body["engine"]["status"] == "ok"


def test_health_is_503_when_the_feed_is_stale(make_server) -> None:
    from tests.server.serverkit import DATA

    srv = make_server(feed=f"replay:{DATA / 'eurusd_h1.csv'}", replay_speed=0.0)
    engine = srv.app.state.engine
    import time

    deadline = time.monotonic() + 10
    while engine.state != "finished" and time.monotonic() < deadline:
        time.sleep(0.01)
    r = srv.client().get("/api/system/health")
    assert r.status_code == 503
    assert r.json()["status"] == "degraded" and r.json()["engine"]["status"] == "finished"


def test_unknown_route_and_method_use_the_error_body(server: Running) -> None:
    c = server.client()
    r = c.get("/api/nothing-here")
    assert r.status_code == 404 and err(r)["code"] == "not_found"
    r = c.put("/api/auth/login", json={})
    assert r.status_code == 405 and err(r)["code"] == "method_not_allowed"


def test_control_characters_are_refused_not_stored(server: Running) -> None:
    c = server.client(register_and_login(server, "nul@example.com")["access_token"])
    r = c.post("/api/support", json={"subject": "a\x00b", "body": "x"})
    assert r.status_code == 422 and err(r)["field"] == "subject"
    assert "control characters" in err(r)["message"]
    r = c.patch("/api/user/profile", json={"bio": "line one\nline two\ttab"})
    assert r.status_code == 200  # newlines and tabs are ordinary text
