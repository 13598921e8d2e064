"""alert ids are never reused (SQLite AUTOINCREMENT)

Without it SQLite hands a deleted newest alert's id to the next alert: its history would
mix with the deleted one's, and the engine, which remembers deleted ids, would ignore it.
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL sequences never hand an id out twice
    with op.batch_alter_table(
        "alerts", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "alerts", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
