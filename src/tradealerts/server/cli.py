"""The owner's command, ``tradealerts-server``. Heavy imports live inside the commands."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer

from tradealerts.server.cli_notices import admin_announce
from tradealerts.server.cli_owner import ingest_token_app, lines_app

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
app.add_typer(ingest_token_app, name="ingest-token")  # the owner's MT5 indicator (issue #16)
app.add_typer(lines_app, name="lines")
admin_app.command("announce")(admin_announce)  # maintenance notices (issue #29)


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


def _engine_leads(database_url: str) -> bool:
    """Whether a scaled-out engine has taken the lease on this database (its table has a
    row); a database without the table, or one that cannot be read, says no."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(text("SELECT 1 FROM engine_lease LIMIT 1")).first() is not None
        finally:
            engine.dispose()
    except Exception:
        return False


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
    import errno
    import socket

    if not 0 <= port <= 65535:
        raise _fail(f"port {port} is not a TCP port: choose one from 1 to 65535 with --port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _fail(f"cannot listen on {host!r}: not an address of this machine (--host)") from None
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            # the address itself is wrong (not this machine's) vs the port being taken
            hint = "--host" if exc.errno == errno.EADDRNOTAVAIL else "choose another with --port"
            raise _fail(f"cannot listen on {host}:{port} ({exc.strerror}): {hint}") from None


def _run(settings: Any) -> None:
    import logging

    from tradealerts.server.app import create_app
    from tradealerts.server.serving import limit_malloc_arenas, make_server

    limit_malloc_arenas()  # before any thread: see its docstring
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
    bar_clock: str = typer.Option(
        None,
        help="Where H2…D1 bars open: UTC | UTC+2 | America/New_York@17:00 | auto (MT5) "
        "[TRADEALERTS_BAR_CLOCK].",
    ),
    replay_tz: str = typer.Option(
        None,
        help="Replay: the file's naive times: UTC | a bar clock | bar_clock "
        "[TRADEALERTS_REPLAY_TZ].",
    ),
    lines_source: str = typer.Option(
        None, help="computed | mt5 | per series: computed,EURUSD:H1=mt5 [TRADEALERTS_LINES_SOURCE]."
    ),
    buffer_map: str = typer.Option(
        None, help="The owner's buffer map: JSON or a JSON file [TRADEALERTS_BUFFER_MAP]."
    ),
    public_url: str = typer.Option(None, help="Base URL used in mailed links."),
    log_level: str = typer.Option(None, help="DEBUG, INFO, WARNING, ERROR."),
    scale_out: bool = typer.Option(
        None,
        "--scale-out/--no-scale-out",
        help="API only; the engine runs apart [TRADEALERTS_SCALE_OUT]. Default: on when an "
        "engine leads on this database and a Redis URL is set.",
    ),
    workers: int = typer.Option(
        None, min=1, help="API processes on this port, with --scale-out [TRADEALERTS_WORKERS]."
    ),
    feed_market_hours: bool = typer.Option(
        None,
        "--feed-market-hours/--no-feed-market-hours",
        help="Synthetic and replay feeds: no ticks while a symbol's market is closed "
        "[TRADEALERTS_FEED_MARKET_HOURS; default off].",
    ),
) -> None:
    """Run the API and the engine. Every option is also a TRADEALERTS_* variable."""
    settings = _settings(
        feed_market_hours=feed_market_hours,
        scale_out=scale_out,
        workers=workers,
        host=host,
        port=port,
        feed=feed,
        database_url=database_url,
        redis_url=redis_url,
        replay_speed=replay_speed,
        replay_symbol=replay_symbol,
        history_bars=history_bars,
        bar_clock=bar_clock,
        replay_tz=replay_tz,
        lines_source=lines_source,
        buffer_map=buffer_map,
        public_url=public_url,
        log_level=log_level,
    )
    if (
        scale_out is None
        and "TRADEALERTS_SCALE_OUT" not in os.environ
        and settings.redis_url
        and _engine_leads(settings.database_url)
    ):
        # `engine` first, then `serve` on any machine: the documented order needs no flag
        typer.echo("An engine leads on this database: serving the API only (scale-out).")
        settings = settings.model_copy(update={"scale_out": True})
    if settings.scale_out and not settings.redis_url:
        raise _fail("--scale-out needs TRADEALERTS_REDIS_URL (the bus from the engine)")
    if settings.scale_out and lines_source is not None:
        # one source of truth: the API processes draw with the leading engine's setting
        typer.echo("Scaled out, the lines source is the engine's: --lines-source is ignored.")
    if settings.workers > 1:
        if not settings.scale_out:
            raise _fail(
                "--workers needs the engine apart: start `tradealerts-server engine` first "
                "(with TRADEALERTS_DATABASE_URL and TRADEALERTS_REDIS_URL), or pass --scale-out"
            )
        from tradealerts.server.scale.commands import run_workers

        _preflight(settings)
        _port_free(settings.host, settings.port)
        run_workers(settings, settings.workers)
        return
    _run(settings)


DEMO_USERS = (("free@demo.tradealerts.dev", "FREE"), ("pro@demo.tradealerts.dev", "PRO"))


@app.command()
def demo(
    port: int = typer.Option(None, help="Port to serve on [TRADEALERTS_PORT, default 8000]."),
    feed: str = typer.Option("synthetic", help="Feed to serve."),
) -> None:
    """Start the server on the embedded default with a FREE and a PRO demo account.

    Its data and the demo login live in TRADEALERTS_HOME, by default a demo folder in the
    temp dir: a demo never touches the real config of the machine's tradealerts command."""
    import secrets
    import tempfile
    from pathlib import Path

    if not os.environ.get("TRADEALERTS_HOME"):
        # the client login subprocess inherits it too
        os.environ["TRADEALERTS_HOME"] = str(Path(tempfile.gettempdir()) / "tradealerts-demo")
    settings = _settings(port=port, feed=feed, demo=True)
    _preflight(settings)
    # before making passwords: a busy port must not print accounts nobody can use
    _port_free(settings.host, settings.port)
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


# --- the owner's dashboard: locally on the database, or --server URL with an admin login ---

_SERVER_HELP = (
    "Ask a running server instead of the local database; log in with TRADEALERTS_ADMIN_TOKEN "
    "(an access token) or --email and the password on stdin (--password-stdin) or in "
    "TRADEALERTS_ADMIN_PASSWORD."
)
ServerOpt = typer.Option(None, "--server", envvar="TRADEALERTS_ADMIN_SERVER", help=_SERVER_HELP)
EmailOpt = typer.Option(None, "--email", envvar="TRADEALERTS_ADMIN_EMAIL", help="Admin login.")
PwStdinOpt = typer.Option(False, "--password-stdin", help="Read the admin password from stdin.")
JsonOpt = typer.Option(False, "--json", help="JSON for scripts.")


class _Remote:
    """The admin routes of a running server, with an administrator's access token."""

    def __init__(self, url: str, email: str | None, password_stdin: bool) -> None:
        import os

        import httpx

        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=30)
        token = os.environ.get("TRADEALERTS_ADMIN_TOKEN")
        if not token:
            password = (
                sys.stdin.readline().rstrip("\n")
                if password_stdin
                else os.environ.get("TRADEALERTS_ADMIN_PASSWORD")
            )
            if not email or not password:
                raise _fail(
                    "--server needs TRADEALERTS_ADMIN_TOKEN, or --email with --password-stdin "
                    "(or TRADEALERTS_ADMIN_PASSWORD)",
                    2,
                )
            body = self.call("POST", "/api/auth/login", json={"email": email, "password": password})
            token = body["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise _fail(f"cannot reach {self.http.base_url}: {type(exc).__name__}") from None
        if r.status_code == 204:
            return None
        try:
            body = r.json()
        except ValueError:
            raise _fail(f"{self.http.base_url} answered {r.status_code}, not JSON") from None
        if r.status_code >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            raise _fail(f"{err.get('message', r.reason_phrase)} ({r.status_code})")
        return body

    def user_id(self, ident: str) -> int:
        if ident.isdigit():
            return int(ident)
        found = self.call("GET", "/api/admin/users", params={"search": ident, "per_page": 500})
        for u in found["users"]:
            if u["email"] == ident.lower():
                return int(u["id"])
        raise _fail(f"no account {ident}")


def _backend(server: str | None, email: str | None, password_stdin: bool) -> _Remote | None:
    return _Remote(server, email, password_stdin) if server else None


def _local_user(s: Any, ident: str) -> Any:
    from tradealerts.server import accounts
    from tradealerts.server.db.models import User

    user = s.get(User, int(ident)) if ident.isdigit() else accounts.find_user(s, ident.lower())
    if user is None:
        raise _fail(f"no account {ident}")
    return user


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=str))


def _bars(title: str, days: list[dict[str, Any]]) -> str:
    """A plotext bar chart of per-day counts, as text."""
    import plotext as plt

    plt.clear_figure()
    counts = [d["count"] for d in days]
    xs = list(range(len(days)))
    plt.bar(xs, counts, width=0.6)
    _label_ticks(xs, [d["date"][5:] for d in days], min(100, _width(100)))
    # whole counts: plotext's own ticks would read 0.33, 0.67, ...
    top = max(counts, default=0)
    step = max(1, -(-top // 4))
    plt.yticks(list(range(0, top + step, step)))
    plt.title(title)
    plt.plotsize(min(100, _width(100)), 15)
    plt.theme("clear")
    return str(plt.build())


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        # ids and addresses are copied from here: never broken across lines
        table.add_column(
            c, no_wrap=c in {"request id", "email", "time", "hour", "created", "key id"}
        )
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(width=_width(160)).print(table)


def _width(piped: int) -> int:
    """The terminal's width; ``piped`` columns when the output is not a terminal (a file or
    a pipe: nothing to wrap for, so no value is cut)."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return piped
    return shutil.get_terminal_size((piped, 24)).columns


@admin_app.command("stats")
def admin_stats(
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Users by tier, sign-ups per day, active users, conversions, churn, alerts, fires."""
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        data = remote.call("GET", "/api/admin/analytics")
    else:
        from tradealerts.server import dashboard

        with _db(_settings()) as (s, now):
            data = dashboard.analytics(s, now)
    if as_json:
        _print_json(data)
        return
    _table(
        "users",
        ["tier", "users", "active alerts"],
        [[t, n, data["active_alerts_by_tier"].get(t, 0)] for t, n in data["users_by_tier"].items()],
    )
    a = data["active_users"]
    _table(
        "activity (30 days)",
        ["active today", "this week", "this month", "FREE→PRO", "churn"],
        [[a["day"], a["week"], a["month"], data["conversions_30d"], data["churn_30d"]]],
    )
    typer.echo(_bars("sign-ups per day (30 days)", data["signups_per_day"]))
    typer.echo(_bars("alert fires per day (30 days)", data["fires_per_day"]))


def _money(amounts: dict[str, int]) -> str:
    """Minor units per currency as the owner reads them: ``58.00 USD``, exact (no floats)."""
    if not amounts:
        return "0"
    return ", ".join(
        f"{'-' if v < 0 else ''}{abs(v) // 100}.{abs(v) % 100:02d} {c.upper()}"
        for c, v in sorted(amounts.items())
    )


def _label_ticks(xs: list[int], labels: list[str], width: int) -> None:
    """Label as many bars as fit side by side, counted back from the newest, which is always
    labelled (the month or day people look for first)."""
    import plotext as plt

    if not labels:
        return
    room = max(1, (width - 10) // (max(len(s) for s in labels) + 2))
    step = max(1, -(-len(labels) // room))
    ticks = xs[::-1][::step][::-1]
    plt.xticks(ticks, [labels[i] for i in ticks])


def _month_bars(title: str, months: list[dict[str, Any]], currency: str) -> str:
    """A plotext bar chart of a currency's paid revenue per month, in major units as text
    labels would show them (the chart is a picture; the table holds the exact figures)."""
    import plotext as plt

    plt.clear_figure()
    # bars at 0, 1, … with the months as tick labels chosen here: with text x values plotext
    # drops overlapping labels itself, and the one it dropped could be the only paid month's
    width = min(100, _width(100))
    xs = list(range(len(months)))
    plt.bar(xs, [m["amounts"].get(currency, 0) // 100 for m in months], width=0.6)
    _label_ticks(xs, [m["month"] for m in months], width)
    plt.title(title)
    plt.plotsize(width, 15)
    plt.theme("clear")
    return str(plt.build())


@admin_app.command("revenue")
def admin_revenue(
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """MRR, ARR, subscriptions by status, revenue per month, failed payments, renewals."""
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        data = remote.call("GET", "/api/admin/revenue")
    else:
        from tradealerts.server import dashboard

        settings = _settings()
        with _db(settings) as (s, now):
            data = dashboard.revenue(s, now, settings.billing_grace_days)
    if as_json:
        _print_json(data)
        return
    _table(
        "revenue",
        ["MRR", "ARR", "live subscriptions"],
        [[_money(data["mrr"]), _money(data["arr"]), data["live_subscriptions"]]],
    )
    _table(
        "subscriptions by status",
        ["status", "subscriptions"],
        [[k, v] for k, v in data["subscriptions_by_status"].items()],
    )
    months = data["revenue_per_month"]
    _table(
        "paid revenue per month (12 months)",
        ["month", "paid"],
        [[m["month"], _money(m["amounts"])] for m in months],
    )
    currencies = sorted({c for m in months for c in m["amounts"]})
    for c in currencies:
        typer.echo(_month_bars(f"paid revenue per month, {c.upper()} (12 months)", months, c))
    failed = data["failed_payments"]
    _table(
        f"failed payments (unpaid: {_money(failed['amount_due'])})",
        ["invoice", "email", "status", "amount due", "created"],
        [
            [
                i["id"],
                i["email"],
                i["status"],
                _money({i["currency"]: i["amount_due"]}),
                i["created_at"][:10],
            ]
            for i in failed["invoices"]
        ],
    )
    _table(
        "past due subscriptions",
        ["email", "past due since", "grace ends"],
        [
            [a["email"], (a["past_due_since"] or "")[:16], (a["grace_ends_at"] or "")[:16]]
            for a in failed["past_due_accounts"]
        ],
    )
    up = data["upcoming_renewals"]
    _table(
        f"renewals in the next {up['days']} days ({_money(up['amount'])})",
        ["email", "status", "renews", "amount"],
        [
            [r["email"], r["status"], r["renews_at"][:16], _money({r["currency"]: r["amount"]})]
            for r in up["renewals"]
        ],
    )


@admin_app.command("usage")
def admin_usage(
    hours: int = typer.Option(24, min=1, max=24 * 90, help="Window in hours."),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Requests per hour by tier and route family, 429s, latency p50/p95/p99, top users."""
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        data = remote.call("GET", "/api/admin/api-usage", params={"hours": hours})
    else:
        from tradealerts.server import dashboard

        with _db(_settings()) as (s, _now):
            data = dashboard.api_usage(s, hours)
    if as_json:
        _print_json(data)
        return
    _table(
        f"requests, last {hours} h ({data['requests']}, {data['rate_limited']} refused 429)",
        ["family", "requests", "2xx", "3xx", "4xx", "429", "5xx", "p50 ms", "p95 ms", "p99 ms"],
        [
            [
                f["family"],
                f["requests"],
                f["s2xx"],
                f["s3xx"],
                f["s4xx"],
                f["s429"],
                f["s5xx"],
                f["p50_ms"],
                f["p95_ms"],
                f["p99_ms"],
            ]
            for f in data["families"]
        ],
    )
    _table(
        "per hour",
        ["hour", "tier", "family", "requests"],
        [[h["hour"][:16], h["tier"], h["family"], h["requests"]] for h in data["per_hour"]],
    )
    _table(
        "top users",
        ["id", "email", "tier", "requests"],
        [[u["user_id"], u["email"], u["tier"], u["requests"]] for u in data["top_users"]],
    )


def _error_rows(errors: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            e["time"][:19],
            e["request_id"],
            f"{e['method']} {e['route']}",
            e["user_id"],
            e["type"],
            e["message"][:80],
            e["repeats"],
        ]
        for e in errors
    ]


_ERROR_COLUMNS = ["time", "request id", "route", "user", "type", "message", "repeats"]


@admin_app.command("errors")
def admin_errors(
    limit: int = typer.Option(50, min=1, max=500, help="How many."),
    follow: bool = typer.Option(False, "--follow", help="Keep printing new ones (Ctrl-C)."),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Recent server errors: time, request id, route, user, type, message, repeats."""
    import time

    remote = _backend(server, email, password_stdin)

    def fetch(after_id: int) -> list[dict[str, Any]]:
        if remote is not None:
            params = {"after_id": after_id, "limit": limit}
            return list(remote.call("GET", "/api/admin/error-logs", params=params)["errors"])
        from tradealerts.server import dashboard

        with _db(_settings()) as (s, _now):
            return list(dashboard.error_logs(s, after_id=after_id, limit=limit)["errors"])

    errors = fetch(0)
    if as_json and not follow:
        _print_json({"errors": errors})
        return
    errors.reverse()  # oldest first, like a log
    last = max((e["id"] for e in errors), default=0)
    if as_json:
        for e in errors:
            _print_json(e)
    else:
        _table("server errors", _ERROR_COLUMNS, _error_rows(errors))
    while follow:
        try:
            time.sleep(2.0)
        except KeyboardInterrupt:
            break
        for e in fetch(last):
            last = max(last, e["id"])
            if as_json:
                _print_json(e)
            else:
                typer.echo("  ".join("" if v is None else str(v) for v in _error_rows([e])[0]))
        sys.stdout.flush()


_RELEASE = typer.Option(
    None,
    "--release",
    help="Put this item back for a fresh round of tries (repeatable): mail-17, "
    "delivery-42 (a bare number is a mail), or 'all'.",
)


@admin_app.command("quarantine")
def admin_quarantine(
    release: list[str] = _RELEASE,
    limit: int = typer.Option(100, min=1, max=1000, help="How many to list."),
    as_json: bool = JsonOpt,
) -> None:
    """Mails and alert deliveries (webhooks…) set aside because no try could send them, with
    the reason, and --release to try them again once the cause is fixed. Runs on the
    server's host (its database)."""
    from tradealerts.server import quarantine

    try:
        ids = quarantine.parse_ids(release) if release else None
    except ValueError as exc:
        why = f"--release takes mail-ID, delivery-ID, a mail id or 'all', not {exc}"
        raise _fail(why, 2) from None
    with _db(_settings()) as (s, now):
        if release:
            done = quarantine.release(s, ids, now)
            s.commit()
            if as_json:
                _print_json({"released": done})
            else:
                typer.echo(
                    f"released {len(done)} item(s): {', '.join(done) or '-'}; the running "
                    "server's workers try them again on their next pass (within 5 s)"
                )
            return
        held = quarantine.listing(s, limit)
    if as_json:
        _print_json({"quarantined": held})
        return
    _table(
        "quarantined mails and deliveries",
        ["id", "time", "to", "what", "reason"],
        [[i["id"], str(i["time"])[:19], i["to"], i["what"][:40], i["reason"]] for i in held],
    )


@admin_app.command("users")
def admin_users(
    search: str = typer.Option(None, help="Part of an email or a name."),
    tier: str = typer.Option(None, help="Only this tier."),
    status: str = typer.Option(None, help="active, disabled, unverified or admin."),
    page: int = typer.Option(1, min=1),
    per_page: int = typer.Option(100, min=1, max=500),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """List accounts (search, filter by tier and status)."""
    from tradealerts.server import dashboard

    the_tier = _tier(tier).value if tier else None
    if status is not None and status not in dashboard.STATUSES:
        raise _fail(f"unknown status {status!r}: use {', '.join(dashboard.STATUSES)}", 2)
    remote = _backend(server, email, password_stdin)
    params = {
        "search": search,
        "tier": the_tier,
        "status": status,
        "page": page,
        "per_page": per_page,
    }
    if remote is not None:
        data = remote.call(
            "GET", "/api/admin/users", params={k: v for k, v in params.items() if v is not None}
        )
    else:
        with _db(_settings()) as (s, _now):
            data = dashboard.users_page(s, **params)  # type: ignore[arg-type]
    if as_json:
        _print_json(data)  # the API's page: users, total, page, per_page
        return
    _table(
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
    ident: str, server: str | None, email: str | None, password_stdin: bool, **fields: Any
) -> dict[str, Any]:
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        user_id = remote.user_id(ident)
        return dict(remote.call("PUT", f"/api/admin/user/{user_id}", json=fields))
    from tradealerts.server import dashboard

    with _db(_settings()) as (s, now):
        user = _local_user(s, ident)
        changed = dashboard.change_user(s, "cli", user, now, **fields)
        s.commit()
        return {"user": dashboard.user_row(user), "changed": changed}


def _report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(result)
    else:
        changed = ", ".join(result["changed"]) or "no change"
        typer.echo(f"{result['user']['email']}: {changed}")


@admin_app.command("set-tier")
def admin_set_tier(
    user: str = typer.Argument(..., help="Id or email."),
    tier: str = typer.Argument(...),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change a user's tier (takes effect on their next request; they are notified)."""
    result = _change(user, server, email, password_stdin, tier=_tier(tier).value)
    if as_json:
        _print_json(result)
        return
    changed = [c.removeprefix("tier ") for c in result["changed"] if c.startswith("tier ")]
    typer.echo(f"{result['user']['email']}: {changed[0] if changed else 'no change'}")


@admin_app.command("set-role")
def admin_set_role(
    user: str = typer.Argument(..., help="Id or email."),
    role: str = typer.Argument(..., help="user or admin."),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Make an account an administrator, or a plain user again."""
    if role not in ("user", "admin"):
        raise _fail(f"unknown role {role!r}: use user or admin", 2)
    _report(_change(user, server, email, password_stdin, role=role), as_json)


@admin_app.command("disable")
def admin_disable(
    user: str = typer.Argument(..., help="Id or email."),
    enable: bool = typer.Option(False, "--enable", help="Enable it again instead."),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Disable an account (its tokens are refused, its sessions end), or --enable it."""
    _report(_change(user, server, email, password_stdin, disabled=not enable), as_json)


@admin_app.command("delete-user")
def admin_delete_user(
    user: str = typer.Argument(..., help="Id or email."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask."),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Delete an account and everything of it."""
    if not yes and not typer.confirm(f"Delete {user} and all its data?"):
        raise typer.Exit(1)
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        remote.call("DELETE", f"/api/admin/user/{remote.user_id(user)}")
        gone = user
    else:
        from tradealerts.server import dashboard

        with _db(_settings()) as (s, now):
            target = _local_user(s, user)
            gone = target.email
            dashboard.remove_user(s, "cli", target, now, None)
            s.commit()
    if as_json:
        _print_json({"deleted": gone})
    else:
        typer.echo(f"deleted {gone}")


@admin_app.command("audit")
def admin_audit(
    page: int = typer.Option(1, min=1),
    per_page: int = typer.Option(50, min=1, max=500),
    server: str = ServerOpt,
    email: str = EmailOpt,
    password_stdin: bool = PwStdinOpt,
    as_json: bool = JsonOpt,
) -> None:
    """The audit log of admin actions, newest first."""
    remote = _backend(server, email, password_stdin)
    if remote is not None:
        params = {"page": page, "per_page": per_page}
        data = remote.call("GET", "/api/admin/audit", params=params)
    else:
        from tradealerts.server import dashboard

        with _db(_settings()) as (s, _now):
            data = dashboard.audit_page(s, page=page, per_page=per_page)
    if as_json:
        _print_json(data)  # the API's page: entries, total, page, per_page
        return
    _table(
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


# ``engine`` and ``status`` (scale-out) live in their own module; importing it adds them
from tradealerts.server.scale import commands as _scale_commands  # noqa: E402, F401, I001

# ``admin incidents`` (the owner's alerts, issue #29) likewise
from tradealerts.server import cli_incidents as _cli_incidents  # noqa: E402, F401


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
