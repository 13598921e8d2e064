"""Billing through Stripe: checkout, webhooks as the source of truth, invoices, grace."""

from tradealerts.server.billing.gateway import Gateway, StripeUnavailable
from tradealerts.server.billing.rules import tier_for
from tradealerts.server.billing.service import (
    HANDLED_EVENTS,
    Billing,
    Outcome,
    account_json,
    invoice_json,
)

__all__ = [
    "HANDLED_EVENTS",
    "Billing",
    "Gateway",
    "Outcome",
    "StripeUnavailable",
    "account_json",
    "invoice_json",
    "tier_for",
]
