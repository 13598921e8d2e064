"""The Stripe webhook's safety: signatures, duplicates, any order, crashes then retries."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.server.serverkit import Running, register_and_login, wait_until
from tests.server.stripekit import (
    StripeDouble,
    event,
    sign,
)

from tradealerts.server import accounts
from tradealerts.server.db.models import AuditLog, StripeEvent


@pytest.fixture
def srv(billing_server: Running) -> Running:
    return billing_server


def _tier(srv: Running, email: str) -> str:
    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        return user.tier


def _tier_audits(srv: Running) -> int:
    with srv.app.state.sessions() as s:
        return int(
            s.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "set_tier")
            )
            or 0
        )


def _paid_checkout(srv: Running, double: StripeDouble, email: str) -> dict[str, Any]:
    """A checkout paid on Stripe's side, its completion event not yet delivered."""
    token = register_and_login(srv, email)["access_token"]
    with srv.client(token) as c:
        cs_id = c.post("/api/checkout").json()["id"]
    return double.complete_checkout(cs_id)


def test_bad_signature_and_old_timestamp_are_refused(srv: Running, double: StripeDouble) -> None:
    email = "sig@example.com"
    cs = _paid_checkout(srv, double, email)
    evt = event("checkout.session.completed", cs)
    payload = json.dumps(evt).encode()
    url = f"{srv.url}/api/webhooks/stripe"
    cases = {
        "wrong secret": sign(payload, "whsec_not_the_secret"),
        "older than 300 s": sign(payload, at=int(time.time()) - 301),
        "no v1": f"t={int(time.time())}",
        "garbage": "nonsense",
    }
    for why, header in cases.items():
        r = httpx.post(url, content=payload, headers={"Stripe-Signature": header})
        assert r.status_code == 400, (why, r.text)
        assert r.json()["error"]["code"] == "bad_signature", why
    r = httpx.post(url, content=payload)  # no header at all
    assert r.status_code == 400
    tampered = payload.replace(b"checkout.session.completed", b"checkout.session.COMPLETED")
    r = httpx.post(url, content=tampered, headers={"Stripe-Signature": sign(payload)})
    assert r.status_code == 400
    time.sleep(1.5)  # localstripe's own events arrive about 1 s after the subscription
    with srv.app.state.sessions() as s:
        assert s.get(StripeEvent, evt["id"]) is None
    r = double.deliver(evt)  # the same event, signed right, is taken
    assert r.status_code == 200 and _tier(srv, email) == "PRO"


def test_ten_copies_at_once_change_once(srv: Running, double: StripeDouble) -> None:
    email = "dup@example.com"
    cs = _paid_checkout(srv, double, email)
    evt = event("checkout.session.completed", cs)
    before = _tier_audits(srv)
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: double.deliver(evt), range(10)))
    assert [r.status_code for r in answers] == [200] * 10
    assert sum(not r.json()["duplicate"] for r in answers) == 1
    assert _tier(srv, email) == "PRO"
    wait_until(lambda: _tier_audits(srv) >= before + 1, what="the audit row")
    time.sleep(1.5)  # localstripe's own deliveries too: still one change
    assert _tier_audits(srv) == before + 1
    with srv.app.state.sessions() as s:
        assert s.scalar(select(func.count()).select_from(StripeEvent).where(
            StripeEvent.id == evt["id"])) == 1  # fmt: skip


def test_any_order_of_an_upgrade_then_cancel_ends_free(srv: Running, double: StripeDouble) -> None:
    """The six events of an upgrade then a cancellation, delivered late and shuffled: each
    re-reads the subscription, which Stripe now says is canceled, so none makes PRO."""
    email = "order@example.com"
    cs = _paid_checkout(srv, double, email)
    sub_id = cs["subscription"]
    created = double.subscription(sub_id)
    invoice = double.http.get(f"/v1/invoices/{created['latest_invoice']}").json()
    double.http.post(f"/v1/subscriptions/{sub_id}", data={"cancel_at_period_end": "true"})
    updated = double.subscription(sub_id)
    double.end_period(sub_id)
    deleted = double.subscription(sub_id)
    assert deleted["status"] == "canceled"
    time.sleep(1.5)  # let localstripe's own deliveries land first
    assert _tier(srv, email) == "FREE"
    before = _tier_audits(srv)
    six = [
        ("checkout.session.completed", cs),
        ("customer.subscription.created", created),  # says "active"
        ("invoice.paid", invoice),
        ("invoice.payment_succeeded", invoice),
        ("customer.subscription.updated", updated),  # says "active", cancel at period end
        ("customer.subscription.deleted", deleted),
    ]
    rng = random.Random(11)
    for _ in range(12):
        order = six[:]
        rng.shuffle(order)
        for kind, obj in order:
            r = double.deliver(event(kind, obj))
            assert r.status_code == 200, r.text
        assert _tier(srv, email) == "FREE", [k for k, _ in order]
    assert _tier_audits(srv) == before  # never PRO, not even for a moment


def test_a_failed_handler_answers_500_and_the_redelivery_converges(
    srv: Running, double: StripeDouble
) -> None:
    email = "retry@example.com"
    cs = _paid_checkout(srv, double, email)
    evt = event("checkout.session.completed", cs)
    double.fail_next = 10  # Stripe's API is down while the event is handled
    r = double.deliver(evt)
    double.fail_next = 0
    assert r.status_code == 500 and r.json()["error"]["code"] == "webhook_failed"
    with srv.app.state.sessions() as s:
        assert s.get(StripeEvent, evt["id"]) is None  # not recorded: it will be handled
    r = double.deliver(evt)  # Stripe's retry
    assert r.status_code == 200 and r.json()["duplicate"] is False
    assert _tier(srv, email) == "PRO"
    assert double.deliver(evt).json()["duplicate"] is True
