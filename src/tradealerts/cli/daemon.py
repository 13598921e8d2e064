"""``tradealerts daemon``: the background notifier (run, start, stop, status, logs, install,
uninstall). Only typer and the standard library at the top: the daemon loads in the commands."""

from __future__ import annotations

import functools
import inspect
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tradealerts.cli.context import STATE, UsageProblem
from tradealerts.cli.output import JSON_OPTION_HELP
from tradealerts.client.lang import _

if TYPE_CHECKING:
    from tradealerts.daemon import DaemonPaths, Options

app = typer.Typer(
    help="The background notifier: every alert on your desktop, exactly once.",
    no_args_is_help=True,
)

NotifierOpt = Annotated[
    str,
    typer.Option("--notifier", help="auto, desktop (desktop-notifier), notify-send or bell."),
]
SoundOpt = Annotated[bool, typer.Option("--sound/--no-sound", help="Play the alert sound.")]
ExecOpt = Annotated[
    str | None,
    typer.Option(
        "--exec",
        help="Run this shell command for each alert: the alert as JSON on stdin and as "
        "TRADEALERTS_SYMBOL, _PRICE, _MESSAGE... variables. Failures are logged.",
    ),
]
QuietOpt = Annotated[
    str | None,
    typer.Option(
        "--quiet-hours",
        help="HH:MM-HH:MM local time (e.g. 22:00-07:00): alerts are kept and shown together "
        "when quiet hours end; --exec still runs at once.",
    ),
]
NotifyUrlOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        help="Also push each alert to this Apprise URL (repeatable), e.g. "
        "ntfy://ntfy.sh/TOPIC: for a machine with no desktop.",
    ),
]
SymbolsOpt = Annotated[
    str | None,
    typer.Option("--symbols", help="Only these symbols, e.g. EURUSD,XAUUSD (default: all)."),
]

FeedDownOpt = Annotated[
    float,
    typer.Option(
        "--feed-down-after",
        help="One notification when the market data of a watched symbol has been delayed "
        "this many seconds, and one when it is back (a closed market is not delayed).",
    ),
]


def _server() -> str:
    from tradealerts.client.config import server_url

    return server_url(STATE.server)


#: the flags ``run``, ``start`` and ``install`` share: what ``Options`` holds
_SHARED = tuple(
    inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default,
                      annotation=annotation)
    for name, annotation, default in [
        ("notifier", NotifierOpt, "auto"),
        ("sound", SoundOpt, True),
        ("exec_cmd", ExecOpt, None),
        ("quiet_hours", QuietOpt, None),
        ("symbols", SymbolsOpt, None),
        ("notify", NotifyUrlOpt, None),
        ("feed_down_after", FeedDownOpt, 300.0),
    ]
)  # fmt: skip


def _with_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command(options, …its own flags)`` as a command that takes the shared flags too
    (``_SHARED``, listed first in its help) and gets them parsed into ``Options``."""
    # ``Options`` is imported only when a command runs: any object stands in while reading
    own = list(inspect.signature(command, locals={"Options": object}, eval_str=True)
               .parameters.values())[1:]  # fmt: skip

    @functools.wraps(command)
    def with_options(**flags: Any) -> None:
        shared = {p.name: flags.pop(p.name) for p in _SHARED}
        command(_options(**shared), **flags)

    params = [*_SHARED, *own]
    with_options.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    with_options.__annotations__ = {p.name: p.annotation for p in params}
    return with_options


def _options(
    notifier: str,
    sound: bool,
    exec_cmd: str | None,
    quiet_hours: str | None,
    symbols: str | None,
    notify: list[str] | None,
    feed_down_after: float,
) -> Options:
    from tradealerts.daemon.options import Options, QuietHours, parse_symbols

    try:
        urls: tuple[str, ...] = ()
        if notify:
            from tradealerts.daemon.push import check_urls

            urls = check_urls(notify)
        return Options(
            notify_urls=urls,
            server=_server(),
            notifier=notifier,
            sound=sound,
            exec_cmd=exec_cmd or None,
            quiet_hours=QuietHours.parse(quiet_hours) if quiet_hours else None,
            symbols=parse_symbols(symbols),
            feed_down_after=feed_down_after,
        )
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None


def _paths() -> DaemonPaths:
    from tradealerts.daemon.paths import DaemonPaths

    return DaemonPaths.for_server(_server())


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
@_with_options
def run(
    options: Options, detached: Annotated[bool, typer.Option("--detached", hidden=True)] = False
) -> None:
    """Run the daemon in the foreground (for debugging and service managers); Ctrl-C stops."""
    from tradealerts.daemon.control import AlreadyRunning
    from tradealerts.daemon.runner import run as run_daemon

    try:
        run_daemon(options, foreground=not detached)
    except AlreadyRunning as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:  # a notifier asked for by name that cannot work here
        raise _fail(f"tradealerts daemon: {exc}") from None


@app.command()
@_with_options
def start(options: Options) -> None:
    """Start the daemon in the background; print its pid and log file."""
    from tradealerts.daemon.control import AlreadyRunning, spawn

    paths = _paths()
    try:
        pid = spawn(options, paths)
    except AlreadyRunning as exc:
        raise _fail(str(exc)) from None
    except RuntimeError as exc:
        raise _fail(f"tradealerts daemon: {exc}") from None
    typer.echo(_("Started the daemon for {server} (pid {pid}).").format(server=options.server,
                                                                       pid=pid))  # fmt: skip
    typer.echo(_("Log: {file}").format(file=paths.log))


@app.command()
def stop() -> None:
    """Stop the running daemon (it finishes the alert in hand first)."""
    from tradealerts.daemon.control import stop as stop_daemon

    paths = _paths()
    try:
        pid = stop_daemon(paths)
    except TimeoutError as exc:
        raise _fail(str(exc)) from None
    if pid is None:
        typer.echo(_("No daemon is running for {server}.").format(server=paths.server))
        return
    typer.echo(_("Stopped the daemon for {server} (pid {pid}).").format(server=paths.server,
                                                                       pid=pid))  # fmt: skip


def _local_midnight() -> float:
    now = time.localtime()
    return time.mktime((now.tm_year, now.tm_mon, now.tm_mday, 0, 0, 0, 0, 0, -1))


def _status_data() -> dict[str, object]:
    from datetime import UTC, datetime

    from tradealerts.daemon.control import read_status, running_pid
    from tradealerts.daemon.state import StateDB

    paths = _paths()
    pid = running_pid(paths)
    info = read_status(paths) if pid else None
    data: dict[str, object] = {
        "running": bool(pid),
        "pid": pid or None,
        "server": paths.server,
        "connected": bool(info and info.get("connected")),
        "state": (info or {}).get("state", "stopped") if pid else "stopped",
        "notifier": (info or {}).get("backend"),
        "notifier_problem": (info or {}).get("notifier_problem"),
        "uptime_seconds": round(time.time() - float(info["started_at"]), 1)
        if info and info.get("started_at")
        else None,
        "reconnects": (info or {}).get("reconnects"),
        # the server's announced maintenance: when the daemon tries again (epoch seconds)
        "reconnect_at": (info or {}).get("reconnect_at")
        if (info or {}).get("state") == "maintenance"
        else None,
        "last_error": (info or {}).get("last_error"),
        "log": str(paths.log),
        "last_event_id": None,
        "last_event_at": None,
        "alerts_today": 0,
        "waiting": 0,
    }
    if paths.state_db.exists():
        state = StateDB(paths.state_db)
        try:
            data["last_event_id"] = state.last_event_id()
            recent = state.recent(1)
            if recent:
                data["last_event_at"] = recent[0].received_at
            since = datetime.fromtimestamp(_local_midnight(), UTC)
            counts = state.counts_since(since)
            data["alerts_today"] = sum(n for s, n in counts.items() if s != "filtered")
            data["waiting"] = len(state.with_status("pending")) + len(state.with_status("held"))
        finally:
            state.close()
    return data


def _notifier(data: dict[str, object]) -> str:
    name = str(data["notifier"] or "—")
    return f"{name} ({data['notifier_problem']})" if data.get("notifier_problem") else name


@app.command()
def status(
    json_out: Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)] = False,
) -> None:
    """Is it running and connected? Server, last event, uptime, alerts today, notifier."""
    from tradealerts.cli.output import console, emit_json, make_table

    data = _status_data()
    if json_out:
        emit_json(data)
        return
    up = data["uptime_seconds"]
    uptime = "—" if up is None else _duration(float(str(up)))
    state = str(data["state"])
    running = _("yes (pid {pid})").format(pid=data["pid"]) if data["running"] else _("no")
    if data.get("reconnect_at"):
        from datetime import datetime

        back = datetime.fromtimestamp(float(str(data["reconnect_at"]))).astimezone()
        state = _("server maintenance, reconnecting at {time}").format(time=f"{back:%H:%M}")
    rows = [
        (_("Running"), running),
        (_("Server"), data["server"]),
        (_("Connected"), _("yes") if data["connected"] else _("no ({state})").format(state=state)),
        (_("Notifier"), _notifier(data)),
        (_("Uptime"), uptime),
        (_("Last event"), _last_event(data)),
        (_("Alerts today"), data["alerts_today"]),
        (_("Waiting (quiet hours or not yet shown)"), data["waiting"]),
        (_("Log"), data["log"]),
    ]
    if data.get("last_error") and not data["connected"]:
        rows.append((_("Last error"), data["last_error"]))
    table = make_table(None, ["", ""], rows)
    table.show_header = False
    console().print(table)


def _last_event(data: dict[str, object]) -> str:
    if not data["last_event_id"]:
        return "—"
    if not data["last_event_at"]:  # the first start's point: nothing received yet
        return f"none yet (starts after #{data['last_event_id']})"
    return f"#{data['last_event_id']} at {data['last_event_at']}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + (f"{h}h " if d or h else "") + f"{m}m {s}s"


@app.command()
def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Print new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines to show.")] = 50,
) -> None:
    """Show the daemon's log (the last lines; -f to follow)."""
    from tradealerts.daemon.log import follow as follow_log
    from tradealerts.daemon.log import tail

    paths = _paths()
    if not paths.log.exists() and not follow:
        typer.echo(
            _("No log yet at {file}: the daemon has not run for {server}.").format(
                file=paths.log, server=paths.server
            )
        )
        return
    shown, offset = tail(paths.log, lines)
    for line in shown:
        typer.echo(line)
    if follow:
        sys.stdout.flush()
        for line in follow_log(paths.log, offset):
            typer.echo(line)
            sys.stdout.flush()


PlatformOpt = Annotated[
    str | None, typer.Option("--platform", hidden=True, help="linux, darwin or win32.")
]


@app.command()
@_with_options
def install(options: Options, platform: PlatformOpt = None) -> None:
    """Start the daemon at login: systemd --user unit, launchd agent or Windows Startup."""
    from tradealerts.daemon.service import install as install_service

    try:
        svc = install_service(options, platform)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(_("Wrote {file}").format(file=svc.path))
    typer.echo(_("Enable it (starts now and at every login) with:"))
    typer.echo(f"  {svc.enable}")


@app.command()
def uninstall(platform: PlatformOpt = None) -> None:
    """Remove the login service written by install."""
    from tradealerts.daemon.service import uninstall as uninstall_service

    try:
        svc = uninstall_service(_server(), platform)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    if svc is None:
        typer.echo(_("No login service is installed for {server}.").format(server=_server()))
        return
    typer.echo(_("Removed {file}").format(file=svc.path))
    typer.echo(_("If it is still running, stop it with: {command}").format(command=svc.disable))
