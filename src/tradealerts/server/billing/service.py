"""Billing rules: checkout, cancel and resume, webhooks, and the grace period's end.

Stripe is the source of truth. Every subscription-related webhook re-reads the subscription
from Stripe (deliveries come in any order, late, or twice), and the tier is derived from what
Stripe says now; a tier change goes through ``accounts.set_tier``, the one path. Each event id
is written in the transaction of its effect, so a redelivery is a no-op.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.messages import When, _, localise
from tradealerts.core.tiers import Tier
from tradealerts.server import accounts
from tradealerts.server.billing.gateway import (
    Gateway,
    Json,
    StripeUnavailable,
    invoice_subscription,
    period_end,
)
from tradealerts.server.billing.rules import ENDED, PAID, grace_ends, tier_for
from tradealerts.server.db.models import BillingAccount, InvoiceRow, StripeEvent, User
from tradealerts.server.mail import queue_mail
from tradealerts.server.settings import Settings

__all__ = ["HANDLED_EVENTS", "Billing", "Outcome", "account_json", "invoice_json"]

log = logging.getLogger("tradealerts.billing")

#: The webhook events ``billing setup`` asks the owner to send; others are acknowledged.
HANDLED_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.payment_action_required",
)
_SUBSCRIPTION_EVENTS = frozenset(HANDLED_EVENTS[1:4])
_INVOICE_EVENTS = frozenset(HANDLED_EVENTS[4:])


def _at(epoch: Any) -> datetime | None:
    return None if not epoch else datetime.fromtimestamp(int(epoch), UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass
class Outcome:
    """What one webhook delivery did: ``duplicate`` when its id was already handled."""

    duplicate: bool = False
    ignored: bool = False
    tier: str | None = None


def account_json(acct: BillingAccount | None, user: User, grace_days: int) -> Json:
    """``GET /api/subscription``: the user's plan as Stripe last said it."""
    if acct is None or acct.subscription_id is None:
        return {
            "tier": user.tier,
            "status": "none",
            "cancel_at_period_end": False,
            "current_period_end": None,
            "renews_on": None,
            "ends_on": None,
            "grace_ends_at": None,
            "card": None,
        }
    ended = acct.status in ENDED
    ending = acct.cancel_at_period_end or ended
    end = acct.ended_at if ended else acct.current_period_end
    period_end = acct.current_period_end
    if ended and end is not None and (period_end is None or period_end > end):
        # Stripe keeps the period it had opened (a month past the end): nothing runs to it
        period_end = end
    return {
        "tier": user.tier,
        "status": acct.status,
        "cancel_at_period_end": acct.cancel_at_period_end,
        "current_period_end": _iso(period_end),
        "renews_on": None if ending or acct.status not in PAID else _iso(acct.current_period_end),
        "ends_on": _iso(end) if ending else None,
        "grace_ends_at": _iso(grace_ends(acct.past_due_since, grace_days))
        if acct.status == "past_due"
        else None,
        # once ended, no card pays for anything here: the portal still shows it
        "card": {"brand": acct.card_brand, "last4": acct.card_last4}
        if acct.card_last4 and not ended
        else None,
    }


def invoice_json(row: InvoiceRow) -> Json:
    """One invoice: integer minor units and the currency, never floats."""
    return {
        "id": row.id,
        "number": row.number,
        "status": row.status,
        "amount_due": row.amount_due,
        "amount_paid": row.amount_paid,
        "currency": row.currency,
        "created_at": _iso(row.created_at),
        "period_start": _iso(row.period_start),
        "period_end": _iso(row.period_end),
        "paid_at": _iso(row.paid_at),
        "hosted_invoice_url": row.hosted_invoice_url,
        "invoice_pdf": row.invoice_pdf,
    }


class Billing:
    """The server's billing: built by ``create_app`` when Stripe is configured."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        gateway: Gateway,
        wake_mail: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.gateway = gateway
        self.wake_mail = wake_mail
        self.grace_days = settings.billing_grace_days
        # one writer at a time in this process: two deliveries about one user never both
        # see the old tier (PostgreSQL also locks the account row for other processes)
        self._lock = threading.Lock()

    @property
    def price_id(self) -> str:
        return self.settings.stripe_price_id or ""

    # -- the user's actions ------------------------------------------------------------
    def customer_for(self, s: Session, user: User) -> BillingAccount:
        """The user's one Stripe customer: created on first use, then reused."""
        acct = s.scalar(select(BillingAccount).where(BillingAccount.user_id == user.id))
        if acct is not None:
            return acct
        customer = self.gateway.create_customer(user.email, user.id)
        now = self.clock()
        acct = BillingAccount(
            user_id=user.id,
            customer_id=str(customer["id"]),
            status="none",
            cancel_at_period_end=False,
            created_at=now,
            updated_at=now,
        )
        s.add(acct)
        s.commit()
        return acct

    def checkout(self, s: Session, user: User) -> Json:
        """A Checkout Session in subscription mode for the PRO price."""
        acct = self.customer_for(s, user)
        base = self.settings.public_url.rstrip("/")
        session = self.gateway.create_checkout(
            customer=acct.customer_id,
            price=self.price_id,
            user_id=user.id,
            success_url=f"{base}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{base}/billing/cancel",
        )
        return {"id": session["id"], "url": session["url"]}

    def portal(self, s: Session, user: User) -> Json:
        acct = self.customer_for(s, user)
        base = self.settings.public_url.rstrip("/")
        session = self.gateway.create_portal(acct.customer_id, f"{base}/billing/success")
        return {"url": session["url"]}

    def set_cancel(self, user_id: int, subscription_id: str, cancel: bool) -> None:
        """Cancel at the period's end (or undo that), then apply what Stripe answered."""
        sub = self.gateway.set_cancel_at_period_end(subscription_id, cancel)
        card = self._card(sub)
        with self._lock, self.sessions() as s:
            acct = self._account(s, sub)
            if acct is not None:
                self._apply(s, acct, sub, card, self.clock())
            s.commit()
        self.wake_mail()

    # -- webhooks ----------------------------------------------------------------------
    def handle_event(self, event: Json) -> Outcome:
        """Apply one verified webhook event; raises when Stripe cannot be read (→ 500, and
        Stripe delivers it again)."""
        event_id, kind = str(event["id"]), str(event["type"])
        with self.sessions() as s:
            if s.get(StripeEvent, event_id) is not None:
                return Outcome(duplicate=True)
        data = event.get("data")
        obj: Json = (data.get("object") if isinstance(data, dict) else None) or {}
        if not isinstance(obj, dict):
            obj = {}
        invoice: Json | None = None
        sub: Json | None = None
        unknown = False
        try:
            sub_id: str | None = None
            if kind == "checkout.session.completed":
                sub_id = obj.get("subscription")
            elif kind in _SUBSCRIPTION_EVENTS:
                sub_id = obj.get("id")
            elif kind in _INVOICE_EVENTS and obj.get("id"):
                invoice = self.gateway.retrieve_invoice(str(obj["id"]))
                sub_id = invoice_subscription(invoice)
            sub = self.gateway.retrieve_subscription(str(sub_id)) if sub_id else None
        except StripeUnavailable as exc:
            if exc.status != 404:
                raise  # Stripe is down or refuses us: a 500, and Stripe delivers it again
            # an object Stripe does not know (deleted, another account's, made up): no retry
            # will ever find it, so the event is recorded as seen and answered 2xx
            log.warning("stripe event %s (%s): Stripe has no such object (%s); recorded, "
                        "nothing changed", event_id, kind, exc)  # fmt: skip
            invoice, sub, unknown = None, None, True
        now = self.clock()
        outcome = Outcome(ignored=sub is None and invoice is None)
        with self._lock, self.sessions() as s:
            if s.get(StripeEvent, event_id) is not None:
                return Outcome(duplicate=True)
            customer = (sub or invoice or obj).get("customer")
            acct = self._account(s, sub) if sub is not None else self._by_customer(s, customer)
            if acct is None and (sub is not None or invoice is not None):
                log.warning("stripe event %s (%s): no account for customer %s", event_id, kind,
                            customer)  # fmt: skip
                outcome.ignored = True
            if acct is not None and invoice is not None:
                self._record_invoice(s, acct, invoice, now)
            if acct is not None and sub is not None:
                outcome.tier = self._apply(s, acct, sub, (None, None), now)
            if acct is not None and not unknown and kind == "invoice.payment_action_required":
                self._payment_problem(s, acct, now, action=True)
            s.add(StripeEvent(id=event_id, type=kind[:64], received_at=now))
            try:
                s.commit()
            except IntegrityError:
                # another process handled the same delivery first: this one changes nothing
                s.rollback()
                return Outcome(duplicate=True)
        self.wake_mail()
        if sub is not None and not outcome.ignored:
            # the card is for display: looked up after the tier change is out, not before
            self._keep_card(sub)
        return outcome

    def _keep_card(self, sub: Json) -> None:
        brand, last4 = self._card(sub)
        if not last4:
            return
        with self._lock, self.sessions() as s:
            acct = self._by_customer(s, sub.get("customer"))
            if acct is not None and (acct.card_brand, acct.card_last4) != (brand, last4):
                acct.card_brand, acct.card_last4 = brand, last4
                s.commit()

    # -- grace period ------------------------------------------------------------------
    def expire_grace(self) -> int:
        """Move to FREE every PRO user whose subscription is past due beyond the grace
        period; returns how many."""
        now = self.clock()
        moved = 0
        with self._lock, self.sessions() as s:
            rows = s.scalars(
                select(BillingAccount).where(
                    BillingAccount.status == "past_due",
                    BillingAccount.past_due_since.is_not(None),
                )
            ).all()
            for acct in rows:
                user = s.get(User, acct.user_id)
                if user is None or user.tier == Tier.FREE.value:
                    continue
                if tier_for(acct.status, acct.past_due_since, now, self.grace_days) is Tier.FREE:
                    self._change_tier(s, user, Tier.FREE, now, "grace_expired")
                    moved += 1
            s.commit()
        if moved:
            self.wake_mail()
        return moved

    # -- internals ---------------------------------------------------------------------
    def _card(self, sub: Json | None) -> tuple[str | None, str | None]:
        if sub is None:
            return None, None
        try:
            return self.gateway.card(sub)
        except StripeUnavailable:
            return None, None  # the card is a nicety: never fail a webhook over it

    def _by_customer(self, s: Session, customer: Any) -> BillingAccount | None:
        if isinstance(customer, dict):
            customer = customer.get("id")
        if not customer:
            return None
        return s.scalar(
            select(BillingAccount)
            .where(BillingAccount.customer_id == str(customer))
            .with_for_update()
        )

    def _account(self, s: Session, sub: Json) -> BillingAccount | None:
        """The account of the subscription's customer. Only customers this server made are
        known: the user id in Stripe's metadata is never trusted on its own (another server
        sharing the Stripe account, or a restored database, would hand it to a stranger)."""
        return self._by_customer(s, sub.get("customer"))

    def _apply(
        self,
        s: Session,
        acct: BillingAccount,
        sub: Json,
        card: tuple[str | None, str | None],
        now: datetime,
    ) -> str | None:
        """Copy Stripe's subscription into ``acct`` and derive the tier from it."""
        user = s.get(User, acct.user_id)
        if user is None:
            return None
        live = PAID | {"past_due"}
        if (
            acct.subscription_id not in (None, sub["id"])
            and acct.status in live
            and str(sub.get("status")) not in live
        ):
            # an old subscription ended while a newer one pays: it decides nothing
            return user.tier
        was_status, was_cancel = acct.status, acct.cancel_at_period_end
        status = str(sub.get("status") or "incomplete")
        acct.subscription_id = str(sub["id"])
        acct.status = status
        acct.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
        acct.current_period_end = _at(period_end(sub))
        acct.ended_at = _at(sub.get("ended_at")) or (
            _at(sub.get("canceled_at")) if status in ENDED else None
        )
        items = (sub.get("items") or {}).get("data") or []
        if items:
            price = items[0].get("price") or items[0].get("plan") or {}
            acct.price_id = price.get("id") if isinstance(price, dict) else str(price)
        if card[1]:
            acct.card_brand, acct.card_last4 = card
        if status == "past_due":
            acct.past_due_since = acct.past_due_since or now
        else:
            acct.past_due_since = None
        acct.updated_at = now
        if status == "past_due" and was_status != "past_due":
            self._payment_problem(s, acct, now)
        if acct.cancel_at_period_end and not was_cancel and status in PAID:
            end = acct.current_period_end
            ends = end.date() if end else _("the end of the period")
            queue_mail(
                s,
                user.email,
                _("Your tradealerts PRO subscription is cancelled"),
                _(
                    "Your subscription is cancelled: you keep PRO until {ends}, then your plan "
                    "becomes FREE. Changed your mind? Run `tradealerts billing resume` before "
                    "then.\n",
                    ends=ends,
                ),
                now,
                language=user.language,
            )
        tier = tier_for(status, acct.past_due_since, now, self.grace_days)
        if tier.value != user.tier:
            self._change_tier(s, user, tier, now, f"subscription_{status}")
        return tier.value

    def _change_tier(self, s: Session, user: User, tier: Tier, now: datetime, why: str) -> None:
        old = accounts.set_tier(s, user, tier, now, actor="billing", reason=why)
        if tier is Tier.PRO:
            receipt = s.scalar(
                select(InvoiceRow.hosted_invoice_url)
                .where(InvoiceRow.user_id == user.id, InvoiceRow.hosted_invoice_url.is_not(None))
                .order_by(InvoiceRow.created_at.desc())
            )
            where = receipt or "`tradealerts billing invoices`"
            queue_mail(
                s,
                user.email,
                _("You're on tradealerts PRO"),
                _(
                    "Thank you: your plan changed from {old} to PRO. Your receipt: {where}\n",
                    old=old,
                    where=where,
                ),
                now,
                language=user.language,
            )
        else:
            queue_mail(
                s,
                user.email,
                _("Your tradealerts PRO subscription has ended"),
                _(
                    "Your plan changed from {old} to FREE ({why}). Alerts the FREE plan does "
                    "not allow are paused, not deleted. Run `tradealerts upgrade` to come back "
                    "to PRO.\n",
                    old=old,
                    why=why.replace("_", " "),
                ),
                now,
                language=user.language,
            )

    def _payment_problem(
        self, s: Session, acct: BillingAccount, now: datetime, action: bool = False
    ) -> None:
        user = s.get(User, acct.user_id)
        if user is None:
            return
        ends = grace_ends(acct.past_due_since or now, self.grace_days)
        until = When(ends, ends.strftime("%Y-%m-%d %H:%M UTC")) if ends else _("soon")
        if action:
            subject, title = (
                _("Your tradealerts payment needs your confirmation"),
                _("Payment needs your confirmation"),
            )
            body = _(
                "Your PRO payment needs your confirmation. Update your card in Stripe's "
                "customer portal: run `tradealerts billing portal` before {until}, or your "
                "plan becomes FREE.",
                until=until,
            )
        else:
            subject, title = _("Your tradealerts payment failed"), _("Payment failed")
            body = _(
                "Your PRO payment failed. Update your card in Stripe's customer portal: run "
                "`tradealerts billing portal` before {until}, or your plan becomes FREE.",
                until=until,
            )
        said = localise(body, user.language)
        queue_mail(s, user.email, localise(subject, user.language), said + "\n", now)
        accounts.notify(s, user, "payment_failed", title, said, now)

    def _record_invoice(self, s: Session, acct: BillingAccount, inv: Json, now: datetime) -> None:
        row = s.get(InvoiceRow, str(inv["id"]))
        if row is None:
            row = InvoiceRow(
                id=str(inv["id"]),
                user_id=acct.user_id,
                status="draft",
                currency="usd",
                created_at=_at(inv.get("created")) or now,
                updated_at=now,
            )
            s.add(row)
        lines = (inv.get("lines") or {}).get("data") or []
        period = (lines[0].get("period") or {}) if lines else {}
        paid_at = (inv.get("status_transitions") or {}).get("paid_at")
        row.subscription_id = invoice_subscription(inv)
        row.number = inv.get("number")
        row.status = str(inv.get("status") or "open")
        row.amount_due = int(inv.get("amount_due") or 0)
        row.amount_paid = int(inv.get("amount_paid") or 0)
        row.currency = str(inv.get("currency") or "usd").lower()
        row.period_start = _at(period.get("start") or inv.get("period_start"))
        row.period_end = _at(period.get("end") or inv.get("period_end"))
        row.paid_at = _at(paid_at)
        row.hosted_invoice_url = inv.get("hosted_invoice_url")
        row.invoice_pdf = inv.get("invoice_pdf")
        row.updated_at = now
