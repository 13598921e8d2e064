"""The work of the commands on many alerts: pause/resume/delete by filter, and ``export`` /
``apply`` (alerts as code; the file's format and checks are ``client.alertfile``). Loaded
only when one of them runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from tradealerts.cli.alerts import _problem, parse_condition
from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import emit_json, say
from tradealerts.client.lang import N_, _, ngettext

__all__ = ["apply_file", "bulk", "bulk_said", "export_file", "load_checked"]


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
        raise _problem(exc) from None
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
    from tradealerts.client.lang import _

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


def export_file(fmt: str | None) -> None:
    """Print every alert as a file (TOML, or ``fmt``)."""
    from tradealerts.client import alertfile, endpoints

    try:
        kind = alertfile.format_of("", fmt)
    except alertfile.AlertFileError as exc:
        raise UsageProblem(f"--format: {exc}.") from None
    with open_client() as c:
        page = c.run(endpoints.alerts())
    typer.echo(alertfile.dumps([alertfile.entry_of(a) for a in page.items], kind), nl=False)


def apply_file(file: Path, dry_run: bool, prune: bool, fmt: str | None, json_out: bool) -> None:
    """Check the file's entries, send them, print the plan."""
    from tradealerts.client import endpoints
    from tradealerts.client.errors import ApiError

    entries = load_checked(file, fmt)
    try:
        with open_client() as c:
            plan = c.run(endpoints.alerts_apply(entries, prune=prune, dry_run=dry_run))
    except ApiError as exc:
        found = exc.extra.get("problems")
        if found:
            listed = [(p["index"], p["name"], p["field"], p["message"]) for p in found]
            exc.message = f"{exc.message}\n{_problems_text(file, listed, sent=True)}"
        raise
    if json_out:
        emit_json(plan)
        return
    marks = {"create": "+", "update": "~", "delete": "-"}
    for item in plan.items:
        if item.op == "unchanged":
            continue
        fields = f" ({', '.join(item.fields)})" if item.fields else ""
        typer.echo(f"{marks[item.op]} {item.name}{fields}")
    counts = {op: sum(1 for i in plan.items if i.op == op) for op in (*marks, "unchanged")}
    summary = (
        f"{counts['create']} to create, {counts['update']} to change, "
        f"{counts['delete']} to delete, {counts['unchanged']} unchanged"
    )
    if plan.applied:
        say(f"Applied: {summary}.")
    else:
        say(f"Dry run: {summary}; nothing was changed.")


def load_checked(file: Path, fmt: str | None) -> list[Any]:
    """The file's entries, read and checked as ``apply`` checks them (``apply --test`` too):
    a problem is a ``UsageProblem`` naming each entry, before anything is sent."""
    from tradealerts.client import alertfile

    try:
        kind = alertfile.format_of(file, fmt)
        text = file.read_text(encoding="utf-8")
        entries = alertfile.loads(text, kind)
    except OSError as exc:
        raise UsageProblem(f"{file}: {exc.strerror or exc}.") from None
    except (alertfile.AlertFileError, UnicodeDecodeError) as exc:
        raise UsageProblem(f"{file}: {exc}.") from None
    problems = alertfile.check(entries)
    if problems:
        raise UsageProblem(_problems_text(file, problems))
    return entries


def _problems_text(file: Path, problems: list[Any], sent: bool = False) -> str:
    # the server's refusal already says "Nothing was changed"; only the local check stops
    # before anything is sent
    lines = [
        f"{file}: {len(problems)} problem(s)" + (":" if sent else "; nothing was sent or changed:")
    ]
    for index, name, field, message in problems:
        who = f"alert {index + 1}" + (f" ({name})" if name else "")
        lines.append(f"  {who}: {field + ': ' if field else ''}{message}")
    return "\n".join(lines)
