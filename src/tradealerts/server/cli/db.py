"""``db upgrade`` and ``db current``: the schema (Alembic migrations; the server also
upgrades at start)."""

from __future__ import annotations

import typer

from tradealerts.server.cli.common import Db, load_settings

__all__ = ["db_current", "db_upgrade"]


def db_upgrade() -> None:
    """Apply every migration (the server also does this at start)."""
    from tradealerts.server.db.migrate import current
    from tradealerts.server.db.session import make_engine

    settings = load_settings()
    with Db(settings):
        pass
    typer.echo(f"database at revision {current(make_engine(settings.db_url))}")


def db_current() -> None:
    """Show the schema revision of the database."""
    from tradealerts.server.db.migrate import current
    from tradealerts.server.db.session import make_engine

    settings = load_settings()
    typer.echo(
        current(make_engine(settings.db_url)) or "empty (run: tradealerts-server db upgrade)"
    )
