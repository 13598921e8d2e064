"""The ``tradealerts`` Typer app: thin commands over ``tradealerts.client``.

Only typer and the standard library are imported here and in the command modules' tops;
httpx, pydantic, plotext and Rich tables load inside the commands, so --help stays fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tradealerts import __version__
from tradealerts.cli import account, alerts, auth, daemon, later, market, watchlist
from tradealerts.cli.context import STATE

app = typer.Typer(
    name="tradealerts",
    help="Fractal support/resistance, trendlines and price alerts in your terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tradealerts {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="TRADEALERTS_SERVER",
            help="The server's URL [default: http://127.0.0.1:8000].",
            show_envvar=True,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show error details.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Fractal support/resistance, trendlines and price alerts in your terminal.

    Exit codes: 0 ok, 1 error, 2 usage, 3 not logged in, 4 your tier forbids it,
    5 rate limited.
    """
    STATE.server = server
    STATE.verbose = verbose


for _account in (auth.register, auth.verify, auth.login, auth.logout, auth.whoami):
    app.command()(_account)
for _market in (market.symbols, market.charts, market.indicators):
    app.command()(_market)
app.add_typer(alerts.app, name="alerts")
app.add_typer(watchlist.app, name="watchlist")
app.add_typer(account.settings_app, name="settings")
app.add_typer(account.account_app, name="account")
app.add_typer(account.notifications_app, name="notifications")
app.command()(account.support)
app.command()(account.docs)
for _later in (later.plan, later.upgrade, later.billing, later.tui):
    app.command()(_later)
app.add_typer(daemon.app, name="daemon")


def main() -> None:
    """Console-script entry point: every failure leaves as one line and an exit code."""
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 terminal gets "?", never a crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    except Exception as exc:
        from tradealerts.cli.output import report_error

        sys.exit(report_error(exc, STATE.verbose))
