"""initial schema"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import (
    at,
    drop_indexes,
    drop_user_table,
    id_column,
    indexes,
    user_table,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        id_column(),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        at("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mail_queue",
        id_column(),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        at("next_attempt_at"),
        at("sent_at", nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        at("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        id_column(),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("bio", sa.String(length=500), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("chart_style", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("analytics_opt_in", sa.Boolean(), nullable=False),
        sa.Column("marketing_opt_in", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        at("created_at"),
        at("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    user_table(
        "email_codes",
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        at("expires_at"),
        at("used_at", nullable=True),
        at("created_at"),
    )
    user_table(
        "notifications",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        at("read_at", nullable=True),
        at("created_at"),
    )
    user_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        at("expires_at"),
        at("revoked_at", nullable=True),
        at("rotated_at", nullable=True),
        at("created_at"),
        unique=("token_hash",),
    )
    indexes("refresh_tokens", "family_id")
    user_table(
        "support_tickets",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        at("created_at"),
    )
    user_table(
        "watchlist_items",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("timeframe", sa.String(length=4), nullable=False),
        at("created_at"),
        unique=("user_id", "symbol", "timeframe"),
    )


def downgrade() -> None:
    drop_user_table("watchlist_items")
    drop_user_table("support_tickets")
    drop_indexes("refresh_tokens", "family_id")
    drop_user_table("refresh_tokens")
    drop_user_table("notifications")
    drop_user_table("email_codes")
    op.drop_table("users")
    op.drop_table("mail_queue")
    op.drop_table("audit_log")
