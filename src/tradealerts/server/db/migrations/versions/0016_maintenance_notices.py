"""the owner's maintenance notices (issue #29, ``admin announce``)

Revision ID: 0016_maintenance_notices
Revises: 0015_push_channels
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradealerts.server.db.types

revision = "0016_maintenance_notices"
down_revision = "0015_push_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("starts_at", tradealerts.server.db.types.UTCDateTime(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("ends_at", tradealerts.server.db.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", tradealerts.server.db.types.UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", tradealerts.server.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenance_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_notices_ends_at"), ["ends_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_notices_ends_at"))
    op.drop_table("maintenance_notices")
