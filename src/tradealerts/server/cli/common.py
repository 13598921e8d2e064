"""What every command module of ``tradealerts-server`` shares: the error line, the settings,
the migrated database, and the table and JSON printers. Public within the package (the
command modules import these names; nothing outside ``server.cli`` should).

Light on purpose: heavy imports live inside the functions (the server's start-up cost rule).
"""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

import typer

__all__ = ["JSON_OPTION", "Db", "fail", "load_settings", "print_json", "table", "width"]

JSON_OPTION = typer.Option(False, "--json", help="JSON for scripts.")

#: columns whose values are copied from the table (ids, addresses, times): never wrapped
_NO_WRAP = frozenset({"request id", "email", "time", "hour", "created", "key id"})


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``Error: message`` in red on stderr; raise what it returns to exit ``code``."""
    typer.secho(f"Error: {message}", fg="red", err=True)
    return typer.Exit(code)


def load_settings(**overrides: Any) -> Any:
    """The server's Settings from TRADEALERTS_* with the options given (None = not given);
    a bad value ends the command with one line naming the setting."""
    from pydantic import ValidationError

    from tradealerts.server.settings import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "setting"
        raise fail(f"{field}: {err['msg'].removeprefix('Value error, ')}") from None


class Db:
    """A migrated database session for a command: ``with Db(settings) as (s, now)``."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def __enter__(self) -> tuple[Any, Any]:
        from datetime import UTC, datetime

        from sqlalchemy.exc import SQLAlchemyError

        from tradealerts.server.db.migrate import upgrade
        from tradealerts.server.db.session import make_engine, make_sessionmaker

        try:
            self.engine = make_engine(self.settings.db_url)
            upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
        self.session = make_sessionmaker(self.engine)()
        return self.session, datetime.now(UTC)

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.engine.dispose()


def print_json(data: Any) -> None:
    """One line of JSON (times and other values as their ``str``)."""
    typer.echo(json.dumps(data, default=str))


def width(piped: int) -> int:
    """The terminal's width; ``piped`` columns when the output is not a terminal (a file or
    a pipe: nothing to wrap for, so no value is cut)."""
    if not sys.stdout.isatty():
        return piped
    return shutil.get_terminal_size((piped, 24)).columns


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A Rich table on stdout; a cell of None prints empty."""
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title)
    for c in columns:
        out.add_column(c, no_wrap=c in _NO_WRAP)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    Console(width=width(160)).print(out)
