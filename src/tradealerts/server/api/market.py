"""/api/symbols and /api/indicators: what the caller's tier allows, and the fractal payload."""

from __future__ import annotations

import logging
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.datastructures import State
from starlette.types import Scope, Send

from tradealerts.core.messages import _
from tradealerts.core.schemas import PairAccess, SymbolAccess, SymbolsPublic
from tradealerts.core.tiers import (
    ALL_SYMBOLS,
    TIERS,
    AccessDenied,
    Tier,
    UnknownSymbol,
    check_pair,
    required_tier,
)
from tradealerts.core.timeframes import Timeframe, TimeframeError
from tradealerts.server.api.deps import CallerCache, CurrentCaller, DataQuota, spend_quota
from tradealerts.server.engine import Engine, NoMarketData
from tradealerts.server.errors import ApiError, NotFound, request_id_for, sentence_of
from tradealerts.server.quota import Quota
from tradealerts.server.security import TokenError

log = logging.getLogger("tradealerts.api")
router = APIRouter(tags=["market"])
#: What the fast path's answers carry, so a client, a benchmark or a test can tell which
#: path answered (a Server-Timing metric name: harmless to anyone who ignores it).
_SERVED_BY = b'fastpath;desc="indicators fast path"'

_ORDERED = sorted(Timeframe, key=lambda t: t.seconds)


def market_engine(request: Request) -> Engine:
    engine: Engine | None = request.app.state.engine
    if engine is None or engine.state not in ("running", "finished"):
        raise ApiError(
            _("Market data is not available right now; try again shortly."),
            status=503,
            code="engine_unavailable",
        )
    return engine


@router.get("/symbols", response_model=SymbolsPublic)
async def symbols(request: Request, user: DataQuota) -> SymbolsPublic:
    """Every symbol and timeframe, with what the caller's tier allows and what the feed has."""
    engine: Engine | None = request.app.state.engine
    have = engine.market.symbols() if engine is not None else set()
    tier = Tier(user.tier)
    lim = TIERS[tier]
    out = []
    for sym in ALL_SYMBOLS:
        pairs = []
        for tf in _ORDERED:
            need = required_tier(sym, tf)
            pairs.append(
                PairAccess(
                    timeframe=tf.value,
                    allowed=sym in lim.symbols and tf in lim.timeframes,
                    required_tier=need.value if need else None,
                )
            )
        out.append(
            SymbolAccess(
                symbol=sym, available=sym in have, allowed=sym in lim.symbols, timeframes=pairs
            )
        )
    return SymbolsPublic(tier=tier.value, symbols=out)


@router.get(
    "/indicators/{symbol}/{timeframe}",
    responses={
        200: {"description": "bars, fractals, horizontal and diagonal lines"},
        304: {"description": "not modified since the ETag you sent"},
    },
)
async def indicators(
    symbol: str,
    timeframe: str,
    request: Request,
    user: CurrentCaller,
    bars: Annotated[int, Query(ge=1, le=5000, description="closed bars to return")] = 300,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Bars, fractals, support/resistance and trendlines, computed over the whole history.
    A 304 (``If-None-Match`` names the current ETag) is free: only answers with a body
    count against the hourly quota."""
    sym, tf = check_pair(Tier(user.tier), symbol, timeframe)
    engine = market_engine(request)
    try:
        etag, body = engine.payload(sym, tf, bars)
    except NoMarketData as exc:
        raise NotFound(sentence_of(exc), code="no_market_data") from None
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    headers.update(await spend_quota(request, user))
    return Response(body, media_type="application/json", headers=headers)


class IndicatorsFastPath:
    """``GET /api/indicators/…`` for the common case, in front of the app's whole middleware
    stack (``app.TradeAlertsApp`` asks it first) and without FastAPI's dependency solving: a
    cached token and caller, a pair the tier allows, quota left, a cached payload. Anything
    else (no or bad token, a refusal, a bad parameter, an exhausted quota, no data) goes on
    to the stack and the documented route above, which owns every error answer; a refused
    quota hit is not counted, so nothing counts twice. So does any exception here: the stack
    then answers as it answers every request (its 500, its error record, its usage count).

    In front of the stack, it does itself what the stack's layers do for an answer: the
    ``X-Request-ID`` (``errors.request_id_for``, as ``RequestIdMiddleware``) and the usage
    count (``Usage.record``, as ``UsageMiddleware``); the body limit has no body to limit on
    a GET. Nothing here logs, so the request id's context variable is not set. It reads the
    raw ASGI scope and sends the raw messages: Request, Headers and Response objects were
    half of what was left of its cost, and the five layers of the stack (FastAPI's,
    Starlette's server errors, FastAPI's exception telemetry and body limit, the request id)
    a fifth of the rest. Its answers say so in a ``Server-Timing: fastpath`` header (for
    whoever measures or debugs which path served)."""

    _PATH = re.compile(r"/api/indicators/([^/]+)/([^/]+)")
    _BARS = re.compile(rb"bars=([0-9]{1,4})")

    def __init__(self, state: State) -> None:
        # The app's state as the dict behind it (filled by the lifespan, read on every
        # request): each State attribute costs a failed lookup first, an AttributeError with
        # its message formatted, before State.__getattr__ reads this dict (~0.5 µs, 7 a
        # request).
        self._state: dict[str, Any] = state._state
        self._pairs: dict[tuple[str, str, str], tuple[str, Timeframe]] = {}
        self._failed = False

    async def __call__(self, scope: Scope, send: Send) -> bool:
        """Answer an HTTP request (True), or send nothing and leave it to the stack (False)."""
        match = self._PATH.fullmatch(scope["path"])
        if match is None:
            return False
        t0 = time.perf_counter()
        try:
            answer = self._serve(scope, *match.groups())
        except Exception:  # the stack answers it, and records it if it fails there too
            if not self._failed:  # once: a broken fast path shows, without a log per request
                self._failed = True
                log.exception("indicators fast path failed; the route answers instead")
            return False
        if answer is None:
            return False
        status, headers, body, user_id = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        self._state["usage"].record("indicators", user_id, status, t0, time.perf_counter())
        await send({"type": "http.response.body", "body": body})
        return True

    def _pair(self, tier: str, symbol: str, timeframe: str) -> tuple[str, Timeframe] | None:
        """``check_pair`` for the tier, remembered (None: let the route refuse it)."""
        key = (tier, symbol, timeframe)
        pair = self._pairs.get(key)
        if pair is None:
            try:
                pair = check_pair(Tier(tier), symbol, timeframe)
            except (AccessDenied, UnknownSymbol, TimeframeError, ValueError):
                return None
            if len(self._pairs) < 10_000:  # spellings of real pairs only; bounded anyway
                self._pairs[key] = pair
        return pair

    def _serve(
        self, scope: Scope, symbol: str, timeframe: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, int] | None:
        if scope["method"] != "GET":
            return None
        query: bytes = scope["query_string"]
        if query:
            bars_match = self._BARS.fullmatch(query)
            if bars_match is None:  # anything but bars=N: the route parses and answers
                return None
            bars = int(bars_match.group(1))
            if not 1 <= bars <= 5000:
                return None
        else:
            bars = 300
        auth = etags = None
        rid = b""
        for name, value in scope["headers"]:
            if name == b"authorization" and auth is None:
                auth = value
            elif name == b"if-none-match" and etags is None:
                etags = value
            elif name == b"x-request-id":
                rid = value  # the last one, as RequestIdMiddleware takes it
        if auth is None or auth[:7].lower() != b"bearer ":
            return None
        state = self._state
        cache: CallerCache = state["callers"]
        try:
            token = auth[7:].strip().decode("latin-1")
            user_id = cache.user_id(state["signing_key"], token, state["clock"]())
        except TokenError:
            return None
        caller = cache.get(user_id)
        if caller is None:
            return None
        pair = self._pair(caller.tier, symbol, timeframe)
        if pair is None:
            return None
        engine: Engine | None = state["engine"]
        if engine is None or engine.state not in ("running", "finished"):
            return None
        try:
            etag, body = engine.payload(pair[0], pair[1], bars)
        except NoMarketData:
            return None
        headers = [
            (b"etag", etag.encode()),
            (b"cache-control", b"private, no-cache"),
            (b"server-timing", _SERVED_BY),
        ]
        if etags is not None and etag in {t.strip() for t in etags.decode("latin-1").split(",")}:
            headers.append((b"x-request-id", request_id_for(rid).encode()))
            return 304, headers, b"", caller.id  # free: a 304 spends none of the quota
        settings = state["settings"]
        if settings.rate_limits_enabled and caller.email not in settings.unlimited_emails:
            quota: Quota = state["quota"]
            if not quota.ready(caller.id, caller.tier):
                return None  # it would wait for Redis: the route waits in a thread
            result = quota.hit(caller.id, caller.tier)
            if not result.allowed:
                return None
            headers += result.raw_headers()
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            (b"x-request-id", request_id_for(rid).encode()),  # last, as the middleware adds it
        ]
        return 200, headers, body, caller.id
