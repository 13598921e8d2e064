"""More owner-alert conditions on one live server (synthetic feed, billing on): Stripe
webhooks refused by signature, a slow tick-to-stream p99, and a quarantined mail; each opens
once and recovers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.server.incidentkit import body, checks_pass, mail, serve, the_three, until
from tests.server.serverkit import SSE, Inbox, Running, register_and_login, running_smtp
from tests.server.stripekit import WEBHOOK_SECRET, sign
from tests.server.test_incidents import WEDNESDAY


@pytest.fixture(scope="module")
def inbox_port() -> Iterator[tuple[Inbox, int]]:
    with running_smtp() as sink:
        yield sink


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, inbox_port: tuple[Inbox, int]) -> Iterator[Any]:
    inbox, port = inbox_port
    home = tmp_path_factory.mktemp("conditions")
    billing = {  # only the webhook's signature is checked here: Stripe's API is never called
        "stripe_secret_key": "sk_test_incidents",
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_price_id": "price_incidents",
        "stripe_api_base": "http://127.0.0.1:9",
        "tick_rate": 20.0,
    }
    db = f"sqlite:///{home / 'server.db'}"
    with serve(home / "h", db, port, inbox, WEDNESDAY, **billing) as s:
        yield s


def test_stripe_webhooks_failing_their_signature(
    srv: Running, inbox_port: tuple[Inbox, int]
) -> None:
    inbox, _port = inbox_port
    title = "Stripe webhooks are failing"
    payload = b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": {}}}'
    r = httpx.post(f"{srv.url}/api/webhooks/stripe", content=payload, timeout=30,
                   headers={"Stripe-Signature": sign(payload, "whsec_not_the_secret")})  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_signature"
    opened = mail(inbox, f"[tradealerts] INCIDENT: {title}")
    assert "{'signature': 1}" in body(opened) and "STRIPE_WEBHOOK_SECRET" in body(opened)
    srv.clock.advance(seconds=srv.settings.incident_window_seconds + 1)
    checks_pass(srv)
    srv.clock.advance(seconds=1)
    mail(inbox, f"[tradealerts] RECOVERED: {title}")
    assert the_three(inbox, title) == (1, 0, 1)
    metrics = srv.app.state.signals.stripe_failures
    assert metrics == {"signature": 1}


def test_tick_to_stream_p99_over_the_threshold(srv: Running, inbox_port: tuple[Inbox, int]) -> None:
    """Real frames through a real stream, against a threshold below any frame's time."""
    inbox, _port = inbox_port
    title = "tick-to-stream p99 over the threshold"
    signals = srv.app.state.signals
    user = register_and_login(srv, "stream@example.com")
    srv.settings.incident_stream_p99_seconds = 1e-6
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c, c.stream(
            "GET", "/api/stream", params={"symbols": "EURUSD:H1"},
            headers={"Authorization": f"Bearer {user['access_token']}"},
        ) as r:  # fmt: skip
            sse = SSE(r)
            sse.until("price")
            sse.until("price")
            until(srv, lambda: sum(signals.stream_counts) > 0, what="a counted frame")
            mail(inbox, f"[tradealerts] INCIDENT: {title}")
    finally:
        srv.settings.incident_stream_p99_seconds = 2.0
    srv.clock.advance(seconds=srv.settings.incident_window_seconds + 1)
    checks_pass(srv)
    srv.clock.advance(seconds=1)
    mail(inbox, f"[tradealerts] RECOVERED: {title}")
    assert the_three(inbox, title) == (1, 0, 1)


def test_a_quarantined_mail(srv: Running, inbox_port: tuple[Inbox, int]) -> None:
    """The mail worker itself quarantines a mail no try can send (a line break in its
    address); released once fixed, it goes and the incident recovers."""
    from tradealerts.server.db.models import MailMessage
    from tradealerts.server.mail import queue_mail, release

    inbox, _port = inbox_port
    title = "items are quarantined"
    with srv.app.state.sessions() as s:
        queue_mail(s, "poison\r\n@example.com", "hello", "body", srv.clock.now)
        s.commit()
    srv.app.state.loop.call_soon_threadsafe(srv.app.state.mailer.wake)
    opened = mail(inbox, f"[tradealerts] INCIDENT: {title}")
    assert "1 mail(s) quarantined" in body(opened)
    with srv.app.state.sessions() as s:
        m = s.query(MailMessage).filter(MailMessage.quarantined_at.is_not(None)).one()
        m.to = "fixed@example.com"
        release(s, [m.id], srv.clock.now)
        s.commit()
    srv.app.state.loop.call_soon_threadsafe(srv.app.state.mailer.wake)
    inbox.wait_for("fixed@example.com")
    mail(inbox, f"[tradealerts] RECOVERED: {title}")
    assert the_three(inbox, title) == (1, 0, 1)


def test_the_owner_hears_it_on_their_push_channels(srv: Running) -> None:
    """An incident also goes to the push channels of the owner's own account (the account
    whose email is OWNER_EMAIL), as a subscriber's alerts do (issue #27)."""
    from datetime import UTC, datetime

    from tests.server.pushkit import PushReceiver

    from tradealerts.server.db.models import PushChannel, User
    from tradealerts.server.push.vault import Vault

    owner = srv.settings.owner_email
    assert owner is not None
    receiver = PushReceiver()
    try:
        now = datetime.now(UTC)
        with srv.app.state.sessions() as s:  # the owner's account and the channel it added
            user = User(email=owner, password_hash="-", tier="PRO", email_verified=True,
                        created_at=now, updated_at=now)  # fmt: skip
            s.add(user)
            s.flush()
            url = f"json://127.0.0.1:{receiver.port}/owner-secret-path"
            sealed = Vault(srv.settings.signing_key()).seal(url)
            s.add(PushChannel(user_id=user.id, name="pager", service="json", url_secret=sealed,
                              masked="json://127.0.0.1/…", created_at=now))  # fmt: skip
            s.commit()
        srv.settings.webhook_allowlist = ["127.0.0.1/32"]  # the owner approves loopback
        payload = b'{"id": "evt_2", "type": "invoice.paid", "data": {"object": {}}}'
        r = httpx.post(f"{srv.url}/api/webhooks/stripe", content=payload, timeout=30,
                       headers={"Stripe-Signature": sign(payload, "whsec_wrong")})  # fmt: skip
        assert r.status_code == 400
        got = until(srv, lambda: [a for a in receiver.received if "INCIDENT" in str(a.body)],
                    what="the incident pushed to the owner's channel")  # fmt: skip
        assert "Stripe webhooks are failing" in str(got[0].body), got[0].body
        assert got[0].path == "/owner-secret-path"
    finally:
        receiver.close()
        srv.settings.webhook_allowlist = []
        srv.clock.advance(seconds=srv.settings.incident_window_seconds + 1)
        checks_pass(srv)
