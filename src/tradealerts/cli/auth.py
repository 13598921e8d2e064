"""register, verify, login, logout, whoami: the account's front door."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import (
    JSON_OPTION_HELP,
    clock_at,
    emit_json,
    make_table,
    preferred_zone,
    say,
)
from tradealerts.client.lang import N_, _, language, language_for, use_language

EmailOpt = Annotated[str | None, typer.Option("--email", "-e", help="Your account's email.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (for scripts).")
]


def _terminal() -> bool:
    return sys.stdin.isatty()


def read_password(from_stdin: bool, prompt: str = N_("Password"), confirm: bool = False) -> str:
    """The password from stdin's first line, or asked for (hidden; twice with ``confirm``).

    Asking needs a terminal: without one, getpass reads stdin in the open after a Python
    warning (and Click says "Aborted!" when stdin is empty), so that is refused first.
    """
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageProblem(_("--password-stdin: stdin gave no password."))
        return line
    if not _terminal():
        raise UsageProblem(
            _("There is no terminal to ask the password on: use --password-stdin "
              "(the password on the first line of stdin).")
        )  # fmt: skip
    return str(typer.prompt(_(prompt), hide_input=True, confirmation_prompt=confirm))


def _checked_email(value: str) -> str:
    """``value`` if it is an email address (the server's own check), else a usage error."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic.networks import EmailStr

    try:
        TypeAdapter(EmailStr).validate_python(value)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"].removeprefix("value is not a valid email address: ")
        if language() != "en":  # the validator's reason exists in English only
            raise UsageProblem(
                _("--email: {value} is not an email address.").format(value=repr(value))
            ) from None
        raise UsageProblem(
            _("--email: {value} is not an email address: {why}").format(value=repr(value), why=why)
        ) from None
    return value


def _email(given: str | None, *remembered: str | None) -> str:
    for value in (given, *remembered):
        if value:
            return _checked_email(value.strip())
    if not _terminal():
        raise UsageProblem(_("There is no terminal to ask your email on: give --email."))
    return _checked_email(str(typer.prompt(_("Email"))).strip())


def register(
    email: EmailOpt = None,
    name: Annotated[str, typer.Option(help="A display name.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a FREE account; a 6-digit code is mailed to you (then: tradealerts verify CODE)."""
    from tradealerts.client import endpoints

    address = _email(email)
    password = read_password(password_stdin, confirm=True)
    with open_client() as c:
        answer = c.run(endpoints.register(address, password, name))
        c.session.store.config.set(c.base_url, "pending", address)
    say(answer.message)
    say(_("Next: tradealerts verify CODE   (the code sent to {email})").format(email=address))


def verify(
    code: Annotated[str, typer.Argument(help="The 6-digit code from the mail.")],
    email: EmailOpt = None,
    resend: Annotated[bool, typer.Option(help="Mail a new code instead.")] = False,
) -> None:
    """Confirm your email with the mailed code (or --resend a new one)."""
    from tradealerts.client import endpoints

    with open_client() as c:
        config = c.session.store.config
        address = _email(email, config.get(c.base_url, "pending"))
        if resend:
            say(c.run(endpoints.resend_verification(address)).message)
            return
        if not (code.isdigit() and len(code) == 6):
            raise UsageProblem(
                _("CODE: expected the 6 digits from the mail, got {code}.").format(code=repr(code))
            )
        answer = c.run(endpoints.verify_email(address, code))
        config.set(c.base_url, "pending", address)
    say(answer.message)
    say(_("Next: tradealerts login --email {email}").format(email=address))


def login(
    email: EmailOpt = None,
    password_stdin: PasswordStdin = False,
    remember: Annotated[
        bool, typer.Option("--remember", help="Stay logged in for 30 days, not 24 h.")
    ] = False,
    otp: Annotated[
        str | None, typer.Option("--otp", help="The 6-digit two-factor code, if 2FA is on.")
    ] = None,
    no_keyring: Annotated[
        bool,
        typer.Option(
            "--no-keyring",
            help="Keep this and later logins of this TRADEALERTS_HOME in its 0600 file, never "
            "in the OS keyring (the demo's folder does).",
        ),
    ] = False,
) -> None:
    """Log in; the session is kept in the OS keyring (or a 0600 file without one)."""
    from tradealerts.client import endpoints
    from tradealerts.client.errors import ApiError

    if otp is not None and not (otp.strip().isdigit() and len(otp.strip()) == 6):
        raise UsageProblem(
            _("--otp: expected the 6 digits of your authenticator, got {otp}.").format(
                otp=repr(otp)
            )
        )
    with open_client() as c:
        config = c.session.store.config
        if no_keyring:
            config.set_file_only(True)
        address = _email(email, c.session.store.current_email(), config.get(c.base_url, "pending"))
        password = read_password(password_stdin)
        try:
            c.login(address, password, remember=remember, otp=otp.strip() if otp else None)
        except ApiError as exc:
            if exc.code != "otp_required" or otp or password_stdin or not _terminal():
                raise
            code = str(typer.prompt(_("Two-factor code"))).strip()
            c.login(address, password, remember=remember, otp=code)
        config.set(c.base_url, "pending", None)
        me = c.run(endpoints.me())
        where = c.session.store.location()
    # the language the user chose (cached by the login): this command's last lines say it
    use_language(language_for(c.base_url))
    say(
        _("Logged in as {email} ({tier}) on {server}.").format(
            email=me.email, tier=me.tier, server=c.base_url
        )
    )
    say(_("Session kept in {where}.").format(where=where))


def logout() -> None:
    """Log out: the session is revoked on the server and no token is left on this machine."""
    with open_client() as c:
        creds = c.credentials
        if creds is None:
            say(_("You were not logged in on {server}.").format(server=c.base_url))
            return
        if creds.from_env:
            raise UsageProblem(
                _("The token comes from TRADEALERTS_TOKEN: unset it to log out of this shell.")
            )
        from tradealerts.client.errors import ClientError

        try:
            c.logout()
        except ClientError as exc:  # local copies are gone whatever the server said
            say(
                _("Logged out here; the server could not revoke the session: {why}").format(
                    why=exc.message
                )
            )
            return
    say(_("Logged out of {server}; the session is revoked.").format(server=c.base_url))


def whoami(
    json_out: Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)] = False,
) -> None:
    """Who is logged in: email, tier, its limits and the requests left this hour."""
    from tradealerts.client import ApiError, endpoints
    from tradealerts.core.tiers import limits_for

    with open_client() as c:
        me = c.run(endpoints.me())
        try:
            # The quota is told only in a counted answer's headers (account calls such as the
            # one above are not counted): the cheapest counted call costs one request. Once
            # the quota is spent, the 429 carries the same headers: that is the answer then.
            c.run(endpoints.watchlist())
        except ApiError as exc:
            if exc.status != 429:
                raise
        rate = c.rate_limit
        zone = preferred_zone(c) if rate and not json_out else None
    lim = limits_for(me.tier)
    symbols = sorted(lim.symbols)
    timeframes = [tf.value for tf in sorted(lim.timeframes, key=lambda t: t.seconds)]
    limits = {
        "symbols": symbols,
        "timeframes": timeframes,
        "watchlist_items": lim.watchlist_items,
        "active_alerts": lim.active_alerts,
        "requests_per_hour": lim.requests_per_hour,
    }
    quota = (
        {"limit": rate.limit, "remaining": rate.remaining, "reset": rate.reset} if rate else None
    )
    data = {
        "server": c.base_url,
        "email": me.email,
        "tier": me.tier,
        "display_name": me.display_name,
        "email_verified": me.email_verified,
        "totp_enabled": me.totp_enabled,
        "limits": limits,
        "quota": quota,
    }
    if json_out:
        emit_json(data)
        return
    from datetime import UTC, datetime

    left = _("unknown")
    if rate:
        frees = clock_at(datetime.fromtimestamp(rate.reset, UTC), zone)
        left = _("{remaining} of {limit} (the next frees at {time})").format(
            remaining=rate.remaining, limit=rate.limit, time=frees
        )
    rows = [
        (_("Email"), me.email),
        (_("Tier"), me.tier),
        (_("Server"), c.base_url),
        (_("Symbols"), " ".join(symbols)),
        (_("Timeframes"), " ".join(timeframes)),
        (_("Watchlist items"), lim.watchlist_items),
        (_("Active alerts"), lim.active_alerts),
        (_("Requests / hour"), lim.requests_per_hour),
        (_("Requests left"), left),
        (_("Two-factor"), _("on") if me.totp_enabled else _("off")),
    ]
    from tradealerts.cli.output import console

    table = make_table(None, ["", ""], rows)
    table.show_header = False
    console().print(table)
