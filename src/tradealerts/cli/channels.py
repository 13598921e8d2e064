"""channels list|add|remove|test: your push channels (any Apprise URL; PRO)."""

from __future__ import annotations

from typing import Annotated

import typer

from tradealerts.cli.context import UsageProblem, open_client
from tradealerts.cli.output import JSON_OPTION_HELP, console, emit_json, make_table, say, when
from tradealerts.client.lang import N_, _

app = typer.Typer(
    help="Push channels: your phone (ntfy, Telegram, Pushover …) through any Apprise URL (PRO).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
NameArg = Annotated[str, typer.Argument(help="The channel's name, e.g. phone or team.")]


def _name(name: str) -> str:
    import re

    from tradealerts.core.push import CHANNEL_NAME_PATTERN

    name = name.strip().lower()
    if not re.match(CHANNEL_NAME_PATTERN, name):
        raise UsageProblem(
            _(
                "{name} is not a channel name: up to 32 of a-z, 0-9, - and _, starting with a "
                "letter or digit (e.g. phone)."
            ).format(name=repr(name))
        )
    return name


@app.command("list")
def list_channels(json_out: JsonOpt = False) -> None:
    """Your channels: names, services and their URLs masked."""
    from tradealerts.client import endpoints

    with open_client() as c:
        items = c.run(endpoints.channels()).items
    if json_out:
        emit_json(items)
        return
    rows = [
        (i.name, i.service, i.masked, _("yes") if i.default else "", when(i.created_at))
        for i in items
    ]
    columns = [N_("Name"), N_("Service"), N_("URL"), N_("Default"), N_("Added")]
    console().print(make_table(_("Push channels"), columns, rows))


@app.command("add")
def add(
    name: NameArg,
    url: Annotated[
        str,
        typer.Argument(
            help="Any Apprise URL: ntfy://ntfy.sh/TOPIC, tgram://BOT_TOKEN/CHAT_ID, "
            "pover://USER_KEY@APP_TOKEN … (quote it)."
        ),
    ],
    default: Annotated[
        bool, typer.Option("--default", help="New alerts that name no channels push here.")
    ] = False,
) -> None:
    """Add a channel, e.g.: channels add phone "ntfy://ntfy.sh/my-secret-topic" (kept
    encrypted on the server, shown masked)."""
    from tradealerts.client import endpoints

    with open_client() as c:
        ch = c.run(endpoints.channel_add(_name(name), url.strip(), default))
    say(
        _(
            "Added channel {name} ({service}: {masked}). Try it: tradealerts channels test {name}"
        ).format(name=ch.name, service=ch.service, masked=ch.masked)
    )


@app.command("remove")
def remove(name: NameArg) -> None:
    """Remove a channel; alerts that named it keep their other channels."""
    from tradealerts.client import endpoints

    name = _name(name)
    with open_client() as c:
        c.run(endpoints.channel_remove(name))
    say(_("Removed channel {name}.").format(name=name))


@app.command("test")
def test(name: NameArg) -> None:
    """Send a test push to a channel now."""
    from tradealerts.client import endpoints

    with open_client() as c:
        result = c.run(endpoints.channel_test(_name(name)))
    say(result.message)
