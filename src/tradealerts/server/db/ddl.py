"""The pieces the Alembic migrations (``db/migrations/versions``) build their tables from:
the columns every table of a user's spells the same way, and the index patterns.

A migration is history: what it creates must never change. So a helper here, once a
migration uses it, keeps its output for ever; a new shape is a new helper (the migration
tests upgrade an empty database on SQLite and PostgreSQL and compare the result).
Imported by the migrations only: never at a server's start when the schema is current.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.types import UTCDateTime

__all__ = [
    "add_columns",
    "at",
    "drop_columns",
    "drop_indexes",
    "drop_user_table",
    "id_column",
    "indexes",
    "owner_column",
    "owner_key",
    "user_table",
]


def id_column(autoincrement: bool | None = None) -> sa.Column[Any]:
    """The integer ``id`` (``autoincrement=True`` where the table asks SQLite for
    AUTOINCREMENT: ids never reused)."""
    if autoincrement is None:
        return sa.Column("id", sa.Integer(), nullable=False)
    return sa.Column("id", sa.Integer(), autoincrement=autoincrement, nullable=False)


def owner_column() -> sa.Column[Any]:
    """``user_id``: the user a row belongs to."""
    return sa.Column("user_id", sa.Integer(), nullable=False)


def owner_key() -> sa.ForeignKeyConstraint:
    """``user_id`` points at ``users.id``; the row goes when its user does."""
    return sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE")


def at(name: str, nullable: bool = False, timezone: bool = True) -> sa.Column[Any]:
    """A moment, stored as UTC (``timezone=False``: the naive column 0016 made)."""
    kind = UTCDateTime(timezone=True) if timezone else UTCDateTime()
    return sa.Column(name, kind, nullable=nullable)


def user_table(
    name: str,
    *columns: sa.Column[Any],
    unique: tuple[str, ...] = (),
    unique_name: str | None = None,
) -> None:
    """Create a table of a user's rows: ``id``, ``user_id``, then ``columns``; the owner's
    key, the primary key, then a unique constraint on ``unique`` (named ``unique_name``)
    when given (created last, so it comes last in SQLite's DDL); and the index
    ``ix_<name>_user_id``."""
    key, primary = owner_key(), sa.PrimaryKeyConstraint("id")
    constraints = [sa.UniqueConstraint(*unique, name=unique_name)] if unique else []
    op.create_table(name, id_column(), owner_column(), *columns, key, primary, *constraints)
    indexes(name, "user_id")


def drop_user_table(name: str) -> None:
    """Undo ``user_table``."""
    drop_indexes(name, "user_id")
    op.drop_table(name)


def indexes(table: str, *columns: str, unique: bool = False) -> None:
    """``ix_<table>_<column>`` on each of ``columns`` (in a batch: SQLite rebuilds once)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=unique)


def drop_indexes(table: str, *columns: str) -> None:
    """Undo ``indexes``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))


def add_columns(table: str, *columns: sa.Column[Any], **batch: Any) -> None:
    """Add ``columns`` to ``table`` (``batch``: ``batch_alter_table``'s options)."""
    with op.batch_alter_table(table, **batch) as batch_op:
        for column in columns:
            batch_op.add_column(column)


def drop_columns(table: str, *names: str, **batch: Any) -> None:
    """Undo ``add_columns`` (the last added first)."""
    with op.batch_alter_table(table, **batch) as batch_op:
        for name in names:
            batch_op.drop_column(name)
