"""free text without control characters (issue #22): mails can be quarantined, and alerts,
support tickets and profiles stored before the rule are cleaned

Control characters (C0 with NUL, DEL, C1, U+2028/U+2029; line breaks too, except in a
support body or a bio) are replaced: line breaks by a space, the rest by U+FFFD, as
``core.text.make_safe`` does (copied here: a migration must not change with the code).
"""

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

from tradealerts.server.db.ddl import add_columns, at, drop_columns, drop_indexes, indexes

revision = "0014_control_text"
down_revision = "0013_ingest_received_at"

_SINGLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_BREAKS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _safe(value: Any, multiline: bool = False) -> Any:
    if not isinstance(value, str):
        return value
    pattern = _MULTI if multiline else _SINGLE
    return pattern.sub(lambda m: " " if m.group() in _BREAKS else "\ufffd", value)


def _clean(name: str, columns: dict[str, bool]) -> None:
    """Rewrite the rows of table ``name`` whose ``columns`` (name: multi-line) hold refused
    text."""
    table = sa.table(name, sa.column("id", sa.Integer), *(sa.column(c, sa.String) for c in columns))
    conn = op.get_bind()
    cols = [table.c[name] for name in columns]
    for row in conn.execute(sa.select(table.c.id, *cols)).mappings().all():
        changes = {
            name: _safe(row[name], multiline)
            for name, multiline in columns.items()
            if _safe(row[name], multiline) != row[name]
        }
        if changes:
            conn.execute(table.update().where(table.c.id == row["id"]).values(**changes))


def upgrade() -> None:
    add_columns("mail_queue", at("quarantined_at", nullable=True))
    indexes("mail_queue", "quarantined_at")

    conn = op.get_bind()
    alerts = sa.table("alerts", sa.column("id", sa.Integer), sa.column("spec", sa.JSON))
    for row in conn.execute(sa.select(alerts.c.id, alerts.c.spec)).all():
        spec = dict(row.spec or {})
        clean = {k: _safe(v) if k in ("message", "line_id") else v for k, v in spec.items()}
        if clean != spec:
            conn.execute(alerts.update().where(alerts.c.id == row.id).values(spec=clean))
    _clean("alerts", {"name": False})
    _clean("support_tickets", {"subject": False, "body": True})
    _clean("users", {"display_name": False, "bio": True})


def downgrade() -> None:
    # the cleaned text is not put back: it could not be stored or sent
    drop_indexes("mail_queue", "quarantined_at")
    drop_columns("mail_queue", "quarantined_at")
