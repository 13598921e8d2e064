"""plan, upgrade, billing (invoices|portal|cancel|resume): PRO through Stripe."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import JSON_OPTION_HELP, console, emit_json, make_table, say, when
from tradealerts.client.lang import N_, _

if TYPE_CHECKING:
    from tradealerts.client import Client

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
NoBrowserOpt = Annotated[
    bool, typer.Option("--no-browser", help="Print the link instead of opening a browser.")
]

billing_app = typer.Typer(
    help="Your plan, card and invoices; cancel or resume PRO.", invoke_without_command=True
)


def money(amount: int, currency: str) -> str:
    """Integer minor units as people read them (``tradealerts.client.money``, imported here:
    the client package brings httpx, which ``tradealerts --help`` must not load)."""
    from tradealerts.client.money import money as format_money

    return format_money(amount, currency)


def _day(value: str | None) -> str:
    return when(value).split(" ")[0] if value else "-"  # the date alone, in the locale's form


def _open_link(url: str, no_browser: bool) -> None:
    """Open ``url`` in a browser where there is a screen; always print it."""
    say(url)
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if no_browser or headless:
        return
    import contextlib
    import webbrowser

    with contextlib.suppress(webbrowser.Error):  # the printed link is enough
        webbrowser.open(url)


def _api_code(exc: BaseException) -> str | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


#: What a subscriber reads when the server's owner has not set up Stripe. The server's own
#: message names the owner's settings (TRADEALERTS_STRIPE_…): no use to a subscriber, so it
#: goes to the -v detail only.
BILLING_OFF = N_(
    "Upgrades are not open on this server yet: its owner has not set up payments. "
    "You can ask them with `tradealerts support`."
)


def _run_billing(c: Client, call: Any) -> Any:
    """``c.run(call)`` for a billing route, with ``billing_disabled`` said for a subscriber."""
    from tradealerts.client import ApiError, ClientError

    try:
        return c.run(call)
    except ApiError as exc:
        if exc.code != "billing_disabled":
            raise
        raise ClientError(_(BILLING_OFF), detail=f"{exc.detail}: {exc.message}") from None


# -- plan ------------------------------------------------------------------------------
def plan(json_out: JsonOpt = False) -> None:
    """FREE and PRO side by side, with your plan marked."""
    from tradealerts.client import ApiError, endpoints

    with open_client() as c:
        mine = c.run(endpoints.billing())
        try:
            plans = c.run(endpoints.plans())["plans"]
        except ApiError as exc:
            if exc.code != "billing_disabled":
                raise
            plans = None
    if json_out:
        emit_json({**mine, "plans": plans})
        return
    if plans is None:
        price = _("{price} / month").format(price=f"${mine['price_usd_per_month']}")
        rows = [(_("Plan"), mine["tier"]), (_("Price"), price)]
        rows += [(_(k.replace("_", " ").capitalize()), v) for k, v in mine["limits"].items()]
        table = make_table(None, ["", ""], rows)
        table.show_header = False
        console().print(table)
        if mine["tier"] != "PRO":  # a PRO account has nothing to upgrade to
            say(_("Upgrades are not open on this server yet."))
        return
    mark = " " + _("(your plan)")
    heads = [p["tier"] + (mark if p["tier"] == mine["tier"] else "") for p in plans]
    lim = [p["limits"] for p in plans]
    table_rows: list[tuple[str, ...]] = [
        (
            _("Price"),
            *(
                _("{price} / month").format(
                    price=money(p["price"]["amount"], p["price"]["currency"])
                )
                for p in plans
            ),
        ),
        (_("Symbols"), *(str(len(x["symbols"])) for x in lim)),
        (_("Timeframes"), *(" ".join(x["timeframes"]) for x in lim)),
        (_("Watchlist items"), *(str(x["watchlist_items"]) for x in lim)),
        (_("Active alerts"), *(str(x["active_alerts"]) for x in lim)),
        (_("API requests / hour"), *(str(x["requests_per_hour"]) for x in lim)),
    ]
    console().print(make_table(_("Plans"), ["", *heads], table_rows))
    if mine["tier"] != "PRO":
        say(_("Upgrade with: tradealerts upgrade"))


# -- upgrade ---------------------------------------------------------------------------
def _watch_tier(found: Any) -> None:
    """Put each ``tier`` event of the user's stream in ``found`` (a thread of its own)."""
    try:
        with open_client() as c:
            for ev in c.events():
                if ev.event == "tier" and isinstance(ev.data, dict):
                    found.put(ev.data.get("tier"))
    except Exception:  # noqa: S110 - the main thread also asks the server itself
        pass


def _now_tier(c: Client) -> str:
    from tradealerts.client import endpoints

    return c.run(endpoints.me()).tier


PRO_NOW = N_("You're on PRO. Every symbol and timeframe is open: try `tradealerts symbols`.")
ALREADY_PRO = N_("You are on PRO already: nothing to upgrade (`tradealerts plan` shows it).")


def upgrade(
    no_browser: NoBrowserOpt = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the payment to be confirmed.", min=1)
    ] = 900,
) -> None:
    """Upgrade to PRO: pay on Stripe Checkout, and see PRO the moment it is confirmed."""
    import queue
    import threading
    import time

    from tradealerts.client import ApiError, ClientError, endpoints

    with open_client() as c:
        # Asked first (an account call: not counted), so PRO is said as such whether or not
        # the server sells PRO, and no checkout is opened for nothing.
        if _now_tier(c) == "PRO":
            say(_(ALREADY_PRO))
            return
        try:
            session = _run_billing(c, endpoints.subscription_upgrade())
        except ApiError as exc:
            if exc.code == "already_pro":  # became PRO since the question above
                say(_(ALREADY_PRO))
                return
            raise
        found: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=_watch_tier, args=(found,), daemon=True).start()
        say(_("Pay for PRO ($29/month) on Stripe's page:"))
        _open_link(session["url"], no_browser)
        say(_("Waiting for Stripe to confirm the payment (Ctrl-C to stop waiting)..."))
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + 10
        while (left := deadline - time.monotonic()) > 0:
            try:
                tier = found.get(timeout=min(left, max(0.1, next_check - time.monotonic())))
            except queue.Empty:
                # the stream may have opened after the change: ask, now and then
                next_check = time.monotonic() + 10
                tier = _now_tier(c)
            if tier == "PRO":
                say(_(PRO_NOW))
                return
    raise ClientError(
        _(
            "No payment was confirmed within {seconds} s. If you paid, Stripe's confirmation "
            "is late: check with `tradealerts billing` in a minute. Otherwise run `tradealerts "
            "upgrade` again."
        ).format(seconds=f"{timeout:.0f}")
    )


# -- billing ---------------------------------------------------------------------------
def _invoice_rows(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (i.get("number") or i["id"], _day(i.get("created_at")),
         money(int(i["amount_paid"] or i["amount_due"]), i["currency"]), i["status"],
         i.get("invoice_pdf") or i.get("hosted_invoice_url") or "-")
        for i in items
    ]  # fmt: skip


_INVOICE_COLUMNS = [N_("Number"), N_("Date"), N_("Amount"), N_("Status"), "PDF"]


@billing_app.callback()
def billing(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your plan, card and invoices; cancel or resume PRO."""
    if ctx.invoked_subcommand is not None:
        return
    from tradealerts.client import endpoints

    with open_client() as c:
        sub = _run_billing(c, endpoints.subscription())
        items = _run_billing(c, endpoints.invoices())
    if json_out:
        emit_json({"subscription": sub, "invoices": items})
        return
    card = sub.get("card")
    rows = [(_("Plan"), sub["tier"]), (_("Status"), sub["status"])]
    if sub.get("renews_on"):
        rows.append((_("Renews on"), _day(sub["renews_on"])))
    if sub.get("ends_on"):
        rows.append((_("Ends on"), _day(sub["ends_on"])))
    if sub.get("grace_ends_at"):
        rows.append((_("Payment due by"), when(sub["grace_ends_at"])))
    brand = card["brand"] or _("card") if card else ""
    rows.append((_("Card"), f"{brand} •••• {card['last4']}" if card else "-"))
    table = make_table(None, ["", ""], rows)
    table.show_header = False
    console().print(table)
    if items:
        console().print(make_table(_("Invoices"), _INVOICE_COLUMNS, _invoice_rows(items[:5])))
    if sub["status"] == "past_due":
        say(_("Your last payment failed: update your card with `tradealerts billing portal`."))
    elif sub["tier"] != "PRO":
        say(_("Upgrade with: tradealerts upgrade"))


@billing_app.command("invoices")
def invoices(json_out: JsonOpt = False) -> None:
    """Your invoices: number, date, amount, status and PDF link."""
    from tradealerts.client import endpoints

    with open_client() as c:
        items = _run_billing(c, endpoints.invoices())
    if json_out:
        emit_json(items)
        return
    console().print(make_table(_("Invoices"), _INVOICE_COLUMNS, _invoice_rows(items)))


@billing_app.command("portal")
def portal(no_browser: NoBrowserOpt = False) -> None:
    """Stripe's customer portal: change the card, see receipts."""
    from tradealerts.client import endpoints

    with open_client() as c:
        url = _run_billing(c, endpoints.billing_portal())["url"]
    _open_link(url, no_browser)


@billing_app.command("cancel")
def cancel(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Cancel PRO at the end of the paid period (you keep PRO until then)."""
    from tradealerts.client import endpoints

    with open_client() as c:
        if not yes:
            sub = _run_billing(c, endpoints.subscription())
            if not sys.stdin.isatty():
                raise UsageProblem(_("Add --yes to cancel without being asked."))
            end = _day(sub.get("current_period_end"))
            if not typer.confirm(
                _("Cancel PRO? You keep it until {day}, then FREE.").format(day=end)
            ):
                say(_("Nothing changed."))
                return
        sub = _run_billing(c, endpoints.subscription_cancel())
    say(_("Cancelled: you keep PRO until {day}. Changed your mind? `tradealerts billing "
          "resume`.").format(day=_day(sub.get("ends_on"))))  # fmt: skip


@billing_app.command("resume")
def resume() -> None:
    """Undo a cancellation before the period ends."""
    from tradealerts.client import endpoints

    with open_client() as c:
        sub = _run_billing(c, endpoints.subscription_resume())
    say(_("Resumed: PRO renews on {day}.").format(day=_day(sub.get("renews_on"))))
