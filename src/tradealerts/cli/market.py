"""symbols, indicators and charts: what the tier allows, and the fractal payload."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import JSON_OPTION_HELP, console, emit_json, make_table, when

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
SymbolArg = Annotated[str, typer.Argument(help="A symbol, e.g. EURUSD (any case).")]


def pair(symbol: str, timeframe: str) -> tuple[str, str]:
    """Normalise a (symbol, timeframe) pair locally; a typo is a usage error (exit 2)."""
    from tradealerts.core.tiers import UnknownSymbol, normalize_symbol
    from tradealerts.core.timeframes import TimeframeError, parse_timeframe

    try:
        return normalize_symbol(symbol), parse_timeframe(timeframe).value
    except (UnknownSymbol, TimeframeError) as exc:
        raise UsageProblem(str(exc)) from None


def symbols(json_out: JsonOpt = False) -> None:
    """The symbols and timeframes your tier allows; locked pairs say which tier opens them."""
    from tradealerts.client import endpoints

    with open_client() as c:
        answer = c.run(endpoints.symbols())
    if json_out:
        emit_json(answer)
        return
    rows = []
    for s in answer.symbols:
        allowed = " ".join(p.timeframe for p in s.timeframes if p.allowed)
        locked = [p for p in s.timeframes if not p.allowed]
        need = "/".join(sorted({p.required_tier or "no plan" for p in locked}))
        if not s.allowed:
            lock = f"locked: needs {need}"
        elif locked:
            lock = f"{' '.join(p.timeframe for p in locked)} need {need}"
        else:
            lock = ""
        rows.append((s.symbol, allowed or "-", lock, "yes" if s.available else "no"))
    table = make_table(
        f"Symbols on your {answer.tier} plan",
        ["Symbol", "Timeframes", "Locked", "Data"],
        rows,
    )
    console().print(table)


def indicators(
    symbol: SymbolArg,
    timeframe: Annotated[str, typer.Argument(help="M5 … D1 (any case).")] = "H1",
    bars: Annotated[int, typer.Option(min=1, max=5000, help="Closed bars to return.")] = 300,
    json_out: JsonOpt = False,
) -> None:
    """Fractals, support/resistance and trendlines of a pair (a table, or the payload)."""
    from tradealerts.client import endpoints
    from tradealerts.core.symbols import format_price

    sym, tf = pair(symbol, timeframe)
    with open_client() as c:
        payload = c.run(endpoints.indicators(sym, tf, bars))
    if json_out:
        emit_json(payload)
        return
    closes = payload["bars"]["close"]
    forming = payload.get("forming")
    last = forming["close"] if forming else (closes[-1] if closes else None)
    out = console()
    fr = payload.get("fractals", {})
    out.print(
        f"[bold]{sym} {tf}[/] · {len(closes)} bars · last "
        f"{format_price(sym, last) if last is not None else '-'} · updated "
        f"{when(payload.get('updated_at'))} · fractals {len(fr.get('up', []))} up, "
        f"{len(fr.get('down', []))} down"
    )
    rows: list[tuple[Any, ...]] = []
    for ln in payload.get("horizontal_lines", []):
        rows.append(
            (
                ln["id"],
                ln["kind"],
                format_price(sym, ln["price"]),
                when(_iso(ln.get("confirmed_time"))),
                when(_iso(ln.get("broken_time"))) if ln.get("broken_time") else "active",
            )
        )
    out.print(make_table("Horizontal lines", ["Id", "Kind", "Price", "Confirmed", "Broken"], rows))
    rows = []
    for d in payload.get("diagonal_lines", []):
        rows.append(
            (
                d["id"],
                d["kind"],
                format_price(sym, d["value_now"]),
                f"{d['slope_per_bar']:+.6g}",
                when(_iso(d.get("broken_time"))) if d.get("broken_time") else "active",
            )
        )
    out.print(make_table("Trendlines", ["Id", "Kind", "Value now", "Slope/bar", "Broken"], rows))


def _iso(t: float | None) -> str | None:
    from datetime import UTC, datetime

    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


def _terminal() -> tuple[int, int, bool, bool]:
    """Width, height, colour and UTF-8 of the terminal (COLUMNS/LINES honoured)."""
    import shutil

    size = shutil.get_terminal_size((80, 24))
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return size.columns, size.lines, colour, encoding == "utf8"


def charts(
    symbol: SymbolArg,
    timeframe: Annotated[str, typer.Argument(help="M5 … D1 (any case).")] = "H1",
    bars: Annotated[
        int | None, typer.Option(min=5, max=5000, help="Candles to draw (default: fit width).")
    ] = None,
    no_lines: Annotated[
        bool, typer.Option("--no-lines", help="Candles and fractals only.")
    ] = False,
    theme: Annotated[str, typer.Option(help="A plotext theme: dark, clear, pro, matrix …")] = (
        "dark"
    ),
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw live on each price and bar (Ctrl-C stops).")
    ] = False,
) -> None:
    """Candlesticks with fractals, support/resistance and trendlines, in the terminal."""
    from tradealerts.client import endpoints
    from tradealerts.client.chart import ChartOptions, default_bars, render

    sym, tf = pair(symbol, timeframe)
    width, height, colour, utf8 = _terminal()
    opts = ChartOptions(
        width=width, height=height - 1, lines=not no_lines, theme=theme, colour=colour,
        lines_hint="--no-lines",
        unicode=utf8,
    )  # fmt: skip
    count = bars or default_bars(width)
    with open_client() as c:
        payload = c.run(endpoints.indicators(sym, tf, count))
        if not watch:
            print(render(payload, opts))
            return
        try:
            _watch(c, payload, opts, count)
        except KeyboardInterrupt:
            print("\nStopped.")


def _watch(c: Any, payload: dict[str, Any], opts: Any, count: int) -> None:
    """Redraw on every ``bar`` (fresh payload) and ``price`` (forming bar moves) event."""
    import time

    from tradealerts.client import endpoints
    from tradealerts.client.chart import move_forming, render

    sym, tf = payload["symbol"], payload["timeframe"]
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    print(clear + render(payload, opts), flush=True)
    shown = time.monotonic()
    for ev in c.events([f"{sym}:{tf}"]):
        if ev.event == "bar" and ev.data.get("timeframe", tf) == tf:
            payload = c.run(endpoints.indicators(sym, tf, count))
        elif ev.event == "price" and ev.data.get("symbol") == sym:
            move_forming(payload, float(ev.data["bid"]), int(ev.data["time"]))
            if time.monotonic() - shown < 0.25:  # at most four redraws a second
                continue
        else:
            continue
        print(clear + render(payload, opts), flush=True)
        shown = time.monotonic()
