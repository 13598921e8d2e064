"""GET /api/notices: the owner's current maintenance notices (issue #29)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradealerts.server.api.deps import CurrentCaller
from tradealerts.server.notices import HEADER

__all__ = ["NoticeHeaderMiddleware", "router"]

router = APIRouter(tags=["notifications"])


@router.get("/notices")
def list_notices(request: Request, _user: CurrentCaller) -> dict[str, Any]:
    """The notices not over yet (not cancelled), oldest first: what a client that was away
    missed on the stream. Each is also in every user's notification centre."""
    board = request.app.state.notices
    return {"notices": [d for _i, d in sorted(board.notices.items())]}


class NoticeHeaderMiddleware:
    """Adds ``X-TradeAlerts-Notice: <ids>`` to every answer while a notice is current, so the
    CLI learns of one from whatever it asked, without a request of its own; nothing is added
    (and nothing is done) while there is none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        board = None
        if scope["type"] == "http":
            board = getattr(scope["app"].state, "notices", None) if "app" in scope else None
        value = board.header if board is not None else None
        if value is None:
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((HEADER.lower().encode(), value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
