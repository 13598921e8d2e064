"""alert names (unique per user) and the arming count of max_fires (issue #15)

The other options of issue #15 (buffer, confirm_bars, cooldown, max_fires, the webhook
format) are values of the alert's spec, stored in its ``spec`` JSON like level or distance.
Existing alerts are named ``<symbol>-<timeframe>-<condition>-<id>`` in lower case, the name
the server gives an alert created without one.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_alert_options"
down_revision = "0008_usage"


# every batch keeps SQLite's AUTOINCREMENT (0004): a recreated table must never reuse ids
def upgrade() -> None:
    with op.batch_alter_table(
        "alerts", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("fires_at_arm", sa.Integer(), nullable=False, server_default="0")
        )
    alerts = sa.table(
        "alerts",
        sa.column("id", sa.Integer()),
        sa.column("symbol", sa.String()),
        sa.column("timeframe", sa.String()),
        sa.column("condition", sa.String()),
        sa.column("name", sa.String()),
    )
    op.execute(
        alerts.update().values(
            name=sa.func.lower(
                alerts.c.symbol
                + "-"
                + alerts.c.timeframe
                + "-"
                + alerts.c.condition
                + "-"
                + sa.cast(alerts.c.id, sa.String())
            )
        )
    )
    with op.batch_alter_table(
        "alerts", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column("name", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("fires_at_arm", server_default=None)
        batch_op.create_unique_constraint("uq_alerts_user_name", ["user_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table(
        "alerts", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint("uq_alerts_user_name", type_="unique")
        batch_op.drop_column("fires_at_arm")
        batch_op.drop_column("name")
