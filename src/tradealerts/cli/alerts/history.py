"""alerts history: the alerts that fired, newest first, with how each delivery went."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from tradealerts.cli.alerts.common import JsonOpt, app, fitted, parse_ago, stacked
from tradealerts.cli.output import console, fetch, when
from tradealerts.client.lang import N_, _


@app.command("history")
def history(
    alert: Annotated[int | None, typer.Option("--alert", help="Only this alert id.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Only this symbol.")] = None,
    since: Annotated[str | None, typer.Option(help="From: 7d ago as 7d, or an ISO date.")] = None,
    until: Annotated[
        str | None, typer.Option(help="Until: an ISO date, or 1d for 1 day ago.")
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    per_page: Annotated[int, typer.Option(min=1, max=200)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """Alerts that fired, newest first, with how each delivery went."""
    from tradealerts.client import endpoints

    now = datetime.now(UTC)
    # both bounds are checked before anything is sent, each error naming its own option
    start = parse_ago(since, now, "--since").isoformat() if since is not None else None
    end = parse_ago(until, now, "--until").isoformat() if until is not None else None
    sym = symbol.strip().upper() if symbol else None
    data = fetch(endpoints.alert_history(alert, sym, start, end, page, per_page), json_out)
    if data is None:
        return
    rows, compact = [], []
    for h in data.items:
        sent = ", ".join(f"{d.channel}:{d.status}" for d in h.deliveries) or "-"
        rows.append(
            (h.id, h.alert_id, when(h.time), f"{h.symbol} {h.timeframe}", h.condition, h.price,
             h.message, sent)
        )  # fmt: skip
        # under ~100 columns: the time stacked, the alert with its pair, the condition with
        # its price, so that the eight facts fit 80 columns without a word cut (issue #24)
        alert_no = "-" if h.alert_id is None else f"#{h.alert_id}"
        compact.append(
            (h.id, stacked(h.time), f"{alert_no}\n{h.symbol}\n{h.timeframe}",
             f"{h.condition}\n{h.price}", h.message, sent.replace(", ", "\n"))
        )  # fmt: skip
    title = _("Alert history · page {page} · {total} total").format(
        page=data.page, total=data.total
    )
    columns = [N_("Id"), N_("Alert"), N_("Time"), N_("Pair"), N_("Condition"), N_("Price"),
               N_("Message"), N_("Sent")]  # fmt: skip
    narrow = [N_("Id"), N_("Time"), N_("Alert"), N_("Condition"), N_("Message"), N_("Sent")]
    console().print(fitted(title, (columns, rows), (narrow, compact)))
