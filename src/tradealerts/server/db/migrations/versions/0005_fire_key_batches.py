"""fire batch keys: a retried commit of alert fires is written once

Revision ID: 0005_fire_key
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradealerts.server.db.types

revision = "0005_fire_key"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fire_batches",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", tradealerts.server.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("fire_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fire_batches_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("fire_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fire_batches_created_at"))
    op.drop_table("fire_batches")
