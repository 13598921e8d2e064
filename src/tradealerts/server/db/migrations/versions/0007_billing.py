"""billing: Stripe customers and subscriptions, invoices, handled webhook events

Revision ID: 0007_billing
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradealerts.server.db.types

revision = "0007_billing"
down_revision = "0006"
branch_labels = None
depends_on = None

_T = tradealerts.server.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("price_id", sa.String(length=255), nullable=True),
        sa.Column("current_period_end", _T(timezone=True), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("past_due_since", _T(timezone=True), nullable=True),
        sa.Column("ended_at", _T(timezone=True), nullable=True),
        sa.Column("card_brand", sa.String(length=32), nullable=True),
        sa.Column("card_last4", sa.String(length=4), nullable=True),
        sa.Column("created_at", _T(timezone=True), nullable=False),
        sa.Column("updated_at", _T(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id"),
    )
    with op.batch_alter_table("billing_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_billing_accounts_user_id"), ["user_id"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_billing_accounts_subscription_id"), ["subscription_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_billing_accounts_past_due_since"), ["past_due_since"], unique=False
        )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("amount_due", sa.Integer(), nullable=False),
        sa.Column("amount_paid", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("period_start", _T(timezone=True), nullable=True),
        sa.Column("period_end", _T(timezone=True), nullable=True),
        sa.Column("paid_at", _T(timezone=True), nullable=True),
        sa.Column("hosted_invoice_url", sa.String(length=2048), nullable=True),
        sa.Column("invoice_pdf", sa.String(length=2048), nullable=True),
        sa.Column("created_at", _T(timezone=True), nullable=False),
        sa.Column("updated_at", _T(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_user_id"), ["user_id"], unique=False)
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("received_at", _T(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("stripe_events")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_user_id"))
    op.drop_table("invoices")
    with op.batch_alter_table("billing_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_accounts_past_due_since"))
        batch_op.drop_index(batch_op.f("ix_billing_accounts_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_billing_accounts_user_id"))
    op.drop_table("billing_accounts")
