"""What the workers set aside because no try could send it, and putting it back.

Two kinds, one list for the owner (``tradealerts-server admin quarantine``): mails
(``mail_queue.quarantined_at``, see ``server.mail``) and alert deliveries on the other
channels (``deliveries.status = 'quarantined'``: webhooks, and any channel whose worker
parks a poison item the same way). Ids are written ``mail-17`` / ``delivery-42`` because
the two tables number their rows apart; a bare number means a mail, as it always did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradealerts.server import mail
from tradealerts.server.db.models import Delivery

__all__ = ["ItemId", "count_deliveries", "listing", "parse_ids", "release"]

_QUARANTINED = "quarantined"


@dataclass(frozen=True)
class ItemId:
    """One quarantined item: ``kind`` is ``mail`` or ``delivery``."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.id}"


def parse_ids(values: list[str]) -> list[ItemId] | None:
    """``mail-17``, ``delivery-42`` or a bare mail id; None for ``all``. Raises ValueError
    naming the value that is none of these."""
    if "all" in values:
        return None
    out = []
    for value in values:
        kind, _, number = value.rpartition("-")
        kind = kind or "mail"
        if kind not in ("mail", "delivery") or not number.isdigit():
            raise ValueError(value)
        out.append(ItemId(kind, int(number)))
    return out


def count_deliveries(s: Session) -> int:
    """How many deliveries (webhooks and the like) are quarantined now."""
    n = s.scalar(select(func.count()).where(Delivery.status == _QUARANTINED))
    return int(n or 0)


def listing(s: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Every quarantined item, newest first: mails and deliveries in one list (never a
    mail's body nor a delivery's URL: they may hold a code or a token)."""
    items: list[dict[str, Any]] = [
        {
            "id": str(ItemId("mail", m["id"])),
            "kind": "mail",
            "time": m["quarantined_at"],
            "user_id": None,
            "to": m["to"],
            "what": m["subject"],
            "reason": m["reason"],
        }
        for m in mail.quarantined(s, limit)
    ]
    rows = s.scalars(
        select(Delivery)
        .where(Delivery.status == _QUARANTINED)
        .order_by(Delivery.done_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    items += [
        {
            "id": str(ItemId("delivery", d.id)),
            "kind": "delivery",
            "time": d.done_at,
            "user_id": d.user_id,
            "to": f"user {d.user_id}",
            "what": f"{d.channel} delivery of event {d.event_id}",
            "reason": d.last_error,
        }
        for d in rows
    ]
    items.sort(key=lambda i: (i["time"] is not None, i["time"]), reverse=True)
    return items[:limit]


def release(s: Session, ids: list[ItemId] | None, now: datetime) -> list[str]:
    """Put quarantined items back for a fresh round of tries (``ids``, or all when None);
    the caller commits. Returns the ids released."""
    mail_ids = None if ids is None else [i.id for i in ids if i.kind == "mail"]
    out = [str(ItemId("mail", n)) for n in mail.release(s, mail_ids, now)] if mail_ids != [] else []
    q = select(Delivery).where(Delivery.status == _QUARANTINED)
    if ids is not None:
        wanted = [i.id for i in ids if i.kind == "delivery"]
        if not wanted:
            return out
        q = q.where(Delivery.id.in_(wanted))
    for d in s.scalars(q):
        # due at once, as a new delivery: when it was set aside is never later than the
        # worker's clock (this command's own clock may run ahead of the server's)
        d.next_attempt_at = min(now, d.done_at or now)
        d.status, d.done_at, d.attempts = "pending", None, 0
        out.append(str(ItemId("delivery", d.id)))
    return out
