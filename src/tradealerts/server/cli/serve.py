"""``serve``, ``demo``, ``prices``, and the scaled-out processes: ``engine`` and
``serve --workers``. Heavy imports live inside the commands (the server's start-up cost
rule): ``tradealerts-server --help`` must not load the app."""

from __future__ import annotations

import copy
import inspect
import json
import os
from collections.abc import Callable
from typing import Any

import typer

from tradealerts.server.cli.common import Db, fail, load_settings

__all__ = ["demo", "engine", "preflight", "prices", "run_workers", "serve"]

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


def preflight(settings: Any) -> None:
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
        raise fail(f"feed: {exc}") from None
    with Db(settings):
        pass


def _port_free(host: str, port: int) -> None:
    import errno
    import socket

    if not 0 <= port <= 65535:
        raise fail(f"port {port} is not a TCP port: choose one from 1 to 65535 with --port")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise fail(f"cannot listen on {host!r}: not an address of this machine (--host)") from None
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            # the address itself is wrong (not this machine's) vs the port being taken
            hint = "--host" if exc.errno == errno.EADDRNOTAVAIL else "choose another with --port"
            raise fail(f"cannot listen on {host}:{port} ({exc.strerror}): {hint}") from None


def _serve_app(settings: Any, sockets: list[Any] | None = None) -> None:
    """The app of ``settings`` on uvicorn, on its host and port or on ``sockets``."""
    import logging

    from tradealerts.server.app import create_app
    from tradealerts.server.serving import make_server

    logging.basicConfig(level=settings.log_level.upper(), format=_LOG_FORMAT)
    server = make_server(
        create_app(settings),
        settings.host,
        settings.port,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    server.run(sockets=sockets)


def _run(settings: Any) -> None:
    from tradealerts.server.serving import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread: see its docstring
    preflight(settings)
    _port_free(settings.host, settings.port)
    _serve_app(settings)


def serve(
    ctx: typer.Context,
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
    settings = load_settings(**ctx.params)  # every option is the setting of its name
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
        raise fail("--scale-out needs TRADEALERTS_REDIS_URL (the bus from the engine)")
    if settings.scale_out and lines_source is not None:
        # one source of truth: the API processes draw with the leading engine's setting
        typer.echo("Scaled out, the lines source is the engine's: --lines-source is ignored.")
    if settings.workers > 1:
        if not settings.scale_out:
            raise fail(
                "--workers needs the engine apart: start `tradealerts-server engine` first "
                "(with TRADEALERTS_DATABASE_URL and TRADEALERTS_REDIS_URL), or pass --scale-out"
            )
        preflight(settings)
        _port_free(settings.host, settings.port)
        run_workers(settings, settings.workers)
        return
    _run(settings)


DEMO_USERS = (("free@demo.tradealerts.dev", "FREE"), ("pro@demo.tradealerts.dev", "PRO"))


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
    settings = load_settings(port=port, feed=feed, demo=True)
    preflight(settings)
    # before making passwords: a busy port must not print accounts nobody can use
    _port_free(settings.host, settings.port)
    from tradealerts.core.tiers import Tier

    creds = []
    with Db(settings) as (s, now):
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


def prices(
    feed: str = typer.Option("synthetic", envvar="TRADEALERTS_FEED", help="Feed to watch."),
    seed: int = typer.Option(42, help="Seed of the synthetic feed."),
) -> None:
    """Watch a feed's live prices in a table until Ctrl-C (check a feed before serving it)."""
    from tradealerts.server.demo import run_price_table

    raise typer.Exit(run_price_table(feed, seed))


# -- scaled out (issue #17) ----------------------------------------------------------------
#: serve's options that are the market side's: ``engine`` takes them, in this order
_ENGINE_OPTIONS = ("feed", "database_url", "redis_url", "replay_speed", "replay_symbol",
                   "history_bars", "lines_source", "buffer_map", "log_level")  # fmt: skip
#: the two whose help says what they are to the engine
_ENGINE_HELP = {
    "database_url": "PostgreSQL, shared with the API processes.",
    "redis_url": "Redis: the bus to the API processes.",
}


def _market_side(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` (its ``ctx`` aside) serve's options of the market side: the same
    settings with the same help, declared once (Typer reads the signature)."""
    options = inspect.signature(serve, eval_str=True).parameters
    params = [inspect.signature(command, eval_str=True).parameters["ctx"]]
    for name in _ENGINE_OPTIONS:
        param = options[name]
        if name in _ENGINE_HELP:
            option = copy.copy(param.default)
            option.help = _ENGINE_HELP[name]
            param = param.replace(default=option)
        params.append(param)
    command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


@_market_side
def engine(ctx: typer.Context, **_options: Any) -> None:
    """Run the market side of a scaled-out deployment: one leader, any number of standbys.

    Exit status 3 means this engine lost its lease to another (restart it: it stands by)."""
    import asyncio
    import faulthandler
    import logging
    import signal
    import sys

    settings = load_settings(**ctx.params, scale_out=True)  # each option: its setting
    if not settings.redis_url:
        raise fail("engine needs TRADEALERTS_REDIS_URL (the bus to the API processes)")
    from tradealerts.server.scale.engine_role import run_engine

    preflight(settings)
    # every thread's stack on SIGUSR2, even when the event loop is blocked
    faulthandler.register(signal.SIGUSR2, file=sys.stderr, all_threads=True)
    logging.basicConfig(level=settings.log_level.upper(), format=_LOG_FORMAT)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)  # what is it doing? (the log)
        return await run_engine(settings, stop)

    raise typer.Exit(asyncio.run(main()))


def _dump_tasks() -> None:
    """Log every asyncio task's stack (``kill -USR1`` an engine that seems stuck)."""
    import asyncio
    import io
    import logging

    out = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(file=out)
    logging.getLogger("tradealerts.engine").warning("tasks:\n%s", out.getvalue())


def _worker(sock: Any) -> None:
    """One ``serve --workers`` process: settings from the environment the parent set."""
    from tradealerts.server.settings import Settings

    _serve_app(Settings.model_validate({}), sockets=[sock])


def run_workers(settings: Any, workers: int) -> None:
    """``workers`` API processes sharing one listening socket; a worker that dies is started
    again; SIGTERM or SIGINT stops them all (each ends its streams with ``reconnect``).

    Each runs ``create_app`` from the environment, so every option given on the command line
    is passed on as its ``TRADEALERTS_*`` variable."""
    import multiprocessing
    import signal
    import socket
    import time

    for name, value in settings.model_dump(exclude_unset=True).items():
        if value is not None and not hasattr(value, "get_secret_value"):
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            os.environ[f"TRADEALERTS_{name.upper()}"] = text
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [ctx.Process(target=_worker, args=(sock,), daemon=False) for _ in range(workers)]
    for p in procs:
        p.start()
    typer.echo(f"serving on {settings.host}:{settings.port} with {workers} API processes")
    while not stopping:
        time.sleep(0.2)
        for i, p in enumerate(procs):
            if not p.is_alive() and not stopping:
                typer.echo(f"API process {p.pid} ended ({p.exitcode}); starting another", err=True)
                procs[i] = ctx.Process(target=_worker, args=(sock,), daemon=False)
                procs[i].start()
    for p in procs:
        if p.is_alive() and p.pid is not None:
            os.kill(p.pid, signal.SIGTERM)
    for p in procs:
        p.join(settings.shutdown_grace_seconds + 5)
        if p.is_alive():
            p.kill()
