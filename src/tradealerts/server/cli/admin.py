"""The owner's accounts: ``admin create-user``, ``users``, ``set-tier``, ``set-role``,
``disable``, ``delete-user`` and ``audit``, on this host's database or a running server
(``--server``: the same admin routes the TUI uses)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import typer

from tradealerts.server.cli.common import JSON_OPTION, Db, fail, load_settings, print_json, table
from tradealerts.server.cli.remote import Access, with_login

__all__ = [
    "admin_audit",
    "admin_create_user",
    "admin_delete_user",
    "admin_disable",
    "admin_set_role",
    "admin_set_tier",
    "admin_users",
]

_USER = typer.Argument(..., help="Id or email.")
_ROLE = typer.Argument(..., help="user or admin.")
_ENABLE = typer.Option(False, "--enable", help="Enable it again instead.")
_YES = typer.Option(False, "--yes", help="Do not ask.")


def _tier(value: str) -> Any:
    from tradealerts.core.tiers import Tier

    try:
        return Tier(value.upper())
    except ValueError:
        raise fail(f"unknown tier {value!r}: use FREE or PRO", 2) from None


def admin_create_user(
    email: str,
    tier: str = typer.Option("FREE", help="FREE or PRO."),
    admin: bool = typer.Option(False, "--admin", help="Make an administrator."),
    password_stdin: bool = typer.Option(False, help="Read the password from stdin."),
) -> None:
    """Create a verified account (a password is generated and printed unless given)."""
    import secrets

    from email_validator import EmailNotValidError, validate_email

    from tradealerts.server import accounts

    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise fail(f"email: {exc}", 2) from None
    the_tier = _tier(tier)
    generated = not password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\n")
    problem = accounts.password_problem(password)
    if problem:
        raise fail(f"password: the password {problem}", 2)
    with Db(load_settings()) as (s, now):
        if accounts.find_user(s, email) is not None:
            raise fail(f"{email} already has an account")
        accounts.create_user(s, email, password, now, tier=the_tier, is_admin=admin, verified=True)
        accounts.audit(s, "cli", "create_user", email, now, tier=the_tier.value, admin=admin)
        s.commit()
    typer.echo(f"created {email} ({the_tier}{', admin' if admin else ''})")
    if generated:
        typer.echo(f"password: {password}")


def _local_user(s: Any, ident: str) -> Any:
    from tradealerts.server import accounts
    from tradealerts.server.db.models import User

    user = s.get(User, int(ident)) if ident.isdigit() else accounts.find_user(s, ident.lower())
    if user is None:
        raise fail(f"no account {ident}")
    return user


@with_login
def admin_users(
    search: str = typer.Option(None, help="Part of an email or a name."),
    tier: str = typer.Option(None, help="Only this tier."),
    status: str = typer.Option(None, help="active, disabled, unverified or admin."),
    page: int = typer.Option(1, min=1),
    per_page: int = typer.Option(100, min=1, max=500),
    *,
    login: Access,
    as_json: bool = JSON_OPTION,
) -> None:
    """List accounts (search, filter by tier and status)."""
    from tradealerts.server import dashboard

    the_tier = _tier(tier).value if tier else None
    if status is not None and status not in dashboard.STATUSES:
        raise fail(f"unknown status {status!r}: use {', '.join(dashboard.STATUSES)}", 2)
    params = {"search": search, "tier": the_tier, "status": status, "page": page,
              "per_page": per_page}  # fmt: skip
    data = login.get(
        "/api/admin/users",
        lambda s, _now, _settings: dashboard.users_page(s, **params),  # type: ignore[arg-type]
        {k: v for k, v in params.items() if v is not None},
    )
    if as_json:
        print_json(data)  # the API's page: users, total, page, per_page
        return
    table(
        f"accounts ({data['total']}, page {data['page']})",
        ["id", "email", "tier", "role", "status", "created"],
        [
            [
                u["id"],
                u["email"],
                u["tier"],
                u["role"],
                "disabled" if u["disabled"] else "active" if u["email_verified"] else "unverified",
                u["created_at"][:10],
            ]
            for u in data["users"]
        ],
    )


def _change(
    ident: str,
    login: Access,
    as_json: bool,
    said: Callable[[list[str]], list[str]] = list,
    **fields: Any,
) -> None:
    """Change the account ``ident``; print its JSON (``as_json``) or what changed, as ``said``
    words it."""
    if login.remote is not None:
        user_id = login.remote.user_id(ident)
        result = dict(login.remote.call("PUT", f"/api/admin/user/{user_id}", json=fields))
    else:
        from tradealerts.server import dashboard

        with Db(load_settings()) as (s, now):
            user = _local_user(s, ident)
            changed = dashboard.change_user(s, "cli", user, now, **fields)
            s.commit()
            result = {"user": dashboard.user_row(user), "changed": changed}
    if as_json:
        print_json(result)
    else:
        changed = said(result["changed"])
        typer.echo(f"{result['user']['email']}: {', '.join(changed) or 'no change'}")


def _tier_said(changed: list[str]) -> list[str]:
    # a person reads the new tier alone; the JSON keeps every change as the server said it
    return [c.removeprefix("tier ") for c in changed if c.startswith("tier ")][:1]


@with_login
def admin_set_tier(
    user: str = _USER,
    tier: str = typer.Argument(...),
    *,
    login: Access,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a user's tier (takes effect on their next request; they are notified)."""
    _change(user, login, as_json, _tier_said, tier=_tier(tier).value)


@with_login
def admin_set_role(
    user: str = _USER, role: str = _ROLE, *, login: Access, as_json: bool = JSON_OPTION
) -> None:
    """Make an account an administrator, or a plain user again."""
    if role not in ("user", "admin"):
        raise fail(f"unknown role {role!r}: use user or admin", 2)
    _change(user, login, as_json, role=role)


@with_login
def admin_disable(
    user: str = _USER, enable: bool = _ENABLE, *, login: Access, as_json: bool = JSON_OPTION
) -> None:
    """Disable an account (its tokens are refused, its sessions end), or --enable it."""
    _change(user, login, as_json, disabled=not enable)


@with_login
def admin_delete_user(
    user: str = _USER, yes: bool = _YES, *, login: Access, as_json: bool = JSON_OPTION
) -> None:
    """Delete an account and everything of it."""
    if not yes and not typer.confirm(f"Delete {user} and all its data?"):
        raise typer.Exit(1)
    if login.remote is not None:
        login.remote.call("DELETE", f"/api/admin/user/{login.remote.user_id(user)}")
        gone = user
    else:
        from tradealerts.server import dashboard

        with Db(load_settings()) as (s, now):
            target = _local_user(s, user)
            gone = target.email
            dashboard.remove_user(s, "cli", target, now, None)
            s.commit()
    if as_json:
        print_json({"deleted": gone})
    else:
        typer.echo(f"deleted {gone}")


@with_login
def admin_audit(
    page: int = typer.Option(1, min=1),
    per_page: int = typer.Option(50, min=1, max=500),
    *,
    login: Access,
    as_json: bool = JSON_OPTION,
) -> None:
    """The audit log of admin actions, newest first."""

    def local(s: Any, _now: Any, _settings: Any) -> dict[str, Any]:
        from tradealerts.server import dashboard  # the database's side only (start-up cost)

        return dashboard.audit_page(s, page=page, per_page=per_page)

    data = login.get("/api/admin/audit", local, {"page": page, "per_page": per_page})
    if as_json:
        print_json(data)  # the API's page: entries, total, page, per_page
        return
    table(
        f"audit log ({data['total']})",
        ["time", "actor", "action", "target", "detail"],
        [
            [
                e["time"][:19],
                e["actor"],
                e["action"],
                e["target"],
                json.dumps(e["detail"]) if e["detail"] else "",
            ]
            for e in data["entries"]
        ],
    )
