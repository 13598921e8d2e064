"""GET /api/stream: Server-Sent Events — durable ``alert`` events (resumable by id) and live
``price``, ``bar`` and ``tier`` events, with heartbeats, ``reauth``, ``overflow`` and
``reconnect`` (the server is stopping)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tradealerts.core.messages import _
from tradealerts.core.tiers import Tier, check_pair
from tradealerts.server.api.deps import CurrentCaller, _bearer, caller_by_id
from tradealerts.server.db.models import Event
from tradealerts.server.errors import Invalid
from tradealerts.server.events import (
    AlertFrame,
    Bus,
    alert_frame,
    event_json,
    events_after,
    resume_gap,
    sse_frame,
)
from tradealerts.server.security import decode_access_token
from tradealerts.server.stream_notices import notice_frames, reconnect_frame

router = APIRouter(tags=["stream"])

RETRY_MS = 3000
#: events read from the log at a time; a longer backlog is sent page after page
PAGE = 500
_BEAT = ("beat", None)
_T = TypeVar("_T")


async def _from_db(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` in a thread; while no pooled connection is free (a burst of writes),
    tried again rather than ending the stream: its client would only reconnect into the
    same burst."""
    while True:
        try:
            return await asyncio.to_thread(fn, *args)
        except PoolTimeout:
            await asyncio.sleep(0.5)


def _pairs(tier: Tier, symbols: str | None) -> frozenset[tuple[str, str]]:
    if not symbols:
        return frozenset()
    out = set()
    for item in symbols.split(","):
        sym, sep, tf = item.strip().partition(":")
        if not sep or not sym or not tf:
            raise Invalid(
                _(
                    "symbols: {pair!r} is not SYMBOL:TIMEFRAME (e.g. EURUSD:H1).",
                    pair=item.strip(),
                ),
                field="symbols",
            )
        s, t = check_pair(tier, sym, tf)  # a forbidden pair is refused before streaming
        out.add((s, t.value))
    return frozenset(out)


#: an event id: ASCII digits (``str.isdigit`` also takes "²"), within the events table's
#: INTEGER id (a larger number overflowed PostgreSQL's comparison mid-stream)
_EVENT_ID = re.compile(r"[0-9]{1,10}")
_MAX_EVENT_ID = 2_147_483_647


def parse_last_event_id(value: str) -> int:
    """The id a client resumes after; 422 for anything that is not one."""
    text = value.strip()
    if _EVENT_ID.fullmatch(text) is None or int(text) > _MAX_EVENT_ID:
        raise Invalid(
            _("Last-Event-ID must be the id of an event you received."), field="Last-Event-ID"
        )
    return int(text)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "alert (with id:), price, bar, tier, notice, gap, reauth, overflow, "
            "reconnect",
        }
    },
)
async def stream(
    request: Request,
    user: CurrentCaller,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    symbols: Annotated[
        str | None, Query(max_length=2000, description="EURUSD:H1,XAUUSD:H4")
    ] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    """Alert events are logged first and resumable with Last-Event-ID, exactly once, in order."""
    tier = Tier(user.tier)
    pairs = _pairs(tier, symbols)
    after: int | None = None  # no Last-Event-ID: live from now on
    if last_event_id:
        after = parse_last_event_id(last_event_id)
    state = request.app.state
    if creds is None:  # CurrentUser has already refused this; keeps the type checker honest
        raise Invalid(_("Send the access token as a bearer token."))
    claims = decode_access_token(state.signing_key, creds.credentials, state.clock())
    expires, session_id = float(claims["exp"]), str(claims.get("sid", ""))
    revocations = state.revocations
    bus: Bus = state.bus
    sub = bus.subscribe(user.id, pairs)  # before reading the log: nothing slips in between
    heartbeat = float(state.settings.stream_heartbeat_seconds)
    user_id = user.id
    lang = user.language  # the stream's own notices are in it

    def newest() -> int:
        with state.sessions() as s:
            return int(s.scalar(select(func.max(Event.id)).where(Event.user_id == user_id)) or 0)

    def read(after_id: int) -> tuple[bool, list[AlertFrame], bool]:
        """A page of the log after ``after_id``: (gap, frames, whether more may follow)."""
        with state.sessions() as s:
            gap = resume_gap(s, after_id) if after_id else False
            page = [alert_frame(event_json(e)) for e in events_after(s, user_id, after_id, PAGE)]
        return gap, page, len(page) == PAGE

    loop = asyncio.get_running_loop()
    beat: asyncio.TimerHandle | None = None

    def schedule_beat() -> None:
        # one timer a beat, not a timeout around every wait: frames cost no timer work; the
        # beat also comes when the token expires, so the loop sends reauth
        nonlocal beat
        left = expires - state.clock().timestamp()
        beat = loop.call_later(max(0.0, min(heartbeat, left)), beat_due)

    def beat_due() -> None:
        sub.offer(_BEAT)
        schedule_beat()

    def checked(task: asyncio.Future[Any]) -> None:
        ok = not task.cancelled() and task.exception() is None
        sub.offer(("caller", task.result() if ok else None))

    wrote = state.signals.stream_wrote

    async def frames() -> AsyncIterator[str]:
        checking: asyncio.Future[Any] | None = None
        known_tier = tier.value
        gap, backlog, more = False, list[AlertFrame](), False
        try:
            yield f"retry: {RETRY_MS}\n\n"
            for text in notice_frames(state):  # a notice announced before this connection
                yield text
            if after is None:  # a fresh client: what fires from now on (history has the rest)
                last = await _from_db(newest)
            else:
                last = after
                gap, backlog, more = await _from_db(read, last)
            if gap:
                yield sse_frame(
                    "gap",
                    {
                        "message": _(
                            "Some alerts may have been missed: they are older than the "
                            "server keeps."
                        ).into(lang),
                        "after": last,
                    },
                )
            schedule_beat()
            while True:
                for event_id, text in backlog:
                    yield text
                    last = event_id
                backlog = []
                if sub.closed:
                    yield reconnect_frame(state, last, lang)
                    return
                if sub.overflowed:
                    yield sse_frame(
                        "overflow",
                        {
                            "message": _(
                                "You fell behind; reconnect with Last-Event-ID to catch up."
                            ).into(lang),
                            "last_event_id": last,
                        },
                    )
                    return
                if expires - state.clock().timestamp() <= 0:
                    yield sse_frame(
                        "reauth",
                        {
                            "message": _(
                                "Your access token expired; reconnect with a fresh one."
                            ).into(lang),
                            "last_event_id": last,
                        },
                    )
                    return
                if revocations.is_ended(session_id):  # logout, password change: within a beat
                    yield sse_frame(
                        "reauth",
                        {
                            "message": _("Your session ended; log in again to reconnect.").into(
                                lang
                            ),
                            "last_event_id": last,
                        },
                    )
                    return
                if more:
                    # the whole backlog goes out before anything live: a live frame carries
                    # only its own commit's events, and would skip the rest of the log
                    _gap, backlog, more = await _from_db(read, last)
                    continue
                kind, data = await sub.queue.get()
                if kind == "alert":
                    if data is None:  # only woken: read what is new from the log
                        _gap, backlog, more = await _from_db(read, last)
                    else:  # the committed events themselves; skip those already sent
                        backlog = [f for f in data if f[0] > last]
                elif kind == "beat":
                    yield ": heartbeat\n\n"
                    # the shared snapshot: streams of one user (and a thousand streams at
                    # once) cost one lookup a second, not one each per heartbeat; a load
                    # is never awaited here (the database may be busy, and price frames
                    # must not wait for it): its answer comes back as a "caller" item
                    cached = state.callers.get(user_id)
                    if cached is not None:
                        sub.offer(("caller", cached))
                    elif checking is None or checking.done():
                        checking = asyncio.ensure_future(caller_by_id(state, user_id))
                        checking.add_done_callback(checked)
                elif kind == "caller":
                    if data is not None and data.tier != known_tier:
                        known_tier = data.tier
                        yield sse_frame("tier", {"tier": known_tier})
                elif kind == "tier":
                    known_tier = data["tier"]
                    yield sse_frame("tier", data)
                elif kind == "closed":
                    continue  # the top of the loop says reconnect
                else:  # price and bar frames come rendered, once for all their streams
                    yield data
                    wrote(data)  # its time from the engine (incidents, /metrics)
        finally:
            if checking is not None:
                checking.cancel()
            if beat is not None:
                beat.cancel()
            bus.unsubscribe(sub)

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
