"""/api/admin: the owner's dashboard (administrators only: 403 ``admin_only`` otherwise).

Reads are audited as well as changes, so the log shows who looked at accounts. The figures
come from ``server.dashboard``, which the local ``tradealerts-server admin`` commands share.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from tradealerts.core.messages import _
from tradealerts.server import accounts, dashboard
from tradealerts.server.api.deps import AdminUser, ClockDep, RowId, SessionDep
from tradealerts.server.db.models import User
from tradealerts.server.errors import BadRequest, Conflict, NotFound, sentence_of

router = APIRouter(prefix="/admin", tags=["admin"])

Page = Annotated[int, Query(ge=1, le=1_000_000)]
PerPage = Annotated[int, Query(ge=1, le=500)]


class AdminUserUpdate(BaseModel):
    """What an administrator may change on an account; absent fields stay as they are."""

    model_config = ConfigDict(extra="forbid")
    tier: Literal["FREE", "PRO"] | None = None
    role: Literal["user", "admin"] | None = None
    disabled: bool | None = None


async def _flush(request: Request) -> None:
    # the figures include the current minute's requests
    await request.app.state.usage.flush()


@router.get("/users")
def admin_users(
    admin: AdminUser,
    s: SessionDep,
    clock: ClockDep,
    # no control characters: PostgreSQL cannot compare a NUL byte (a 500, not a 422)
    search: Annotated[str | None, Query(max_length=320, pattern=r"^[^\x00-\x1f\x7f]*$")] = None,
    tier: Annotated[str | None, Query(pattern="^(FREE|PRO)$")] = None,
    status: Annotated[str | None, Query(pattern="^(active|disabled|unverified|admin)$")] = None,
    page: Page = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """Accounts: search email or name, filter by tier and status, paged."""
    out = dashboard.users_page(
        s, search=search, tier=tier, status=status, page=page, per_page=per_page
    )
    accounts.audit(s, admin.email, "list_users", search or "", clock(), tier=tier, status=status)
    s.commit()
    return out


@router.get("/analytics")
async def admin_analytics(request: Request, admin: AdminUser, s: SessionDep) -> dict[str, Any]:
    """Users by tier, sign-ups and fires per day, active users, conversions, churn, alerts."""
    await _flush(request)
    return await run_in_threadpool(dashboard.analytics, s, request.app.state.clock())


@router.get("/revenue")
def admin_revenue(request: Request, admin: AdminUser, s: SessionDep) -> dict[str, Any]:
    """MRR, ARR, subscriptions by status, revenue per month, failed payments, renewals:
    from the local billing records, in integer minor units per currency."""
    settings = request.app.state.settings
    return dashboard.revenue(s, request.app.state.clock(), settings.billing_grace_days)


@router.get("/api-usage")
async def admin_api_usage(
    request: Request,
    admin: AdminUser,
    s: SessionDep,
    hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
) -> dict[str, Any]:
    """Requests per hour by tier and route family, 429s, latency quantiles, top users."""
    await _flush(request)
    return await run_in_threadpool(dashboard.api_usage, s, hours)


@router.get("/error-logs")
async def admin_error_logs(
    request: Request,
    admin: AdminUser,
    s: SessionDep,
    after_id: Annotated[int, Query(ge=0, le=2_147_483_647)] = 0,  # an INTEGER id
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Recorded 5xx answers and exceptions (newest first; ``after_id`` to follow)."""
    await _flush(request)
    return await run_in_threadpool(dashboard.error_logs, s, after_id=after_id, limit=limit)


@router.get("/audit")
def admin_audit(
    admin: AdminUser, s: SessionDep, page: Page = 1, per_page: PerPage = 50
) -> dict[str, Any]:
    """The audit log, newest first."""
    return dashboard.audit_page(s, page=page, per_page=per_page)


def _user(s: SessionDep, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None:
        raise NotFound(_("There is no user {user_id}.", user_id=user_id), code="user_not_found")
    return user


@router.put("/user/{user_id}")
def admin_update_user(
    user_id: RowId, body: AdminUserUpdate, admin: AdminUser, s: SessionDep, clock: ClockDep
) -> dict[str, Any]:
    """Change an account's tier (through the tier-change path), role or disabled flag."""
    if body.tier is None and body.role is None and body.disabled is None:
        raise BadRequest(_("Send at least one of tier, role, disabled."), code="nothing_to_change")
    user = _user(s, user_id)
    try:
        changed = dashboard.change_user(
            s,
            admin.email,
            user,
            clock(),
            tier=body.tier,
            role=body.role,
            disabled=body.disabled,
            actor_id=admin.id,
        )
    except dashboard.AdminRefusal as exc:
        raise Conflict(sentence_of(exc), code="own_account") from None
    s.commit()
    return {"user": dashboard.user_row(user), "changed": changed}


@router.delete("/user/{user_id}", status_code=204)
def admin_delete_user(user_id: RowId, admin: AdminUser, s: SessionDep, clock: ClockDep) -> Response:
    """Delete an account and everything of it."""
    user = _user(s, user_id)
    try:
        dashboard.remove_user(s, admin.email, user, clock(), admin.id)
    except dashboard.AdminRefusal as exc:
        raise Conflict(sentence_of(exc), code="own_account") from None
    s.commit()
    return Response(status_code=204)


@router.get("/incidents")
def admin_incidents(
    request: Request,
    admin: AdminUser,
    s: SessionDep,
    clock: ClockDep,
    days: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> dict[str, Any]:
    """The owner's incidents (issue #29): open ones first, then those closed within ``days``
    (default ``incident_recent_days``), newest first."""
    from tradealerts.server.incidents.monitor import incident_rows

    recent = request.app.state.settings.incident_recent_days if days is None else days
    rows = incident_rows(s, clock(), recent)
    return {
        "open": sum(1 for r in rows if r["status"] == "open"),
        "recent_days": recent,
        "incidents": rows,
    }
