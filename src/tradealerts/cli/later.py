"""Commands whose features arrive in later releases: they say so and exit 0."""

from __future__ import annotations

import typer


def _coming(what: str) -> None:
    typer.echo(f"{what} is coming in a later release.")


def tui() -> None:
    """The full-screen terminal app (coming in a later release)."""
    _coming("The full-screen app")
