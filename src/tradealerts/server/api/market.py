"""/api/symbols and /api/indicators: what the caller's tier allows, and the fractal payload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from tradealerts.core.schemas import PairAccess, SymbolAccess, SymbolsPublic
from tradealerts.core.tiers import ALL_SYMBOLS, TIERS, Tier, check_pair, required_tier
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.api.deps import DataQuota
from tradealerts.server.engine import Engine, NoMarketData
from tradealerts.server.errors import ApiError, NotFound

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
