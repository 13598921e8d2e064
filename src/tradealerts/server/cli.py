"""The owner's command, ``tradealerts-server``."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tradealerts-server",
    help="Serve market data, fractal indicators and price alerts from one MT5 terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Serve market data, fractal indicators and price alerts from one MT5 terminal."""


@app.command()
def demo(
    feed: str = typer.Option("synthetic", envvar="TRADEALERTS_FEED", help="Feed to show."),
    seed: int = typer.Option(42, help="Seed of the synthetic feed."),
) -> None:
    """Show live prices from the feed for every symbol until Ctrl-C."""
    from tradealerts.server.demo import run_price_table

    raise typer.Exit(run_price_table(feed, seed))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
