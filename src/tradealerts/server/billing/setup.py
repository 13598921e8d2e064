"""The owner's ``tradealerts-server billing setup``: the PRO product and its $29/month price
in the Stripe account, created once and found after (fixed ids make it idempotent).

The price is made with Stripe's Plans API: Stripe keeps Plans backward compatible with
Prices (a plan id is accepted wherever a price id is, e.g. Checkout's ``line_items.price``),
and localstripe, which tests run against, has Plans but no Prices. So one code path serves
both.
"""

from __future__ import annotations

from typing import Any

from tradealerts.core.tiers import TIERS, Tier
from tradealerts.server.billing.gateway import Gateway
from tradealerts.server.billing.service import HANDLED_EVENTS

__all__ = ["setup"]


def setup(secret_key: str, api_base: str | None = None) -> dict[str, Any]:
    """Create or find the product and price; what was found or made, and the price id."""
    gateway = Gateway(secret_key, api_base)
    amount = TIERS[Tier.PRO].price_usd_per_month * 100
    product, product_created = gateway.ensure_product("tradealerts PRO")
    plan, plan_created = gateway.ensure_plan(amount, "usd", "month")
    mismatch = (
        int(plan.get("amount") or 0) != amount
        or str(plan.get("currency")) != "usd"
        or str(plan.get("interval")) != "month"
    )
    return {
        "product_id": product["id"],
        "product_created": product_created,
        "price_id": plan["id"],
        "price_created": plan_created,
        "amount": int(plan.get("amount") or 0),
        "currency": str(plan.get("currency")),
        "interval": str(plan.get("interval")),
        "mismatch": mismatch,
        "events": list(HANDLED_EVENTS),
    }
