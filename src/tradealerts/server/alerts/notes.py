"""What an alert's owner is told, in their language: a fire's default message (a
:class:`Text`) said in it, and the notifications of an alert that expired or that the flood
guard paused. Each takes the batch's connection: one query for the languages of a batch.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select

from tradealerts.core.alerts import FLOOD_FIRES, FLOOD_SECONDS
from tradealerts.core.messages import Text, _, localise
from tradealerts.server.alerts.model import Fired, StatusChange
from tradealerts.server.db.models import AlertRow, Notification, User

__all__ = ["INSERT_NOTIFICATION", "in_their_languages", "tell_expired", "tell_flooded"]

_ALERTS = cast(Table, AlertRow.__table__)
INSERT_NOTIFICATION = cast(Table, Notification.__table__).insert()
_FLOOD_MINUTES = f"{FLOOD_SECONDS / 60:g}"


def _languages(conn: Any, user_ids: set[int]) -> dict[int, str]:
    """Each user's language (one query for a batch)."""
    if not user_ids:
        return {}
    rows = conn.execute(select(User.id, User.language).where(User.id.in_(user_ids)))
    return {r.id: r.language for r in rows}


def in_their_languages(conn: Any, fires: list[Fired]) -> list[Fired]:
    """``fires`` whose default messages (:class:`Text`) are said in their owner's language;
    a user's own template is their words, as written. No query when nothing needs one."""
    said = [f for f in fires if isinstance(f.message, Text)]
    if not said:
        return fires
    langs = _languages(conn, {f.user_id for f in said})
    return [
        replace(f, message=localise(f.message, langs.get(f.user_id)))
        if isinstance(f.message, Text)
        else f
        for f in fires
    ]


def tell_expired(conn: Any, expired: dict[int, StatusChange], now: datetime) -> None:
    """A notification for each alert of ``expired`` (by id) that still exists."""
    rows = conn.execute(
        select(_ALERTS.c.id, _ALERTS.c.symbol, _ALERTS.c.timeframe, _ALERTS.c.condition)
        .where(_ALERTS.c.id.in_(expired))
        .order_by(_ALERTS.c.id)
    ).all()
    if not rows:
        return
    langs = _languages(conn, {expired[r.id].user_id for r in rows})
    conn.execute(
        INSERT_NOTIFICATION,
        [
            {
                "user_id": expired[r.id].user_id,
                "kind": "alert_expired",
                "title": _("Alert {id} expired", id=r.id).into(langs.get(expired[r.id].user_id)),
                "body": _(
                    "Your {symbol} {timeframe} {condition} alert expired and will not fire again.",
                    symbol=r.symbol,
                    timeframe=r.timeframe,
                    condition=r.condition,
                ).into(langs.get(expired[r.id].user_id)),
                "read_at": None,
                "created_at": now,
            }
            for r in rows
        ],
    )


def tell_flooded(conn: Any, changes: list[StatusChange], now: datetime) -> None:
    """A notification for each alert the flood guard paused."""
    if not changes:
        return
    langs = _languages(conn, {c.user_id for c in changes})
    conn.execute(
        INSERT_NOTIFICATION,
        [
            {
                "user_id": c.user_id,
                "kind": "alert_flood",
                "title": _("Alert {id} paused: flood", id=c.alert_id).into(langs.get(c.user_id)),
                "body": _(
                    "Alert {id} fired more than {fires} times in {minutes} minutes, so "
                    "it was paused (reason flood). Resume it when you have checked "
                    "what re-arms it.",
                    id=c.alert_id,
                    fires=FLOOD_FIRES,
                    minutes=_FLOOD_MINUTES,
                ).into(langs.get(c.user_id)),
                "read_at": None,
                "created_at": now,
            }
            for c in changes
        ],
    )
