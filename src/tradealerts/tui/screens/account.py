"""The account: profile, plan and its limits, preferences (theme, timezone, the alert bell),
two-factor sign-in on and off, password change; on FREE how to upgrade to PRO, on PRO the
subscription (status, renewal, card) and Stripe's billing portal where the server has one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from tradealerts.client import Call, endpoints
from tradealerts.client.lang import N_, _
from tradealerts.core.schemas import THEMES, Message, PreferencesUpdate
from tradealerts.tui.base import spawn, ta
from tradealerts.tui.errors import Handled
from tradealerts.tui.widgets.footer import bottom_bars, help_only

__all__ = ["AccountScreen", "PasswordScreen", "TotpOffScreen", "TotpOnScreen"]

UPGRADE_HINT = N_(
    "Upgrade to PRO: 15 symbols, every timeframe, 20 alerts, 300 requests an hour, "
    "$29 a month: u opens the payment page; the plan changes here the moment it is paid."
)
NO_BILLING = N_(
    "This server takes no online payments: ask its owner (tradealerts support) to move you to PRO."
)
ON_PRO = N_("You are on PRO already.")
MANAGE_HINT = N_("Manage billing: m opens Stripe's page (card, receipts, cancel or resume).")
PAY_FOR_PRO = N_("Pay for PRO ($29/month) on Stripe's page:")
CODE_HINT = N_("6-digit code from the app")
PRO_NO_BILLING = N_(
    "You are on PRO. This server takes no online payments: its owner manages your plan."
)


class AccountScreen(Screen[None]):
    """The person's account: plan and billing, theme, bell, two-factor sign-in, password."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "theme", N_("Next theme")),
        Binding("b", "bell", N_("Bell on/off")),
        Binding("2", "two_factor", N_("2FA on/off")),
        Binding("p", "password", N_("Password")),
        Binding("u", "upgrade", N_("Upgrade to PRO")),
        # on PRO the offer above is hidden (check_action) and ``u`` falls through to this one
        Binding("u", "on_pro", N_("Plan"), show=False),
        Binding("m", "manage_billing", N_("Manage billing")),
        help_only("c", "channels", N_("Push channels")),
        help_only("g", "reload", N_("Reload")),
    ]

    def __init__(self) -> None:
        super().__init__()
        #: the tier of the last answer of ``/api/user/billing`` (or of ``/api/me`` before it)
        self.tier: str | None = None
        #: does the server sell PRO (``GET /api/plans`` answers, not 503 billing_disabled)?
        self.billing_on: bool | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="account"):
            yield Static("loading …", id="profile")
            with Horizontal(classes="row"):
                yield Label(_("Timezone"), classes="label")
                yield Input(id="timezone", placeholder="Europe/London")
                yield Button(_("Save"), id="save-tz")
            yield Static(UPGRADE_HINT, id="upgrade")
        yield from bottom_bars()

    def on_mount(self) -> None:
        me = ta(self).store.me
        self.tier = str(me.tier) if me is not None else None
        ta(self).changed.subscribe(self, self._on_change)
        spawn(self, self.action_reload)

    def _on_change(self, what: str) -> None:
        # "all" follows a plan change (the stream's tier event): show the new plan at once
        if what == "all":
            spawn(self, self.action_reload, group="account", exclusive=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "upgrade":
            return self.tier != "PRO"
        if action == "on_pro":
            return self.tier == "PRO"
        if action == "manage_billing":
            return self.tier == "PRO" and bool(self.billing_on)
        return True

    async def action_reload(self) -> None:
        app = ta(self)
        try:
            me = await app.api(endpoints.me())
            profile = await app.api(endpoints.profile())
            prefs = await app.api(endpoints.preferences())
            plan = await app.api(endpoints.billing())
        except Handled:
            return
        if self.billing_on is None:
            self.billing_on = await self._sells_pro()
        app.store.me, app.store.preferences = me, prefs
        self.show(me, profile, prefs, plan)

    async def _sells_pro(self) -> bool:
        """Whether the server takes payments (its billing routes, the portal among them, answer):
        ``GET /api/plans`` needs no login and counts against no quota; 503 ``billing_disabled``
        without the Stripe settings."""
        from tradealerts.client import ApiError

        try:
            await ta(self).client.run(endpoints.plans())
        except ApiError as exc:
            return exc.code != "billing_disabled"
        except Exception:  # unreachable: the status bar says so; offer nothing meanwhile
            return False
        return True

    def show(self, me: Any, profile: Any, prefs: Any, plan: dict[str, Any]) -> None:
        self.tier = str(plan.get("tier", me.tier))
        limits = "\n".join(
            f"  {k.replace('_', ' ')}: {v}" for k, v in plan.get("limits", {}).items()
        )
        on, off = _("on"), _("off")
        price = _("{price} / month").format(price=f"${plan.get('price_usd_per_month', 0)}")
        two_factor = _("Two-factor sign-in: [b]{state}[/b] (2 turns it {other})").format(
            state=on if me.totp_enabled else off, other=off if me.totp_enabled else on
        )
        looks = _("Theme: {theme}   Timezone: {zone}   Language: {language}").format(
            theme=prefs.theme, zone=prefs.timezone, language=prefs.language
        )
        bell = _("Alert bell: [b]{state}[/b] (b)").format(state=on if prefs.alert_bell else off)
        if not ta(self).ring_bell:
            bell += _(", off for this session (--no-bell)")
        text = (
            f"[b]{me.display_name or me.email}[/b]  {me.email}\n"
            + _("Plan: [b]{tier}[/b] ({price})").format(tier=self.tier, price=price)
            + f"{_subscription(plan.get('subscription'))}\n{limits}\n"
            f"{two_factor}\n{looks}\n{bell}\n" + _("Bio: {bio}").format(bio=profile.bio or "—")
        )
        self.query_one("#profile", Static).update(text)
        self.query_one("#timezone", Input).value = prefs.timezone
        upgrade = self.query_one("#upgrade", Static)
        if self.tier == "PRO":
            upgrade.update(_(MANAGE_HINT) if self.billing_on else _(PRO_NO_BILLING))
        elif _(PAY_FOR_PRO) not in str(upgrade.render()):  # a checkout link stays on screen
            upgrade.update(_(UPGRADE_HINT))
        self.refresh_bindings()

    async def _save(self, update: PreferencesUpdate) -> None:
        app = ta(self)
        try:
            app.store.preferences = await app.api(endpoints.update_preferences(update))
        except Handled:
            return
        app._apply_theme()
        app.publish("status")
        await self.action_reload()

    async def action_theme(self) -> None:
        prefs = ta(self).store.preferences
        current = prefs.theme if prefs is not None else THEMES[0]
        nxt = THEMES[(THEMES.index(current) + 1) % len(THEMES)] if current in THEMES else THEMES[0]
        await self._save(PreferencesUpdate(theme=nxt))

    @on(Button.Pressed, "#save-tz")
    async def _save_tz(self) -> None:
        from pydantic import ValidationError

        try:
            update = PreferencesUpdate(timezone=self.query_one("#timezone", Input).value.strip())
        except ValidationError as exc:
            ta(self).say(exc.errors()[0]["msg"], severity="warning")
            return
        await self._save(update)

    async def action_bell(self) -> None:
        prefs = ta(self).store.preferences
        await self._save(PreferencesUpdate(alert_bell=not (prefs is None or prefs.alert_bell)))

    def action_two_factor(self) -> None:
        me = ta(self).store.me
        if me is None:
            return
        done = lambda _: spawn(self, self.action_reload)  # noqa: E731
        ta(self).push_screen(TotpOffScreen() if me.totp_enabled else TotpOnScreen(), done)

    def action_password(self) -> None:
        ta(self).push_screen(PasswordScreen())

    def action_channels(self) -> None:
        """The push channels (``tui/screens/channels.py``)."""
        from tradealerts.tui.screens.channels import ChannelsScreen

        ta(self).push_screen(ChannelsScreen())

    async def action_upgrade(self) -> None:
        """Stripe Checkout for PRO (the billing flow of ``tradealerts upgrade``); the stream's
        ``tier`` event shows the new plan once Stripe confirms the payment."""
        upgrade = self.query_one("#upgrade", Static)
        url = await self._stripe_page(
            endpoints.subscription_upgrade(),
            {
                "already_pro": self.action_on_pro,
                "billing_disabled": lambda: upgrade.update(_(NO_BILLING)),
            },
        )
        if url is None:
            return
        upgrade.update(
            Text.assemble(
                _(PAY_FOR_PRO) + "\n",
                (url, "bold underline"),
                "\n" + _("Your plan changes here the moment Stripe confirms the payment."),
            )
        )
        _open_in_browser(url)

    def action_on_pro(self) -> None:
        ta(self).say(_(ON_PRO), title=_("Plan"))

    async def action_manage_billing(self) -> None:
        """Stripe's customer portal (``tradealerts billing portal``): card, receipts, cancel."""
        box = self.query_one("#upgrade", Static)

        def no_billing() -> None:
            self.billing_on = False
            box.update(_(PRO_NO_BILLING))
            self.refresh_bindings()

        url = await self._stripe_page(endpoints.billing_portal(), {"billing_disabled": no_billing})
        if url is None:
            return
        box.update(
            Text.assemble(_("Manage billing on Stripe's page:") + "\n", (url, "bold underline"))
        )
        _open_in_browser(url)

    async def _stripe_page(
        self, call: Call[dict[str, Any]], refusals: dict[str, Callable[[], None]]
    ) -> str | None:
        """The address of the Stripe page ``call`` asks for; None when it is refused (a
        refusal whose code ``refusals`` knows is shown by it, any other failure by the app)."""
        from tradealerts.client import ApiError

        app = ta(self)
        try:
            answer = await app.client.run(call)
        except Exception as exc:
            shown = refusals.get(exc.code) if isinstance(exc, ApiError) else None
            if shown is None:
                app.handle_error(exc)
            else:
                shown()
            return None
        return str(answer.get("url", ""))


def _day(iso: object) -> str:
    """A date of the plan's line, the locale's way (``Dec 30, 2026``, ``30.12.2026``)."""
    from tradealerts.client.feedstate import parse_time
    from tradealerts.client.lang import format_date

    when = parse_time(iso)
    return format_date(when, "medium") if when is not None else (str(iso)[:10] if iso else "?")


def _subscription(sub: Any) -> str:
    """A second plan line, ``active, renews on 2026-12-30, visa •••• 4242``: the subscription
    as Stripe last said it (as ``tradealerts billing`` prints it); empty when there is none
    (a plan set by the owner, or no payments on this server)."""
    if not isinstance(sub, dict) or sub.get("status") in (None, "none"):
        return ""
    parts = [str(sub["status"]).replace("_", " ")]
    for key, said in (("renews_on", N_("renews on {date}")), ("ends_on", N_("ends on {date}")),
                      ("grace_ends_at", N_("payment due by {date}"))):  # fmt: skip
        if sub.get(key):
            parts.append(_(said).format(date=_day(sub[key])))
    card = sub.get("card")
    if isinstance(card, dict) and card.get("last4"):
        parts.append(f"{card.get('brand') or _('card')} •••• {card['last4']}")
    return "\n  " + ", ".join(parts)


def _open_in_browser(url: str) -> None:
    """Open ``url`` where there is a graphical screen; the link on screen is enough elsewhere
    (on a bare console ``webbrowser`` would start a text browser over the TUI)."""
    import os
    import sys

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return
    import contextlib
    import webbrowser

    with contextlib.suppress(webbrowser.Error):
        webbrowser.open(url)


class _Form(ModalScreen[None]):
    """The account's forms: Escape or Cancel closes one, changing nothing."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", N_("Cancel"))]

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _six_digits(code: str) -> bool:
    return len(code) == 6 and code.isdigit()


async def _change_two_factor(form: _Form, call: Call[Message]) -> None:
    """Send a two-factor change: the server's answer is said and the form closes; a refusal
    stays on the form, under its fields."""
    try:
        message = await ta(form).api(call, quiet=True)
    except Handled as exc:
        form.query_one("#error", Label).update(str(exc))
        return
    ta(form).say(message.message, title=_("Two-factor sign-in"))
    form.dismiss(None)


class TotpOnScreen(_Form):
    """Turn two-factor sign-in on: the server makes a secret, the person adds it to an
    authenticator app and proves it with a code (nothing changes until the code is right)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(_("Turn on two-factor sign-in"), classes="title")
            yield Static(_("asking the server for a secret …"), id="secret")
            yield Input(placeholder=_(CODE_HINT), id="code", max_length=6)
            yield Label("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button(_("Turn on"), variant="primary", id="enable")
                yield Button(_("Cancel"), id="cancel")

    def on_mount(self) -> None:
        spawn(self, self._setup)

    async def _setup(self) -> None:
        try:
            setup = await ta(self).api(endpoints.totp_setup())
        except Handled as exc:
            self.query_one("#secret", Static).update(str(exc))
            return
        self.query_one("#secret", Static).update(
            Text.assemble(
                _("Add this secret to your authenticator app:") + "\n",
                (setup.secret, "bold"),
                "\n" + _("or its address:") + " ",
                setup.otpauth_uri,
            )
        )
        self.query_one("#code", Input).focus()

    @on(Input.Submitted, "#code")
    @on(Button.Pressed, "#enable")
    async def enable(self) -> None:
        code = self.query_one("#code", Input).value.strip()
        if not _six_digits(code):
            self.query_one("#error", Label).update(_("The code is the 6 digits the app shows."))
            return
        await _change_two_factor(self, endpoints.totp_enable(code))


class TotpOffScreen(_Form):
    """Turn two-factor sign-in off: the password and a current code."""

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(_("Turn off two-factor sign-in"), classes="title")
            yield Input(password=True, placeholder=_("password"), id="password")
            yield Input(placeholder=_(CODE_HINT), id="code", max_length=6)
            yield Label("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button(_("Turn off"), variant="warning", id="disable")
                yield Button(_("Cancel"), id="cancel")

    @on(Input.Submitted, "#code")
    @on(Button.Pressed, "#disable")
    async def disable(self) -> None:
        password = self.query_one("#password", Input).value
        code = self.query_one("#code", Input).value.strip()
        if not password or not _six_digits(code):
            self.query_one("#error", Label).update(_("Your password and the app's 6-digit code."))
            return
        await _change_two_factor(self, endpoints.totp_disable(password, code))


class PasswordScreen(_Form):
    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label(_("Change password"), classes="title")
            yield Input(password=True, placeholder=_("current password"), id="current")
            yield Input(password=True, placeholder=_("new password"), id="new")
            yield Label("", classes="error", id="error")
            with Horizontal(classes="buttons"):
                yield Button(_("Change"), variant="primary", id="change")
                yield Button(_("Cancel"), id="cancel")

    @on(Button.Pressed, "#change")
    async def change(self) -> None:
        current = self.query_one("#current", Input).value
        new = self.query_one("#new", Input).value
        if not current or not new:
            self.query_one("#error", Label).update(_("Both passwords are needed."))
            return
        try:
            await ta(self).api(endpoints.change_password(current, new))
        except Handled:
            return
        ta(self).say(_("Password changed."))
        self.dismiss(None)
