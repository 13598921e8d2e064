"""Alembic environment: the engine comes from ``config.attributes`` (see db/migrate.py)."""

from __future__ import annotations

from alembic import context

from tradealerts.server.db.models import Base

engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    if sqlite:
        # Batch mode rebuilds a table (copy, drop, rename). With foreign keys on, dropping
        # ``users`` cascaded to every child row (alerts, sessions, events...): an upgrade
        # emptied them. The pragma only takes effect outside a transaction, so it is set
        # before the migrations' transaction begins and restored after it ends.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
