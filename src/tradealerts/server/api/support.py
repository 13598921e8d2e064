"""/api/support: tickets to the owner."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from sqlalchemy import select

from tradealerts.core.schemas import SupportCreate, SupportPublic
from tradealerts.server.api.deps import ClockDep, CurrentUser, SessionDep
from tradealerts.server.db.models import SupportTicket
from tradealerts.server.mail import templates

router = APIRouter(prefix="/support", tags=["support"])


def _public(t: SupportTicket) -> SupportPublic:
    return SupportPublic(
        id=t.id, subject=t.subject, body=t.body, status=t.status, created_at=t.created_at
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SupportPublic)
def create_ticket(
    body: SupportCreate, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> SupportPublic:
    """Store a ticket and mail it to the owner."""
    ticket = SupportTicket(
        user_id=user.id, subject=body.subject, body=body.body, created_at=clock()
    )
    s.add(ticket)
    s.flush()
    owner = request.app.state.settings.owner_email
    if owner:
        request.app.state.mailer.queue(
            s, owner, *templates.support(user.email, body.subject, body.body, ticket.id)
        )
    s.commit()
    request.app.state.mailer.wake()
    return _public(ticket)


@router.get("", response_model=list[SupportPublic])
def list_tickets(user: CurrentUser, s: SessionDep) -> list[SupportPublic]:
    """The caller's own tickets."""
    rows = s.scalars(
        select(SupportTicket)
        .where(SupportTicket.user_id == user.id)
        .order_by(SupportTicket.id.desc())
    ).all()
    return [_public(t) for t in rows]
