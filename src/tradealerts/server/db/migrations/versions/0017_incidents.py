"""owner alerts (issue #29): one row per incident, so a restart neither re-opens nor
forgets one
"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import at, id_column

revision = "0017_incidents"
down_revision = "0016_maintenance_notices"

_INDEXED = ("key", "opened_at", "closed_at")


def upgrade() -> None:
    op.create_table(
        "incidents",
        id_column(),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        at("opened_at"),
        at("last_notified_at"),
        sa.Column("reminders", sa.Integer(), nullable=False),
        at("closed_at", nullable=True),
        sa.Column("recovery", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in _INDEXED:
        op.create_index(f"ix_incidents_{column}", "incidents", [column])


def downgrade() -> None:
    for column in reversed(_INDEXED):
        op.drop_index(f"ix_incidents_{column}", table_name="incidents")
    op.drop_table("incidents")
