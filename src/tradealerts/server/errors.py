"""API errors and the one place that turns any failure into DESIGN.md's error body.

    ApiError(status, code, message)          root; every refusal we raise
    ├── BadRequest (400) / Invalid (422)     the input is wrong
    ├── NotLoggedIn (401)                    no, expired or bad credentials
    ├── Forbidden (403)                      tier or role; ``required_tier`` when a tier opens it
    ├── NotFound (404)
    ├── Conflict (409)
    └── TooManyRequests (429)                with Retry-After

Body: ``{"error": {"code": "...", "message": "...", "request_id": "..."}}`` plus extras.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradealerts.core.i18n import DEFAULT_LANGUAGE
from tradealerts.core.messages import Text, _, localise, reader_language, set_reader
from tradealerts.core.tiers import TIERS, AccessDenied, Tier, UnknownSymbol
from tradealerts.core.timeframes import TimeframeError
from tradealerts.server.language import request_language, scope_language, validation_text

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HttpMiddleware",
    "Invalid",
    "NotFound",
    "NotLoggedIn",
    "RequestIdMiddleware",
    "TooManyRequests",
    "error_response",
    "install_error_handlers",
    "request_id",
    "request_id_for",
    "sentence_of",
]

log = logging.getLogger("tradealerts.api")
#: seconds a client is told to wait when no database connection was free in time
POOL_RETRY_AFTER = 2
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ApiError(Exception):
    """A refusal with a status, a snake_case code and a sentence a person can act on."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.headers = headers or {}
        self.extra = extra

    def __init_subclass__(
        cls, *, status: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        """``class NotFound(ApiError, status=404, code="not_found")``: a kind of refusal."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code


class BadRequest(ApiError, status=400, code="bad_request"): ...


class Invalid(ApiError, status=422, code="invalid_input"): ...


class NotLoggedIn(ApiError, status=401, code="not_logged_in"): ...


class Forbidden(ApiError, status=403, code="forbidden"): ...


class NotFound(ApiError, status=404, code="not_found"): ...


class Conflict(ApiError, status=409, code="conflict"): ...


class TooManyRequests(ApiError, status=429, code="rate_limited"): ...


def plan_full(
    tier: Tier,
    limit: str,
    message: str,
    *,
    code: str,
    extra: dict[str, Any] | None = None,
    **params: Any,
) -> ApiError:
    """403: ``tier`` allows no more of ``limit`` (a ``TierLimits`` field, e.g.
    ``"active_alerts"``). ``message`` (marked ``N_``) may say ``{tier}``, ``{limit}`` and
    ``{hint}`` ("; PRO allows 20": the first tier that allows more, also ``required_tier``)."""
    allowed = getattr(TIERS[tier], limit)
    bigger = next((t for t in Tier if getattr(TIERS[t], limit) > allowed), None)
    hint: Text | str = (
        _("; {tier} allows {limit}", tier=bigger.value, limit=getattr(TIERS[bigger], limit))
        if bigger
        else ""
    )
    return ApiError(
        _(message, tier=tier, limit=allowed, hint=hint, **params),
        status=403,
        code=code,
        required_tier=bigger.value if bigger else None,
        **(extra or {}),
    )


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    if isinstance(message, Text):  # a sentence not yet said in the reader's language
        message = message.into(reader_language())
    body = {"error": {"code": code, "message": message, "request_id": request_id.get(), **extra}}
    h = dict(headers or {})
    if status == 401:
        h.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, headers=h)


_STATUS_CODES = {
    400: "bad_request",
    401: "not_logged_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


#: ``bars.0.time: Field required …``: a refusal whose message starts with the field it names
_FIELD_FIRST = re.compile(r"^([A-Za-z_][\w]*(?:\.[\w]+)*): ")


def _with_fields(message: str, extra: dict[str, Any], said: str | None = None) -> dict[str, Any]:
    """Every 422 carries ``field`` (the first bad field) and ``fields`` (all of them), as
    api.md "Errors" promises: a refusal raised with a ``field`` keeps it; one whose message
    starts with ``field: `` names that one; otherwise the whole ``body``. ``said``: the
    message in the reader's language (the field is found in the English one)."""
    if "field" in extra and "fields" in extra:
        return extra
    problems = [p for p in extra.get("problems") or [] if isinstance(p, dict) and p.get("field")]
    found = _FIELD_FIRST.match(message)
    first = problems[0]["field"] if problems else (found.group(1) if found else "body")
    field = str(extra.get("field") or first)
    listed = [{"field": str(p["field"]), "message": str(p.get("message", ""))} for p in problems]
    fields = extra.get("fields") or listed or [{"field": field, "message": said or message}]
    return {**extra, "field": field, "fields": fields}


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as the one JSON body; nothing else ever does."""

    # The human ``message`` is said in the caller's language (server.language); the code,
    # the fields and every other key stay as they are.
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status >= 500:  # for the error record (usage.UsageMiddleware)
            request.state.api_error = (f"{type(exc).__name__}:{exc.code}", exc.message)
        said = localise(exc.message, request_language(request))
        extra = _with_fields(exc.message, exc.extra, said) if exc.status == 422 else exc.extra
        return error_response(exc.status, exc.code, said, exc.headers, **extra)

    @app.exception_handler(AccessDenied)
    async def _tier(request: Request, exc: AccessDenied) -> JSONResponse:
        need = exc.required.value if exc.required else None
        said = localise(exc.message, request_language(request))
        return error_response(403, "tier_forbidden", said, required_tier=need)

    @app.exception_handler(UnknownSymbol)
    async def _symbol(request: Request, exc: UnknownSymbol) -> JSONResponse:
        return error_response(404, "unknown_symbol", _said(request, exc))

    @app.exception_handler(TimeframeError)
    async def _timeframe(request: Request, exc: TimeframeError) -> JSONResponse:
        said = _said(request, exc)
        extra = _with_fields(str(exc), {"field": "timeframe"}, said)
        return error_response(422, "invalid_timeframe", said, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid input", "type": ""}
        if first.get("type") == "json_invalid":
            said = localise(_("The request body is not valid JSON."), lang)
            return error_response(400, "malformed_json", said)
        field = _field(first.get("loc", ()))
        msg = _validation_message(first, lang)
        fields = [
            {"field": _field(e.get("loc", ())), "message": _validation_message(e, lang, raw=True)}
            for e in errors
        ]
        return error_response(422, "invalid_input", f"{field}: {msg}", field=field, fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else _("Request refused.")
        if exc.status_code == 404 and message == "Not Found":
            message = _("There is no such endpoint; see /api/openapi.json.")
        if exc.status_code == 405:
            message = _("This endpoint does not accept that method.")
        said = localise(message, request_language(request))
        return error_response(exc.status_code, code, said, dict(exc.headers or {}))

    def _busy(request: Request, why: str) -> JSONResponse:
        # no connection free in time, or SQLite's write lock held past its busy timeout: a
        # burst, not a fault; the client retries shortly (the CLI and daemon honour
        # Retry-After like a 429's)
        request.state.api_error = (f"{why}:database_busy", "the database was busy")
        return error_response(
            503,
            "database_busy",
            localise(
                _("The server is busy; try again in a few seconds."), request_language(request)
            ),
            {"Retry-After": str(POOL_RETRY_AFTER)},
        )

    @app.exception_handler(PoolTimeout)
    async def _pool(request: Request, _: PoolTimeout) -> JSONResponse:
        return _busy(request, "PoolTimeout")

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        # SQLite answers "database is locked" when another connection's write outlasts
        # the busy timeout, or at once when a read transaction must become a write after
        # another commit (WAL's stale snapshot): both are the busy case
        if "database is locked" in str(exc.orig):
            return _busy(request, "SQLiteLocked")
        # any other: a fault, raised on to the usage middleware, which records it with its
        # type (admin errors) and answers the 500
        raise exc

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error (request %s)", request_id.get())
        message = _(
            "Something went wrong on the server; it has been logged. Quote the request id "
            "if you contact support."
        )
        return error_response(500, "internal_error", localise(message, request_language(request)))


def sentence_of(exc: BaseException) -> str:
    """An exception's sentence to pass on in a refusal: its :class:`Text` when it was raised
    with one (so the reader still hears it in their language), else ``str(exc)``."""
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, Text) else str(exc)


def _said(request: Request, exc: Exception) -> str:
    """An exception's sentence (a :class:`Text` when it was marked) in the caller's language."""
    return localise(sentence_of(exc), request_language(request))


def _validation_message(error: Any, language: str, *, raw: bool = False) -> str:
    """One validation error's sentence in the caller's language (server.language's
    ``validation_text``); English as pydantic says it (``raw``: with its ``Value error, ``)."""
    if language != DEFAULT_LANGUAGE:
        return localise(validation_text(error), language)
    msg = str(error.get("msg", "invalid"))
    return msg if raw else msg.removeprefix("Value error, ")


def request_id_for(incoming: bytes) -> str:
    """A request's id: the client's X-Request-ID (the last one sent) when it is 1 to 64
    printable characters, else a new one. One rule for every path that answers (this
    middleware and the indicators fast path in front of it)."""
    text = incoming.decode("latin-1")
    # 128 random bits like uuid4's hex, at a third of the cost (every request pays it)
    return text if 0 < len(text) <= 64 and text.isprintable() else os.urandom(16).hex()


class HttpMiddleware:
    """An ASGI middleware of HTTP requests: anything else (lifespan) passes through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (``scope["type"] == "http"``)."""
        raise NotImplementedError


class RequestIdMiddleware(HttpMiddleware):
    """Takes X-Request-ID (or makes one), puts it in logs and error bodies, returns it."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = request_id_for(dict(scope.get("headers", [])).get(b"x-request-id", b""))
        token = request_id.set(rid)
        # the reader's language, looked up when prose is written (it is the caller's own
        # once the auth dependency has loaded them: server.language)
        scope.setdefault("state", {})
        set_reader(lambda: scope_language(scope))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True
