"""an index on when the bridge's values arrived: a scaled-out engine reads what arrived since
its last read (issue #16 scaled out), every few seconds, without scanning the whole table
"""

from alembic import op

revision = "0013_ingest_received_at"
down_revision = "0012_tui"


def upgrade() -> None:
    op.create_index("ix_indicator_values_received_at", "indicator_values", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_indicator_values_received_at", table_name="indicator_values")
