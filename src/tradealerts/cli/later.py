"""Commands whose features arrive in later releases: they say so and exit 0."""

from __future__ import annotations

from typing import Annotated

import typer

from tradealerts.cli.output import JSON_OPTION_HELP, emit_json, make_table


def _coming(what: str) -> None:
    typer.echo(f"{what} is coming in a later release.")


def plan(json_out: Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)] = False) -> None:
    """Your plan and its limits."""
    from tradealerts.cli.context import open_client
    from tradealerts.cli.output import console
    from tradealerts.client import endpoints

    with open_client() as c:
        data = c.run(endpoints.billing())
    if json_out:
        emit_json(data)
        return
    rows = [("Plan", data["tier"]), ("Price", f"${data['price_usd_per_month']} / month")]
    rows += [(k.replace("_", " ").capitalize(), v) for k, v in data["limits"].items()]
    table = make_table(None, ["", ""], rows)
    table.show_header = False
    console().print(table)


def upgrade() -> None:
    """Upgrade to PRO (coming in a later release)."""
    _coming("Upgrading from the command line")


def billing() -> None:
    """Invoices and payment method (coming in a later release)."""
    _coming("Billing")
