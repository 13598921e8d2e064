"""The ``tradealerts`` Typer app: thin commands over ``tradealerts.client``.

Only typer and the standard library are imported here and in the command modules' tops;
httpx, pydantic, plotext and Rich tables load inside the commands, so --help stays fast. A
command's module itself loads only when that command runs or shows its help (``COMMANDS``).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tradealerts import __version__
from tradealerts.cli.context import STATE, skip_httpx_cli
from tradealerts.cli.lazy import LazyGroup

#: Every command in the order --help lists them: where it lives, and the first paragraph of its
#: help, which --help shows without importing the module (a test keeps the two equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "register": ("tradealerts.cli.auth:register",
                 "Create a FREE account; a 6-digit code is mailed to you (then: tradealerts "
                 "verify CODE)."),
    "verify": ("tradealerts.cli.auth:verify",
               "Confirm your email with the mailed code (or --resend a new one)."),
    "login": ("tradealerts.cli.auth:login",
              "Log in; the session is kept in the OS keyring (or a 0600 file without one)."),
    "logout": ("tradealerts.cli.auth:logout",
               "Log out: the session is revoked on the server and no token is left on this "
               "machine."),
    "whoami": ("tradealerts.cli.auth:whoami",
               "Who is logged in: email, tier, its limits and the requests left this hour."),
    "symbols": ("tradealerts.cli.market:symbols",
                "The symbols and timeframes your tier allows; locked pairs say which tier opens "
                "them."),
    "charts": ("tradealerts.cli.market:charts",
               "Candlesticks with fractals, support/resistance and trendlines, in the terminal."),
    "indicators": ("tradealerts.cli.market:indicators",
                   "Fractals, support/resistance and trendlines of a pair (a table, or the "
                   "payload)."),
    "status": ("tradealerts.cli.feed:status",
               "The server's market data for your watched symbols: live, data delayed or "
               "market closed."),
    "support": ("tradealerts.cli.account:support", "Write to the server's owner."),
    "docs": ("tradealerts.cli.account:docs",
             "Open the user guide in a browser (or print its address)."),
    "plan": ("tradealerts.cli.billing:plan", "FREE and PRO side by side, with your plan marked."),
    "upgrade": ("tradealerts.cli.billing:upgrade",
                "Upgrade to PRO: pay on Stripe Checkout, and see PRO the moment it is confirmed."),
    "billing": ("tradealerts.cli.billing:billing_app",
                "Your plan, card and invoices; cancel or resume PRO."),
    "tui": ("tradealerts.cli.tui:tui",
            "The full-screen terminal app: watchlist, live chart with the fractal lines, alerts "
            "and their history (? shows the keys)."),
    "alerts": ("tradealerts.cli.alerts:app",
               "Price alerts: create, list, pause, resume, delete, clone, history, "
               "test, and alerts as code (export, apply)."),
    "watchlist": ("tradealerts.cli.watchlist:app", "The pairs you follow (5 on FREE, 50 on PRO)."),
    "channels": ("tradealerts.cli.channels:app",
                 "Push channels: your phone (ntfy, Telegram, Pushover …) through any Apprise URL "
                 "(PRO)."),
    "settings": ("tradealerts.cli.account:settings_app", "Your preferences and profile."),
    "account": ("tradealerts.cli.account:account_app", "Password, email, export, deletion, 2FA."),
    "notifications": ("tradealerts.cli.account:notifications_app", "Your in-app notifications."),
    "daemon": ("tradealerts.cli.daemon:app",
               "The background notifier: every alert on your desktop, exactly once."),
}  # fmt: skip


class _Root(LazyGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="tradealerts",
    cls=_Root,
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
    utc: Annotated[
        bool,
        typer.Option(
            "--utc",
            help="Show times in UTC [default: your timezone setting]; --json is always UTC.",
        ),
    ] = False,
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
    STATE.utc = utc


def _server_in(argv: list[str]) -> str | None:
    """``--server`` of the command line, read before Typer parses it: the language is chosen
    before a command module is imported (it builds its texts then)."""
    for i, arg in enumerate(argv):
        if arg == "--server" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--server="):
            return arg.split("=", 1)[1]
    return None


def start_language(argv: list[str]) -> str:
    """Speak the logged-in user's language (or the locale's before login) from now on, Click's
    and Typer's own words ("Usage:", "Error:", "Missing argument" …) included."""
    from tradealerts.cli.help_click import install
    from tradealerts.client.lang import language_for, use_language

    return install(use_language(language_for(_server_in(argv))))


def main() -> None:
    """Console-script entry point: every failure leaves as one line and an exit code."""
    skip_httpx_cli()  # commands import the client (and httpx) before they open one
    start_language(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):  # a non-UTF-8 terminal gets "?", never a crash
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    try:
        try:
            app()
        finally:
            from tradealerts.cli.notices import show_pending

            show_pending()  # the owner's notice, once, after whatever the command printed
    except KeyboardInterrupt:
        from tradealerts.client.lang import _

        sys.stderr.write(_("Interrupted.") + "\n")
        sys.exit(130)
    except Exception as exc:
        from tradealerts.cli.output import report_error

        sys.exit(report_error(exc, STATE.verbose))
