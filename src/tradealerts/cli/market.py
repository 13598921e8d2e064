"""symbols, indicators and charts: what the tier allows, and the fractal payload."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import (
    JSON_OPTION_HELP,
    console,
    display_zone,
    fetch,
    fits,
    make_table,
    stamp,
    when,
)
from tradealerts.client.lang import N_, _

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

    answer = fetch(endpoints.symbols(), json_out)
    if answer is None:
        return
    rows = []
    for s in answer.symbols:
        allowed = " ".join(p.timeframe for p in s.timeframes if p.allowed)
        locked = [p for p in s.timeframes if not p.allowed]
        need = "/".join(sorted({p.required_tier or _("no plan") for p in locked}))
        if not s.allowed:
            lock = _("locked: needs {plan}").format(plan=need)
        elif locked:
            lock = _("{timeframes} need {plan}").format(
                timeframes=" ".join(p.timeframe for p in locked), plan=need
            )
        else:
            lock = ""
        rows.append((s.symbol, allowed or "-", lock, _("yes") if s.available else _("no")))
    table = make_table(
        _("Symbols on your {tier} plan").format(tier=answer.tier),
        [N_("Symbol"), N_("Timeframes"), N_("Locked"), N_("Data")],
        rows,
    )
    console().print(table)


#: Lines shown per table without --all: the nearest active ones.
NEAREST_LINES = 10


def _by_distance(lines: list[dict[str, Any]], level: str, last: float | None) -> list[Any]:
    """``(line, distance)`` pairs: active lines before broken ones, each nearest to the
    price first (a broken line's place is where it was drawn)."""
    pairs = [(ln, None if last is None else float(ln[level]) - last) for ln in lines]
    return sorted(
        pairs,
        key=lambda p: (p[0].get("broken_time") is not None, abs(p[1]) if p[1] is not None else 0),
    )


def indicators(
    symbol: SymbolArg,
    timeframe: Annotated[str, typer.Argument(help="M5 … D1 (any case).")] = "H1",
    bars: Annotated[int, typer.Option(min=1, max=5000, help="Closed bars to return.")] = 300,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help=f"Every line, broken ones too (default: the {NEAREST_LINES} nearest "
            "active lines of each table).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Fractals, support/resistance and trendlines of a pair (a table, or the payload)."""
    from tradealerts.client import endpoints
    from tradealerts.core.symbols import format_distance, format_price

    sym, tf = pair(symbol, timeframe)
    payload = fetch(endpoints.indicators(sym, tf, bars), json_out)
    if payload is None:
        return
    closes = payload["bars"]["close"]
    forming = payload.get("forming")
    last = forming["close"] if forming else (closes[-1] if closes else None)
    out = console()
    fr = payload.get("fractals", {})
    out.print(
        f"[bold]{sym} {tf}[/] · "
        + _("{bars} bars · last {price} · updated {time} · fractals {up} up, {down} down").format(
            bars=len(closes),
            price=format_price(sym, last) if last is not None else "-",
            time=when(payload.get("updated_at")),
            up=len(fr.get("up", [])),
            down=len(fr.get("down", [])),
        )
    )

    def shown(lines: list[dict[str, Any]], level: str) -> tuple[list[Any], int]:
        """The lines to list (nearest first) and how many more --all would list."""
        ordered = _by_distance(lines, level, last)
        if show_all:
            return ordered, 0
        active = [p for p in ordered if p[0].get("broken_time") is None][:NEAREST_LINES]
        return active, len(ordered) - len(active)

    def at(price: str, delta: float | None, compact: bool) -> tuple[str, ...]:
        """The price and its distance: two cells, or one of two lines when narrow."""
        away = "-" if delta is None else format_distance(sym, delta)
        return (f"{price}\n{away}",) if compact else (price, away)

    def where(head: str, compact: bool) -> tuple[str, ...]:
        """``head`` (English, translated by ``make_table``) and the distance's column."""
        return (f"{_(head)}\n{_('Distance')}",) if compact else (head, N_("Distance"))

    # Times in the user's zone, said once in the header: a cell's date and time stay on one
    # line, or (a narrow terminal) on two lines of their own, never the zone wrapped away.
    horizontal, more_h = shown(payload.get("horizontal_lines", []), "price")
    diagonal, more_d = shown(payload.get("diagonal_lines", []), "value_now")

    def lines_table(compact: bool) -> Any:
        rows = [
            (
                ln["id"],
                ln["kind"],
                *at(format_price(sym, ln["price"]), delta, compact),
                stamp(ln.get("confirmed_time"), compact),
                stamp(ln["broken_time"], compact) if ln.get("broken_time") else _("active"),
            )
            for ln, delta in horizontal
        ]
        utc = f"\n({display_zone()})" if compact else f" ({display_zone()})"
        columns = [N_("Id"), N_("Kind"), *where(N_("Price"), compact), _("Confirmed") + utc,
                   _("Broken") + utc]  # fmt: skip
        return make_table(_("Horizontal lines, nearest first"), columns, rows)

    def trends_table(compact: bool) -> Any:
        # narrow: the slope under the kind, so that the long trendline ids stay whole
        rows = [
            (
                d["id"],
                *(
                    (f"{d['kind']}\n{d['slope_per_bar']:+.4g}",)
                    if compact
                    else (d["kind"], f"{d['slope_per_bar']:+.6g}")
                ),
                *at(format_price(sym, d["value_now"]), delta, compact),
                stamp(d["broken_time"], compact) if d.get("broken_time") else _("active"),
            )
            for d, delta in diagonal
        ]
        utc = f"\n({display_zone()})" if compact else f" ({display_zone()})"
        kind = [f"{_('Kind')}\n{_('Slope/bar')}"] if compact else [N_("Kind"), N_("Slope/bar")]
        columns = [N_("Id"), *kind, *where(N_("Value now"), compact), _("Broken") + utc]
        return make_table(_("Trendlines, nearest first"), columns, rows)

    for build in (lines_table, trends_table):
        table = build(False)
        out.print(table if fits(table) else build(True))
    if more_h or more_d:
        out.print(
            _("{count} more lines (farther or broken): {command}").format(
                count=more_h + more_d, command=f"tradealerts indicators {sym} {tf} --all"
            )
        )


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
        zone=display_zone(),
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
            print("\n" + _("Stopped."))


#: Waits between reconnection attempts of ``charts --watch``: doubling from 1 s up to this.
WATCH_BACKOFF_CAP = 30.0


def watch_delay(attempt: int, rng: Any = None) -> float:
    """Seconds before reconnection attempt ``attempt`` (0, 1, …): doubling from 1 s to the
    cap, each drawn from its upper half (many watchers of a restarted server spread out, and
    the wait shown is never 0 s)."""
    import random

    ceiling = min(WATCH_BACKOFF_CAP, float(2 ** min(attempt, 10)))
    draw = (rng or random.random)()
    return float(max(1, round(ceiling * (0.5 + draw / 2))))


def _dropped(exc: BaseException) -> bool:
    """A failure that reconnecting can mend: no answer, or the server (or a proxy in front of
    it) restarting. A refusal (login, tier, quota) is not one: it ends the watch."""
    from tradealerts.client import ApiError, Unreachable

    if isinstance(exc, Unreachable):
        return True
    return isinstance(exc, ApiError) and exc.status in (502, 503, 504)


def _watch(c: Any, payload: dict[str, Any], opts: Any, count: int) -> None:
    """Redraw on every ``bar`` (fresh payload) and ``price`` (forming bar moves) event.

    A dropped stream is reconnected with back-off, for ever, as the daemon does: the line on
    stderr says when the next attempt comes; Ctrl-C quits at any time. After a reconnection
    the payload is fetched again (bars may have closed meanwhile).
    """
    import contextlib
    import time

    from tradealerts.cli.context import STATE
    from tradealerts.client import endpoints
    from tradealerts.client.chart import move_forming, render

    sym, tf = payload["symbol"], payload["timeframe"]
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
    attempt = 0
    fresh = True  # payload was just fetched: draw it
    while True:
        try:
            if not fresh:
                payload = c.run(endpoints.indicators(sym, tf, count))
            fresh = False
            print(clear + render(payload, opts), flush=True)
            shown = time.monotonic()
            # closed on the way out, so a failed fetch inside never leaves the stream open
            with contextlib.closing(c.events([f"{sym}:{tf}"])) as events:
                for ev in events:
                    attempt = 0  # the stream answers: the next drop starts the back-off again
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
            why = "the server ended the stream"
        except Exception as exc:
            if not _dropped(exc):
                raise
            why = "the connection dropped"
            if STATE.verbose:
                why += f" ({getattr(exc, 'detail', '') or exc})"
        delay = watch_delay(attempt)
        attempt += 1
        sys.stderr.write(
            f"Lost {c.base_url}: {why}; reconnecting in {delay:.0f} s (Ctrl-C quits).\n"
        )
        sys.stderr.flush()
        time.sleep(delay)
