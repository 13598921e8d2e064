"""``POST /api/ingest/indicators``: the MT5 bridge's buffer values, owner token only.

The body is checked whole before anything is written (``check``); the values go to the
database in one transaction (``store``), then to the owner's lines in memory
(``OwnerLines.received``), which redraws the series when they touch closed bars. Scaled out,
any API process takes the post: it stores it and says so on the bus, and the leading engine
draws it (``scale.engine_role``); the batch is checked against the leader's buffer map.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import update

from tradealerts.core.ingest import (
    INGEST_EXAMPLE,
    MAX_BODY_BYTES,
    IngestResult,
    ingest_json_schema,
)
from tradealerts.core.messages import _
from tradealerts.core.timeframes import BarClock
from tradealerts.server.db.models import IngestToken
from tradealerts.server.errors import NotLoggedIn
from tradealerts.server.ingest.check import check_batch, parse_body, too_large
from tradealerts.server.ingest.store import Row, write_values
from tradealerts.server.ingest.tokens import TokenCheck

__all__ = ["router"]

router = APIRouter(prefix="/ingest", tags=["ingest"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": ingest_json_schema(),
                "example": INGEST_EXAMPLE,
            }
        },
    }
}


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() != "bearer " or not auth[7:].strip():
        raise NotLoggedIn(
            _(
                "Send the ingest token as 'Authorization: Bearer tai_…' "
                "(tradealerts-server ingest-token create)."
            ),
            code="invalid_ingest_token",
        )
    return auth[7:].strip()


async def _read(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


@router.post(
    "/indicators",
    response_model=IngestResult,
    openapi_extra=_BODY,
    responses={413: {"description": "the body is larger than 2 MiB"}},
)
async def ingest_indicators(request: Request) -> IngestResult:
    """The owner's indicator buffers on closed bars of one series (the MT5 bridge's POST).

    Idempotent by (symbol, timeframe, bar time): a bar sent again replaces its values. Each
    fault is refused with its own code, and nothing of the batch is stored."""
    state = request.app.state
    token = _bearer(request)
    checker: TokenCheck = state.ingest_tokens
    now = state.clock()

    def verify() -> bool:
        with state.sessions() as s:
            fresh = not checker.remembered(token)
            ok = checker.verify(s, token)
            if ok and fresh:  # last use to the minute: no write on every post
                s.execute(
                    update(IngestToken)
                    .where(IngestToken.key_id == token[4:].partition("_")[0])
                    .values(last_used_at=now)
                )
                s.commit()
            return ok

    if not await asyncio.to_thread(verify):
        raise NotLoggedIn(
            _(
                "Not a valid ingest token (unknown, revoked, or a subscriber's login "
                "token, which is not one): create one with 'tradealerts-server "
                "ingest-token create'."
            ),
            code="invalid_ingest_token",
        )
    raw = await _read(request, MAX_BODY_BYTES)
    data: Any = parse_body(raw)
    # scaled out, the mirror holds the leader's map (the one that draws); else our own
    owner = getattr(state.engine, "owner", None) or state.owner_lines
    symbol, tf, rows = check_batch(
        data, owner.map, state.settings.symbol_map, now.timestamp(), _bar_clock(state)
    )

    def write() -> tuple[dict[int, Row], int]:
        with state.sessions() as s:
            changed, unchanged = write_values(s, symbol, tf.value, rows, now)
            s.commit()
            return changed, unchanged

    changed, unchanged = await asyncio.to_thread(write)
    if state.settings.scale_out:
        state.bus.ingested(symbol, tf.value)  # stored: the leading engine draws it
    else:
        owner.received(symbol, tf, changed)
    return IngestResult(symbol=symbol, timeframe=tf.value, stored=len(changed), unchanged=unchanged)


def _bar_clock(state: Any) -> BarClock | None:
    """The grid ingest checks against: the configured bar clock, or (``auto``) the one the
    engine in this process follows (the terminal's); None when neither is known here."""
    configured: BarClock | None = state.settings.clock
    if configured is not None:
        return configured
    market = getattr(state.engine, "market", None)
    clock = getattr(market, "clock", None)
    return (
        clock
        if isinstance(clock, BarClock) and not getattr(state.settings, "scale_out", False)
        else None
    )
