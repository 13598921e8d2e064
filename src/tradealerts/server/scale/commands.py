"""``tradealerts-server engine`` and ``status``, and ``serve --workers``: the scale-out
commands. Heavy imports live inside the commands (the server's start-up cost rule)."""

from __future__ import annotations

import json
from typing import Any

import typer

from tradealerts.server.cli import _fail, _settings, app

__all__ = ["engine", "run_workers", "status"]


@app.command()
def engine(
    feed: str = typer.Option(None, help="synthetic | replay:PATH | mt5 | mt5-rpyc://HOST:PORT"),
    database_url: str = typer.Option(None, help="PostgreSQL, shared with the API processes."),
    redis_url: str = typer.Option(None, help="Redis: the bus to the API processes."),
    replay_speed: float = typer.Option(None, help="Replay: bars per second (0 = max)."),
    replay_symbol: str = typer.Option(None, "--symbol", help="Replay: the file's symbol."),
    history_bars: int = typer.Option(None, help="Bars of history to load."),
    lines_source: str = typer.Option(
        None, help="computed | mt5 | per series: computed,EURUSD:H1=mt5 [TRADEALERTS_LINES_SOURCE]."
    ),
    buffer_map: str = typer.Option(
        None, help="The owner's buffer map: JSON or a JSON file [TRADEALERTS_BUFFER_MAP]."
    ),
    log_level: str = typer.Option(None, help="DEBUG, INFO, WARNING, ERROR."),
) -> None:
    """Run the market side of a scaled-out deployment: one leader, any number of standbys.

    Exit status 3 means this engine lost its lease to another (restart it: it stands by)."""
    import asyncio
    import logging
    import signal

    settings = _settings(
        feed=feed,
        database_url=database_url,
        redis_url=redis_url,
        replay_speed=replay_speed,
        replay_symbol=replay_symbol,
        history_bars=history_bars,
        lines_source=lines_source,
        buffer_map=buffer_map,
        log_level=log_level,
        scale_out=True,
    )
    if not settings.redis_url:
        raise _fail("engine needs TRADEALERTS_REDIS_URL (the bus to the API processes)")
    from tradealerts.server.cli import _preflight
    from tradealerts.server.scale.engine_role import run_engine

    _preflight(settings)
    import faulthandler
    import sys

    # every thread's stack on SIGUSR2, even when the event loop is blocked
    faulthandler.register(signal.SIGUSR2, file=sys.stderr, all_threads=True)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

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
    import logging

    from tradealerts.server.app import create_app
    from tradealerts.server.serving import make_server
    from tradealerts.server.settings import Settings

    settings = Settings.model_validate({})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = make_server(
        create_app(settings),
        settings.host,
        settings.port,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
    server.run(sockets=[sock])


def run_workers(settings: Any, workers: int) -> None:
    """``workers`` API processes sharing one listening socket; a worker that dies is started
    again; SIGTERM or SIGINT stops them all (each ends its streams with ``reconnect``).

    Each runs ``create_app`` from the environment, so every option given on the command line
    is passed on as its ``TRADEALERTS_*`` variable."""
    import multiprocessing
    import os
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


@app.command()
def status(
    redis_url: str = typer.Option(None, help="The deployment's Redis."),
    database_url: str = typer.Option(None, help="The deployment's database."),
    server: str = typer.Option(
        None, help="Embedded: the server to ask (default: this machine's --host/--port)."
    ),
    host: str = typer.Option(
        None, help="Embedded: the address `serve` listens on [TRADEALERTS_HOST]."
    ),
    port: int = typer.Option(
        None, help="Embedded: the port `serve` listens on [TRADEALERTS_PORT]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Engine (leader, standbys, lag), API processes, open streams and bus length; on the
    embedded default (no TRADEALERTS_REDIS_URL), the local server's health."""
    import asyncio

    settings = _settings(redis_url=redis_url, database_url=database_url, host=host, port=port)
    if not settings.redis_url:
        _embedded_status(server or _local_url(settings), as_json)
        return
    from tradealerts.server.scale.status import collect, render

    try:
        data = asyncio.run(collect(settings))
    except Exception as exc:
        raise _fail(f"status: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        render(data)


def _local_url(settings: Any) -> str:
    # a server listening on every interface answers on loopback
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host  # noqa: S104
    return f"http://{host}:{settings.port}"


def _embedded_status(url: str, as_json: bool) -> None:
    """The one-process server's own health (GET /api/system/health, no token needed); exit 1
    when it is degraded or does not answer, so a monitor can run this command."""
    import httpx

    try:
        r = httpx.get(f"{url.rstrip('/')}/api/system/health", timeout=10)
        data = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise _fail(
            f"no tradealerts server answers at {url} ({type(exc).__name__}): start it with "
            "'tradealerts-server serve', or pass --server URL; scaled out, set "
            "TRADEALERTS_REDIS_URL"
        ) from None
    if not isinstance(data, dict) or "status" not in data:
        raise _fail(f"{url} is not a tradealerts server (GET /api/system/health: {r.status_code})")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(_render_health(url, data))
    if data["status"] != "ok":
        raise typer.Exit(1)


def _render_health(url: str, data: dict[str, Any]) -> str:
    """Health as a few lines: each part's status and the detail that explains a fault."""
    lines = [f"server {url}: {data['status']} (embedded: one process)"]
    for part in ("database", "feed", "engine", "alerts", "mail", "lines"):
        value = data.get(part)
        if not isinstance(value, dict):
            continue
        detail = []
        if part == "database" and "latency_ms" in value:
            detail.append(f"{value['latency_ms']} ms")
        if part == "feed":
            symbols = value.get("symbols") or {}
            stale = sorted(k for k, v in symbols.items() if v.get("status") not in ("ok", "closed"))
            # a quiet market closed by its schedule is neither fresh nor stale (issue #29)
            closed = sorted(k for k, v in symbols.items() if v.get("status") == "closed")
            fresh = len(symbols) - len(stale) - len(closed)
            detail.append(str(value.get("name", "")))
            detail.append(f"{fresh}/{len(symbols)} symbols fresh")
            if closed:
                detail.append("market closed: " + ", ".join(closed))
            if stale:
                detail.append("stale: " + ", ".join(stale))
        for key in ("error", "reason", "retry_in_seconds", "waiting", "quarantined", "leader",
                    "epoch"):  # fmt: skip
            if value.get(key) not in (None, ""):
                detail.append(f"{key} {value[key]}")
        lines.append(
            f"  {part:<9}{value.get('status', '?'):<10}{' · '.join(d for d in detail if d)}"
        )
    return "\n".join(lines)
