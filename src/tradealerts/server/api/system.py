"""/api/system/health: database, feed freshness per symbol, engine lag and the alert log."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tradealerts.server.db.models import User

router = APIRouter(prefix="/system", tags=["system"])

#: what only an administrator sees: failure texts can carry a database's or a feed's
#: message (host names, SQL, paths); the public body keeps each part's status
_DETAIL_KEYS = frozenset({"error", "reason"})


_LOOPBACK = frozenset({"127.0.0.1", "::1"})


def _sees_detail(request: Request) -> bool:
    """The owner: a client on this machine (``tradealerts-server status``, as ``/metrics``;
    behind a trusted proxy the client is the forwarded one, not the proxy), or a valid
    access token of an administrator."""
    if (request.client.host if request.client else "") in _LOOPBACK:
        return True
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    state = request.app.state
    try:
        user_id = state.callers.user_id(state.signing_key, token.strip(), state.clock())
        with state.sessions() as s:
            user = s.get(User, user_id)
            return user is not None and user.is_admin and not user.disabled
    except Exception:  # TokenError, or the database is down: the public answer
        return False


def _public(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _public(v) for k, v in value.items() if k not in _DETAIL_KEYS}
    return value


@router.get("/health", responses={503: {"description": "something is not ok; see the details"}})
def health(request: Request) -> JSONResponse:
    """200 when the database, the feed, the engine and the alert log are all ok; 503 with
    each part's status if not (the failures' texts: to the owner only, see ``_sees_detail``)."""
    checks: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        with request.app.state.db_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {
            "status": "ok",
            "latency_ms": round((time.perf_counter() - t0) * 1e3, 2),
        }
    except Exception as exc:
        checks["database"] = {"status": "error", "error": type(exc).__name__}
    engine = request.app.state.engine
    if engine is None:
        checks["feed"] = {"status": "off"}
        checks["engine"] = {"status": "off"}
    else:
        checks.update(engine.health())
    # scaled out, the mirror's copy of the leader's (None there: every series computed)
    owner = getattr(engine, "owner", request.app.state.owner_lines)
    if owner is not None and (owner.source.uses_mt5 or owner.last_sent):
        checks["lines"] = owner.health()  # per series: source, when the bridge last sent
    alerts = request.app.state.alerts
    if alerts is not None:
        checks["alerts"] = alerts.health()
    mailer = getattr(request.app.state, "mailer", None)
    if mailer is not None and checks["database"]["status"] == "ok":
        checks["mail"] = mailer.health()  # ok with a count of quarantined mails
    if alerts is not None and checks["database"]["status"] == "ok":
        checks["deliveries"] = _deliveries(request)  # ok with a count of quarantined ones
    ok = all(c.get("status") == "ok" for c in checks.values())
    body = {"status": "ok" if ok else "degraded", **checks}
    if not _sees_detail(request):
        body = _public(body)
    return JSONResponse(body, status_code=200 if ok else 503)


def _deliveries(request: Request) -> dict[str, Any]:
    """The other channels' deliveries (webhooks): a quarantined one is its owner's problem,
    so it is counted, never a reason for 503."""
    from tradealerts.server.quarantine import count_deliveries

    try:
        with request.app.state.sessions() as s:
            return {"status": "ok", "quarantined": count_deliveries(s)}
    except SQLAlchemyError:  # the database check above said ok a moment ago: say nothing
        return {"status": "ok", "quarantined": None}
