"""Alert health: fires in the last 24 h / 7 d / 30 d, the last fire, dormant and chatty.

Counted from the event log by when the server logged each fire (``Event.created_at``, the
server's clock: the feed's time on a live feed), so a replay of old bars still counts as
recent firing. One grouped query for all the alerts asked about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from tradealerts.core.alerts import DORMANT_DAYS, AlertHealth, health_flags
from tradealerts.server.db.models import AlertRow, Event

__all__ = ["health_of"]


def health_of(
    s: Session, user_id: int, rows: Sequence[AlertRow], now: datetime
) -> dict[int, AlertHealth]:
    """Each row's health at ``now``, by alert id."""
    if not rows:
        return {}
    day, week, month = (now - timedelta(days=d) for d in (1, 7, DORMANT_DAYS))
    ids = [r.id for r in rows]

    def within(since: datetime) -> ColumnElement[int]:
        return func.sum(case((Event.created_at >= since, 1), else_=0))

    counted = s.execute(
        select(
            Event.alert_id,
            within(day),
            within(week),
            func.count(),
            func.max(Event.created_at),
        )
        .where(Event.user_id == user_id, Event.alert_id.in_(ids), Event.created_at >= month)
        .group_by(Event.alert_id)
    ).all()
    found = {a: (int(d or 0), int(w or 0), int(m or 0), last) for a, d, w, m, last in counted}
    # the last fire may be older than the month: one more small query for those
    older = [i for i in ids if i not in found]
    lasts: dict[int, datetime] = {}
    if older:
        lasts = {
            a: last
            for a, last in s.execute(
                select(Event.alert_id, func.max(Event.created_at))
                .where(Event.user_id == user_id, Event.alert_id.in_(older))
                .group_by(Event.alert_id)
            ).all()
            if a is not None
        }
    out: dict[int, AlertHealth] = {}
    for row in rows:
        d, w, m, last = found.get(row.id, (0, 0, 0, lasts.get(row.id)))
        dormant, chatty = health_flags(d, last, row.created_at, now)
        out[row.id] = AlertHealth(
            fires_24h=d,
            fires_7d=w,
            fires_30d=m,
            last_fired_at=last,
            dormant=dormant,
            chatty=chatty,
        )
    return out
