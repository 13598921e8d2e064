"""Docs that cannot rot: every command has help text and is in the user guide."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli

GUIDE = Path(__file__).parents[2] / "docs" / "user-guide.md"


def _commands(help_text: str) -> list[str]:
    return [ln.split()[0] for ln in help_text.split("Commands:")[1].splitlines() if ln.strip()]


def test_every_command_has_help_and_is_in_the_user_guide(person: Cli) -> None:
    guide = GUIDE.read_text()
    top = person.ok("--help")
    commands = _commands(top)
    assert {"alerts", "charts", "login", "watchlist"} <= set(commands)
    for name in commands:
        assert f"tradealerts {name}" in guide, name
        sub = person.ok(name, "--help")
        assert "Usage:" in sub
        if "Commands:" in sub:
            for child in _commands(sub):
                assert f"tradealerts {name} {child}" in guide or name == "daemon", (name, child)


def test_the_help_listed_for_each_command_is_its_own() -> None:
    """--help lists the commands from app.COMMANDS without loading them: the table must say
    what each command's own help says (its first paragraph), in the order of the table."""
    import typer.main

    from tradealerts.cli.app import COMMANDS, app

    group = typer.main.get_command(app)
    assert list(group.commands) == list(COMMANDS)
    for name, (_, listed) in COMMANDS.items():
        command = group.commands[name]
        assert command.name == name
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert listed == own, name
