"""An alert's email delivery says what happened to its mail: sent with the time it went out,
or, once the mailer gives up, failed with the time and the error (the history showed
"queued" for ever before)."""

from __future__ import annotations

from typing import Any

from tests.server.serverkit import PW, free_port, wait_until

from tradealerts.core.tiers import Tier
from tradealerts.server import accounts

LOW = 0.5  # below every synthetic EURUSD price: a greater_than alert fires at once


def _email_delivery(c: Any) -> dict[str, Any] | None:
    items = c.get("/api/alerts/history").json()["items"]
    chans = [d for d in items[0]["deliveries"] if d["channel"] == "email"] if items else []
    return chans[0] if chans else None


def _alert_with_email(c: Any) -> None:
    r = c.post(
        "/api/alerts",
        json={"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than",
              "level": LOW, "channels": {"email": True}},
    )  # fmt: skip
    assert r.status_code == 201, r.text


def test_a_sent_alert_mail_is_marked_sent_with_its_time(make_server: Any) -> None:
    from tests.server.serverkit import register_and_login

    srv = make_server(tick_rate=20, rate_limits_enabled=False)
    c = srv.client(register_and_login(srv, "mailed@example.com")["access_token"])
    _alert_with_email(c)
    d = wait_until(lambda: (x := _email_delivery(c)) and x["status"] == "sent" and x, what="sent")
    assert d["attempts"] == 1 and d["last_error"] is None and d["done_at"] is not None
    assert any("EURUSD H1" in (m["Subject"] or "") for m in srv.inbox.messages)


def test_an_alert_mail_that_cannot_be_sent_ends_failed_with_the_error(make_server: Any) -> None:
    # an SMTP server that is not there: every send is refused
    srv = make_server(
        tick_rate=20,
        rate_limits_enabled=False,
        smtp_url=f"smtp://127.0.0.1:{free_port()}",
        access_token_minutes=60 * 24 * 60,  # the test's clock runs weeks ahead
    )
    with srv.app.state.sessions() as s:  # no mail can verify this account: the owner's way
        accounts.create_user(s, "nomail@example.com", PW, srv.clock(), tier=Tier.FREE,
                             verified=True)  # fmt: skip
        s.commit()
    login = srv.client().post(
        "/api/auth/login", json={"email": "nomail@example.com", "password": PW}
    )
    c = srv.client(login.json()["access_token"])
    _alert_with_email(c)
    d = wait_until(lambda: (x := _email_delivery(c)) and x["attempts"] >= 1 and x, what="a try")
    assert d["status"] == "queued" and d["done_at"] is None
    assert "ConnectionRefusedError" in d["last_error"]
    loop, mailer = srv.app.state.loop, srv.app.state.mailer
    for _ in range(40):
        tries = d["attempts"]
        if d["status"] != "queued":
            break
        srv.clock.advance(hours=1)
        loop.call_soon_threadsafe(mailer.wake)
        d = wait_until(
            lambda t=tries: (x := _email_delivery(c)) and x["attempts"] > t and x, what="a retry"
        )
    assert (d["status"], d["attempts"]) == ("failed", 30)
    assert d["done_at"] is not None and "ConnectionRefusedError" in d["last_error"]
