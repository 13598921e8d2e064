"""Alembic, configured in code: the migrations ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

__all__ = ["current", "head", "upgrade"]

_HERE = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    command.upgrade(_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The schema revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    """The newest revision the package ships."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE))
    rev = ScriptDirectory.from_config(cfg).get_current_head()
    if rev is None:
        raise RuntimeError("no migrations shipped")
    return rev
