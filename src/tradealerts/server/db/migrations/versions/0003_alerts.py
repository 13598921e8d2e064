"""alerts, their change feed, channel deliveries, webhook secrets"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import (
    add_columns,
    at,
    drop_columns,
    id_column,
    indexes,
    owner_column,
    owner_key,
    user_table,
)

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    add_columns("users", sa.Column("webhook_secret", sa.String(length=64), nullable=True))
    user_table(
        "alerts",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("timeframe", sa.String(length=4), nullable=False),
        sa.Column("condition", sa.String(length=32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=64), nullable=True),
        at("last_fired_at", nullable=True),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        at("created_at"),
        at("updated_at"),
    )
    indexes("alerts", "symbol", "status")
    op.create_table(
        "alert_changes",
        id_column(autoincrement=True),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        at("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "deliveries",
        id_column(),
        sa.Column("event_id", sa.Integer(), nullable=False),
        owner_column(),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        at("next_attempt_at"),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        at("created_at"),
        at("done_at", nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        owner_key(),
        sa.PrimaryKeyConstraint("id"),
    )
    indexes("deliveries", "event_id", "user_id", "status")


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("alert_changes")
    op.drop_table("alerts")
    drop_columns("users", "webhook_secret")
