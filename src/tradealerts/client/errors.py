"""The client's errors, classified by what the person should do next.

    ClientError(message, exit_code)          root; the CLI prints ``message`` and exits
    ├── ApiError(status, code, ...)          the server refused: its error body, decoded
    ├── Unreachable                          connection refused, timeout, TLS, DNS
    └── NotLoggedIn                          no credentials here, or the session ended

Exit codes are DESIGN.md's: 0 ok, 1 error, 2 usage, 3 not logged in, 4 tier forbids,
5 rate limited.
"""

from __future__ import annotations

from typing import Any

import httpx

from tradealerts.client.lang import _

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_LOGGED_IN",
    "EXIT_OK",
    "EXIT_RATE_LIMITED",
    "EXIT_TIER",
    "EXIT_USAGE",
    "ApiError",
    "ClientError",
    "NotLoggedIn",
    "Unreachable",
    "api_error",
    "unreachable",
]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_LOGGED_IN, EXIT_TIER, EXIT_RATE_LIMITED = range(6)

_TIER_CODES = frozenset({"tier_forbidden", "tier_required", "alert_limit", "watchlist_full"})


class ClientError(Exception):
    """Anything the client reports to a person: one sentence and an exit code."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotLoggedIn(ClientError):
    """No usable credentials: log in (again)."""

    exit_code = EXIT_NOT_LOGGED_IN


class Unreachable(ClientError):
    """The server could not be reached or did not answer in time."""


class ApiError(ClientError):
    """The server's error body ``{"error": {"code", "message", ...}}`` with its status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.extra = extra or {}
        detail = f"HTTP {status} {code}"
        if self.extra.get("request_id"):
            detail += f" (request id {self.extra['request_id']})"
        super().__init__(message, detail=detail)
        self.exit_code = self._exit_code()

    @property
    def required_tier(self) -> str | None:
        tier = self.extra.get("required_tier")
        return tier if isinstance(tier, str) else None

    def _exit_code(self) -> int:
        if self.status == 401:
            return EXIT_NOT_LOGGED_IN
        if self.status == 403 and (self.code in _TIER_CODES or self.required_tier):
            return EXIT_TIER
        if self.status == 429:
            return EXIT_RATE_LIMITED
        return EXIT_ERROR


def _retry_after(response: httpx.Response) -> int | None:
    value = response.headers.get("Retry-After", "").strip()
    return int(value) if value.isdigit() else None


def api_error(response: httpx.Response) -> ApiError:
    """Decode an error answer; a body that is not ours still gives one clear line."""
    retry = _retry_after(response)
    try:
        body = response.json()
        err = body["error"]
        code, message = str(err["code"]), str(err["message"])
        extra = {k: v for k, v in err.items() if k not in ("code", "message")}
    except (ValueError, KeyError, TypeError):
        status = response.status_code
        code, extra = f"http_{status}", {}
        if status >= 500:
            message = _(
                "The server answered with a server error (HTTP {status}); try again later."
            ).format(status=status)
        else:
            message = _(
                "The server answered with an unexpected answer (HTTP {status}); try again later."
            ).format(status=status)
    if response.status_code == 429 and retry is not None and "try again" not in message:
        message = f"{message} " + _("Try again in {seconds} s.").format(seconds=retry)
    return ApiError(response.status_code, code, message, retry_after=retry, extra=extra)


def unreachable(exc: httpx.TransportError, url: str) -> Unreachable:
    """One sentence for a transport failure: refused, timeout, TLS or name resolution."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        why = _("it did not answer in time")
    elif "CERTIFICATE" in text.upper() or "SSL" in text.upper() or "TLS" in text.upper():
        why = _("the TLS handshake failed ({reason})").format(reason=text)
    elif isinstance(exc, httpx.ConnectError):
        why = _("the connection was refused or the host is unknown")
    else:
        why = _("the connection failed ({reason})").format(reason=type(exc).__name__)
    return Unreachable(
        _(
            "Cannot reach the server at {url}: {why}. Is it running? Use --server or "
            "TRADEALERTS_SERVER to pick another."
        ).format(url=url, why=why),
        detail=f"{type(exc).__name__}: {text}",
    )
