"""The live price table ``tradealerts-server demo`` shows: the feed's ticks, as they come."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tradealerts.core.symbols import format_price
from tradealerts.server.feeds import BarClose, FeedError, FeedOptions, Tick, create_feed


def _table(feed_name: str, last: dict[str, Tick], first: dict[str, float], bars: int) -> Table:
    table = Table(
        title=f"tradealerts · {feed_name} feed · live prices",
        caption=f"{bars} bars closed since start · Ctrl-C to stop",
    )
    table.add_column("Symbol")
    for col in ("Bid", "Ask", "Spread", "Change"):
        table.add_column(col, justify="right")
    table.add_column("Time (UTC)")
    for sym in sorted(last):
        t = last[sym]
        change = (t.bid / first[sym] - 1) * 100 if first[sym] else 0.0
        colour = "green" if change > 0 else "red" if change < 0 else "white"
        table.add_row(
            sym,
            format_price(sym, t.bid),
            format_price(sym, t.ask),
            format_price(sym, t.ask - t.bid),
            f"[{colour}]{change:+.3f}%[/]",
            datetime.fromtimestamp(t.time, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


async def _run(spec: str, seed: int, console: Console) -> None:
    feed = create_feed(spec, FeedOptions(seed=seed))
    await feed.start()
    last: dict[str, Tick] = {}
    first: dict[str, float] = {}
    closed = 0
    try:
        with Live(console=console, refresh_per_second=4) as live:
            async for event in feed.stream():
                if isinstance(event, BarClose):
                    closed += 1
                    continue
                last[event.symbol] = event
                first.setdefault(event.symbol, event.bid)
                live.update(_table(feed.name, last, first, closed))
    finally:
        await feed.close()


def run_price_table(spec: str, seed: int) -> int:
    """Stream the feed into a live table until Ctrl-C; return the exit code."""
    console = Console()
    try:
        asyncio.run(_run(spec, seed, console))
    except KeyboardInterrupt:
        console.print("Stopped.")
    except FeedError as exc:
        console.print(f"[red]Feed error:[/] {exc}")
        return 1
    return 0


__all__ = ["run_price_table"]
