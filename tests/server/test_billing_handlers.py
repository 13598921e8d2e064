"""Each Stripe webhook handler on its own: localstripe's own event deliveries go nowhere in this
module (``mute``), so the one event a test delivers by hand, signed, is the only way the effect
it checks can happen. Stripe's side is set up first (the checkout paid, the subscription
cancelled or ended, a renewal declined), then that one event is delivered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from tests.server.serverkit import Running, register_and_login
from tests.server.stripekit import StripeDouble, event, stripe_settings

from tradealerts.server import accounts
from tradealerts.server.db.models import (
    BillingAccount,
    InvoiceRow,
    MailMessage,
    Notification,
    StripeEvent,
)


@pytest.fixture
def srv(make_server: Callable[..., Running], double: StripeDouble, price_id: str) -> Running:
    """A billing server that hears from Stripe only what a test delivers by hand."""
    server = make_server(**stripe_settings(double, price_id), stream_heartbeat_seconds=3600)
    double.mute()
    double.webhook_url = f"{server.url}/api/webhooks/stripe"
    return server


def _state(srv: Running, email: str) -> dict[str, Any]:
    """What the server holds about the user's billing: tier, account, invoices, mail, notes."""
    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        acct = s.scalar(select(BillingAccount).where(BillingAccount.user_id == user.id))
        mails = select(MailMessage.subject).where(MailMessage.to == email)
        notes = select(Notification.title).where(Notification.user_id == user.id)
        return {
            "tier": user.tier,
            "status": acct.status if acct else None,
            "subscription_id": acct.subscription_id if acct else None,
            "cancel_at_period_end": acct.cancel_at_period_end if acct else None,
            "past_due_since": acct.past_due_since if acct else None,
            "invoices": {
                row.id: (row.status, row.amount_paid)
                for row in s.scalars(select(InvoiceRow).where(InvoiceRow.user_id == user.id))
            },
            "mail": list(s.scalars(mails.order_by(MailMessage.id))),
            "notes": list(s.scalars(notes.order_by(Notification.id))),
        }


def _paid(srv: Running, double: StripeDouble, email: str) -> dict[str, Any]:
    """A checkout paid on Stripe's side (the subscription active there); nothing delivered."""
    token = register_and_login(srv, email)["access_token"]
    with srv.client(token) as c:
        r = c.post("/api/checkout")
        assert r.status_code == 200, r.text
    cs = double.complete_checkout(r.json()["id"])
    assert double.subscription(cs["subscription"])["status"] == "active"
    return cs


def _deliver(srv: Running, double: StripeDouble, kind: str, obj: dict[str, Any]) -> None:
    evt = event(kind, obj)
    r = double.deliver(evt)
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "duplicate": False}
    with srv.app.state.sessions() as s:
        assert s.get(StripeEvent, evt["id"]) is not None


def _pro(srv: Running, double: StripeDouble, email: str) -> dict[str, Any]:
    """PRO through the checkout's completion (its own test below)."""
    cs = _paid(srv, double, email)
    _deliver(srv, double, "checkout.session.completed", cs)
    assert _state(srv, email)["tier"] == "PRO"
    return cs


def test_checkout_session_completed_alone_makes_pro(srv: Running, double: StripeDouble) -> None:
    email = "h-checkout@example.com"
    cs = _paid(srv, double, email)
    assert _state(srv, email)["tier"] == "FREE"  # paid, but the server was told nothing
    _deliver(srv, double, "checkout.session.completed", cs)
    got = _state(srv, email)
    assert (got["tier"], got["status"], got["subscription_id"]) == (
        "PRO", "active", cs["subscription"])  # fmt: skip
    assert got["mail"][-1] == "You're on tradealerts PRO"


def test_subscription_created_alone_makes_pro(srv: Running, double: StripeDouble) -> None:
    email = "h-created@example.com"
    cs = _paid(srv, double, email)
    assert _state(srv, email)["tier"] == "FREE"
    _deliver(srv, double, "customer.subscription.created", double.subscription(cs["subscription"]))
    got = _state(srv, email)
    assert (got["tier"], got["status"], got["subscription_id"]) == (
        "PRO", "active", cs["subscription"])  # fmt: skip


def test_subscription_updated_alone_records_the_cancellation(
    srv: Running, double: StripeDouble
) -> None:
    email = "h-updated@example.com"
    sub_id = _pro(srv, double, email)["subscription"]
    r = double.http.post(f"/v1/subscriptions/{sub_id}", data={"cancel_at_period_end": "true"})
    r.raise_for_status()
    assert _state(srv, email)["cancel_at_period_end"] is False
    _deliver(srv, double, "customer.subscription.updated", double.subscription(sub_id))
    got = _state(srv, email)
    assert (got["tier"], got["status"], got["cancel_at_period_end"]) == ("PRO", "active", True)
    assert got["mail"][-1] == "Your tradealerts PRO subscription is cancelled"


def test_subscription_deleted_alone_ends_pro(srv: Running, double: StripeDouble) -> None:
    email = "h-deleted@example.com"
    sub_id = _pro(srv, double, email)["subscription"]
    double.end_period(sub_id)
    assert _state(srv, email)["tier"] == "PRO"
    _deliver(srv, double, "customer.subscription.deleted", double.subscription(sub_id))
    got = _state(srv, email)
    assert (got["tier"], got["status"]) == ("FREE", "canceled")
    assert got["mail"][-1] == "Your tradealerts PRO subscription has ended"


def test_invoice_paid_alone_records_the_invoice(srv: Running, double: StripeDouble) -> None:
    email = "h-paid@example.com"
    cs = _paid(srv, double, email)
    invoice_id = double.subscription(cs["subscription"])["latest_invoice"]
    invoice = double.http.get(f"/v1/invoices/{invoice_id}").json()
    assert invoice["status"] == "paid"
    assert _state(srv, email)["invoices"] == {}
    _deliver(srv, double, "invoice.paid", invoice)
    got = _state(srv, email)
    assert got["invoices"] == {invoice_id: ("paid", 2900)}
    assert (got["tier"], got["subscription_id"]) == ("PRO", cs["subscription"])


def test_invoice_payment_failed_alone_starts_the_grace(srv: Running, double: StripeDouble) -> None:
    email = "h-failed@example.com"
    cs = _pro(srv, double, email)
    # the declined renewal on Stripe's side, then invoice.payment_failed delivered by hand
    sub = double.failed_renewal(cs["customer"], cs["subscription"])
    assert sub["status"] == "past_due"
    got = _state(srv, email)
    assert (got["tier"], got["status"]) == ("PRO", "past_due")  # PRO through the grace
    assert got["past_due_since"] is not None
    assert got["invoices"][sub["latest_invoice"]][0] != "paid"
    assert got["mail"][-1] == "Your tradealerts payment failed"
    assert got["notes"][-1] == "Payment failed"


def test_invoice_payment_action_required_alone_asks_to_confirm(
    srv: Running, double: StripeDouble
) -> None:
    email = "h-action@example.com"
    cs = _pro(srv, double, email)
    invoice_id = double.subscription(cs["subscription"])["latest_invoice"]
    invoice = double.http.get(f"/v1/invoices/{invoice_id}").json()
    assert "Payment needs your confirmation" not in _state(srv, email)["notes"]
    _deliver(srv, double, "invoice.payment_action_required", invoice)
    got = _state(srv, email)
    assert got["notes"][-1] == "Payment needs your confirmation"
    assert got["mail"][-1] == "Your tradealerts payment needs your confirmation"
