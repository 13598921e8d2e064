"""/api/admin: the owner's view of accounts (administrators only; every call is audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from tradealerts.core.schemas import UserPublic
from tradealerts.server import accounts
from tradealerts.server.api.deps import AdminUser, ClockDep, SessionDep
from tradealerts.server.api.user import public
from tradealerts.server.db.models import User

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/users", response_model=list[UserPublic])
def admin_users(
    admin: AdminUser,
    s: SessionDep,
    clock: ClockDep,
    tier: Annotated[str | None, Query(pattern="^(FREE|PRO)$")] = None,
) -> list[UserPublic]:
    """Every account (filter by tier)."""
    q = select(User).order_by(User.id)
    if tier:
        q = q.where(User.tier == tier)
    users = [public(u) for u in s.scalars(q)]
    accounts.audit(s, admin.email, "list_users", tier or "", clock())
    s.commit()
    return users
