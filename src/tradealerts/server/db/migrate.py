"""Alembic, configured in code: the migrations ship inside the package.

Alembic is imported only when there is something to migrate: a server whose database is
already at the newest revision (every start but the first after an upgrade) never loads it,
which keeps ~11 MB of RSS and ~0.25 s of start-up off the server and the owner's commands
(bench_memory). Revisions are named after their files, ``NNNN_what``, one after another,
so the newest is the highest-numbered file (``test_migrations`` holds alembic to it).
The migrations build their tables from ``db/ddl.py`` (the columns and indexes they
share; kept outside ``versions/``, where alembic would read it as a revision).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["current", "head", "shipped_head", "upgrade"]

_HERE = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.attributes["engine"] = engine
    return cfg


def shipped_head() -> str:
    """The newest revision the package ships, from the files' names (no alembic)."""
    return max(p.stem for p in (_HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _at(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:  # no table yet: an empty database
        return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (nothing to do, and alembic not loaded, when the
    database is at the newest one already)."""
    if revision == "head" and _at(engine) == shipped_head():
        return
    from alembic import command

    command.upgrade(_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The schema revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision the package ships (alembic's own reading of the chain)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    rev = ScriptDirectory.from_config(cfg).get_current_head()
    if rev is None:
        raise RuntimeError("no migrations shipped")
    return rev
