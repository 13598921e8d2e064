"""event log"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import (
    at,
    drop_indexes,
    id_column,
    indexes,
    owner_column,
    owner_key,
)

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "events",
        id_column(autoincrement=True),
        owner_column(),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("timeframe", sa.String(length=4), nullable=False),
        sa.Column("condition", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Double(), nullable=True),
        sa.Column("price", sa.Double(), nullable=False),
        at("time"),
        sa.Column("message", sa.Text(), nullable=False),
        at("created_at"),
        owner_key(),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    indexes("events", "alert_id", "user_id")


def downgrade() -> None:
    drop_indexes("events", "user_id", "alert_id")
    op.drop_table("events")
