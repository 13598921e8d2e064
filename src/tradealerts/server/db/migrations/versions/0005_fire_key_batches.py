"""fire batch keys: a retried commit of alert fires is written once"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import at, drop_indexes, indexes

revision = "0005_fire_key"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "fire_batches",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        at("created_at"),
        sa.PrimaryKeyConstraint("key"),
    )
    indexes("fire_batches", "created_at")


def downgrade() -> None:
    drop_indexes("fire_batches", "created_at")
    op.drop_table("fire_batches")
