"""The write itself: one batch of fires and status changes, one transaction.

Order inside it: the batch's key (a retry of a commit that did succeed, its answer lost with
the connection, is refused by the key and not logged twice), the scaled-out engine's fence,
then each fire's event row, its alert's new state, its notification and its channels'
deliveries (``handoff``), then the status changes and what their owners are told
(``notes``). Prepared Core statements run as executemany, not the ORM: a burst of fires
costs a few statements, not a few per fire. Runs in the alert log's own thread
(``batches.BatchedLog``), on the writer's engine (docs/architecture.md "Write path").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.alerts import REASON_FLOOD, AlertChannels, AlertStatus
from tradealerts.core.text import make_safe, unsafe_reason
from tradealerts.server.alerts import records
from tradealerts.server.alerts.batches import Batch, Written
from tradealerts.server.alerts.handoff import at, hand_off
from tradealerts.server.alerts.model import Fired, StatusChange
from tradealerts.server.alerts.notes import (
    INSERT_NOTIFICATION,
    in_their_languages,
    tell_expired,
    tell_flooded,
)
from tradealerts.server.db.models import AlertRow, ErrorRecord, Event, FireBatch
from tradealerts.server.events import AlertFrame, alert_frame, event_data

__all__ = ["write"]

log = logging.getLogger("tradealerts.alerts")

_ALERTS = cast(Table, AlertRow.__table__)
_EVENTS = cast(Table, Event.__table__)
_INSERT_EVENT = _EVENTS.insert().returning(_EVENTS.c.id, sort_by_parameter_order=True)
_INSERT_BATCH = cast(Table, FireBatch.__table__).insert()
_INSERT_ERROR = cast(Table, ErrorRecord.__table__).insert()


def _update_alert(**values: Any) -> Any:
    """An executemany update of one alert by ``b_id`` that raises its version."""
    return (
        _ALERTS.update()
        .where(_ALERTS.c.id == bindparam("b_id"))
        .values(**values, version=_ALERTS.c.version + 1)
    )


_TOUCH_ALERT = _update_alert(
    last_fired_at=bindparam("b_last"),
    fire_count=bindparam("b_count"),
    updated_at=bindparam("b_now"),
)
# a fire that ends its alert (``once``) also comes as a StatusChange: the status is set there
_SET_STATUS = _update_alert(
    status=bindparam("b_status"),
    status_reason=bindparam("b_reason"),
    updated_at=bindparam("b_now"),
)


def _safe_fires(fires: list[Fired]) -> tuple[list[Fired], list[tuple[Fired, str]]]:
    """The fires with their text made safe to store and send (``core.text``), and those
    that needed it with the reason. Text stored before the control-character rule (a NUL
    PostgreSQL refuses, a line break no mail header takes) must not stop the batch: the
    fire is kept, its text repaired, and the repair noted."""
    out: list[Fired] = []
    unsafe: list[tuple[Fired, str]] = []
    for f in fires:
        reason = unsafe_reason(f.message)
        if reason is not None:
            f = replace(f, message=make_safe(f.message))
            unsafe.append((f, reason))
        out.append(f)
    return out, unsafe


def _unsafe_note(f: Fired, reason: str, now: datetime) -> dict[str, Any]:
    why = f"alert {f.alert_id}: its message held a {reason}; the fire was logged with it replaced"
    return {
        "created_at": now,
        "request_id": "",
        "method": "",
        "route": "alert log",
        "status": 200,
        "user_id": f.user_id,
        "exc_type": "UnsafeText",
        "message": why[:1000],
        "fingerprint": f"unsafe{f.alert_id:010d}"[:16],
        "traceback": "",
    }


def write(
    sessions: sessionmaker[Session],
    batch: Batch,
    now: datetime,
    channels: dict[int, AlertChannels],
    emails_per_hour: int,
    fence: Callable[[Any], None] | None = None,
) -> Written:
    """One transaction: the batch's key, its fires, their alerts' state, its changes.

    ``channels``: the book's channels of each alert (an alert that fires no more is taken
    out); ``fence``: raises, refusing the whole batch, when this engine no longer leads."""
    out = Written()
    fires, unsafe = _safe_fires([f for result in batch.results for f in result.fired])
    with sessions() as s:
        conn = s.connection()
        try:
            # first, so a copy still being committed elsewhere makes this one wait
            conn.execute(_INSERT_BATCH, {"key": batch.key, "fires": len(fires), "created_at": now})
        except IntegrityError:
            # committed before, its answer lost: it is all in the log; tell the streams
            # to read it there
            s.rollback()
            log.info("alert log: batch %s was already committed; not written again", batch.key)
            out.frames = {f.user_id: None for f in fires}
            out.mails = out.webhooks = out.pushes = True
            out.fired = len(fires)
            return out
        if fence is not None:
            fence(conn)
        # default messages in each owner's language: the log, the stream, the mail and
        # the webhook then all say the one sentence
        fires = in_their_languages(conn, fires)
        by_user: dict[int, list[AlertFrame]] = {}
        for fire, event_id, chosen in _record_fires(s, fires, now, channels, emails_per_hour):
            out.fired += 1
            by_user.setdefault(fire.user_id, []).append(
                alert_frame(
                    event_data(
                        id=event_id,
                        alert_id=fire.alert_id,
                        symbol=fire.symbol,
                        timeframe=fire.timeframe.value,
                        condition=fire.condition.value,
                        level=fire.level,
                        price=fire.price,
                        time=at(fire.time),
                        message=fire.message,
                    )
                )
            )
            out.mails = out.mails or chosen.email
            out.webhooks = out.webhooks or chosen.webhook_url is not None
            out.pushes = out.pushes or bool(chosen.notify)
        _record_changes(s, [c for result in batch.results for c in result.changed], now)
        if unsafe:  # noted where the owner looks (admin errors), in the fires' transaction
            conn.execute(_INSERT_ERROR, [_unsafe_note(f, why, now) for f, why in unsafe])
        s.commit()
    out.frames = dict(by_user)
    return out


def _record_fires(
    s: Session,
    fires: list[Fired],
    now: datetime,
    channels: dict[int, AlertChannels],
    emails_per_hour: int,
) -> list[tuple[Fired, int, AlertChannels]]:
    """Log ``fires`` (in order) with their alerts' new state and notifications."""
    if not fires:
        return []
    conn = s.connection()
    ids = {f.alert_id for f in fires}
    alive = set(conn.execute(select(_ALERTS.c.id).where(_ALERTS.c.id.in_(ids))).scalars())
    fires = [f for f in fires if f.alert_id in alive]  # a deleted alert fires nothing
    if not fires:
        return []
    conn.execute(
        _TOUCH_ALERT,
        [
            {"b_id": f.alert_id, "b_last": at(f.time), "b_count": f.fire_count, "b_now": now}
            for f in fires
        ],
    )
    event_ids = (
        conn.execute(
            _INSERT_EVENT,
            [
                {
                    "user_id": f.user_id,
                    "alert_id": f.alert_id,
                    "kind": "alert",
                    "symbol": f.symbol,
                    "timeframe": f.timeframe.value,
                    "condition": f.condition.value,
                    "level": f.level,
                    "price": f.price,
                    "time": at(f.time),
                    "message": f.message,
                    "created_at": now,
                }
                for f in fires
            ],
        )
        .scalars()
        .all()
    )
    conn.execute(
        INSERT_NOTIFICATION,
        [
            {
                "user_id": f.user_id,
                "kind": "alert",
                "title": f"{f.symbol} {f.timeframe.value}: {f.condition.value}",
                "body": f.message,
                "read_at": None,
                "created_at": now,
            }
            for f in fires
        ],
    )
    out = []
    for f, event_id in zip(fires, event_ids, strict=True):
        chosen = channels.get(f.alert_id)
        if chosen is None:
            row = s.get(AlertRow, f.alert_id)
            chosen = records.spec_of(row).channels if row else AlertChannels()
        hand_off(s, event_id, f, chosen, now, emails_per_hour)
        out.append((f, event_id, chosen))
        if f.status != AlertStatus.active:  # it fires no more until changed again
            channels.pop(f.alert_id, None)
    return out


def _record_changes(s: Session, changes: list[StatusChange], now: datetime) -> None:
    """Store the alerts' new status, and tell the owners of expired and flooded ones.

    One executemany, like the fires: a burst of ``once`` alerts ends a few statements."""
    if not changes:
        return
    conn = s.connection()
    conn.execute(
        _SET_STATUS,
        [
            {"b_id": c.alert_id, "b_status": c.status.value, "b_reason": c.reason, "b_now": now}
            for c in changes
        ],
    )
    tell_flooded(conn, [c for c in changes if c.reason == REASON_FLOOD], now)
    expired = {c.alert_id: c for c in changes if c.status == AlertStatus.expired}
    if expired:
        tell_expired(conn, expired, now)
