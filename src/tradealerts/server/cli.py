"""The owner's command, ``tradealerts-server``. Heavy imports live inside the commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

app = typer.Typer(
    name="tradealerts-server",
    help="Serve market data, fractal indicators and price alerts from one MT5 terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(help="Accounts, for the owner.", no_args_is_help=True)
billing_app = typer.Typer(help="Selling PRO through Stripe.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(billing_app, name="billing")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"Error: {message}", fg="red", err=True)
    return typer.Exit(code)


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from tradealerts.server.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "setting"
        raise _fail(f"{field}: {err['msg'].removeprefix('Value error, ')}") from None


def _preflight(settings: Any) -> None:
    """Refuse what the owner must fix before the server starts, in one clear line: a bad
    feed spec, a replay file that cannot be used, an ``mt5`` feed without the MetaTrader5
    module, a database that cannot be opened or migrated. What may pass by itself (the
    terminal closed, the bridge down) is not checked here: the engine retries it."""
    import asyncio
    import importlib.util

    from tradealerts.server.app import feed_options
    from tradealerts.server.feeds import FeedConfigError, create_feed

    try:
        feed = create_feed(settings.feed, feed_options(settings))
        spec = settings.feed.strip()
        if spec.startswith("replay:"):
            asyncio.run(feed.start())
        elif spec == "mt5" and importlib.util.find_spec("MetaTrader5") is None:
            asyncio.run(feed.start())  # fails on the import, before connecting: its own hint
    except FeedConfigError as exc:
        raise _fail(f"feed: {exc}") from None
    with _db(settings):
        pass


def _port_free(host: str, port: int) -> None:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise _fail(
                f"cannot listen on {host}:{port} ({exc.strerror}): choose another with --port"
            ) from None


def _run(settings: Any) -> None:
    import logging

    from tradealerts.server.app import create_app
    from tradealerts.server.serving import make_server

    _preflight(settings)
    _port_free(settings.host, settings.port)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    make_server(
        create_app(settings),
        settings.host,
        settings.port,
        log_level=settings.log_level.lower(),
        server_header=False,
    ).run()


@app.callback()
def _root() -> None:
    """Serve market data, fractal indicators and price alerts from one MT5 terminal."""


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on [TRADEALERTS_HOST]."),
    port: int = typer.Option(None, help="Port [TRADEALERTS_PORT, default 8000]."),
    feed: str = typer.Option(None, help="synthetic | replay:PATH | mt5 | mt5-rpyc://HOST:PORT"),
    database_url: str = typer.Option(None, help="Default: SQLite in the data folder."),
    redis_url: str = typer.Option(None, help="Redis for quotas shared by API processes."),
    replay_speed: float = typer.Option(None, help="Replay: bars per second (0 = max)."),
    replay_symbol: str = typer.Option(None, "--symbol", help="Replay: the file's symbol."),
    history_bars: int = typer.Option(None, help="Bars of history to load."),
    public_url: str = typer.Option(None, help="Base URL used in mailed links."),
    log_level: str = typer.Option(None, help="DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Run the API and the engine. Every option is also a TRADEALERTS_* variable."""
    settings = _settings(
        host=host,
        port=port,
        feed=feed,
        database_url=database_url,
        redis_url=redis_url,
        replay_speed=replay_speed,
        replay_symbol=replay_symbol,
        history_bars=history_bars,
        public_url=public_url,
        log_level=log_level,
    )
    _run(settings)


DEMO_USERS = (("free@demo.tradealerts.dev", "FREE"), ("pro@demo.tradealerts.dev", "PRO"))


@app.command()
def demo(
    port: int = typer.Option(8000, help="Port to serve on."),
    feed: str = typer.Option("synthetic", help="Feed to serve."),
) -> None:
    """Start the server on the embedded default with a FREE and a PRO demo account."""
    import secrets

    settings = _settings(port=port, feed=feed, demo=True)
    from tradealerts.core.tiers import Tier

    creds = []
    with _db(settings) as (s, now):
        from tradealerts.server import accounts
        from tradealerts.server.security import hash_password

        for email, tier in DEMO_USERS:
            password = f"demo-{secrets.token_urlsafe(9)}"
            user = accounts.find_user(s, email)
            if user is None:
                user = accounts.create_user(
                    s,
                    email,
                    password,
                    now,
                    tier=Tier(tier),
                    verified=True,
                    display_name=f"Demo {tier}",
                )
            else:
                user.password_hash = hash_password(password)
                user.tier = tier
            creds.append((tier, email, password))
        s.commit()
    typer.secho(
        f"tradealerts demo · http://{settings.host}:{settings.port} · data in {settings.data_dir}",
        bold=True,
    )
    for tier, email, password in creds:
        typer.echo(f"  {tier:4} account: {email}  password: {password}")
    typer.echo(
        f"  API docs: http://{settings.host}:{settings.port}/api/docs · mail goes to "
        f"{settings.outbox_dir}"
    )
    from tradealerts.server.demo import login_client_when_up

    pro_email, pro_password = next((e, p) for t, e, p in creds if t == "PRO")
    login_client_when_up(settings.host, settings.port, pro_email, pro_password)
    _run(settings)


@app.command()
def prices(
    feed: str = typer.Option("synthetic", envvar="TRADEALERTS_FEED", help="Feed to watch."),
    seed: int = typer.Option(42, help="Seed of the synthetic feed."),
) -> None:
    """Watch a feed's live prices in a table until Ctrl-C (check a feed before serving it)."""
    from tradealerts.server.demo import run_price_table

    raise typer.Exit(run_price_table(feed, seed))


class _db:
    """A migrated database session for the admin commands: ``with _db(settings) as (s, now)``."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def __enter__(self) -> tuple[Any, Any]:
        from datetime import UTC, datetime

        from sqlalchemy.exc import SQLAlchemyError

        from tradealerts.server.db.migrate import upgrade
        from tradealerts.server.db.session import make_engine, make_sessionmaker

        try:
            self.engine = make_engine(self.settings.db_url)
            upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise _fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
        self.session = make_sessionmaker(self.engine)()
        return self.session, datetime.now(UTC)

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (the server also does this at start)."""
    from tradealerts.server.db.migrate import current

    settings = _settings()
    with _db(settings):
        pass
    from tradealerts.server.db.session import make_engine

    typer.echo(f"database at revision {current(make_engine(settings.db_url))}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from tradealerts.server.db.migrate import current
    from tradealerts.server.db.session import make_engine

    settings = _settings()
    typer.echo(
        current(make_engine(settings.db_url)) or "empty (run: tradealerts-server db upgrade)"
    )


def _tier(value: str) -> Any:
    from tradealerts.core.tiers import Tier

    try:
        return Tier(value.upper())
    except ValueError:
        raise _fail(f"unknown tier {value!r}: use FREE or PRO", 2) from None


@admin_app.command("create-user")
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
        raise _fail(f"email: {exc}", 2) from None
    the_tier = _tier(tier)
    generated = not password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\n")
    problem = accounts.password_problem(password)
    if problem:
        raise _fail(f"password: the password {problem}", 2)
    with _db(_settings()) as (s, now):
        if accounts.find_user(s, email) is not None:
            raise _fail(f"{email} already has an account")
        accounts.create_user(s, email, password, now, tier=the_tier, is_admin=admin, verified=True)
        accounts.audit(s, "cli", "create_user", email, now, tier=the_tier.value, admin=admin)
        s.commit()
    typer.echo(f"created {email} ({the_tier}{', admin' if admin else ''})")
    if generated:
        typer.echo(f"password: {password}")


@admin_app.command("set-tier")
def admin_set_tier(email: str, tier: str) -> None:
    """Change a user's tier (takes effect on their next request; they are notified)."""
    from tradealerts.server import accounts
    from tradealerts.server.mail import queue_mail, templates

    the_tier = _tier(tier)
    settings = _settings()
    with _db(settings) as (s, now):
        user = accounts.find_user(s, email)
        if user is None:
            raise _fail(f"no account {email}")
        old = accounts.set_tier(s, user, the_tier, now, actor="cli")
        queue_mail(s, user.email, *templates.tier_change(old, the_tier.value), now)
        s.commit()
    typer.echo(f"{email}: {old} -> {the_tier}")


@admin_app.command("users")
def admin_users(
    tier: str = typer.Option(None, help="Only this tier."),
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """List accounts."""
    from rich.console import Console
    from rich.table import Table
    from sqlalchemy import select

    from tradealerts.server.db.models import User

    with _db(_settings()) as (s, _now):
        q = select(User).order_by(User.id)
        if tier:
            q = q.where(User.tier == _tier(tier).value)
        users = s.scalars(q).all()
        rows = [
            {
                "id": u.id,
                "email": u.email,
                "tier": u.tier,
                "admin": u.is_admin,
                "verified": u.email_verified,
                "created_at": u.created_at.isoformat(),
            }
            for u in users
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "email", "tier", "admin", "verified", "created")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["email"],
            r["tier"],
            "yes" if r["admin"] else "",
            "yes" if r["verified"] else "no",
            r["created_at"][:16],
        )
    Console().print(table)


@admin_app.command("delete-user")
def admin_delete_user(
    email: str, yes: bool = typer.Option(False, "--yes", help="Do not ask.")
) -> None:
    """Delete an account and everything of it."""
    from tradealerts.server import accounts

    if not yes and not typer.confirm(f"Delete {email} and all its data?"):
        raise typer.Exit(1)
    with _db(_settings()) as (s, now):
        user = accounts.find_user(s, email)
        if user is None:
            raise _fail(f"no account {email}")
        accounts.delete_user(s, user)
        accounts.audit(s, "cli", "delete_user", email, now)
        s.commit()
    typer.echo(f"deleted {email}")


@billing_app.command("setup")
def billing_setup(
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    """Create (or find) the PRO product and its $29/month price in your Stripe account, and
    print the webhook to configure. Safe to run again."""
    settings = _settings()
    if settings.stripe_secret_key is None:
        raise _fail(
            "set TRADEALERTS_STRIPE_SECRET_KEY to your Stripe secret key (sk_test_... to try "
            "it in test mode) first"
        )
    from tradealerts.server.billing.gateway import StripeUnavailable
    from tradealerts.server.billing.setup import setup

    try:
        done = setup(settings.stripe_secret_key.get_secret_value(), settings.stripe_api_base)
    except StripeUnavailable as exc:
        raise _fail(f"Stripe refused the request: {exc}") from None
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


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
