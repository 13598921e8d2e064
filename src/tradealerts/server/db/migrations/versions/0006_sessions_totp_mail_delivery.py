"""sessions you can trust: the last TOTP step used, and the delivery an alert mail carries

Revision ID: 0006
Revises: 0005_fire_key
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005_fire_key"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("mail_queue") as batch_op:
        batch_op.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_mail_queue_delivery_id", ["delivery_id"])


def downgrade() -> None:
    with op.batch_alter_table("mail_queue") as batch_op:
        batch_op.drop_index("ix_mail_queue_delivery_id")
        batch_op.drop_column("delivery_id")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("totp_last_step")
