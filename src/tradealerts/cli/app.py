"""The ``tradealerts`` Typer app. Heavy imports stay inside commands so --help is fast."""

from __future__ import annotations

import typer

from tradealerts import __version__

app = typer.Typer(
    name="tradealerts",
    help="Fractal support/resistance, trendlines and price alerts in your terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tradealerts {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Fractal support/resistance, trendlines and price alerts in your terminal."""


@app.command()
def symbols() -> None:
    """List every symbol and the timeframes each tier allows."""
    from rich.console import Console
    from rich.table import Table

    from tradealerts.core.tiers import ALL_SYMBOLS, TIERS, Tier

    table = Table(title="Symbols by plan")
    table.add_column("Symbol")
    for tier in Tier:
        table.add_column(f"{tier} timeframes")
    for sym in ALL_SYMBOLS:
        row = [sym]
        for tier in Tier:
            lim = TIERS[tier]
            row.append(
                " ".join(str(tf) for tf in sorted(lim.timeframes, key=lambda t: t.seconds))
                if sym in lim.symbols
                else "—"
            )
        table.add_row(*row)
    Console().print(table)


def main() -> None:
    """Console-script entry point."""
    app()
