"""usage per minute, error records, tier changes, disabled accounts (issue #14)"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import add_columns, at, drop_columns, id_column, owner_column

revision = "0008_usage"
down_revision = "0007_billing"

_COUNTS = ("requests", "s2xx", "s3xx", "s4xx", "s429", "s5xx")


def upgrade() -> None:
    op.create_table(
        "usage_minutes",
        id_column(),
        at("minute"),
        sa.Column("family", sa.String(length=32), nullable=False),
        owner_column(),
        sa.Column("tier", sa.String(length=8), nullable=False),
        # the request count, then the count of each status class
        *(sa.Column(n, sa.Integer(), nullable=False) for n in _COUNTS),
        sa.Column("latency", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_minutes_minute", "usage_minutes", ["minute"])
    op.create_index("ix_usage_minutes_user_id", "usage_minutes", ["user_id"])
    op.create_table(
        "error_records",
        id_column(),
        at("created_at"),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("exc_type", sa.String(length=200), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_error_records_created_at", "error_records", ["created_at"])
    op.create_index("ix_error_records_fingerprint", "error_records", ["fingerprint"])
    op.create_table(
        "tier_changes",
        id_column(),
        owner_column(),
        sa.Column("old", sa.String(length=8), nullable=False),
        sa.Column("new", sa.String(length=8), nullable=False),
        at("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tier_changes_user_id", "tier_changes", ["user_id"])
    op.create_index("ix_tier_changes_created_at", "tier_changes", ["created_at"])
    add_columns(
        "users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    drop_columns("users", "disabled")
    op.drop_table("tier_changes")
    op.drop_table("error_records")
    op.drop_table("usage_minutes")
