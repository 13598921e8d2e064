"""``alerts test``: when an alert would have fired over the bars the server holds (a new one,
given as ``alerts create`` takes it, or a stored one by id), and ``alerts apply --test`` (every
alert of a file, nothing applied). The server replays the bars through its own matcher
(``POST /api/alerts/backtest``); this module asks and prints: a table of the fires, the count,
the first and last, the verdict in the alert health words, the note on intra-bar conditions,
``--chart`` the candles with a marker on each fire. Named in the ``alerts`` group's lazy
table (``cli.alerts.common``): loaded only when ``alerts test`` or ``apply --test`` runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tradealerts.cli.alerts.common import (
    FrequencyOpt,
    JsonOpt,
    SourceOpt,
    shape_options,
    with_options,
)
from tradealerts.cli.alerts.edit import build_alert
from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.negatives import NegativeNumbers
from tradealerts.cli.output import console, display_zone, emit_json, fits, make_table, say, stamp
from tradealerts.client.lang import N_, _

__all__ = ["FIRES_SHOWN", "test_alert", "test_file"]

#: Fires listed in the table (the newest); ``--json`` has every one.
FIRES_SHOWN = 50
#: the verdict words, said for people (the words themselves are the alert health's)
_VERDICTS = {
    "dormant": N_("dormant: it would not have fired once in the window"),
    "chatty": N_("chatty: over 10 fires a day on average"),
    "ok": N_("ok: neither dormant nor chatty"),
}
BarsOpt = Annotated[
    int | None,
    typer.Option(
        "--bars",
        min=10,
        help="Closed bars to replay [default: 1000; at most what the server holds].",
    ),
]


@with_options("shape", shape_options)
def test_alert(
    target: Annotated[
        str,
        typer.Argument(
            help="An alert's id (tested as it is), or the SYMBOL of an alert given as "
            "alerts create takes it."
        ),
    ],
    timeframe: Annotated[str | None, typer.Argument(help="M5 … D1 (any case).")] = None,
    condition: Annotated[
        str | None, typer.Argument(help="crossing_up, line_break, moving_up, new_fractal …")
    ] = None,
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="The condition's values in order, as alerts create takes them: LEVEL; "
            "LOWER UPPER; AMOUNT BARS; DISTANCE; then SIDE and LINE_ID where they apply."
        ),
    ] = None,
    bars: BarsOpt = None,
    chart: Annotated[
        bool, typer.Option("--chart", help="Draw the candles with a marker on each fire.")
    ] = False,
    frequency: FrequencyOpt = "once",
    expires: Annotated[
        str | None,
        typer.Option(help="30m, 12h, 7d, 2w (counted from the start of the test window)."),
    ] = None,
    message: Annotated[str | None, typer.Option(help="Your text (as alerts create).")] = None,
    source: SourceOpt = "bid",
    email: Annotated[bool, typer.Option("--email", help="Ignored: nothing is sent.")] = False,
    webhook: Annotated[str | None, typer.Option(help="Ignored: nothing is sent.")] = None,
    *,
    shape: dict[str, Any],
    name: Annotated[str | None, typer.Option(help="Ignored: nothing is stored.")] = None,
    webhook_format: Annotated[str | None, typer.Option(help="Ignored: nothing is sent.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """When an alert would have fired: alerts test EURUSD H1 crossing_up 1.09 --bars 2000

    An existing alert as it is: alerts test 12. Nothing is stored or sent; one request
    against your quota (two with --chart: the candles too).
    """
    from tradealerts.client import endpoints

    options = {**shape, "name": name}
    if target.strip().isdigit():
        given = [timeframe, condition, *(values or []), expires, message, webhook,
                 webhook_format, *options.values()]  # fmt: skip
        changed = frequency != "once" or source != "bid" or email
        if any(v is not None for v in given) or changed:
            raise UsageProblem(
                _(
                    "alerts test {id} tests alert {id} as it is: give no other values (to try "
                    "a change, test it as a new alert: alerts test SYMBOL TIMEFRAME CONDITION …)."
                ).format(id=target.strip())
            )
        alert_id = int(target)
        if alert_id < 1:
            raise UsageProblem(_("The alert's id is 1 or more (see: tradealerts alerts list)."))
        call = endpoints.alert_backtest_stored(alert_id, bars)
        title = _("Alert {id}").format(id=alert_id)
    else:
        if timeframe is None or condition is None:
            raise UsageProblem(
                _(
                    "Which alert? Give an id (alerts test 12) or SYMBOL TIMEFRAME CONDITION and "
                    "its values (alerts test EURUSD H1 crossing_up 1.09)."
                )
            )
        alert = build_alert(
            target, timeframe, condition, values, options, frequency=frequency, expires=expires,
            message=message, source=source, email=email, webhook=webhook,
            webhook_format=webhook_format, verb="test",
        )  # fmt: skip
        call = endpoints.alert_backtest(alert, bars)
        title = None
    with open_client() as c:
        result = c.run(call)
        if json_out:
            emit_json(result)
            return
        show_result(result, title, asked=bars)
        if chart:
            draw_fires(c, result)


#: built with negative numbers as values, as ``alerts create`` (see ``cli.lazy``)
test_alert.command_cls = NegativeNumbers  # type: ignore[attr-defined]


def _price(symbol: str, value: Any) -> Any:
    """A price in the symbol's digits (``1.03550``, not ``1.0355``)."""
    from tradealerts.core.symbols import format_price

    if not isinstance(value, int | float):
        return value
    return format_price(symbol, float(value)).replace(",", "")


def _fire_rows(symbol: str, fires: list[dict[str, Any]], compact: bool) -> list[tuple[Any, ...]]:
    rows = []
    start = max(0, len(fires) - FIRES_SHOWN)
    for i, f in enumerate(fires[start:], start + 1):
        reason = [str(f.get("reason") or "")]
        line = f.get("line_id")
        if line and line not in reason[0]:
            reason.append(_("line {line}").format(line=line))
        confirm = f.get("confirm_bar_time")
        if confirm:
            reason.append(_("confirmed by the close of the {time} bar").format(time=stamp(confirm)))
        bar = stamp(f.get("bar_time") or f.get("time"), compact=compact)
        rows.append((i, bar, _price(symbol, f.get("price")), "\n".join(r for r in reason if r)))
    return rows


def fires_table(result: dict[str, Any]) -> Any:
    """The fires as a table (the newest ``FIRES_SHOWN``): the bar's time on the person's
    clock, the price, the reason (which line or level, which confirmation bar)."""
    fires = result.get("fires") or []
    sym = str(result.get("symbol") or "")
    zone = display_zone()
    columns = ["#", _("Bar ({zone})").format(zone=zone), N_("Price"), N_("Reason")]
    wide = make_table(None, columns, _fire_rows(sym, fires, False))
    if fits(wide):
        return wide
    columns[1] = _("Bar") + f"\n{zone}"
    return make_table(None, columns, _fire_rows(sym, fires, True))


def _span(result: dict[str, Any]) -> str:
    return f"{stamp(result.get('from'))} → {stamp(result.get('to'))} {display_zone()}"


def summary(result: dict[str, Any], asked: int | None = None) -> list[str]:
    """The lines under the table: the window, the count, first and last, the verdict, the note."""
    count = int(result.get("count") or 0)
    held = result.get("bars")
    window = _("Window: {bars} bars, {span}").format(bars=held, span=_span(result))
    if asked is not None and isinstance(held, int) and held < asked:
        window += " " + _("(asked {asked}: the server holds {held})").format(asked=asked, held=held)
    lines = [window]
    per_day = result.get("per_day")
    rate = (
        _(", {rate} a day").format(rate=f"{per_day:g}")
        if count and isinstance(per_day, int | float)
        else ""
    )
    lines.append(_("Fires: {count}{rate}").format(count=count, rate=rate))
    if count:
        zone = display_zone()
        lines.append(_("First: {time} {zone}").format(time=stamp(result.get("first")), zone=zone))
        lines.append(_("Last:  {time} {zone}").format(time=stamp(result.get("last")), zone=zone))
    verdict = str(result.get("verdict") or "")
    verdict_said = _(_VERDICTS[verdict]) if verdict in _VERDICTS else verdict
    lines.append(_("Verdict: {verdict}").format(verdict=verdict_said))
    if result.get("capped"):
        lines.append(
            _(
                "Capped: the replay stopped at fire {count}, {time} {zone}; "
                "the rest of the window was not replayed"
            ).format(count=count, time=stamp(result.get("last")), zone=display_zone())
        )
    ended = result.get("ended")
    if isinstance(ended, dict) and ended.get("status"):
        why = ended.get("reason")
        how = str(ended["status"]) + (f" ({why})" if why and why != ended["status"] else "")
        lines.append(
            _("Stopped: {how} at {time} {zone}").format(
                how=how, time=stamp(ended.get("time")), zone=display_zone()
            )
        )
    if result.get("note"):
        lines.append(_("Note: {note}").format(note=result["note"]))
    return lines


def show_result(result: dict[str, Any], title: str | None = None, asked: int | None = None) -> None:
    """A backtest result for people: the heading, the table of fires, the summary."""
    from rich.markup import escape

    head = f"{result.get('symbol')} {result.get('timeframe')} {result.get('condition')}"
    say(escape(f"{title}: {head}" if title else head))
    fires = result.get("fires") or []
    if fires:
        console().print(fires_table(result))
        if len(fires) > FIRES_SHOWN:
            say(
                _("(the newest {shown} of {count} fires; --json lists every one)").format(
                    shown=FIRES_SHOWN, count=len(fires)
                )
            )
    for line in summary(result, asked):
        say(escape(line))


def _epoch(value: Any) -> float | None:
    from datetime import datetime

    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def draw_fires(c: Any, result: dict[str, Any]) -> None:
    """The candles of the tested pair with a marker on each fire (``client.chart``, the
    drawing of ``charts``): as many bars as fit the terminal, ending a quarter of the chart
    after the newest fire (the newest bars when none)."""
    from tradealerts.cli.market import _terminal
    from tradealerts.client import endpoints
    from tradealerts.client.chart import ChartOptions, default_bars, marked_bars, render, window

    sym, tf = str(result["symbol"]), str(result["timeframe"])
    width, height, colour, utf8 = _terminal()
    count = default_bars(width)
    fires = result.get("fires") or []
    marks = tuple(
        (t, float(f["price"]))
        for f in fires
        if (t := _epoch(f.get("bar_time") or f.get("time"))) is not None
    )
    held = int(result.get("bars") or count)
    payload = c.run(endpoints.indicators(sym, tf, max(count, min(5000, held))))
    times = payload["bars"]["time"]
    offset = 0
    if marks and times:
        newest = max(t for t, _ in marks)
        at = next((i for i in range(len(times) - 1, -1, -1) if times[i] <= newest), 0)
        end = min(len(times), at + 1 + count // 4)
        offset = len(times) - end
    view = window(payload, count, offset)
    opts = ChartOptions(width=width, height=max(12, min(height - 3, 30)), colour=colour,
                        unicode=utf8, zone=display_zone(), marks=marks,
                        lines_hint="")  # fmt: skip
    print(render(view, opts))
    shown = view["bars"]["time"]
    inside = len(marked_bars(shown, marks))
    mark = "◆" if utf8 else "*"
    say(
        _("{mark} marks a fire: {inside} of {count} on the {bars} bars drawn.").format(
            mark=mark, inside=inside, count=len(marks), bars=len(shown)
        )
    )


def test_file(file: Path, fmt: str | None, bars: int | None, json_out: bool) -> None:
    """``alerts apply FILE --test``: every alert of the file over the history, nothing
    applied; the file is checked as ``apply`` checks it, then sent in requests of at most
    ``BACKTEST_BATCH`` alerts."""
    from tradealerts.cli.alerts.files import load_checked
    from tradealerts.client import endpoints
    from tradealerts.client.errors import ApiError

    entries = load_checked(file, fmt)
    if not entries:
        raise UsageProblem(
            _("{file}: no alerts to test ([[alert]] entries in TOML).").format(file=file)
        )
    results: list[dict[str, Any]] = []
    server_ms = 0.0
    with open_client() as c:
        for start in range(0, len(entries), endpoints.BACKTEST_BATCH):
            chunk = entries[start : start + endpoints.BACKTEST_BATCH]
            try:
                answer = c.run(endpoints.alerts_backtest(chunk, bars))
            except ApiError as exc:
                _name_entry(exc, file, entries, start)
                raise
            server_ms += float(answer.get("server_ms") or 0.0)
            for r in answer.get("results", []):
                r["index"] = start + int(r.get("index", 0))
                results.append(r)
    if json_out:
        emit_json({"results": results, "server_ms": round(server_ms, 3)})
        return
    console().print(_file_table(file, entries, results))
    notes = {str(r["note"]) for r in results if r.get("note") and r.get("intrabar") == "ohlc_path"}
    for note in sorted(notes):
        say(_("Note: {note}").format(note=note))
    said = {v: sum(1 for r in results if r.get("verdict") == v) for v in ("dormant", "chatty")}
    say(
        _(
            "Alerts tested: {count}; dormant (no fire): {dormant}; chatty (over 10 a day): "
            "{chatty}. Nothing was applied: run without --test to apply."
        ).format(count=len(results), dormant=said["dormant"], chatty=said["chatty"])
    )


def _name_entry(exc: Any, file: Path, entries: list[Any], start: int) -> None:
    """A refusal naming ``alerts.3.level`` of a request said as the file's entry
    (``alert 104 (eurusd-cross)``): the requests hold 100 entries each, the file more."""
    import re

    m = re.match(r"alerts\.(\d+)\.?(.*)", str(exc.extra.get("field") or ""))
    if not m:
        return
    i = start + int(m.group(1))
    entry = entries[i] if i < len(entries) and isinstance(entries[i], dict) else {}
    who = _("alert {number}").format(number=i + 1) + (
        f" ({entry['name']})" if entry.get("name") else ""
    )
    exc.message = f"{file}: {who}: {exc.message}"


def _file_table(file: Path, entries: list[Any], results: list[dict[str, Any]]) -> Any:
    zone = display_zone()
    wide, narrow = [], []
    for r in results:
        i = int(r.get("index", 0))
        entry = entries[i] if 0 <= i < len(entries) and isinstance(entries[i], dict) else {}
        name = str(entry.get("name") or "-")
        what = f"{r.get('symbol')} {r.get('timeframe')} {r.get('condition')}"
        count = int(r.get("count") or 0)
        first = stamp(r.get("first")) if count else "-"
        last = stamp(r.get("last")) if count else "-"
        wide.append((i + 1, name, what, count, r.get("per_day"), first, last, r.get("verdict")))
        spans = "-" if not count else (
            f"{stamp(r.get('first'), compact=True)}\n{stamp(r.get('last'), compact=True)}"
        )  # fmt: skip
        narrow.append((i + 1, f"{name}\n{what}", f"{count}\n{r.get('per_day')}/day", spans,
                       r.get("verdict")))  # fmt: skip
    title = _("{file} · over the held history · times {zone}").format(file=file.name, zone=zone)
    table = make_table(title, ["#", N_("Name"), N_("Alert"), N_("Fires"), N_("Per day"),
                               N_("First"), N_("Last"), N_("Verdict")], wide)  # fmt: skip
    if fits(table):
        return table
    return make_table(title, ["#", N_("Alert"), N_("Fires"), N_("First\nLast"), N_("Verdict")],
                      narrow)  # fmt: skip
