"""``tradealerts-server demo`` helpers: the live price table (``prices``) and the login of the
local ``tradealerts`` command as the PRO demo user once the server is up."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

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


def _client_command() -> str:
    """How to run ``tradealerts`` from here: on PATH, or the one next to this Python."""
    if shutil.which("tradealerts"):
        return "tradealerts"
    beside = Path(sys.executable).parent / "tradealerts"
    try:
        return str(beside.relative_to(Path.cwd()))
    except ValueError:
        return str(beside)


def _wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def login_client_when_up(host: str, port: int, email: str, password: str) -> threading.Thread:
    """Once the server answers, run ``tradealerts login`` as the demo user (a subprocess: the
    server never imports the client) with the caller's ``TRADEALERTS_HOME``, then print the
    commands to try next. Returns the (daemon) thread doing it."""

    def work() -> None:
        url = f"http://{host}:{port}"
        if not _wait_for_port(host, port, 60):
            return
        exe = _client_command()
        env = {**os.environ, "TRADEALERTS_SERVER": url}
        # --no-keyring: the demo's login stays in the demo folder, even on a desktop whose
        # keyring would take it (README: a demo never touches your real configuration)
        argv = [*exe.split(), "login", "--email", email, "--password-stdin", "--no-keyring"]
        try:
            done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
                argv, input=password + "\n", capture_output=True, text=True, env=env,
                timeout=60, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"  (could not log the tradealerts command in: {exc})", flush=True)
            return
        if done.returncode != 0:
            print(f"  (tradealerts login failed: {done.stderr.strip()})", flush=True)
            return
        lines = [f"  The tradealerts command is logged in as {email} (PRO). Try next:"]
        if os.environ.get("TRADEALERTS_HOME"):
            lines.append(f"    export TRADEALERTS_HOME={os.environ['TRADEALERTS_HOME']}")
        if os.environ.get("TRADEALERTS_SERVER", "http://127.0.0.1:8000").rstrip("/") != url:
            lines.append(f"    export TRADEALERTS_SERVER={url}")
        lines += [
            f"    {exe} tui",
            f"    {exe} charts EURUSD H1 --watch",
            f"    {exe} alerts create EURUSD H1 new_fractal",
        ]
        print("\n".join(lines), flush=True)

    thread = threading.Thread(target=work, name="demo-client-login", daemon=True)
    thread.start()
    return thread


__all__ = ["login_client_when_up", "run_price_table"]
