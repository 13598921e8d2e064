"""push channels (issue #27): a user's named Apprise URLs, encrypted at rest"""

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import at, id_column, owner_column, owner_key

revision = "0015_push_channels"
down_revision = "0014_control_text"


def upgrade() -> None:
    op.create_table(
        "push_channels",
        id_column(),
        owner_column(),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("url_secret", sa.Text(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("masked", sa.String(length=300), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        at("created_at"),
        owner_key(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "name", name="uq_push_channels_user_name"),
    )
    op.create_index("ix_push_channels_user_id", "push_channels", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_push_channels_user_id", table_name="push_channels")
    op.drop_table("push_channels")
