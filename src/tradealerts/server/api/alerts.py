"""/api/alerts: the caller's alerts (create, list, get, update, delete, pause, resume,
clone), many at once (bulk by filter, apply a whole alerts file) and the history of fired
alerts with their deliveries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from tradealerts.core.alerts import (
    AlertCreate,
    AlertEventPublic,
    AlertHistoryPage,
    AlertList,
    AlertPublic,
    AlertStatus,
    AlertUpdate,
    Condition,
    DeliveryPublic,
    validate_alert,
)
from tradealerts.core.alerts.plans import (
    AlertApply,
    AlertBulk,
    AlertBulkResult,
    AlertClone,
    AlertPlan,
)
from tradealerts.core.alerts.schemas import NAME_PATTERN
from tradealerts.core.messages import _
from tradealerts.core.schemas import SYMBOL_MAX_LENGTH, TIMEFRAME_MAX_LENGTH, from_row
from tradealerts.core.symbols import format_price
from tradealerts.core.tiers import TIERS, Tier, normalize_symbol
from tradealerts.core.timeframes import TimeframeError, parse_timeframe
from tradealerts.server.alerts import plans, records
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.alerts.health import health_of
from tradealerts.server.api.deps import (
    ClockDep,
    CurrentUser,
    DataQuota,
    RowId,
    SessionDep,
)
from tradealerts.server.db.models import AlertRow, Delivery, Event
from tradealerts.server.engine import NoMarketData
from tradealerts.server.errors import Invalid, sentence_of
from tradealerts.server.events import event_json

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _guard(request: Request) -> WebhookGuard:
    guard: WebhookGuard = request.app.state.webhook_guard
    return guard


def _tell_engine(request: Request, row: AlertRow | None, alert_id: int) -> None:
    """Hand the committed change to this process's engine now (the next tick sees it);
    other processes pick it up from the change feed."""
    runtime = getattr(request.app.state, "alerts", None)
    if runtime is None:
        return
    if row is None:
        runtime.removed(alert_id)
    else:
        runtime.changed(records.matcher_alert(row), row.version)


def _saved(request: Request, s: Session, row: AlertRow) -> AlertPublic:
    """Commit the change to ``row``, hand it to the engine, answer it."""
    s.commit()
    _tell_engine(request, row, row.id)
    return records.public(row)


def _symbol_filter(symbol: str | None) -> str | None:
    return normalize_symbol(symbol) if symbol else None


def alert_filter(
    user_id: int,
    status_: AlertStatus | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    condition: Condition | None = None,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the caller's alerts matching a filter (unknown names are 422)."""
    where: list[ColumnElement[bool]] = [AlertRow.user_id == user_id]
    if status_ is not None:
        where.append(AlertRow.status == status_.value)
    sym = _symbol_filter(symbol)
    if sym is not None:
        where.append(AlertRow.symbol == sym)
    if timeframe:
        try:
            where.append(AlertRow.timeframe == parse_timeframe(timeframe).value)
        except TimeframeError as exc:
            raise Invalid(_("timeframe: {exc}", exc=sentence_of(exc)), field="timeframe") from None
    if condition is not None:
        where.append(AlertRow.condition == condition.value)
    return where


def _links(*operations: str) -> dict[int | str, dict[str, object]]:
    """OpenAPI links from an answer's alert ``id`` to the operations that take it, so a
    client generator (or a stateful test) knows what follows what."""
    return {
        op: {"operationId": op, "parameters": {"alert_id": "$response.body#/id"}}
        for op in operations
    }


_FOLLOW = ("get_alert", "update_alert", "delete_alert", "pause_alert", "resume_alert")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertPublic,
    responses={201: {"description": "the new alert", "links": _links(*_FOLLOW)}},
)
def create_alert(
    body: AlertCreate, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Response:
    """A new active alert on a pair the caller's tier allows (5 FREE / 20 PRO active)."""
    now = clock()
    try:
        spec = validate_alert(
            body.model_dump(),
            now=now,
            allow_insecure_loopback=_guard(request).allows_plain_http_to_loopback(),
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    _check_chosen_line(request, spec)
    row = records.create_alert(s, user, spec, now, _guard(request))
    s.commit()
    _tell_engine(request, row, row.id)
    # a Response goes out as it is: FastAPI validates a sync route's returned model again,
    # in the thread pool, one more hop per creation (bench_stream: 100 a second), and
    # ``public`` has built the AlertPublic already
    return Response(
        records.public(row).model_dump_json(by_alias=True),
        status_code=status.HTTP_201_CREATED,
        media_type="application/json",
    )


def _check_chosen_line(request: Request, spec: AlertCreate) -> None:
    """A chosen ``line_id`` must name a line active now in what the pair serves (the
    computed lines, or the owner's when those are served): a made-up or broken one would only
    end the alert, ``expired (line_not_active)``, at the next close. The refusal names the
    nearest active lines of that kind. Unchecked while no market data is served (the engine
    starting, a pair without bars): the alert's own end rule still holds then."""
    if spec.line_id is None:
        return
    engine = getattr(request.app.state, "engine", None)
    if engine is None or engine.state not in ("running", "finished"):
        return
    sym, tf = spec.symbol, parse_timeframe(spec.timeframe)
    try:
        _etag, body = engine.payload(sym, tf, 1)  # every active line, whatever the window
    except NoMarketData:
        return
    payload = json.loads(body)
    diagonal = spec.line_id.startswith("d")
    level = "value_now" if diagonal else "price"
    active = [
        ln
        for ln in payload["diagonal_lines" if diagonal else "horizontal_lines"]
        if ln.get("broken_time") is None
    ]
    if any(ln["id"] == spec.line_id for ln in active):
        return
    kind = "resistance" if spec.line_id[1:2] == "r" else "support"
    what = f"{kind} {'trendline' if diagonal else 'line'}"
    forming, closes = payload.get("forming"), payload["bars"]["close"]
    price = forming["close"] if forming else (closes[-1] if closes else None)
    same = [ln for ln in active if ln["kind"] == kind]
    if price is not None:
        same.sort(key=lambda ln: abs(float(ln[level]) - price))
    names = ", ".join(f"{ln['id']} at {format_price(sym, ln[level])}" for ln in same[:3])
    hint = f"the nearest active ones are {names}" if names else f"no {what} is active now"
    raise Invalid(
        _(
            "{line_id} is not an active {what} of {sym} {tf}: {hint} (`tradealerts "
            "indicators {sym} {tf}` lists them).",
            line_id=spec.line_id,
            what=what,
            sym=sym,
            tf=tf,
            hint=hint,
        ),
        code="line_not_active",
        field="line_id",
    )


@router.get("", response_model=AlertList)
def list_alerts(
    user: DataQuota,
    s: SessionDep,
    clock: ClockDep,
    status_: Annotated[AlertStatus | None, Query(alias="status")] = None,
    symbol: Annotated[str | None, Query(max_length=SYMBOL_MAX_LENGTH)] = None,
    timeframe: Annotated[str | None, Query(max_length=TIMEFRAME_MAX_LENGTH)] = None,
    condition: Annotated[Condition | None, Query()] = None,
    # the names an alert may have: anything else (a NUL byte included, which PostgreSQL
    # cannot even compare) is a 422, not a query
    name: Annotated[str | None, Query(max_length=64, pattern=NAME_PATTERN)] = None,
) -> AlertList:
    """The caller's alerts, oldest first, with their health; optionally one status, symbol,
    timeframe, condition or name."""
    where = alert_filter(user.id, status_, symbol, timeframe, condition)
    if name is not None:
        where.append(AlertRow.name == name)
    rows = s.scalars(select(AlertRow).where(*where).order_by(AlertRow.id)).all()
    health = health_of(s, user.id, rows, clock())
    return AlertList(
        items=[records.public(r, health[r.id]) for r in rows],
        active=records.active_count(s, user.id),
        limit=TIERS[Tier(user.tier)].active_alerts,
    )


def _history_item(ev: Event, deliveries: list[Delivery]) -> AlertEventPublic:
    """The stream's ``alert`` data (one shape, ``event_json``) plus the deliveries."""
    return AlertEventPublic(
        **event_json(ev),
        deliveries=[from_row(DeliveryPublic, d) for d in deliveries],
    )


def _tell_all(request: Request, touched: list[AlertRow | int]) -> None:
    for item in touched:
        if isinstance(item, int):
            _tell_engine(request, None, item)
        else:
            _tell_engine(request, item, item.id)


@router.post("/bulk", response_model=AlertBulkResult)
def bulk_alerts(
    body: AlertBulk, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> AlertBulkResult:
    """Pause, resume or delete every alert matching the filter (symbol, timeframe, status,
    condition; or ``all``) in one transaction: all of them or, on a refusal, none."""
    if not (body.all or body.symbol or body.timeframe or body.status or body.condition):
        raise Invalid(
            _("Give a filter (symbol, timeframe, status, condition) or all: true."),
            code="filter_required",
            field="all",
        )
    where = alert_filter(
        user.id,
        body.status,
        body.symbol,
        body.timeframe.value if body.timeframe else None,
        body.condition,
    )
    result, touched = plans.bulk_change(s, user, body, where, clock(), _guard(request))
    s.commit()
    _tell_all(request, touched)
    return result


@router.post("/apply", response_model=AlertPlan)
def apply_alerts(
    body: AlertApply, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> AlertPlan:
    """Alerts as code: make the caller's alerts what the file says, matched by name, in one
    transaction (``dry_run``: only the plan; ``prune``: delete what the file does not name).
    Any failing entry, or passing the tier's limit, refuses the whole plan with
    ``problems``: each failing entry's index, name, field and message."""
    plan, touched = plans.apply_plan(
        s, user, body.alerts, prune=body.prune, dry_run=body.dry_run, now=clock(),
        guard=_guard(request),
    )  # fmt: skip
    if body.dry_run:
        s.rollback()
        return plan
    s.commit()
    _tell_all(request, touched)
    return plan


@router.get("/history", response_model=AlertHistoryPage)
def alert_history(
    user: DataQuota,
    s: SessionDep,
    alert_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    symbol: Annotated[str | None, Query(max_length=SYMBOL_MAX_LENGTH)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertHistoryPage:
    """Fired alerts (the event log), newest first; filter by alert, symbol and time."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Invalid(
                _("{name}: include a time zone, e.g. 2026-12-01T00:00:00Z.", name=name), field=name
            )
    where = [Event.user_id == user.id]
    if alert_id is not None:
        where.append(Event.alert_id == alert_id)
    if (sym := _symbol_filter(symbol)) is not None:
        where.append(Event.symbol == sym)
    if since is not None:
        where.append(Event.time >= since)
    if until is not None:
        where.append(Event.time < until)
    total = s.scalar(select(func.count()).select_from(Event).where(*where)) or 0
    events = s.scalars(
        select(Event)
        .where(*where)
        .order_by(Event.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    by_event: dict[int, list[Delivery]] = {ev.id: [] for ev in events}
    if by_event:
        for d in s.scalars(
            select(Delivery).where(Delivery.event_id.in_(by_event)).order_by(Delivery.id)
        ):
            by_event[d.event_id].append(d)
    return AlertHistoryPage(
        items=[_history_item(ev, by_event[ev.id]) for ev in events],
        page=page,
        per_page=per_page,
        total=total,
    )


@router.get(
    "/{alert_id}",
    response_model=AlertPublic,
    responses={200: {"description": "the alert", "links": _links(*_FOLLOW[1:])}},
)
def get_alert(alert_id: RowId, user: DataQuota, s: SessionDep, clock: ClockDep) -> AlertPublic:
    """One of the caller's alerts, with its health."""
    row = records.get_alert(s, user.id, alert_id)
    return records.public(row, health_of(s, user.id, [row], clock())[row.id])


@router.patch(
    "/{alert_id}",
    response_model=AlertPublic,
    responses={200: {"description": "the changed alert", "links": _links(*_FOLLOW)}},
)
def update_alert(
    alert_id: RowId,
    body: AlertUpdate,
    request: Request,
    user: CurrentUser,
    s: SessionDep,
    clock: ClockDep,
) -> AlertPublic:
    """Change some fields; the alert is validated again as a whole."""
    row = records.get_alert(s, user.id, alert_id)
    try:
        records.update_alert(s, user, row, body, clock(), _guard(request))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    return _saved(request, s, row)


@router.delete("/{alert_id}", status_code=204)
def delete_alert(
    alert_id: RowId, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Response:
    """Delete the alert; what it fired stays in the history."""
    row = records.get_alert(s, user.id, alert_id)
    records.delete_alert(s, row, clock())
    s.commit()
    _tell_engine(request, None, alert_id)
    return Response(status_code=204)


@router.post(
    "/{alert_id}/clone",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertPublic,
    responses={201: {"description": "the copy", "links": _links(*_FOLLOW)}},
)
def clone_alert(
    alert_id: RowId,
    body: AlertClone,
    request: Request,
    user: CurrentUser,
    s: SessionDep,
    clock: ClockDep,
) -> AlertPublic:
    """A new active alert like this one, on another symbol, timeframe or name if given."""
    row = records.get_alert(s, user.id, alert_id)
    copy = plans.clone_alert(s, user, row, body, clock(), _guard(request))
    return _saved(request, s, copy)


@router.post("/{alert_id}/pause", response_model=AlertPublic)
def pause_alert(
    alert_id: RowId, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> AlertPublic:
    """Stop matching until resumed."""
    row = records.pause_alert(s, records.get_alert(s, user.id, alert_id), clock())
    return _saved(request, s, row)


@router.post("/{alert_id}/resume", response_model=AlertPublic)
def resume_alert(
    alert_id: RowId, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> AlertPublic:
    """Match again: a paused alert, or a triggered one re-armed, if the tier allows it."""
    row = records.get_alert(s, user.id, alert_id)
    records.resume_alert(s, user, row, clock(), _guard(request))
    return _saved(request, s, row)
