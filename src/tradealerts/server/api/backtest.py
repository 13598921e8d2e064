"""POST /api/alerts/backtest: when alerts would have fired over the bars the server holds.

Four body shapes (``BT_CONTRACT``; docs/api.md): a flat create body plus ``bars`` (the
movement conditions' own bar count is ``condition_bars`` there), ``{"alert": {…}, "bars"}``,
``{"alerts": [{…} ≤ 100], "bars"}`` (answered as ``{"results": […]}`` in the order given) and
``{"alert_id": 12, "bars"}`` (one of the caller's stored alerts as it is). Tier-gated like
create, one request against the hourly quota. The replay itself is
``server.alerts.backtest``; here only the parsing, the checks and the answer's shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from tradealerts.core.alerts import AlertCreate, validate_alert
from tradealerts.core.bars import Bars
from tradealerts.core.messages import _, reader_language
from tradealerts.core.tiers import Tier, check_pair
from tradealerts.core.timeframes import Timeframe
from tradealerts.server.alerts import records
from tradealerts.server.alerts.backtest import BacktestAlert
from tradealerts.server.alerts.backtest_answer import Replays
from tradealerts.server.api.deps import DataQuota
from tradealerts.server.api.market import market_engine
from tradealerts.server.engine import NoMarketData
from tradealerts.server.errors import ApiError, Invalid, NotFound, sentence_of

router = APIRouter(prefix="/alerts", tags=["alerts"])

#: Alerts one call may test (422 ``alerts`` beyond).
MAX_ALERTS = 100
#: Bars replayed when the body does not say; fewer than ``MIN_BARS`` is refused.
DEFAULT_BARS = 1000
MIN_BARS = 10
_SHAPES = ("alert", "alerts", "alert_id")


def _window_bars(body: dict[str, Any]) -> int:
    v = body.get("bars", DEFAULT_BARS)
    if isinstance(v, bool) or not isinstance(v, int) or v < MIN_BARS:
        raise Invalid(
            _(
                "bars: replay at least {count} bars (a whole number; more than the server "
                "holds is cut to what it holds).",
                count=MIN_BARS,
            ),
            field="bars",
        )
    return v


def _validated(entry: Any, loc: tuple[Any, ...], now: datetime, flat: bool) -> AlertCreate:
    """A create body, checked as create checks it (channels are ignored: nothing is sent)."""
    if not isinstance(entry, dict):
        name = ".".join(str(p) for p in loc) or "body"
        raise Invalid(
            _("{name}: an alert body (a JSON object) is expected.", name=name), field=name
        )
    data = {k: v for k, v in entry.items() if k != "channels"}
    if flat:
        data.pop("bars", None)
        if "condition_bars" in data:
            data["bars"] = data.pop("condition_bars")
    try:
        return validate_alert(data, now=now, allow_insecure_loopback=True)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            where = tuple(e["loc"])
            if flat and where[:1] == ("bars",):
                where = ("condition_bars", *where[1:])
            errors.append({**e, "loc": ("body", *loc, *where)})
        raise RequestValidationError(errors) from None


def _parse(body: dict[str, Any], now: datetime) -> tuple[list[BacktestAlert] | None, int]:
    """The alerts to test, or (None, the id of a stored alert); 422 on bad input."""
    given = [k for k in _SHAPES if k in body]
    if len(given) > 1:
        raise Invalid(
            _(
                "body: send one of {shapes} (or a flat alert body), not {given}.",
                shapes=", ".join(_SHAPES),
                given=str(given),
            ),
            field=given[1],
        )
    shape = given[0] if given else None
    if shape == "alert_id":
        v = body["alert_id"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2_147_483_647:
            raise Invalid(_("alert_id: the id of one of your alerts."), field="alert_id")
        return None, v
    if shape == "alerts":
        entries = body["alerts"]
        if not isinstance(entries, list) or not entries:
            raise Invalid(_("alerts: a list of 1 to 100 alert bodies."), field="alerts")
        if len(entries) > MAX_ALERTS:
            raise Invalid(
                _(
                    "alerts: at most {most} alerts per call (got {count}); split the list.",
                    most=MAX_ALERTS,
                    count=len(entries),
                ),
                field="alerts",
            )
        specs = [_validated(e, ("alerts", i), now, False) for i, e in enumerate(entries)]
    elif shape == "alert":
        specs = [_validated(body["alert"], ("alert",), now, False)]
    else:
        specs = [_validated(body, (), now, True)]
    return [_tested(spec, now) for spec in specs], 0


def _tested(spec: AlertCreate, since: datetime) -> BacktestAlert:
    """An expiry lives as long from the window's start as it would from ``since``."""
    life = None if spec.expires_at is None else (spec.expires_at - since).total_seconds()
    return BacktestAlert(spec, life)


def _stored(sessions: Callable[[], Session], user_id: int, alert_id: int) -> BacktestAlert:
    """One of the caller's alerts as it is (404 when not theirs); its expiry lasts what it
    was given when created."""
    with sessions() as s:
        row = records.get_alert(s, user_id, alert_id)
        spec = records.spec_of(row)
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return _tested(spec, created)


# the schema says what the JSON is (a Response returned as it is is not re-validated)
@router.post("/backtest", response_model=dict[str, Any])
async def backtest_alerts(
    request: Request,
    user: DataQuota,
    body: Annotated[dict[str, Any], Body(description="see docs/api.md: Alert backtests")],
) -> Response:
    """When the alert(s) would have fired over the last ``bars`` closed bars the server holds:
    the live matcher over each bar's OHLC path; nothing is stored."""
    started = time.perf_counter()
    now: datetime = request.app.state.clock()
    window = _window_bars(body)
    alerts, alert_id = _parse(body, now)
    if alerts is None:
        alerts = [await run_in_threadpool(_stored, request.app.state.sessions, user.id, alert_id)]
    tier = Tier(user.tier)
    for item in alerts:
        check_pair(tier, item.spec.symbol, item.spec.timeframe)
    engine = market_engine(request)
    market = engine.market
    # copied here, on the engine's loop (consistent); replayed off it
    groups: dict[tuple[str, Timeframe], tuple[Bars, list[int]]] = {}
    for i, item in enumerate(alerts):
        key = (item.spec.symbol, item.spec.timeframe)
        if key not in groups:
            try:
                held = market.get(*key).bars
            except NoMarketData as exc:
                raise NotFound(sentence_of(exc), code="no_market_data") from None
            cols = (held.time, held.open, held.high, held.low, held.close, held.volume)
            groups[key] = (Bars(*cols), [])
        groups[key][1].append(i)
    # one replay at a time per server, in its own process (backtest_answer: a replay in
    # this one would stall every other request); the others queue
    state = request.app.state
    if getattr(state, "backtests", None) is None:
        state.backtests = asyncio.Semaphore(1)
        state.replays = Replays()
    async with state.backtests:
        try:
            payload = await state.replays.answer(
                groups, alerts, window, market.clock, market.n, reader_language(),
                batch="alerts" in body,
            )  # fmt: skip
        except BrokenProcessPool:
            raise ApiError(
                _("The backtest stopped before its answer; try again, or fewer bars or alerts."),
                status=503,
                code="backtest_failed",
            ) from None
    ms = round((time.perf_counter() - started) * 1000, 2)
    # the worker's JSON object, with the whole call's time as its last field
    return Response(
        payload[:-1] + f',"server_ms":{ms}}}'.encode(),
        media_type="application/json",
        headers=getattr(request.state, "rate_headers", None),
    )
