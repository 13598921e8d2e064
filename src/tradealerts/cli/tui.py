"""``tradealerts tui``: the full-screen session. Textual loads only here."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tradealerts.cli.context import STATE


def tui(
    symbol: Annotated[
        str | None, typer.Option("--symbol", "-s", help="Open on this symbol's chart.")
    ] = None,
    timeframe: Annotated[
        str | None, typer.Option("--timeframe", "-t", help="…and this timeframe (M5 … D1).")
    ] = None,
    no_bell: Annotated[
        bool, typer.Option("--no-bell", help="No terminal bell when an alert fires.")
    ] = False,
) -> None:
    """The full-screen terminal app: watchlist, live chart with the fractal lines, alerts and
    their history (? shows the keys)."""
    from tradealerts.cli.market import pair

    sym, tf = None, None
    if symbol or timeframe:
        sym, tf = pair(symbol or "EURUSD", timeframe or "H1")
        sym = sym if symbol else None
        tf = tf if timeframe else None
    from tradealerts.cli.context import skip_httpx_cli
    from tradealerts.tui import run

    skip_httpx_cli()
    colour = "NO_COLOR" not in os.environ
    code = run(STATE.server, symbol=sym, timeframe=tf, bell=not no_bell, colour=colour)
    raise typer.Exit(code)
