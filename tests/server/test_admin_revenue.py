"""The revenue view (``GET /api/admin/revenue`` and ``tradealerts-server admin revenue``).

The BillingAccount and InvoiceRow rows are seeded directly in the test database: what is
tested here is the aggregation over those records (MRR, ARR, statuses, paid revenue per
month, failed payments, renewals), not how Stripe's webhooks write them (the billing tests
cover that path). Every amount and date is known, and every figure is computed by hand below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.server.serverkit import PW, Running, register_and_login, wait_until
from tests.server.test_admin_cli_dashboard import cli
from tests.server.test_admin_dashboard import login, make_admin, user_id

GRACE = 3


def month_start(now: datetime, back: int) -> datetime:
    """Noon on the 2nd of the month ``back`` months before ``now``'s (UTC)."""
    n = now.year * 12 + now.month - 1 - back
    return datetime(n // 12, n % 12 + 1, 2, 12, tzinfo=UTC)


def month_key(now: datetime, back: int) -> str:
    return month_start(now, back).strftime("%Y-%m")


def seed(srv: Running) -> dict[str, int]:
    """Seven customers and their subscriptions and invoices; returns their user ids."""
    from tradealerts.server.db.models import BillingAccount, InvoiceRow

    now = srv.clock.now
    names = ("active", "trialing", "grace", "lapsed", "canceled", "later", "never")
    for n in names:
        register_and_login(srv, f"{n}@example.com")
    ids = {n: user_id(srv, f"{n}@example.com") for n in names}
    accounts: dict[str, tuple[str, datetime | None, bool, datetime | None]] = {
        # name: (status, current_period_end, cancel_at_period_end, past_due_since)
        "active": ("active", now + timedelta(days=3), False, None),
        "trialing": ("trialing", now + timedelta(days=5), True, None),  # cancelling
        "grace": ("past_due", now + timedelta(days=2), False, now - timedelta(days=GRACE - 1)),
        "lapsed": ("past_due", now + timedelta(days=1), False, now - timedelta(days=GRACE + 1)),
        "canceled": ("canceled", now - timedelta(days=1), False, None),
        "later": ("active", now + timedelta(days=10), False, None),  # beyond 7 days
        "never": ("none", None, False, None),
    }
    invoices: list[tuple[str, str, str, int, int, str, datetime | None]] = [
        # (id, user, status, amount_due, amount_paid, currency, paid_at)
        ("in_1", "active", "paid", 2900, 2900, "usd", month_start(now, 0)),
        ("in_2", "later", "paid", 2900, 2900, "usd", month_start(now, 0)),
        ("in_3", "active", "paid", 2900, 2900, "usd", month_start(now, 1)),
        ("in_4", "trialing", "paid", 2500, 2500, "eur", month_start(now, 1)),
        ("in_5", "grace", "paid", 1450, 1450, "usd", month_start(now, 11)),  # oldest kept
        ("in_6", "grace", "paid", 9999, 9999, "usd", month_start(now, 12)),  # too old
        ("in_7", "lapsed", "open", 2900, 0, "usd", None),
        ("in_8", "canceled", "uncollectible", 2900, 0, "usd", None),
        ("in_9", "grace", "open", 0, 0, "usd", None),  # nothing owed
        ("in_10", "canceled", "void", 2900, 0, "usd", None),
        ("in_11", "active", "draft", 2900, 0, "usd", None),
    ]
    with srv.app.state.sessions() as s:
        for name, (status, end, cancelling, since) in accounts.items():
            s.add(
                BillingAccount(
                    user_id=ids[name],
                    customer_id=f"cus_{name}",
                    subscription_id=None if status == "none" else f"sub_{name}",
                    status=status,
                    price_id="plan_pro",
                    current_period_end=end,
                    cancel_at_period_end=cancelling,
                    past_due_since=since,
                    created_at=now - timedelta(days=400),
                    updated_at=now,
                )
            )
        for i, (inv_id, name, status, due, paid, cur, paid_at) in enumerate(invoices):
            s.add(
                InvoiceRow(
                    id=inv_id,
                    user_id=ids[name],
                    subscription_id=f"sub_{name}",
                    status=status,
                    amount_due=due,
                    amount_paid=paid,
                    currency=cur,
                    paid_at=paid_at,
                    created_at=now - timedelta(days=20 - i),
                    updated_at=now,
                )
            )
        s.commit()
    return ids


def expected(now: datetime, ids: dict[str, int]) -> dict[str, Any]:
    """The figures by hand: live = active, trialing, grace, later (4 × 2900 USD)."""
    per_month = {month_key(now, k): {"eur": 0, "usd": 0} for k in range(12)}
    per_month[month_key(now, 0)]["usd"] = 2900 + 2900
    per_month[month_key(now, 1)].update(usd=2900, eur=2500)
    per_month[month_key(now, 11)]["usd"] = 1450
    return {
        "mrr": {"usd": 4 * 2900},
        "arr": {"usd": 12 * 4 * 2900},
        "live_subscriptions": 4,
        "subscriptions_by_status": {"active": 2, "canceled": 1, "past_due": 2, "trialing": 1},
        "revenue_per_month": [{"month": m, "amounts": per_month[m]} for m in sorted(per_month)],
        "failed": (["in_8", "in_7"], {"usd": 5800}, [ids["lapsed"], ids["grace"]]),
        "renewals": ([ids["active"]], {"usd": 2900}),
    }


def check(got: dict[str, Any], want: dict[str, Any]) -> None:
    for key in ("mrr", "arr", "live_subscriptions", "subscriptions_by_status"):
        assert got[key] == want[key], key
    assert got["revenue_per_month"] == want["revenue_per_month"]
    failed = got["failed_payments"]
    invoices, due, past_due = want["failed"]
    assert [i["id"] for i in failed["invoices"]] == invoices  # newest first
    assert failed["amount_due"] == due
    assert [a["user_id"] for a in failed["past_due_accounts"]] == past_due  # longest first
    renewals, amount = want["renewals"]
    assert [r["user_id"] for r in got["upcoming_renewals"]["renewals"]] == renewals
    assert got["upcoming_renewals"]["amount"] == amount


def test_revenue_figures_equal_what_the_test_computes(
    make_server: Callable[..., Running],
) -> None:
    srv = make_server(billing_grace_days=GRACE)
    ids = seed(srv)
    admin = make_admin(srv, "boss@example.com")
    r = admin.get("/api/admin/revenue")
    assert r.status_code == 200, r.text
    got = r.json()
    check(got, expected(srv.clock.now, ids))
    lapsed = got["failed_payments"]["past_due_accounts"][0]
    assert lapsed["email"] == "lapsed@example.com"
    since = datetime.fromisoformat(lapsed["past_due_since"])
    assert datetime.fromisoformat(lapsed["grace_ends_at"]) == since + timedelta(days=GRACE)
    renewal = got["upcoming_renewals"]["renewals"][0]
    assert renewal["email"] == "active@example.com"
    assert (renewal["amount"], renewal["currency"]) == (2900, "usd")
    # no float anywhere in the money
    assert isinstance(got["mrr"]["usd"], int) and "." not in json.dumps(got["mrr"])

    # the grace period ends: the past-due subscription stops counting
    srv.clock.advance(days=2)
    later = login(srv, "boss@example.com").get("/api/admin/revenue").json()
    assert later["mrr"] == {"usd": 3 * 2900} and later["live_subscriptions"] == 3

    # a user who is not an administrator is refused
    plain = login(srv, "active@example.com")
    r = plain.get("/api/admin/revenue")
    assert r.status_code == 403 and r.json()["error"]["code"] == "admin_only"


def test_revenue_command_locally_and_against_the_server(
    make_server: Callable[..., Running], db_url: str, tmp_path: Path
) -> None:
    srv = make_server(billing_grace_days=GRACE)
    ids = seed(srv)
    make_admin(srv, "boss@example.com")
    want = expected(srv.clock.now, ids)
    env = {"TRADEALERTS_BILLING_GRACE_DAYS": str(GRACE)}

    remote = ("--server", srv.url, "--email", "boss@example.com", "--password-stdin")
    r = cli(tmp_path, db_url, "admin", "revenue", "--json", *remote, stdin=PW + "\n", **env)
    assert r.returncode == 0, r.stderr
    check(json.loads(r.stdout), want)

    r = cli(tmp_path, db_url, "admin", "revenue", "--json", **env)
    assert r.returncode == 0, r.stderr
    check(json.loads(r.stdout), want)

    r = cli(tmp_path, db_url, "admin", "revenue", **env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "116.00 USD" in out and "1392.00 USD" in out  # MRR and ARR
    assert "58.00 USD" in out and "25.00 EUR" in out  # this month's and last month's
    assert "in_7" in out and "lapsed@example.com" in out  # a failed payment
    assert "renewals in the next 7 days (29.00 USD)" in out
    assert "paid revenue per month, USD" in out and "paid revenue per month, EUR" in out
    assert "█" in out or "▇" in out  # plotext's bars

    r = cli(tmp_path, db_url, "admin", "revenue", "--server", srv.url, "--email",
            "active@example.com", "--password-stdin", stdin=PW + "\n")  # fmt: skip
    assert r.returncode == 1 and "administrator" in r.stderr and "Traceback" not in r.stderr


def test_revenue_chart_labels_the_one_month_paid(
    make_server: Callable[..., Running], db_url: str, tmp_path: Path
) -> None:
    """Issue #24: a server's first paying month drew its bar without the month under it
    (plotext dropped the newest of the twelve labels that did not fit side by side)."""
    from tradealerts.server.db.models import BillingAccount, InvoiceRow

    srv = make_server()
    register_and_login(srv, "first@example.com")
    uid = user_id(srv, "first@example.com")
    now = srv.clock.now
    with srv.app.state.sessions() as s:
        s.add(
            BillingAccount(
                user_id=uid,
                customer_id="cus_1",
                subscription_id="sub_1",
                status="active",
                price_id="plan_pro",
                current_period_end=now + timedelta(days=20),
                cancel_at_period_end=False,
                created_at=now,
                updated_at=now,
            )
        )
        s.add(
            InvoiceRow(
                id="in_1",
                user_id=uid,
                subscription_id="sub_1",
                status="paid",
                amount_due=2900,
                amount_paid=2900,
                currency="usd",
                paid_at=month_start(now, 0),
                created_at=now,
                updated_at=now,
            )
        )
        s.commit()  # fmt: skip
    # which labels plotext dropped changed from one process to the next: ask a few
    for _ in range(4):
        r = cli(tmp_path, db_url, "admin", "revenue", COLUMNS="100")
        assert r.returncode == 0, r.stderr
        lines = r.stdout[r.stdout.index("paid revenue per month, USD") :].splitlines()
        bottom = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("└"))
        assert month_key(now, 0) in lines[bottom + 1], "\n".join(lines[: bottom + 2])


def test_revenue_is_what_stripe_invoiced(billing_server: Running, double: Any) -> None:
    """The figures above over records the test wrote; here over what Stripe (localstripe)
    made and its webhooks told: a checkout paid, then revenue and MRR equal the paid
    invoices and the price that Stripe holds for that customer."""
    from tests.server.test_billing import _account, _invoices, upgrade

    srv = billing_server
    token = register_and_login(srv, "rev@example.com")["access_token"]
    upgrade(srv, double, "rev@example.com", token)
    customer = _account(srv, "rev@example.com").customer_id
    r = double.http.get("/v1/invoices", params={"customer": customer})
    r.raise_for_status()
    stripe_invoices = r.json()["data"]
    paid = [i for i in stripe_invoices if i["status"] == "paid" and i["amount_paid"] > 0]
    assert paid, stripe_invoices
    # every invoice Stripe holds, in the local copy (its webhooks come on their own time)
    wait_until(
        lambda: {i["id"] for i in _invoices(srv, token)} >= {i["id"] for i in stripe_invoices},
        what="Stripe's invoices in the local copy",
    )
    want: dict[str, int] = {}
    for inv in paid:
        want[inv["currency"]] = want.get(inv["currency"], 0) + int(inv["amount_paid"])
    sub = double.subscription(str(_account(srv, "rev@example.com").subscription_id))
    item = sub["items"]["data"][0]
    plan = item.get("price") or item["plan"]  # localstripe answers with the plan
    monthly = int(plan["unit_amount"] if "unit_amount" in plan else plan["amount"])

    admin = make_admin(srv, "boss-rev@example.com")
    got = admin.get("/api/admin/revenue").json()
    per_month: dict[str, int] = {}
    for month in got["revenue_per_month"]:
        for currency, amount in month["amounts"].items():
            per_month[currency] = per_month.get(currency, 0) + amount
    assert {c: a for c, a in per_month.items() if a} == want
    assert got["mrr"] == {plan["currency"]: monthly}
    assert got["live_subscriptions"] == 1
