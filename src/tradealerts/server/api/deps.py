"""FastAPI dependencies as ``Annotated`` aliases: the session, the clock, the caller, quotas."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from tradealerts.server.db.models import User
from tradealerts.server.errors import Forbidden, NotLoggedIn, TooManyRequests
from tradealerts.server.security import TokenError, decode_access_token
from tradealerts.server.settings import Settings

__all__ = [
    "AdminUser",
    "ClockDep",
    "CurrentUser",
    "DataQuota",
    "RowId",
    "SessionDep",
    "SettingsDep",
    "client_ip",
]

_bearer = HTTPBearer(auto_error=False, description="the access token from /api/auth/login")


# Dependencies that do no I/O are async: a sync dependency costs a thread-pool hop each.
async def get_session(request: Request) -> AsyncIterator[Session]:
    # opening a Session does no I/O; the sync routes that use it run in the thread pool
    with request.app.state.sessions() as session:
        yield session


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


SessionDep = Annotated[Session, Depends(get_session)]
#: A row id in a path: positive and within every database's INTEGER.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


def get_current_user(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller, loaded from the database on every request (a tier change applies at once)."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise NotLoggedIn("Log in first: send 'Authorization: Bearer <access token>'.")
    try:
        claims = decode_access_token(request.app.state.signing_key, creds.credentials, clock())
    except TokenError as exc:
        if str(exc) == "expired":
            raise NotLoggedIn(
                "Your session has expired: refresh the token or log in again.",
                code="token_expired",
            ) from None
        raise NotLoggedIn("The access token is not valid: log in again.") from None
    user = session.get(User, claims.user_id)
    if user is None:
        raise NotLoggedIn("This account no longer exists.")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("This needs an administrator account.", code="admin_only")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


async def count_data_request(request: Request, response: Response, user: CurrentUser) -> User:
    """Count a data request against the caller's hourly quota (60 FREE / 300 PRO)."""
    settings: Settings = request.app.state.settings
    if not settings.rate_limits_enabled or user.email in settings.unlimited_emails:
        return user
    result = request.app.state.quota.hit(user.id, user.tier)
    if not result.allowed:
        raise TooManyRequests(
            f"You have used all {result.limit} requests of your {user.tier} plan this hour; "
            f"try again in {result.headers()['Retry-After']} s, or upgrade for more.",
            headers=result.headers(),
        )
    response.headers.update(result.headers())
    request.state.rate_headers = result.headers()  # for routes that return a raw Response
    return user


DataQuota = Annotated[User, Depends(count_data_request)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
