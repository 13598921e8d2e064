"""/api/symbols and /api/indicators: what the caller's tier allows, and the fractal payload."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

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
from tradealerts.server.api.deps import CallerCache, DataQuota
from tradealerts.server.engine import Engine, NoMarketData
from tradealerts.server.errors import ApiError, NotFound
from tradealerts.server.security import TokenError

router = APIRouter(tags=["market"])

_ORDERED = sorted(Timeframe, key=lambda t: t.seconds)


def market_engine(request: Request) -> Engine:
    engine: Engine | None = request.app.state.engine
    if engine is None or engine.state not in ("running", "finished"):
        raise ApiError(
            "Market data is not available right now; try again shortly.",
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
    user: DataQuota,
    bars: Annotated[int, Query(ge=1, le=5000, description="closed bars to return")] = 300,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Bars, fractals, support/resistance and trendlines, computed over the whole history."""
    sym, tf = check_pair(Tier(user.tier), symbol, timeframe)
    engine = market_engine(request)
    try:
        etag, body = engine.payload(sym, tf, bars)
    except NoMarketData as exc:
        raise NotFound(str(exc), code="no_market_data") from None
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    headers.update(getattr(request.state, "rate_headers", {}))
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


class IndicatorsFastPath:
    """Middleware: ``GET /api/indicators/…`` for the common case, without FastAPI's
    dependency solving (most of the request's cost): a cached token and caller, a pair the
    tier allows, quota left, a cached payload. Anything else (no or bad token, a refusal, a
    bad parameter, an exhausted quota, no data) goes on to the documented route above,
    which owns every error answer; a refused quota hit is not counted, so nothing counts
    twice."""

    _PATH = re.compile(r"/api/indicators/([^/]+)/([^/]+)")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app  # the rest of the stack: the router and the documented route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self._PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        response = None if match is None else self._serve(Request(scope, receive), *match.groups())
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _serve(self, request: Request, symbol: str, timeframe: str) -> Response | None:
        if request.method != "GET":
            return None
        state = request.app.state
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() != "bearer ":
            return None
        cache: CallerCache = state.callers
        try:
            user_id = cache.user_id(state.signing_key, auth[7:].strip(), state.clock())
        except TokenError:
            return None
        caller = cache.get(user_id)
        if caller is None:
            return None
        raw_bars = request.query_params.get("bars", "300")
        if (
            not raw_bars.isdigit()
            or not 1 <= int(raw_bars) <= 5000
            or len(request.query_params) > 1
        ):
            return None
        try:
            sym, tf = check_pair(Tier(caller.tier), symbol, timeframe)
        except (AccessDenied, UnknownSymbol, TimeframeError):
            return None
        engine: Engine | None = state.engine
        if engine is None or engine.state not in ("running", "finished"):
            return None
        try:
            etag, body = engine.payload(sym, tf, int(raw_bars))
        except NoMarketData:
            return None
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        settings = state.settings
        if settings.rate_limits_enabled and caller.email not in settings.unlimited_emails:
            result = state.quota.hit(caller.id, caller.tier)
            if not result.allowed:
                return None
            headers.update(result.headers())
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)
