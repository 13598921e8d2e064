"""sessions you can trust: the last TOTP step used, and the delivery an alert mail carries"""

import sqlalchemy as sa

from tradealerts.server.db.ddl import add_columns, drop_columns, drop_indexes, indexes

revision = "0006"
down_revision = "0005_fire_key"


def upgrade() -> None:
    add_columns("users", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    add_columns("mail_queue", sa.Column("delivery_id", sa.Integer(), nullable=True))
    indexes("mail_queue", "delivery_id")


def downgrade() -> None:
    drop_indexes("mail_queue", "delivery_id")
    drop_columns("mail_queue", "delivery_id")
    drop_columns("users", "totp_last_step")
