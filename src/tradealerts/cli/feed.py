"""status: the server's feed state per watched symbol (issue #29)."""

from __future__ import annotations

from typing import Annotated

import typer

from tradealerts.cli.output import JSON_OPTION_HELP

JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]


def status(
    all_symbols: Annotated[
        bool, typer.Option("--all", help="Every symbol the server has, not only yours.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """The server's market data for your watched symbols: live, data delayed or market closed.

    Your watched symbols are those on your watchlist (every symbol when it is empty, or with
    --all). "market closed": the symbol's market is shut by its schedule (a weekend, a daily
    break), so no price moves and no alert fires. "data delayed since HH:MM": the market
    should be trading but the server has had no price since then; alerts fire again when
    prices come back.
    """
    from tradealerts.cli.context import open_client
    from tradealerts.cli.output import console, emit_json, make_table, preferred_zone
    from tradealerts.client import endpoints
    from tradealerts.client.feedstate import feed_label, zone_of
    from tradealerts.client.lang import N_, _

    with open_client() as c:
        states = c.run(endpoints.feed())["symbols"]
        watched = set() if all_symbols else {i.symbol for i in c.run(endpoints.watchlist())}
        zone = preferred_zone(c)
    items = [s for s in states if not watched or s["symbol"] in watched]
    if json_out:
        emit_json(items)
        return
    tz = zone_of(zone)
    rows = [(s["symbol"], feed_label(s, tz), s.get("schedule") or "") for s in items]
    title = _("Market data ({zone})").format(zone=zone) if zone else _("Market data")
    console().print(make_table(title, [N_("Symbol"), N_("State"), N_("Hours")], rows))
    if not rows:
        console().print(_("The server has no market data yet."))
