"""the TUI's alert bell as a stored preference (issue #10)"""

import sqlalchemy as sa

from tradealerts.server.db.ddl import add_columns, drop_columns

revision = "0012_tui"
down_revision = "0011_engine_lease"


def upgrade() -> None:
    # every existing account keeps the bell it had (the TUI always rang it)
    add_columns(
        "users", sa.Column("alert_bell", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    drop_columns("users", "alert_bell")
