"""One hostile tenant's text never holds anyone else (issue #22), on SQLite and PostgreSQL.

A FREE user's alerts carry a NUL, U+2028 and CR/LF in their message, stored the way rows
from before the control-character rule are (the API refuses them now: checked too). They
fire next to a second user's alert. The second user's fire reaches the history, the stream
and the SMTP server; a new user's sign-up mail still goes out. The poison fires are logged
with their text made safe and the reason noted; a mail no try can send (its recipient is
refused with a 5xx, or its address holds a line break) is quarantined with the reason, seen
by the owner and on the subscriber's delivery, and released by the owner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.server.serverkit import (
    PW,
    SSE,
    Inbox,
    register_and_login,
    running_smtp,
    user_client,
    wait_until,
)

from tradealerts.core.alerts import AlertCreate
from tradealerts.core.text import unsafe_reason
from tradealerts.core.tiers import Tier
from tradealerts.server import accounts, dashboard, mail
from tradealerts.server.alerts import records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.db.models import MailMessage

LOW = 0.5  # below every synthetic EURUSD price: a greater_than alert fires at once
POISON = ["nul\x00here {{price}}", "line\u2028sep {{price}}", "crlf\r\nBcc: x@example.com"]
EXE = Path(sys.executable).parent / "tradealerts-server"


class RefusingInbox(Inbox):
    """The test SMTP server, refusing (550) every recipient whose address starts "bounce"."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with running_smtp(RefusingInbox()) as sink:
        yield sink


def _alert(message: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "level": LOW,
            "channels": {"email": True}, **extra}  # fmt: skip
    return body if message is None else {**body, "message": message}


def _alert_mails(srv: Any, to: str) -> list[Any]:
    return [m for m in srv.inbox.messages
            if m["To"] == to and str(m["Subject"]).startswith("[tradealerts]")]  # fmt: skip


def _history(c: Any) -> list[dict[str, Any]]:
    return list(c.get("/api/alerts/history").json()["items"])


def test_the_api_refuses_control_characters_naming_the_field(server: Any) -> None:
    c = user_client(server, "door@example.com")
    for text in POISON:
        r = c.post("/api/alerts", json=_alert(text))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == "message", r.text
    r = c.post("/api/alerts/apply", json={"alerts": [_alert(POISON[1], name="one")]})
    assert r.status_code == 422 and r.json()["error"]["problems"][0]["field"] == "message"
    r = c.post("/api/support", json={"subject": "help\nBcc: x@example.com", "body": "hi"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "subject", r.text
    r = c.patch("/api/user/profile", json={"display_name": "a\u2029b"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "display_name", r.text
    # a support body may hold lines; a NUL still is refused
    assert c.post("/api/support", json={"subject": "help", "body": "a\nb"}).status_code == 201
    r = c.post("/api/support", json={"subject": "help", "body": "a\x00b"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "body"


def test_a_hostile_tenants_text_holds_no_one_else(make_server: Any) -> None:
    srv = make_server(tick_rate=20, rate_limits_enabled=False)
    sessions = srv.app.state.sessions
    hostile = user_client(srv, "hostile@example.com")
    second_token = register_and_login(srv, "second@example.com")["access_token"]
    second = srv.client(second_token)
    with sessions() as s:  # the owner's way: no mail could verify this address
        accounts.create_user(s, "bounce@example.com", PW, srv.clock(), tier=Tier.FREE,
                             verified=True)  # fmt: skip
        s.commit()
    login = srv.client().post("/api/auth/login", json={"email": "bounce@example.com",
                                                        "password": PW})  # fmt: skip
    bouncing = srv.client(login.json()["access_token"])

    # the hostile user's alerts as rows from before the rule: stored, not checked
    with sessions() as s:
        user = accounts.find_user(s, "hostile@example.com")
        assert user is not None
        for text in POISON:
            spec = AlertCreate.model_validate(_alert(text), context={"stored": True})
            records.create_alert(s, user, spec, srv.clock(), WebhookGuard())
        # and a queued mail whose address holds a line break (a header injection)
        mail.queue_mail(s, "victim@example.com\nBcc: all@example.com", "hi", "x", srv.clock())
        # and one whose subject holds a line break: sent, the header made safe
        mail.queue_mail(s, "hostile@example.com", "old\r\nBcc: all@example.com", "x", srv.clock())
        s.commit()
    poison = wait_until(lambda: len(h := _history(hostile)) == 3 and h, what="the poison fires")
    for event in poison:
        assert unsafe_reason(event["message"]) is None, event
        assert event["deliveries"][0]["status"] in ("queued", "sent")
    # the bouncing user's mail can never go: quarantined, and the worker goes on
    assert bouncing.post("/api/alerts", json=_alert()).status_code == 201

    with second.stream("GET", "/api/stream") as response:
        sse = SSE(response)
        assert second.post("/api/alerts", json=_alert("second {{price}}")).status_code == 201
        frame = sse.until("alert")
    assert frame["data"]["message"].startswith("second ")
    assert wait_until(lambda: _history(second), what="the second user's history")
    wait_until(lambda: _alert_mails(srv, "second@example.com"), what="the second user's mail")
    # a newcomer's sign-up code still goes out
    r = srv.client().post("/api/auth/register", json={"email": "new@example.com", "password": PW})
    assert r.status_code == 202
    srv.inbox.code_for("new@example.com")
    # the poison mails went out made safe (a subject of one line, no Bcc smuggled in)
    got = wait_until(lambda: len(m := _alert_mails(srv, "hostile@example.com")) == 3 and m,
                     what="the hostile user's 3 mails")  # fmt: skip
    subjects = [str(m["Subject"]) for m in got]
    assert all("\n" not in s and "\r" not in s and "\u2028" not in s for s in subjects)
    old = wait_until(lambda: [m for m in srv.inbox.messages if str(m["Subject"]).startswith("old")],
                     what="the old mail with a line break in its subject")  # fmt: skip
    assert str(old[0]["Subject"]) == "old  Bcc: all@example.com"
    assert all(m["Bcc"] is None for m in srv.inbox.messages)

    def delivery(c: Any) -> dict[str, Any] | None:
        h = _history(c)
        return h[0]["deliveries"][0] if h and h[0]["deliveries"] else None

    held = wait_until(lambda: (d := delivery(bouncing)) and d["status"] == "quarantined" and d,
                      what="the bouncing mail quarantined")  # fmt: skip
    assert "550" in held["last_error"] and "quarantined" in held["last_error"]

    def held_mails() -> list[dict[str, Any]]:
        with sessions() as s:  # a session per look: SQLite's read keeps its first snapshot
            return mail.quarantined(s)

    listed = wait_until(lambda: len(q := held_mails()) == 2 and q, what="2 held")
    assert any("U+000A" in (m["reason"] or "") for m in listed)  # the injected address
    with sessions() as s:
        errors = dashboard.error_logs(s, limit=50)["errors"]
    kinds = [e["type"] for e in errors]
    assert kinds.count("UnsafeText") == 3  # NUL, U+2028, CR/LF: each fire noted
    assert kinds.count("MailQuarantined") == 2
    health = srv.client().get("/api/system/health")
    assert health.json()["mail"] == {"status": "ok", "waiting": 0, "quarantined": 2}, health.text
    assert health.json()["alerts"]["status"] == "ok"

    # the owner releases the bouncing mail once the cause is fixed: it is tried again
    bounced = next(m["id"] for m in listed if m["to"] == "bounce@example.com")
    env = {**os.environ, "TRADEALERTS_HOME": str(srv.settings.home),
           "TRADEALERTS_DATABASE_URL": srv.settings.database_url}  # fmt: skip
    out = subprocess.run(
        [str(EXE), "admin", "quarantine", "--release", str(bounced)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0 and f"released 1 item(s): mail-{bounced}" in out.stdout, out.stderr
    srv.app.state.loop.call_soon_threadsafe(srv.app.state.mailer.wake)

    def notes() -> int:
        with sessions() as s:
            rows = dashboard.error_logs(s, limit=100)["errors"]
        return sum(1 for e in rows if e["message"].startswith(f"mail {bounced} "))

    # the same 550 again: held again with a second note, not lost and not retried for ever
    wait_until(lambda: notes() == 2, what="the released mail tried again")
    with sessions() as s:
        row = s.get(MailMessage, bounced)
        assert row is not None and row.quarantined_at is not None and row.attempts == 1


def test_every_webhook_format_escapes_what_it_sends() -> None:
    """What a user wrote cannot ping a channel or disguise a link in the service that
    reads it (the text rule keeps control characters out already)."""
    from tradealerts.server.alerts.formats import webhook_body

    message = "@everyone <!channel> <https://evil.example|bank> & co"
    event = {"symbol": "EURUSD", "timeframe": "H1", "condition": "greater_than", "price": 1.1,
             "level": 1.0, "time": "2026-11-24T14:05:00Z", "message": message}  # fmt: skip
    discord = webhook_body("discord", event, "https://discord.example/hook")
    assert discord["allowed_mentions"] == {"parse": []}
    slack = webhook_body("slack", event, "https://hooks.example/x")
    escaped = "@everyone &lt;!channel&gt; &lt;https://evil.example|bank&gt; &amp; co"
    assert slack["text"] == escaped
    assert slack["blocks"][0]["text"]["text"].endswith("\n" + escaped)
    telegram = webhook_body("telegram", event, "https://api.example/bot1/sendMessage?chat_id=4")
    assert telegram == {"chat_id": 4, "text": message}  # plain text: no parse_mode
