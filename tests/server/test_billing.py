"""Billing end to end: localstripe on loopback (with the Checkout/portal stand-in), a real
server, signed webhooks, the user's stream."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import select
from tests.server.serverkit import SSE, Running, register_and_login, wait_until
from tests.server.stripekit import StripeDouble, event

from tradealerts.server.db.models import AlertRow, AuditLog, BillingAccount, InvoiceRow


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _tier(srv: Running, token: str) -> str:
    with srv.client(token) as c:
        return str(c.get("/api/user").json()["tier"])


def _db_tier(srv: Running, email: str) -> str:
    """The tier as stored (the test clock has moved past the access token's life)."""
    from tradealerts.server import accounts

    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        return user.tier


def _account(srv: Running, email: str) -> BillingAccount:
    from tradealerts.server import accounts

    with srv.app.state.sessions() as s:
        user = accounts.find_user(s, email)
        assert user is not None
        acct = s.scalar(select(BillingAccount).where(BillingAccount.user_id == user.id))
        assert acct is not None
        return acct


def upgrade(srv: Running, double: StripeDouble, email: str, token: str) -> dict[str, Any]:
    """The whole upgrade: checkout, the hosted page paid, the signed webhook."""
    with srv.client(token) as c:
        r = c.put("/api/subscription/upgrade")
        assert r.status_code == 200, r.text
        cs = double.complete_checkout(r.json()["id"])
    r = double.deliver(event("checkout.session.completed", cs))
    assert r.status_code == 200, r.text
    return cs


def test_disabled_without_stripe_settings(server: Running) -> None:
    token = register_and_login(server, "nobill@example.com")["access_token"]
    with server.client(token) as c:
        for method, path in [
            ("GET", "/api/plans"),
            ("POST", "/api/checkout"),
            ("GET", "/api/subscription"),
            ("PUT", "/api/subscription/cancel"),
            ("PUT", "/api/subscription/upgrade"),
            ("PUT", "/api/subscription/resume"),
            ("GET", "/api/invoices"),
            ("POST", "/api/billing/portal"),
            ("POST", "/api/webhooks/stripe"),
        ]:
            r = c.request(method, path)
            assert r.status_code == 503, (path, r.text)
            err = r.json()["error"]
            assert err["code"] == "billing_disabled"
            assert "TRADEALERTS_STRIPE_SECRET_KEY" in err["message"]
        assert c.get("/api/user/billing").json()["subscription"]["status"] == "none"


def test_plans_are_public_with_prices_in_minor_units(billing_server: Running) -> None:
    with billing_server.client() as c:
        plans = c.get("/api/plans").json()["plans"]
    assert [(p["tier"], p["price"]["amount"], p["price"]["currency"]) for p in plans] == [
        ("FREE", 0, "usd"),
        ("PRO", 2900, "usd"),
    ]
    assert plans[1]["limits"]["active_alerts"] == 20 and "M5" in plans[1]["limits"]["timeframes"]


def test_upgrade_to_pro_through_checkout_and_the_stream(
    billing_server: Running, double: StripeDouble, price_id: str
) -> None:
    srv = billing_server
    email = "buyer@example.com"
    token = register_and_login(srv, email)["access_token"]
    with srv.client(token) as c:
        r = c.post("/api/checkout")
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["url"].startswith("https://checkout.stripe.com/")
        again = c.post("/api/checkout").json()
    # one customer per user, reused; the parameters Stripe needs for a subscription
    p1, p2 = double.checkout_params[-2:]
    assert p1["customer"] == p2["customer"] == _account(srv, email).customer_id
    assert p1["mode"] == "subscription" and p1["line_items"] == [
        {"price": price_id, "quantity": "1"}
    ]
    user_id = str(_account(srv, email).user_id)
    assert p1["client_reference_id"] == user_id and p1["metadata"] == {"user_id": user_id}
    assert p1["success_url"].startswith(srv.settings.public_url)
    with (
        httpx.Client(base_url=srv.url, timeout=10) as c,
        c.stream("GET", "/api/stream", headers=_auth(token)) as stream,
    ):
        sse = SSE(stream)
        sse.frame()
        cs = double.complete_checkout(again["id"])
        r = double.deliver(event("checkout.session.completed", cs))
        assert r.status_code == 200, r.text
        assert sse.until("tier")["data"] == {"tier": "PRO"}
    assert _tier(srv, token) == "PRO"
    with srv.client(token) as c:
        sub = c.get("/api/subscription").json()
        assert sub["status"] == "active" and sub["renews_on"] and sub["card"]["last4"] == "4242"
        assert c.put("/api/subscription/upgrade").status_code == 409
        assert c.get("/api/symbols").status_code == 200
        assert c.get("/api/indicators/GBPUSD/M15?bars=10").status_code == 200  # a PRO pair
    with srv.app.state.sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "set_tier")).all()
        assert [(a.actor, a.detail["new"]) for a in audit] == [("billing", "PRO")]
    # localstripe's own events (subscription created, invoice paid) land later: no change
    wait_until(lambda: _invoices(srv, token), what="the invoice from localstripe's webhook")
    inv = _invoices(srv, token)[0]
    assert (inv["amount_paid"], inv["currency"], inv["status"]) == (2900, "usd", "paid")
    assert _mail(srv, email, "You're on tradealerts PRO")


def _mail(srv: Running, to: str, subject: str) -> Any:
    """The mail to ``to`` with ``subject``, waiting for it (mails go out in any order)."""

    def find() -> Any:
        with srv.inbox.cond:
            got = [m for m in srv.inbox.messages if m["To"] == to and m["Subject"] == subject]
        return got[-1] if got else None

    return wait_until(find, what=f"a mail {subject!r}")


def _invoices(srv: Running, token: str) -> list[dict[str, Any]]:
    with srv.client(token) as c:
        r = c.get("/api/invoices")
        assert r.status_code == 200, r.text
        return list(r.json())


def _make_alerts(srv: Running, token: str, count: int) -> None:
    with srv.client(token) as c:
        for i in range(count):
            r = c.post(
                "/api/alerts",
                json={"symbol": "GBPUSD" if i % 2 else "EURUSD", "timeframe": "M15",
                      "condition": "crossing_up", "level": 1.0 + i / 100},
            )  # fmt: skip
            assert r.status_code == 201, r.text


def test_cancel_keeps_pro_until_the_period_ends_then_free_with_alerts_paused(
    billing_server: Running, double: StripeDouble
) -> None:
    srv = billing_server
    email = "leaver@example.com"
    token = register_and_login(srv, email)["access_token"]
    cs = upgrade(srv, double, email, token)
    _make_alerts(srv, token, 8)
    with srv.client(token) as c:
        r = c.put("/api/subscription/cancel")
        assert r.status_code == 200, r.text
        assert r.json()["cancel_at_period_end"] is True and r.json()["ends_on"]
        assert c.put("/api/subscription/cancel").status_code == 409
    assert double.subscription(cs["subscription"])["cancel_at_period_end"] is True
    assert _tier(srv, token) == "PRO"
    assert _mail(srv, email, "Your tradealerts PRO subscription is cancelled")
    double.end_period(cs["subscription"])  # localstripe sends customer.subscription.deleted
    wait_until(lambda: _tier(srv, token) == "FREE", what="FREE after the period's end")
    assert _mail(srv, email, "Your tradealerts PRO subscription has ended")
    with srv.app.state.sessions() as s:
        rows = s.scalars(select(AlertRow).order_by(AlertRow.id)).all()
        mine = [r for r in rows if r.user_id == _account(srv, email).user_id]
    assert len(mine) == 8  # paused, never deleted
    assert {r.status for r in mine if r.symbol == "GBPUSD" or r.timeframe == "M15"} == {"paused"}


def test_resume_before_the_end_keeps_pro(billing_server: Running, double: StripeDouble) -> None:
    srv = billing_server
    token = register_and_login(srv, "stayer@example.com")["access_token"]
    cs = upgrade(srv, double, "stayer@example.com", token)
    with srv.client(token) as c:
        assert c.put("/api/subscription/cancel").status_code == 200
        r = c.put("/api/subscription/resume")
        assert r.status_code == 200, r.text
        assert r.json()["cancel_at_period_end"] is False and r.json()["renews_on"]
    assert double.subscription(cs["subscription"])["cancel_at_period_end"] is False
    assert _tier(srv, token) == "PRO"


def test_declined_renewal_past_due_grace_then_free(
    billing_server: Running, double: StripeDouble
) -> None:
    srv = billing_server
    email = "declined@example.com"
    token = register_and_login(srv, email)["access_token"]
    cs = upgrade(srv, double, email, token)
    double.failed_renewal(cs["customer"], cs["subscription"])
    assert double.subscription(cs["subscription"])["status"] == "past_due"
    wait_until(lambda: _account(srv, email).status == "past_due", what="past_due recorded")
    assert _tier(srv, token) == "PRO"  # the grace period
    mail = _mail(srv, email, "Your tradealerts payment failed")
    assert "tradealerts billing portal" in mail.get_payload(decode=True).decode()
    with srv.client(token) as c:
        sub = c.get("/api/subscription").json()
        assert sub["status"] == "past_due" and sub["grace_ends_at"]
        kinds = [n["kind"] for n in c.get("/api/notifications").json()["items"]]
        assert "payment_failed" in kinds
    time.sleep(1.5)  # localstripe's own late deliveries are in: only the sweep is left
    srv.clock.advance(days=2)
    srv.app.state.billing.expire_grace()
    assert _db_tier(srv, email) == "PRO"
    srv.clock.advance(days=1, minutes=1)  # past the 3 days: the server's sweep moves it
    wait_until(lambda: _db_tier(srv, email) == "FREE", what="FREE after the grace period")
    with srv.app.state.sessions() as s:
        reasons = [
            a.detail.get("reason")
            for a in s.scalars(
                select(AuditLog).where(AuditLog.action == "set_tier").order_by(AuditLog.id)
            )
        ]
    assert reasons[-1] == "grace_expired"


def test_portal_link(billing_server: Running, double: StripeDouble) -> None:
    token = register_and_login(billing_server, "portal@example.com")["access_token"]
    with billing_server.client(token) as c:
        r = c.post("/api/billing/portal")
    assert r.status_code == 200, r.text
    assert r.json()["url"].startswith("https://billing.stripe.com/")
    assert (
        double.portals[-1]["customer"] == _account(billing_server, "portal@example.com").customer_id
    )


def test_invoices_are_listed_from_the_local_copy(
    billing_server: Running, double: StripeDouble
) -> None:
    srv = billing_server
    token = register_and_login(srv, "inv@example.com")["access_token"]
    upgrade(srv, double, "inv@example.com", token)
    wait_until(lambda: _invoices(srv, token), what="an invoice")
    with srv.app.state.sessions() as s:
        rows = s.scalars(select(InvoiceRow)).all()
    assert all(isinstance(r.amount_paid, int) for r in rows)
