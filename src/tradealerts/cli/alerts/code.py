"""alerts export|apply: alerts as code. ``export`` prints every alert as a file; ``apply``
makes your alerts what a file says, all at once or not at all (``--test``: replays them,
``cli.alerts.backtest``). The file's format and checks are ``client.alertfile``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tradealerts.cli.alerts.common import JsonOpt, app
from tradealerts.cli.alerts.files import load_checked, problems_text
from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import emit_json, say
from tradealerts.client.lang import _

FormatOpt = Annotated[str | None, typer.Option("--format", help="toml (default), yaml or json.")]


@app.command("export")
def export(fmt: FormatOpt = None) -> None:
    """Every alert as a file on standard output: alerts export > alerts.toml"""
    from tradealerts.client import alertfile, endpoints

    try:
        kind = alertfile.format_of("", fmt)
    except alertfile.AlertFileError as exc:
        raise UsageProblem(f"--format: {exc}.") from None
    with open_client() as c:
        page = c.run(endpoints.alerts())
    typer.echo(alertfile.dumps([alertfile.entry_of(a) for a in page.items], kind), nl=False)


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="An alerts file (.toml, .yaml or .json).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; change nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete your alerts the file does not name.")
    ] = False,
    fmt: FormatOpt = None,
    test: Annotated[
        bool,
        typer.Option("--test", help="When each alert would have fired; apply nothing."),
    ] = False,
    bars: Annotated[
        int | None, typer.Option(min=10, help="With --test: closed bars to replay.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Make your alerts what the file says, all at once or not at all (matched by name)."""
    if test:
        if prune:
            raise UsageProblem(
                _(
                    "--test applies nothing, so --prune would delete nothing: leave it out "
                    "(or test first, then apply with --prune)."
                )
            )
        from tradealerts.cli.alerts.backtest import test_file

        test_file(file, fmt, bars, json_out)
        return
    if bars is not None:
        raise UsageProblem(_("--bars is the window of --test: add --test (nothing is applied)."))
    _apply_file(file, dry_run, prune, fmt, json_out)


def _apply_file(file: Path, dry_run: bool, prune: bool, fmt: str | None, json_out: bool) -> None:
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
            exc.message = f"{exc.message}\n{problems_text(file, listed, sent=True)}"
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
    summary = _(
        "{create} to create, {update} to change, {delete} to delete, {unchanged} unchanged"
    ).format(**counts)
    if plan.applied:
        say(_("Applied: {summary}.").format(summary=summary))
    else:
        say(_("Dry run: {summary}; nothing was changed.").format(summary=summary))
