"""engine lease and fencing epoch for the scaled-out engine (issue #17)"""

import sqlalchemy as sa
from alembic import op

revision = "0011_engine_lease"
down_revision = "0010_ingest"


def upgrade() -> None:
    op.create_table(
        "engine_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("feed_origin", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("engine_lease")
