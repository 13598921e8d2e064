"""billing: Stripe customers and subscriptions, invoices, handled webhook events"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import (
    at,
    drop_indexes,
    drop_user_table,
    id_column,
    indexes,
    owner_column,
    owner_key,
)

revision = "0007_billing"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        id_column(),
        owner_column(),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("price_id", sa.String(length=255), nullable=True),
        at("current_period_end", nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        at("past_due_since", nullable=True),
        at("ended_at", nullable=True),
        sa.Column("card_brand", sa.String(length=32), nullable=True),
        sa.Column("card_last4", sa.String(length=4), nullable=True),
        at("created_at"),
        at("updated_at"),
        owner_key(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id"),
    )
    indexes("billing_accounts", "user_id", unique=True)
    indexes("billing_accounts", "subscription_id", "past_due_since")
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=255), nullable=False),
        owner_column(),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_due", sa.Integer(), nullable=False),
        sa.Column("amount_paid", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        at("period_start", nullable=True),
        at("period_end", nullable=True),
        at("paid_at", nullable=True),
        sa.Column("hosted_invoice_url", sa.String(length=2048), nullable=True),
        sa.Column("invoice_pdf", sa.String(length=2048), nullable=True),
        at("created_at"),
        at("updated_at"),
        owner_key(),
        sa.PrimaryKeyConstraint("id"),
    )
    indexes("invoices", "user_id")
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        at("received_at"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("stripe_events")
    drop_user_table("invoices")
    drop_indexes("billing_accounts", "past_due_since", "subscription_id", "user_id")
    op.drop_table("billing_accounts")
