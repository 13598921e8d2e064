"""settings, account (password, email, export, delete, 2fa), notifications, support, docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tradealerts.cli.auth import PasswordStdin, read_password
from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import JSON_OPTION_HELP, console, emit_json, make_table, say, when
from tradealerts.client.lang import N_, _, use_language

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]

settings_app = typer.Typer(help="Your preferences and profile.", no_args_is_help=True)
account_app = typer.Typer(help="Password, email, export, deletion, 2FA.", no_args_is_help=True)
totp_app = typer.Typer(help="Two-factor authentication (an authenticator app).",
                       no_args_is_help=True)  # fmt: skip
account_app.add_typer(totp_app, name="2fa")
notifications_app = typer.Typer(help="Your in-app notifications.", no_args_is_help=True)

DOCS_URL = "https://github.com/tradealerts/tradealerts/blob/main/docs/user-guide.md"
_PROFILE_KEYS = ("display_name", "bio")
_BOOL = {"true": True, "yes": True, "on": True, "1": True,
         "false": False, "no": False, "off": False, "0": False}  # fmt: skip


# -- settings ---------------------------------------------------------------------------
@settings_app.command("show")
def settings_show(json_out: JsonOpt = False) -> None:
    """Your preferences and profile."""
    from tradealerts.client import endpoints

    with open_client() as c:
        data = {
            **c.run(endpoints.preferences()).model_dump(),
            **c.run(endpoints.profile()).model_dump(),
        }
    if json_out:
        emit_json(data)
        return
    # the language just read (and cached by the client) is the one this table speaks
    use_language(str(data.get("language") or "en"))
    console().print(make_table(_("Settings"), [N_("Key"), N_("Value")], sorted(data.items())))


@settings_app.command("set")
def settings_set(
    key: Annotated[
        str,
        typer.Argument(
            help="theme, chart_style, language, timezone, "
            "analytics_opt_in, marketing_opt_in, alert_bell, display_name, bio"
        ),
    ],
    value: Annotated[str, typer.Argument(help="The new value.")],
) -> None:
    """Change one setting; the value is checked here with the server's own schema first."""
    from pydantic import ValidationError

    from tradealerts.client import endpoints
    from tradealerts.core.schemas import PreferencesUpdate, ProfileUpdate

    name = key.strip().lower().replace("-", "_")
    model: Any = ProfileUpdate if name in _PROFILE_KEYS else PreferencesUpdate
    if name not in model.model_fields:
        keys = ", ".join([*PreferencesUpdate.model_fields, *_PROFILE_KEYS])
        raise UsageProblem(
            _("Unknown setting {key}: use one of {keys}.").format(key=repr(key), keys=keys)
        )
    parsed: Any = value
    if name.endswith("_opt_in") or name == "alert_bell":
        if value.strip().lower() not in _BOOL:
            raise UsageProblem(
                _("{name}: use true or false, got {value}.").format(name=name, value=repr(value))
            )
        parsed = _BOOL[value.strip().lower()]
    try:
        change = model.model_validate({name: parsed})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageProblem(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None
    with open_client() as c:
        if model is ProfileUpdate:
            c.run(endpoints.update_profile(**change.model_dump(exclude_none=True)))
        else:
            c.run(endpoints.update_preferences(change))
    if name == "language":  # the answer (and what follows) in the language just chosen
        use_language(str(change.language))
    say(f"{name} = {getattr(change, name)}")


# -- account ----------------------------------------------------------------------------
@account_app.command("password")
def account_password(password_stdin: PasswordStdin = False) -> None:
    """Change your password (stdin: current, then new, one a line); other sessions end."""
    from tradealerts.client import endpoints

    current = read_password(password_stdin, N_("Current password"))
    new = read_password(password_stdin, N_("New password"), confirm=True)
    with open_client() as c:
        say(c.run(endpoints.change_password(current, new)).message)


@account_app.command("email")
def account_email(
    new_email: Annotated[str, typer.Argument(help="The new address.")],
    code: Annotated[str | None, typer.Option(help="The code mailed to the new address.")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Change your email: first without --code (a code is mailed), then with it."""
    from tradealerts.client import endpoints

    with open_client() as c:
        if code is None:
            password = read_password(password_stdin)
            say(c.run(endpoints.change_email(new_email, password)).message)
            say(_("Then: tradealerts account email {email} --code CODE").format(email=new_email))
            return
        me = c.run(endpoints.confirm_email(new_email, code))
        creds = c.credentials
        if creds is not None and not creds.from_env:  # the login now belongs to the new email
            c.session.store.clear(creds.email)
            creds.email = me.email
            c.session.store.save(creds)
    say(_("Your email is now {email}.").format(email=me.email))


@account_app.command("export")
def account_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Accepted: it is JSON anyway.")] = True,
) -> None:
    """Everything stored about you, as JSON."""
    from tradealerts.client import endpoints

    with open_client() as c:
        data = c.run(endpoints.export())
    if output is None:
        emit_json(data)
        return
    output.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    say(_("Wrote {file}.").format(file=output))


@account_app.command("delete")
def account_delete(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Delete your account and everything of it (password required; cannot be undone)."""
    from tradealerts.client import endpoints

    if not yes and not typer.confirm(_("Delete your account and all its data for good?")):
        raise typer.Exit(1)
    password = read_password(password_stdin)
    with open_client() as c:
        c.run(endpoints.delete_account(password))
        c.session.forget()
    say(_("Your account is deleted; you are logged out."))


@totp_app.command("enable")
def totp_enable(
    code: Annotated[
        str | None, typer.Option(help="A code, if you already scanned a secret.")
    ] = None,
) -> None:
    """Show a new secret for your authenticator app, then confirm it with a code."""
    from tradealerts.client import endpoints

    with open_client() as c:
        setup = c.run(endpoints.totp_setup())
        say(_("Secret: {secret}").format(secret=setup.secret))
        say(f"URI:    {setup.otpauth_uri}")
        sys.stdout.flush()
        answer = code or str(typer.prompt(_("Code from your authenticator"))).strip()
        say(c.run(endpoints.totp_enable(answer)).message)


@totp_app.command("disable")
def totp_disable(
    code: Annotated[str, typer.Option(prompt="Code from your authenticator", help="A code.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Turn two-factor authentication off (password and a current code)."""
    from tradealerts.client import endpoints

    password = read_password(password_stdin)
    with open_client() as c:
        say(c.run(endpoints.totp_disable(password, code)).message)


# -- notifications ----------------------------------------------------------------------
@notifications_app.command("list")
def notifications_list(
    unread: Annotated[bool, typer.Option("--unread", help="Only unread ones.")] = False,
    page: Annotated[int, typer.Option(min=1)] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Unread first, newest first."""
    from tradealerts.client import endpoints

    with open_client() as c:
        data = c.run(endpoints.notifications(page=page, unread_only=unread))
    if json_out:
        emit_json(data)
        return
    rows = [(n.id, "" if n.read else "*", when(n.created_at), n.title, n.body) for n in data.items]
    title = _("Notifications · {unread} unread of {total}").format(
        unread=data.unread, total=data.total
    )
    columns = [N_("Id"), N_("New"), N_("Time"), N_("Title"), N_("Text")]
    console().print(make_table(title, columns, rows))


@notifications_app.command("read")
def notifications_read(
    notification_id: Annotated[int | None, typer.Argument(min=1, help="Its id.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Mark every one read.")] = False,
) -> None:
    """Mark one notification (or --all) read."""
    from tradealerts.client import endpoints

    if notification_id is None and not all_:
        raise UsageProblem(_("Give a notification id, or --all."))
    with open_client() as c:
        if all_:
            c.run(endpoints.notifications_read_all())
            say(_("All notifications marked read."))
            return
        n = c.run(endpoints.notification_read(notification_id or 0))
    say(_("Notification {id} marked read.").format(id=n.id))


@notifications_app.command("delete")
def notifications_delete(
    notification_id: Annotated[int, typer.Argument(min=1, help="Its id.")],
) -> None:
    """Delete a notification."""
    from tradealerts.client import endpoints

    with open_client() as c:
        c.run(endpoints.notification_delete(notification_id))
    say(_("Notification {id} deleted.").format(id=notification_id))


# -- support and docs -------------------------------------------------------------------
def support(
    message: Annotated[str, typer.Argument(help="What you need; the owner gets it by mail.")],
    subject: Annotated[str | None, typer.Option(help="Default: the message's start.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write to the server's owner."""
    from tradealerts.client import endpoints

    if not message.strip():
        raise UsageProblem(_("The message is empty."))
    title = subject or message.strip().splitlines()[0][:60]
    with open_client() as c:
        ticket = c.run(endpoints.support(title, message))
    if json_out:
        emit_json(ticket)
        return
    say(
        _("Sent (ticket {id}, {time}). The owner answers by mail.").format(
            id=ticket.id, time=when(ticket.created_at)
        )
    )


def docs() -> None:
    """Open the user guide in a browser (or print its address)."""
    import webbrowser

    try:
        opened = webbrowser.open(DOCS_URL)
    except webbrowser.Error:
        opened = False
    say(_("Opened {url}").format(url=DOCS_URL) if opened
        else _("Open {url} in a browser.").format(url=DOCS_URL))  # fmt: skip
