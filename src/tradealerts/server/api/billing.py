"""Plans, checkout, the Stripe webhook, the subscription, invoices and the customer portal.

Without the Stripe settings every route answers 503 ``billing_disabled`` with the settings
the owner has to set. The webhook verifies the raw body with Stripe's library before
anything else, and answers 500 when handling fails so that Stripe delivers it again.
"""

from __future__ import annotations

import json
import logging
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from tradealerts.core.messages import _
from tradealerts.core.tiers import TIERS, Tier
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.api.deps import CurrentUser, SessionDep
from tradealerts.server.api.pages import html_page
from tradealerts.server.billing import (
    Billing,
    StripeUnavailable,
    account_json,
    invoice_json,
)
from tradealerts.server.db.models import BillingAccount, InvoiceRow, User
from tradealerts.server.errors import ApiError, BadRequest, Conflict

router = APIRouter(tags=["billing"])
pages = APIRouter(include_in_schema=False)

log = logging.getLogger("tradealerts.billing")

#: Stripe's own default: a signature older than this is refused (replays).
SIGNATURE_TOLERANCE_S = 300


def get_billing(request: Request) -> Billing:
    billing: Billing | None = getattr(request.app.state, "billing", None)
    if billing is None:
        missing = ", ".join(request.app.state.settings.billing_missing) or "the Stripe settings"
        raise ApiError(
            _(
                "Billing is not set up on this server: its owner has to set {missing} "
                "(see the owner's guide, 'Stripe').",
                missing=missing,
            ),
            code="billing_disabled",
            status=503,
        )
    return billing


BillingDep = Annotated[Billing, Depends(get_billing)]


def _stripe_failed(exc: StripeUnavailable, what: str = "Checkout Sessions") -> ApiError:
    if exc.no_such_endpoint:
        # e.g. STRIPE_API_BASE at localstripe, which serves the tests but has no Checkout:
        # "try again in a minute" would send the person round in circles
        return ApiError(
            _(
                "This server's Stripe API offers no {what} (it answered 404: {exc}), "
                "so this cannot work here and trying again will not help; the server's "
                "owner has to point billing at Stripe (test mode for trials: see the "
                "owner's guide, 'Stripe').",
                what=what,
                exc=exc,
            ),
            code="billing_provider_unsupported",
            status=502,
        )
    return ApiError(
        _("Stripe did not accept the request ({exc}); try again in a minute.", exc=exc),
        code="billing_provider_error",
        status=502,
    )


def _plan(tier: Tier) -> dict[str, Any]:
    lim = TIERS[tier]
    return {
        "tier": tier.value,
        "price": {"amount": lim.price_usd_per_month * 100, "currency": "usd", "interval": "month"},
        "limits": {
            "symbols": sorted(lim.symbols),
            # the enum's order (M5…D1), not the frozenset's, which changes with each start
            "timeframes": [tf.value for tf in Timeframe if tf in lim.timeframes],
            "watchlist_items": lim.watchlist_items,
            "active_alerts": lim.active_alerts,
            "requests_per_hour": lim.requests_per_hour,
        },
    }


@router.get("/plans")
def plans(_billing: BillingDep) -> dict[str, Any]:
    """Both plans, their limits and prices (integer minor units); no login needed."""
    return {"plans": [_plan(Tier.FREE), _plan(Tier.PRO)]}


def _account(s: SessionDep, user: User) -> BillingAccount | None:
    return s.scalar(select(BillingAccount).where(BillingAccount.user_id == user.id))


def _checkout(billing: Billing, s: SessionDep, user: User) -> dict[str, Any]:
    if user.tier == Tier.PRO.value:
        raise Conflict(_("You are already on PRO."), code="already_pro")
    try:
        return billing.checkout(s, user)
    except StripeUnavailable as exc:
        raise _stripe_failed(exc) from None


@router.post("/checkout")
def checkout(billing: BillingDep, user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """A Stripe Checkout page for PRO at $29/month: open ``url`` to pay."""
    return _checkout(billing, s, user)


@router.put("/subscription/upgrade")
def upgrade(billing: BillingDep, user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """FREE → PRO: the Checkout page to pay on (409 ``already_pro`` on PRO)."""
    return _checkout(billing, s, user)


@router.get("/subscription")
def subscription(billing: BillingDep, user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """The plan, Stripe's status, when it renews or ends, and the card."""
    return account_json(_account(s, user), user, billing.grace_days)


def _set_cancel(billing: Billing, s: SessionDep, user: User, cancel: bool) -> dict[str, Any]:
    acct = _account(s, user)
    if (
        acct is None
        or acct.subscription_id is None
        or acct.status
        not in (
            "active",
            "trialing",
            "past_due",
        )
    ):
        raise Conflict(_("You have no running subscription."), code="no_subscription")
    if acct.cancel_at_period_end == cancel:
        what = "already cancelled" if cancel else "not cancelled"
        raise Conflict(_("Your subscription is {what}.", what=what), code="nothing_to_change")
    try:
        billing.set_cancel(user.id, acct.subscription_id, cancel)
    except StripeUnavailable as exc:
        raise _stripe_failed(exc, "subscription updates") from None
    s.expire_all()
    fresh = s.get(User, user.id)
    return account_json(_account(s, user), fresh or user, billing.grace_days)


@router.put("/subscription/cancel")
def cancel(billing: BillingDep, user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """Cancel at the end of the paid period: PRO until then."""
    return _set_cancel(billing, s, user, True)


@router.put("/subscription/resume")
def resume(billing: BillingDep, user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """Undo a cancellation before the period ends."""
    return _set_cancel(billing, s, user, False)


@router.get("/invoices")
def invoices(_billing: BillingDep, user: CurrentUser, s: SessionDep) -> list[dict[str, Any]]:
    """Your invoices, newest first, from the server's copy (amounts in minor units)."""
    rows = s.scalars(
        select(InvoiceRow)
        .where(InvoiceRow.user_id == user.id)
        .order_by(InvoiceRow.created_at.desc(), InvoiceRow.id)
    )
    return [invoice_json(r) for r in rows]


@router.post("/billing/portal")
def portal(billing: BillingDep, user: CurrentUser, s: SessionDep) -> dict[str, Any]:
    """A link to Stripe's customer portal: card, receipts, cancellation."""
    try:
        return billing.portal(s, user)
    except StripeUnavailable as exc:
        raise _stripe_failed(exc, "customer portal") from None


@router.post("/webhooks/stripe")
async def stripe_webhook(
    request: Request,
    billing: BillingDep,
    signature: Annotated[str | None, Header(alias="Stripe-Signature", max_length=2000)] = None,
) -> dict[str, Any]:
    """Stripe's events, verified by signature (300 s tolerance); each applied once."""
    import stripe  # with billing only (see billing.gateway)

    payload = await request.body()
    secret = request.app.state.settings.stripe_webhook_secret.get_secret_value()
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature or "", secret, SIGNATURE_TOLERANCE_S)
        event = json.loads(text)
        if not isinstance(event, dict) or "id" not in event or "type" not in event:
            raise ValueError("not an event")
    except stripe.SignatureVerificationError:
        request.app.state.signals.stripe_failed("signature")  # the owner's alerts
        raise BadRequest(
            _("The Stripe-Signature header does not match this body, or it is too old."),
            code="bad_signature",
        ) from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError too
        raise BadRequest(_("The body is not a Stripe event."), code="bad_event") from None
    try:
        outcome = await run_in_threadpool(billing.handle_event, event)
    except Exception:
        log.exception("stripe event %s (%s) failed; Stripe will retry", event["id"], event["type"])
        request.app.state.signals.stripe_failed("processing")
        raise ApiError(
            _("The event could not be applied now; it will be retried."),
            code="webhook_failed",
            status=500,
        ) from None
    return {"received": True, "duplicate": outcome.duplicate}


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tradealerts · {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}}
</style></head><body><h1>{title}</h1><p>{body}</p></body></html>"""


@pages.get("/billing/success", response_class=HTMLResponse)
def success_page() -> HTMLResponse:
    return html_page(
        _PAGE.format(
            title="Thank you",
            body=escape(
                "Your payment went through. Your plan becomes PRO as soon as Stripe confirms "
                "it (seconds); `tradealerts billing` shows it. You can close this page."
            ),
        )
    )


@pages.get("/billing/cancel", response_class=HTMLResponse)
def cancel_page() -> HTMLResponse:
    return html_page(
        _PAGE.format(
            title="No payment made",
            body=escape("Nothing was charged. Run `tradealerts upgrade` when you are ready."),
        )
    )
