"""alerts delete|pause|resume: one alert by id, or every alert matching a filter in one
request (``POST /api/alerts/bulk``); a delete by filter asks first."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tradealerts.cli.alerts.common import (
    JsonOpt,
    app,
    parse_condition,
    problem,
    show_done,
    with_options,
)
from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.negatives import NegativeNumbers
from tradealerts.cli.output import emit_json, say
from tradealerts.client.lang import N_, _, ngettext

FilterSymbol = Annotated[str | None, typer.Option("--symbol", help="Every alert on this symbol.")]
FilterTf = Annotated[str | None, typer.Option("--timeframe", help="… on this timeframe.")]
FilterStatus = Annotated[
    str | None, typer.Option("--status", help="… with this status (active, paused …).")
]
FilterCond = Annotated[str | None, typer.Option("--condition", help="… with this condition.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every one of your alerts.")]
OptionalId = Annotated[
    int | None, typer.Argument(min=1, help="The alert's id; or filter with the options.")
]


def bulk(
    action: str,
    alert_id: int | None,
    symbol: str | None,
    timeframe: str | None,
    status: str | None,
    condition: str | None,
    everything: bool,
    yes: bool = True,
) -> Any:
    """One alert by id, or (None) every alert matching the filter in one request; returns
    the single answer, or the bulk result (None: the person said no).

    ``yes`` False: a delete by filter is asked first ("Delete N alerts? [y/N]") on a
    terminal, and refused without one (a script must say --yes: a filter typed wrong in a
    script would delete silently what it was never meant to)."""
    from tradealerts.client import endpoints

    filtered = any(v is not None for v in (symbol, timeframe, status, condition)) or everything
    if alert_id is not None and filtered:
        raise UsageProblem(
            _("Give an alert id or filter options to {action}, not both.").format(action=action)
        )
    if alert_id is None and not filtered:
        raise UsageProblem(
            _("Which alerts? Give an id, or --symbol/--timeframe/--status/--condition, or --all.")
        )
    if alert_id is not None:
        with open_client() as c:
            if action == "pause":
                return c.run(endpoints.alert_pause(alert_id))
            if action == "resume":
                return c.run(endpoints.alert_resume(alert_id))
            return c.run(endpoints.alert_delete(alert_id))
    from pydantic import ValidationError

    from tradealerts.core.alerts.plans import AlertBulk

    data = {"action": action, "symbol": symbol, "timeframe": timeframe, "all": everything,
            "status": status.lower() if status else None,
            "condition": parse_condition(condition).value if condition else None}  # fmt: skip
    try:
        bulk = AlertBulk.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise problem(exc) from None
    if action == "delete" and not yes and not sys.stdin.isatty():
        raise UsageProblem(
            _(
                "Deleting alerts by filter asks first, and there is no terminal to ask on: "
                "add --yes to delete without being asked."
            )
        )
    with open_client() as c:
        if action == "delete" and not yes:
            # The count comes from the same filter the deletion uses (one counted listing).
            f = bulk.model_dump(mode="json")
            listing = endpoints.alerts(f["status"], f["symbol"], f["timeframe"], f["condition"])
            found = c.run(listing).items
            if not found:
                return c.run(endpoints.alerts_bulk(bulk))  # deletes none: says "0 deleted"
            what = _("every one of your alerts") if everything else _("the alerts matching")
            n = len(found)
            prompt = ngettext("Delete {count} alert ({what})?", "Delete {count} alerts ({what})?",
                              n).format(count=n, what=what)  # fmt: skip
            if not typer.confirm(prompt, default=False):
                return None
        return c.run(endpoints.alerts_bulk(bulk))


_NOTHING = {"deleted": N_("Nothing deleted."), "paused": N_("Nothing paused."),
            "resumed": N_("Nothing resumed.")}  # fmt: skip
_MANY = {"deleted": N_("{count} alert(s) deleted: {ids}."),
         "paused": N_("{count} alert(s) paused: {ids}."),
         "resumed": N_("{count} alert(s) resumed: {ids}.")}  # fmt: skip


def bulk_said(result: Any, verb: str, json_out: bool) -> None:
    """What a command by filter did: the ids it changed, and those it left as they were."""
    if result is None:
        say(_(_NOTHING[verb]))
        return
    if json_out:
        emit_json(result)
        return
    ids = ", ".join(str(i) for i in result.ids) or _("none")
    say(_(_MANY[verb]).format(count=len(result.ids), ids=ids))
    if result.skipped:
        say(
            _("{count} left as they were: {ids}.").format(
                count=len(result.skipped), ids=", ".join(map(str, result.skipped))
            )
        )


def _filter(
    alert_id: OptionalId = None,
    symbol: FilterSymbol = None,
    timeframe: FilterTf = None,
    status: FilterStatus = None,
    condition: FilterCond = None,
    everything: AllOpt = False,
) -> None:
    """The one alert, or the filter, that delete, pause and resume act on."""


@app.command("delete", cls=NegativeNumbers)
@with_options("where", _filter)
def delete(
    where: dict[str, Any],
    yes: Annotated[
        bool,
        typer.Option("--yes", "-y", help="Delete by filter without asking (needed in scripts)."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Delete an alert, or every alert matching the filter at once (their history stays).

    By filter or --all it asks first (Delete N alerts? [y/N]); without a terminal to ask on
    it needs --yes.
    """
    result = bulk("delete", **where, yes=yes)
    if where["alert_id"] is not None:
        say(_("Alert {id} deleted.").format(id=where["alert_id"]))
        return
    bulk_said(result, "deleted", json_out)


_DONE = {"pause": "paused", "resume": "resumed"}


@with_options("where", _filter)
def _pause_or_resume(
    ctx: typer.Context,
    where: dict[str, Any],
    json_out: JsonOpt = False,
) -> None:
    # one body for both commands: they differ only in the action, the command's own name
    action = str(ctx.info_name)
    result = bulk(action, **where)
    if where["alert_id"] is not None:
        show_done(result, json_out, _DONE[action])
        return
    bulk_said(result, _DONE[action], json_out)


app.command(
    "pause",
    cls=NegativeNumbers,
    help="Stop an alert (or every alert matching the filter) from firing until resumed.",
)(_pause_or_resume)
app.command(
    "resume",
    cls=NegativeNumbers,
    help="Make a paused alert (or every one matching the filter) active again.",
)(_pause_or_resume)
