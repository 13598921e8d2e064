"""``billing setup``: the PRO product and its price in the owner's Stripe account, and the
webhook to configure."""

from __future__ import annotations

import json

import typer

from tradealerts.server.cli.common import JSON_OPTION, fail, load_settings

__all__ = ["billing_setup"]


def billing_setup(as_json: bool = JSON_OPTION) -> None:
    """Create (or find) the PRO product and its $29/month price in your Stripe account, and
    print the webhook to configure. Safe to run again."""
    settings = load_settings()
    if settings.stripe_secret_key is None:
        raise fail(
            "set TRADEALERTS_STRIPE_SECRET_KEY to your Stripe secret key (sk_test_... to try "
            "it in test mode) first"
        )
    from tradealerts.server.billing.gateway import StripeUnavailable
    from tradealerts.server.billing.setup import setup

    try:
        done = setup(settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base)
    except StripeUnavailable as exc:
        raise fail(f"Stripe refused the request: {exc}") from None
    webhook = f"{settings.public_url.rstrip('/')}/api/webhooks/stripe"
    if as_json:
        typer.echo(json.dumps({**done, "webhook_url": webhook}))
        return
    made = {True: "created", False: "found"}
    typer.echo(f"product {done['product_id']}: {made[done['product_created']]}")
    typer.echo(
        f"price   {done['price_id']}: {made[done['price_created']]} "
        f"({done['amount']} {done['currency']} minor units / {done['interval']})"
    )
    if done["mismatch"]:
        typer.secho(
            "warning: that price is not 2900 usd / month; archive it in the Dashboard and "
            "run this again",
            fg="yellow",
            err=True,
        )
    typer.echo(f"\nSet:  TRADEALERTS_STRIPE_PRICE_ID={done['price_id']}")
    typer.echo(f"Add a webhook endpoint in Stripe: {webhook}")
    typer.echo("  events: " + ", ".join(done["events"]))
    typer.echo("  then set TRADEALERTS_STRIPE_WEBHOOK_SECRET to its signing secret (whsec_...)")
