"""The owner's dashboard as plain functions over a session: the admin routes and the local
``tradealerts-server admin`` commands both answer from here, so both show the same figures.

Days are UTC calendar days. "Active" means made at least one authenticated request in the
window (from the usage aggregate). Conversions and churn count tier changes (FREE→PRO and
PRO→FREE) in the last 30 days, kept even when the account was deleted since.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tradealerts.core.messages import _
from tradealerts.core.tiers import TIERS, Tier
from tradealerts.server import accounts
from tradealerts.server.billing.rules import PAID, grace_ends, tier_for
from tradealerts.server.db.models import (
    AlertRow,
    AuditLog,
    BillingAccount,
    ErrorRecord,
    Event,
    InvoiceRow,
    TierChange,
    UsageMinute,
    User,
)
from tradealerts.server.usage import STATUS_CLASSES, quantile

__all__ = [
    "STATUSES",
    "AdminRefusal",
    "analytics",
    "api_usage",
    "audit_page",
    "change_user",
    "error_logs",
    "plan_price",
    "remove_user",
    "revenue",
    "user_row",
    "users_page",
]

STATUSES = ("active", "disabled", "unverified", "admin")
DAYS = 30


class AdminRefusal(Exception):
    """An admin change that would leave the dashboard without its owner."""


def user_row(u: User) -> dict[str, Any]:
    """One account as the dashboard lists it."""
    return {
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "tier": u.tier,
        "role": "admin" if u.is_admin else "user",
        "disabled": u.disabled,
        "email_verified": u.email_verified,
        "created_at": u.created_at.isoformat(),
    }


def users_page(
    s: Session,
    *,
    search: str | None = None,
    tier: str | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """Accounts matching an email or name fragment, a tier and a status, oldest first."""
    q = select(User)
    if search:
        like = f"%{search.lower()}%"
        q = q.where(or_(User.email.like(like), func.lower(User.display_name).like(like)))
    if tier:
        q = q.where(User.tier == tier)
    if status == "active":
        q = q.where(User.disabled.is_(False))
    elif status == "disabled":
        q = q.where(User.disabled.is_(True))
    elif status == "unverified":
        q = q.where(User.email_verified.is_(False))
    elif status == "admin":
        q = q.where(User.is_admin.is_(True))
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = s.scalars(q.order_by(User.id).offset((page - 1) * per_page).limit(per_page))
    return {
        "users": [user_row(u) for u in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def _days(now: datetime) -> list[date]:
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


def _per_day(times: list[datetime], now: datetime) -> list[dict[str, Any]]:
    counts = Counter(t.astimezone(UTC).date() for t in times)
    return [{"date": d.isoformat(), "count": counts.get(d, 0)} for d in _days(now)]


def analytics(s: Session, now: datetime) -> dict[str, Any]:
    """Users by tier, sign-ups and fires per day (30 days), active users, conversions,
    churn and active alerts by tier."""
    since = datetime.combine(_days(now)[0], datetime.min.time(), UTC)
    by_tier = {t.value: 0 for t in Tier}
    by_tier.update(dict(s.execute(select(User.tier, func.count()).group_by(User.tier)).all()))
    signups = list(s.scalars(select(User.created_at).where(User.created_at >= since)))
    fires = list(
        s.scalars(select(Event.created_at).where(Event.kind == "alert", Event.created_at >= since))
    )
    active = {}
    for name, days in (("day", 1), ("week", 7), ("month", 30)):
        active[name] = (
            s.scalar(
                select(func.count(func.distinct(UsageMinute.user_id))).where(
                    UsageMinute.user_id > 0,
                    UsageMinute.minute >= datetime.now(UTC) - timedelta(days=days),
                )
            )
            or 0
        )
    changes = Counter(
        (old, new)
        for old, new in s.execute(
            select(TierChange.old, TierChange.new).where(
                TierChange.created_at >= now - timedelta(days=DAYS)
            )
        ).all()
    )
    alerts_by_tier = {t.value: 0 for t in Tier}
    alerts_by_tier.update(
        dict(
            s.execute(
                select(User.tier, func.count())
                .select_from(AlertRow)
                .join(User, User.id == AlertRow.user_id)
                .where(AlertRow.status == "active")
                .group_by(User.tier)
            ).all()
        )
    )
    return {
        "users_by_tier": by_tier,
        "users_total": sum(by_tier.values()),
        "signups_per_day": _per_day(signups, now),
        "active_users": active,
        "conversions_30d": changes[("FREE", "PRO")],
        "churn_30d": changes[("PRO", "FREE")],
        "active_alerts_by_tier": alerts_by_tier,
        "fires_per_day": _per_day(fires, now),
    }


def _merge(into: list[int], hist: list[int]) -> None:
    for i, n in enumerate(hist):
        if i < len(into):
            into[i] += n


def api_usage(s: Session, hours: int = 24) -> dict[str, Any]:
    """Requests per hour by tier and route family, status classes and 429s, latency
    quantiles per family (upper bounds of the histogram bucket, in ms), top users."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    rows = list(s.scalars(select(UsageMinute).where(UsageMinute.minute >= since)))
    per_hour: Counter[tuple[str, str, str]] = Counter()
    fams: dict[str, dict[str, Any]] = {}
    users: Counter[int] = Counter()
    by_tier: Counter[str] = Counter()
    for r in rows:
        tier = r.tier or "anonymous"
        hour = r.minute.replace(minute=0, second=0, microsecond=0).isoformat()
        per_hour[(hour, tier, r.family)] += r.requests
        by_tier[tier] += r.requests
        f = fams.setdefault(
            r.family,
            {"requests": 0, **dict.fromkeys(STATUS_CLASSES, 0), "hist": [0] * len(r.latency)},
        )
        f["requests"] += r.requests
        for c in STATUS_CLASSES:
            f[c] += getattr(r, c)
        _merge(f["hist"], r.latency)
        if r.user_id:
            users[r.user_id] += r.requests
    families = []
    for name, f in sorted(fams.items()):
        hist = f.pop("hist")
        families.append(
            {
                "family": name,
                **f,
                "p50_ms": quantile(hist, 0.50),
                "p95_ms": quantile(hist, 0.95),
                "p99_ms": quantile(hist, 0.99),
            }
        )
    top = users.most_common(10)
    who = dict(s.execute(select(User.id, User.email).where(User.id.in_([u for u, _ in top]))).all())
    tiers = dict(
        s.execute(select(User.id, User.tier).where(User.id.in_([u for u, _ in top]))).all()
    )
    return {
        "hours": hours,
        "requests": sum(f["requests"] for f in families),
        "rate_limited": sum(f["s429"] for f in families),
        "by_tier": dict(sorted(by_tier.items())),
        "per_hour": [
            {"hour": h, "tier": t, "family": fam, "requests": n}
            for (h, t, fam), n in sorted(per_hour.items())
        ],
        "families": families,
        "top_users": [
            {"user_id": u, "email": who.get(u), "tier": tiers.get(u), "requests": n} for u, n in top
        ],
    }


def error_logs(s: Session, *, after_id: int = 0, limit: int = 50) -> dict[str, Any]:
    """Recent error records, newest first (or, after ``after_id``, the newer ones oldest
    first, for following), each with how often its fingerprint occurred."""
    q = select(ErrorRecord)
    q = (
        q.where(ErrorRecord.id > after_id).order_by(ErrorRecord.id)
        if after_id
        else q.order_by(ErrorRecord.id.desc())
    )
    records = list(s.scalars(q.limit(limit)))
    prints = {r.fingerprint for r in records}
    repeats = dict(
        s.execute(
            select(ErrorRecord.fingerprint, func.count())
            .where(ErrorRecord.fingerprint.in_(prints))
            .group_by(ErrorRecord.fingerprint)
        ).all()
    )
    return {
        "errors": [
            {
                "id": r.id,
                "time": r.created_at.isoformat(),
                "request_id": r.request_id,
                "method": r.method,
                "route": r.route,
                "status": r.status,
                "user_id": r.user_id,
                "type": r.exc_type,
                "message": r.message,
                "fingerprint": r.fingerprint,
                "repeats": repeats.get(r.fingerprint, 1),
            }
            for r in records
        ]
    }


#: The one price ``billing setup`` creates (PRO, monthly, in USD): checkout sells nothing else.
PLAN_CURRENCY = "usd"
#: Invoices that were not paid: ``open`` (finalized, the charge failed or is being retried)
#: and ``uncollectible`` (Stripe gave up).
UNPAID_INVOICES = ("open", "uncollectible")
RENEWAL_DAYS = 7
MONTHS = 12


def plan_price() -> tuple[int, str]:
    """The PRO monthly price in integer minor units and its currency."""
    return TIERS[Tier.PRO].price_usd_per_month * 100, PLAN_CURRENCY


def _months(now: datetime) -> list[date]:
    """The first days of the last ``MONTHS`` calendar months (UTC), oldest first."""
    y, m = now.astimezone(UTC).year, now.astimezone(UTC).month
    out = []
    for _month in range(MONTHS):
        out.append(date(y, m, 1))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def revenue(s: Session, now: datetime, grace_days: int) -> dict[str, Any]:
    """MRR, ARR, subscriptions by status, paid revenue per month (12 months), failed
    payments and renewals due within 7 days, from the local billing records only. Money is
    integer minor units keyed by currency (``{"usd": 5800}``), never floats.

    MRR counts each live subscription (``active``, ``trialing``, or ``past_due`` still in its
    grace period: the ones that give PRO) at the PRO monthly price; the records keep no
    per-subscription amount and checkout sells only that price."""
    amount, currency = plan_price()
    accts = list(s.scalars(select(BillingAccount).where(BillingAccount.status != "none")))
    live = [a for a in accts if tier_for(a.status, a.past_due_since, now, grace_days) is Tier.PRO]
    mrr = {currency: amount * len(live)} if live else {}

    months = _months(now)
    index = {(d.year, d.month): i for i, d in enumerate(months)}
    since = datetime.combine(months[0], datetime.min.time(), UTC)
    paid = s.execute(
        select(InvoiceRow.paid_at, InvoiceRow.amount_paid, InvoiceRow.currency).where(
            InvoiceRow.status == "paid", InvoiceRow.paid_at >= since
        )
    ).all()
    per_month: list[Counter[str]] = [Counter() for _ in months]
    for paid_at, paid_amount, cur in paid:
        at = paid_at.astimezone(UTC) if paid_at is not None else None
        i = None if at is None else index.get((at.year, at.month))
        if i is not None:
            per_month[i][cur] += paid_amount
    currencies = sorted({c for m in per_month for c in m})

    unpaid = list(
        s.scalars(
            select(InvoiceRow)
            .where(InvoiceRow.status.in_(UNPAID_INVOICES), InvoiceRow.amount_due > 0)
            .order_by(InvoiceRow.created_at.desc(), InvoiceRow.id)
        )
    )
    unpaid_total: Counter[str] = Counter()
    for inv in unpaid:
        unpaid_total[inv.currency] += inv.amount_due
    past_due = sorted(
        (a for a in accts if a.status == "past_due"),
        key=lambda a: (a.past_due_since or now, a.user_id),
    )

    horizon = now + timedelta(days=RENEWAL_DAYS)
    renewing = sorted(
        (
            a
            for a in accts
            if a.status in PAID
            and not a.cancel_at_period_end
            and a.current_period_end is not None
            and now <= a.current_period_end <= horizon
        ),
        key=lambda a: (a.current_period_end or now, a.user_id),
    )
    who = {i.user_id for i in unpaid} | {a.user_id for a in (*past_due, *renewing)}
    emails = dict(s.execute(select(User.id, User.email).where(User.id.in_(who))).all())
    return {
        "currency_unit": "minor",
        "mrr": mrr,
        "arr": {c: 12 * v for c, v in mrr.items()},
        "live_subscriptions": len(live),
        "subscriptions_by_status": dict(sorted(Counter(a.status for a in accts).items())),
        "revenue_per_month": [
            {"month": d.strftime("%Y-%m"), "amounts": {c: per_month[i][c] for c in currencies}}
            for i, d in enumerate(months)
        ],
        "failed_payments": {
            "invoices": [
                {
                    "id": inv.id,
                    "user_id": inv.user_id,
                    "email": emails.get(inv.user_id),
                    "status": inv.status,
                    "amount_due": inv.amount_due,
                    "currency": inv.currency,
                    "created_at": inv.created_at.isoformat(),
                }
                for inv in unpaid
            ],
            "amount_due": dict(sorted(unpaid_total.items())),
            "past_due_accounts": [
                {
                    "user_id": a.user_id,
                    "email": emails.get(a.user_id),
                    "past_due_since": _iso(a.past_due_since),
                    "grace_ends_at": _iso(grace_ends(a.past_due_since, grace_days)),
                }
                for a in past_due
            ],
        },
        "upcoming_renewals": {
            "days": RENEWAL_DAYS,
            "renewals": [
                {
                    "user_id": a.user_id,
                    "email": emails.get(a.user_id),
                    "status": a.status,
                    "renews_at": _iso(a.current_period_end),
                    "amount": amount,
                    "currency": currency,
                }
                for a in renewing
            ],
            "amount": {currency: amount * len(renewing)} if renewing else {},
        },
    }


def audit_page(s: Session, *, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """The audit log, newest first."""
    total = s.scalar(select(func.count()).select_from(AuditLog)) or 0
    rows = s.scalars(
        select(AuditLog).order_by(AuditLog.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return {
        "entries": [
            {
                "id": a.id,
                "time": a.created_at.isoformat(),
                "actor": a.actor,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
            }
            for a in rows
        ],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def change_user(
    s: Session,
    actor: str,
    user: User,
    now: datetime,
    *,
    tier: str | None = None,
    role: str | None = None,
    disabled: bool | None = None,
    actor_id: int | None = None,
) -> list[str]:
    """Apply the changes (each audited); returns what changed. The caller commits.
    A tier goes through ``accounts.set_tier`` (alerts paused, the user notified and mailed)."""
    from tradealerts.server.mail import queue_mail, templates

    if user.id == actor_id and (role == "user" or disabled):
        raise AdminRefusal(_("You cannot remove your own admin role or disable yourself."))
    done = []
    if tier is not None and tier != user.tier:
        old = accounts.set_tier(s, user, Tier(tier), now, actor=actor)  # audited there
        queue_mail(s, user.email, *templates.tier_change(old, tier), now, language=user.language)
        done.append(f"tier {old} -> {tier}")
    if role is not None and (role == "admin") != user.is_admin:
        user.is_admin = role == "admin"
        user.updated_at = now
        accounts.audit(s, actor, "set_role", user.email, now, role=role)
        done.append(f"role -> {role}")
    if disabled is not None and disabled != user.disabled:
        user.disabled = disabled
        user.updated_at = now
        if disabled:  # a disabled account's refresh tokens stop working at once
            accounts.revoke_all_sessions(s, user, now)
        accounts.audit(s, actor, "disable" if disabled else "enable", user.email, now)
        done.append("disabled" if disabled else "enabled")
    if done:
        accounts.users_changed(s)
    return done


def remove_user(s: Session, actor: str, user: User, now: datetime, actor_id: int | None) -> None:
    """Delete the account and everything of it, audited. The caller commits."""
    if user.id == actor_id:
        raise AdminRefusal(_("You cannot delete your own account from the admin view."))
    email = user.email
    accounts.delete_user(s, user)
    accounts.audit(s, actor, "delete_user", email, now)
