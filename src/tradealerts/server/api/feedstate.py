"""GET /api/feed: each symbol's feed state now (``live``, ``delayed``, ``closed``), for a
client that connects after the ``feed`` events it would have seen (issue #29)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tradealerts.server.api.deps import CurrentCaller
from tradealerts.server.feedstate import FeedWatch

router = APIRouter(tags=["market"])


@router.get("/feed")
async def feed_state(request: Request, user: CurrentCaller) -> dict[str, Any]:
    """``{"symbols": [{symbol, state, since, last_data, next_change, schedule}]}``, the same
    items as the stream's ``feed`` events; empty while this process holds no market."""
    watch: FeedWatch | None = getattr(request.app.state, "feedwatch", None)
    items = watch.current() if watch is not None else []
    return {"symbols": [st.as_dict() for st in items]}
