"""FastAPI dependencies as ``Annotated`` aliases: the session, the clock, the caller, quotas."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tradealerts.core.messages import _
from tradealerts.server.accounts import users_generation
from tradealerts.server.db.models import User
from tradealerts.server.errors import Forbidden, NotLoggedIn, TooManyRequests
from tradealerts.server.language import remember_language
from tradealerts.server.quota import Quota
from tradealerts.server.security import TokenError, decode_access_token
from tradealerts.server.sessions import Revocations
from tradealerts.server.settings import Settings

__all__ = [
    "AdminUser",
    "Caller",
    "CallerCache",
    "ClockDep",
    "CurrentCaller",
    "CurrentUser",
    "DataQuota",
    "RowId",
    "SessionDep",
    "SettingsDep",
    "caller_by_id",
    "client_ip",
]

_bearer = HTTPBearer(auto_error=False, description="the access token from /api/auth/login")


# Dependencies that do no I/O are async: a sync dependency costs a thread-pool hop each.
async def get_session(request: Request) -> AsyncIterator[Session]:
    # opening a Session does no I/O; the sync routes that use it run in the thread pool
    session: Session = request.app.state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            # a connection is checked out: its ROLLBACK runs off the event loop, under a
            # limiter of its own (``app.state.closing``), never waiting for a thread-pool
            # token that requests waiting for this very connection may hold
            await anyio.to_thread.run_sync(session.close, limiter=request.app.state.closing)
        else:
            session.close()


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock


#: Closed as soon as the route function returns ("function" scope), not after the response
#: has been sent: a slow reader of a read route's answer no longer holds a pooled connection.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
#: A row id in a path: positive and within every database's INTEGER.
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]


def _claims(request: Request, creds: HTTPAuthorizationCredentials | None, now: datetime) -> int:
    """The user id of a valid access token, or the 401 that says what is wrong with it."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise NotLoggedIn(_("Log in first: send 'Authorization: Bearer <access token>'."))
    try:
        cache: CallerCache = request.app.state.callers
        user_id, request.state.session_id = cache.session(
            request.app.state.signing_key, creds.credentials, now
        )
        return user_id
    except TokenError as exc:
        if str(exc) == "expired":
            raise NotLoggedIn(
                _("Your session has expired: refresh the token or log in again."),
                code="token_expired",
            ) from None
        if str(exc) == "ended":
            raise NotLoggedIn(
                _(
                    "This session has ended (logged out, or the password or two-factor "
                    "settings changed): log in again."
                ),
                code="session_ended",
            ) from None
        raise NotLoggedIn(_("The access token is not valid: log in again.")) from None


def get_current_user(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller, loaded from the database on every request (a tier change applies at once).

    Its read transaction ends here, so its connection goes back to the pool while the
    request waits for its route's thread: 60 concurrent writes once held 15 connections
    that way while 40 threads waited for one (every request stalled 30 s, then 500)."""
    user = session.get(User, _claims(request, creds, clock()))
    session.commit()  # nothing written: ends the read, keeps the loaded user (no expiry)
    if user is not None:
        remember_language(request, user.language)  # its refusals below are in it too
    if user is None:
        raise NotLoggedIn(_("This account no longer exists."))
    if user.disabled:
        raise Forbidden(_("This account is disabled; contact the owner."), code="account_disabled")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden(_("This needs an administrator account."), code="admin_only")
    return user


AdminUser = Annotated[User, Depends(get_admin)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The caller as the read-only data endpoints need it."""

    id: int
    email: str
    tier: str
    is_admin: bool
    language: str = "en"  # the human message of its refusals (server.language)


class CallerCache:
    """Verified tokens and short-lived user snapshots, so a data request costs no thread
    hop and no query. A snapshot lives ``ttl`` seconds and is dropped at once when this
    process commits a tier change or a deletion; a change made by another process (the
    owner's CLI) shows within ``ttl``. A token is checked against the ended sessions on
    every use, cached or not."""

    def __init__(self, ttl: float, revocations: Revocations, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self.revocations = revocations
        # token -> (user id, expiry, session id); the expiry as a datetime, compared with the
        # clock's reading as it is (datetime.timestamp() cost ~0.5 µs a request)
        self._tokens: dict[str, tuple[int, datetime, str]] = {}
        self._users: dict[int, tuple[float, int, Caller]] = {}
        #: user id -> its load on the way (``caller_by_id``)
        self.loading: dict[int, asyncio.Task[Caller | None]] = {}
        self._generation = users_generation()

    def session(self, key: str, token: str, now: datetime) -> tuple[int, str]:
        """(user id, session id) of a verified, unexpired access token of an open session
        (``TokenError`` "expired", "ended" or why it is invalid otherwise)."""
        hit = self._tokens.get(token)
        if hit is None:
            claims = decode_access_token(key, token, now)
            if len(self._tokens) >= self.size:
                self._tokens.clear()
            hit = self._tokens[token] = (
                claims.user_id,
                datetime.fromtimestamp(int(claims["exp"]), UTC),
                claims.session_id,
            )
        elif hit[1] <= now:
            raise TokenError("expired")
        if self.revocations.is_ended(hit[2]):
            raise TokenError("ended")
        return hit[0], hit[2]

    def user_id(self, key: str, token: str, now: datetime) -> int:
        """The user id of a verified, unexpired access token of an open session."""
        return self.session(key, token, now)[0]

    def get(self, user_id: int) -> Caller | None:
        generation = users_generation()
        if generation != self._generation:
            self._users.clear()
            self._generation = generation
        hit = self._users.get(user_id)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        return hit[2]

    def forget(self, user_id: int) -> None:
        """Drop one user's snapshot: another process changed its tier (scale-out's bus)."""
        self._users.pop(user_id, None)

    def put(self, caller: Caller, generation: int) -> None:
        if generation != users_generation():
            return  # loaded across a change: do not keep it
        if len(self._users) >= self.size:
            self._users.clear()
        self._users[caller.id] = (time.monotonic(), generation, caller)


#: the caller's columns only, by primary key: no ORM object, no session
_CALLER = select(User.id, User.email, User.tier, User.is_admin, User.disabled, User.language).where(
    User.id == bindparam("user_id")
)


def _load_caller(db: Engine, user_id: int) -> Caller | None:
    # One statement on an autocommit connection: an ORM session's BEGIN, identity map and
    # ROLLBACK made this 568 µs of CPU on PostgreSQL (208 µs now; SQLite 222 -> 106), and a
    # scaled-out API process loads a caller for every user's first request in a while.
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(_CALLER, {"user_id": user_id}).first()
    # a disabled account is refused like a deleted one on the data endpoints
    return (
        None
        if row is None or row.disabled
        else Caller(row.id, row.email, row.tier, row.is_admin, row.language)
    )


async def get_caller(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller for read-only data endpoints, from the cache when it is fresh."""
    state = request.app.state
    caller = await caller_by_id(state, _claims(request, creds, state.clock()))
    if caller is None:
        raise NotLoggedIn(_("This account no longer exists."))
    remember_language(request, caller.language)
    return caller


async def caller_by_id(state: Any, user_id: int) -> Caller | None:
    """The user's snapshot: cached while fresh, else loaded (off the event loop) and cached.
    One load per user at a time: the requests of a user that come while it loads wait for
    that load (a new client's first burst loaded it once per request); the load is a task of
    its own, so a request that goes away does not cancel it for the others."""
    cache: CallerCache = state.callers
    caller = cache.get(user_id)
    if caller is not None:
        return caller
    loading = cache.loading.get(user_id)
    if loading is None:
        loading = cache.loading[user_id] = asyncio.ensure_future(
            _load_and_keep(cache, state.db_engine, user_id)
        )
        # its failure is each waiter's answer; retrieved here so that a load whose
        # requests all went away is not logged as "never retrieved"
        loading.add_done_callback(lambda t: t.cancelled() or t.exception())
    return await asyncio.shield(loading)


async def _load_and_keep(cache: CallerCache, db: Engine, user_id: int) -> Caller | None:
    try:
        generation = users_generation()
        caller = await run_in_threadpool(_load_caller, db, user_id)
        if caller is not None:
            cache.put(caller, generation)
        return caller
    finally:
        del cache.loading[user_id]


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def count_data_request(request: Request, response: Response, user: CurrentCaller) -> Caller:
    """Count a data request against the caller's hourly quota (60 FREE / 300 PRO)."""
    response.headers.update(await spend_quota(request, user))
    return user


async def spend_quota(request: Request, user: Caller) -> dict[str, str]:
    """Count one data request of ``user`` (refused with 429 past the hour's quota); the
    X-RateLimit-* headers, also kept on ``request.state.rate_headers``."""
    settings: Settings = request.app.state.settings
    if not settings.rate_limits_enabled or user.email in settings.unlimited_emails:
        return {}
    quota: Quota = request.app.state.quota
    if quota.ready(user.id, user.tier):
        result = quota.hit(user.id, user.tier)
    else:  # it waits for Redis: not on the event loop
        result = await run_in_threadpool(quota.hit, user.id, user.tier)
    if not result.allowed:
        raise TooManyRequests(
            _(
                "You have used all {limit} requests of your {tier} plan this hour; try "
                "again in {retry_after} s, or upgrade for more.",
                limit=result.limit,
                tier=user.tier,
                retry_after=result.headers()["Retry-After"],
            ),
            headers=result.headers(),
        )
    request.state.rate_headers = result.headers()  # for routes that return a raw Response
    return request.state.rate_headers  # type: ignore[no-any-return]


DataQuota = Annotated[Caller, Depends(count_data_request)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
