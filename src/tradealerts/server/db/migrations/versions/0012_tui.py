"""the TUI's alert bell as a stored preference (issue #10)

Revision ID: 0012_tui
Revises: 0011_engine_lease
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_tui"
down_revision = "0011_engine_lease"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        # every existing account keeps the bell it had (the TUI always rang it)
        batch_op.add_column(
            sa.Column("alert_bell", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("alert_bell")
