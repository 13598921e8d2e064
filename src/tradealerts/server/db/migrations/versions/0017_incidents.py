"""owner alerts (issue #29): one row per incident, so a restart neither re-opens nor
forgets one

Revision ID: 0017_incidents
Revises: 0016_maintenance_notices
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradealerts.server.db.types

revision = "0017_incidents"
down_revision = "0016_maintenance_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.Column(
            "opened_at", tradealerts.server.db.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "last_notified_at",
            tradealerts.server.db.types.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column(
            "closed_at", tradealerts.server.db.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("recovery", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incidents_key", "incidents", ["key"])
    op.create_index("ix_incidents_opened_at", "incidents", ["opened_at"])
    op.create_index("ix_incidents_closed_at", "incidents", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_closed_at", table_name="incidents")
    op.drop_index("ix_incidents_opened_at", table_name="incidents")
    op.drop_index("ix_incidents_key", table_name="incidents")
    op.drop_table("incidents")
