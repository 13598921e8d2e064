"""/api/system/health: database, feed freshness per symbol, engine lag and the alert log."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(prefix="/system", tags=["system"])


@router.get("/health", responses={503: {"description": "something is not ok; see the details"}})
def health(request: Request) -> JSONResponse:
    """200 when the database, the feed, the engine and the alert log are all ok; 503 with
    the details (and the reason of each failure) if not."""
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
    ok = all(c.get("status") == "ok" for c in checks.values())
    body = {"status": "ok" if ok else "degraded", **checks}
    return JSONResponse(body, status_code=200 if ok else 503)
