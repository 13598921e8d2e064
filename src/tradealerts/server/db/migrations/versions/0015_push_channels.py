"""push channels (issue #27): a user's named Apprise URLs, encrypted at rest"""

import sqlalchemy as sa

from tradealerts.server.db.ddl import at, drop_user_table, user_table

revision = "0015_push_channels"
down_revision = "0014_control_text"


def upgrade() -> None:
    user_table(
        "push_channels",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("url_secret", sa.Text(), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=False),
        sa.Column("masked", sa.String(length=300), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        at("created_at"),
        unique=("user_id", "name"),
        unique_name="uq_push_channels_user_name",
    )


def downgrade() -> None:
    drop_user_table("push_channels")
