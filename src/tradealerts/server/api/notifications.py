"""/api/notifications: the caller's in-app notices, unread first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select, update

from tradealerts.core.messages import _
from tradealerts.core.schemas import NotificationPage, NotificationPublic, from_row
from tradealerts.server.api.deps import ClockDep, CurrentUser, RowId, SessionDep
from tradealerts.server.db.models import Notification
from tradealerts.server.errors import NotFound

router = APIRouter(prefix="/notifications", tags=["notifications"])


def _public(n: Notification) -> NotificationPublic:
    return from_row(NotificationPublic, n, read=n.read_at is not None)


@router.get("", response_model=NotificationPage)
def list_notifications(
    user: CurrentUser,
    s: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    unread_only: bool = False,
) -> NotificationPage:
    """Unread first, newest first within each."""
    where = [Notification.user_id == user.id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = s.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    unread = (
        s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )
    rows = s.scalars(
        select(Notification)
        .where(*where)
        .order_by(Notification.read_at.is_not(None), Notification.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return NotificationPage(
        items=[_public(n) for n in rows], page=page, per_page=per_page, total=total, unread=unread
    )


def _own(s: SessionDep, user: CurrentUser, notification_id: int) -> Notification:
    n = s.get(Notification, notification_id)
    if n is None or n.user_id != user.id:
        raise NotFound(
            _("You have no notification {notification_id}.", notification_id=notification_id)
        )
    return n


@router.post("/{notification_id}/read", response_model=NotificationPublic)
def mark_read(
    notification_id: RowId, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> NotificationPublic:
    n = _own(s, user, notification_id)
    if n.read_at is None:
        n.read_at = clock()
        s.commit()
    return _public(n)


@router.post("/read-all", status_code=204)
def mark_all_read(user: CurrentUser, s: SessionDep, clock: ClockDep) -> Response:
    s.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock())
    )
    s.commit()
    return Response(status_code=204)


@router.delete("/{notification_id}", status_code=204)
def delete_notification(notification_id: RowId, user: CurrentUser, s: SessionDep) -> Response:
    s.delete(_own(s, user, notification_id))
    s.commit()
    return Response(status_code=204)


# the product plan's name for mark_read (a documented alias)
router.add_api_route(
    "/{notification_id}/read",
    mark_read,
    methods=["PUT"],
    response_model=NotificationPublic,
    name="put_notification_read",
)
