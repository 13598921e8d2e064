"""the owner's MT5 indicator buffers and ingest tokens (issue #16)"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import at, id_column

revision = "0010_ingest"
down_revision = "0009_alert_options"


def upgrade() -> None:
    op.create_table(
        "ingest_tokens",
        id_column(),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        at("created_at"),
        at("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
    )
    op.create_table(
        "indicator_values",
        id_column(),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=4), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        at("received_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("symbol", "timeframe", "time"),
    )


def downgrade() -> None:
    op.drop_table("indicator_values")
    op.drop_table("ingest_tokens")
