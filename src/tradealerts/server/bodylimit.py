"""The request body limit, applied while the body is read, before anything parses it.

A ``Content-Length`` over the limit is answered 413 at once, without reading a byte of the
body (and the connection is closed, so nothing drains it); a chunked body is counted as it
arrives and refused at the byte that passes the limit. Four 250 MiB login bodies once took
the server to 1.8 GiB: the JSON parser was handed whatever came.

Why not FastAPI's own ``max_body_size``: it lets a request whose ``Content-Length`` is over
the limit reach the route (and its database dependencies) until the body is read, and some
of its refusals are plain text, not the API's error body.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradealerts.core.messages import _
from tradealerts.server.errors import error_response

__all__ = ["BodyLimitMiddleware", "BodyTooLarge", "default_message"]


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit: an ``HTTPException``, so that
    FastAPI's body reading lets it through to the one error handler (413
    ``body_too_large``)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message, headers={"Connection": "close"})


def default_message(limit: int) -> str:
    return _("The request body is larger than this server accepts ({limit} bytes).", limit=limit)


class BodyLimitMiddleware:
    """``default`` bytes for every path; ``routes`` (path prefix -> (bytes, the refusal's
    sentence)) where a route needs another (the owner's ingest batches)."""

    def __init__(
        self, app: ASGIApp, default: int, routes: dict[str, tuple[int, str]] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.routes = routes or {}

    def limit_for(self, path: str) -> tuple[int, str]:
        for prefix, limit in self.routes.items():
            if path.startswith(prefix):
                return limit
        return self.default, default_message(self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, refusal = self.limit_for(scope["path"])
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                length = value
                break
        if length is not None and (not length.isdigit() or int(length) > limit):
            # refused before the body is read: uvicorn closes the connection after this
            # answer instead of reading (and discarding) what the client still sends
            await error_response(413, "body_too_large", refusal, {"Connection": "close"})(
                scope, receive, send
            )
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(refusal)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, sending)
        except BodyTooLarge:
            if started:
                raise
            # raised where no handler answered it (a middleware reading the body)
            await error_response(413, "body_too_large", refusal, {"Connection": "close"})(
                scope, receive, send
            )
