"""watchlist list|add|remove: the (symbol, timeframe) pairs you follow."""

from __future__ import annotations

from typing import Annotated

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import JSON_OPTION_HELP, console, fetch, make_table, say, when
from tradealerts.client.lang import N_, _

app = typer.Typer(help="The pairs you follow (5 on FREE, 50 on PRO).", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]


@app.command("list")
def list_items(json_out: JsonOpt = False) -> None:
    """Your watchlist, oldest first."""
    from tradealerts.client import endpoints

    items = fetch(endpoints.watchlist(), json_out)
    if items is None:
        return
    rows = [(i.id, i.symbol, i.timeframe, when(i.created_at)) for i in items]
    columns = [N_("Id"), N_("Symbol"), N_("Timeframe"), N_("Added")]
    console().print(make_table(_("Watchlist"), columns, rows))


@app.command("add")
def add(
    symbol: Annotated[str, typer.Argument(help="EURUSD, xauusd … (any case).")],
    timeframe: Annotated[str, typer.Argument(help="M5 … D1 (any case).")],
) -> None:
    """Add a pair your tier allows."""
    from tradealerts.cli.market import pair
    from tradealerts.client import endpoints

    sym, tf = pair(symbol, timeframe)
    with open_client() as c:
        item = c.run(endpoints.watchlist_add(sym, tf))
    say(_("Added {pair} (id {id}).").format(pair=f"{item.symbol} {item.timeframe}", id=item.id))


@app.command("remove")
def remove(
    item: Annotated[str, typer.Argument(help="The item's id, or SYMBOL.")],
    timeframe: Annotated[str | None, typer.Argument(help="With SYMBOL: its timeframe.")] = None,
) -> None:
    """Remove an item by id, or by SYMBOL TIMEFRAME."""
    from tradealerts.cli.market import pair
    from tradealerts.client import ClientError, endpoints

    with open_client() as c:
        if item.isdigit() and timeframe is None:
            item_id, label = int(item), _("item {id}").format(id=item)
        else:
            if timeframe is None:
                raise UsageProblem(_("Give an id, or SYMBOL and TIMEFRAME."))
            sym, tf = pair(item, timeframe)
            found = [
                i for i in c.run(endpoints.watchlist()) if (i.symbol, i.timeframe) == (sym, tf)
            ]
            if not found:
                # Not found is the server's 404 for an id (exit 1), not a wrong command line:
                # both ways of naming an item fail the same way (DESIGN.md's exit codes).
                raise ClientError(
                    _("{pair} is not on your watchlist (see: tradealerts watchlist list).").format(
                        pair=f"{sym} {tf}"
                    )
                )
            item_id, label = found[0].id, f"{sym} {tf}"
        c.run(endpoints.watchlist_remove(item_id))
    say(_("Removed {what}.").format(what=label))
