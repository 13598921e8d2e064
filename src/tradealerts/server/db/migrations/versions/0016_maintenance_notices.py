"""the owner's maintenance notices (issue #29, ``admin announce``)"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import at, drop_indexes, id_column, indexes

revision = "0016_maintenance_notices"
down_revision = "0015_push_channels"


def upgrade() -> None:
    op.create_table(
        "maintenance_notices",
        id_column(),
        sa.Column("message", sa.Text(), nullable=False),
        at("starts_at", nullable=True, timezone=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        at("ends_at", timezone=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        at("created_at", timezone=False),
        at("cancelled_at", nullable=True, timezone=False),
        sa.PrimaryKeyConstraint("id"),
    )
    indexes("maintenance_notices", "ends_at")


def downgrade() -> None:
    drop_indexes("maintenance_notices", "ends_at")
    op.drop_table("maintenance_notices")
