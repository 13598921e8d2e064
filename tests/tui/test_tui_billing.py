"""The account screen on a server that sells PRO (billing on localstripe, with the Checkout and
portal stand-in, webhooks signed as Stripe signs): FREE is offered the upgrade; once paid, the
same screen shows PRO with the subscription and Stripe's billing portal, and no offer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.conftest import serve_selling_pro
from tests.server.serverkit import Running
from tests.server.stripekit import StripeDouble, event, stripe_double
from tests.tui.conftest import (
    LIVE_REPLAY,
    Person,
    log_in,
    open_account,
    shown_actions,
    started,
    toasts,
    until,
)

from tradealerts.client import AsyncClient, endpoints


@pytest.fixture(scope="module")
def double() -> Iterator[StripeDouble]:
    with stripe_double() as d:
        yield d


@pytest.fixture(scope="module")
def server(module_tmp: Path, double: StripeDouble) -> Iterator[Running]:
    """This module's server: the replay feed of the other TUI tests, and PRO for sale."""
    yield from serve_selling_pro(module_tmp, double, **LIVE_REPLAY)


async def test_paying_turns_the_upgrade_offer_into_the_plan_and_manage_billing(
    make_app, person: Person, double: StripeDouble
) -> None:
    await log_in(person)
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await started(pilot)
        screen = await open_account(pilot)
        profile, offer = screen.query_one("#profile"), screen.query_one("#upgrade")
        await until(pilot, lambda: "Plan: FREE" in str(profile.render()), what="the plan")
        assert "u opens the payment page" in str(offer.render())
        assert "upgrade" in shown_actions(screen) and "manage_billing" not in shown_actions(screen)
        # paid in a browser: the checkout, the hosted page, Stripe's signed webhook
        async with AsyncClient(person.server.url) as c:
            session = await c.run(endpoints.subscription_upgrade())
        cs = double.complete_checkout(str(session["id"]))
        assert double.deliver(event("checkout.session.completed", cs)).status_code == 200
        # the stream's tier event: the same screen, now PRO with the subscription
        await until(pilot, lambda: "Plan: PRO" in str(profile.render()), what="PRO shown")
        shown = str(profile.render())
        # the date the locale's way, in prose (issue #27): ``renews on Jan 6, 2027``
        renews = re.search(r"renews on [A-Z][a-z]{2} \d{1,2}, 20\d\d", shown)
        assert "active" in shown and renews and "•••• 4242" in shown, shown
        await until(pilot, lambda: "Manage billing" in str(offer.render()), what="the portal")
        assert "Upgrade" not in str(offer.render())
        assert "upgrade" not in shown_actions(screen)
        assert "manage_billing" in shown_actions(screen)
        await pilot.press("u")
        await until(pilot, lambda: "You are on PRO already." in toasts(app), what="u on PRO")
        await pilot.press("m")
        await until(pilot, lambda: "https://billing.stripe.com/" in str(offer.render()),
                    what="the portal's address")  # fmt: skip
        assert double.portals, "the portal session was asked of Stripe"
