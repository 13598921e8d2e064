"""The client's logic, written once and free of I/O: each API call is a generator that yields
the requests to send and receives their responses. The sync and async clients in ``api.py``
only drive it (``send`` or ``await send``), so refresh, retry, error decoding and rate-limit
bookkeeping are the same for the CLI, the TUI and the daemon.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from tradealerts.client.credentials import Credentials, CredentialStore
from tradealerts.client.errors import NotLoggedIn, api_error
from tradealerts.client.lang import _, language

if TYPE_CHECKING:
    from tradealerts.core.schemas import TokenPair

__all__ = ["Call", "Flow", "RateLimit", "RequestSpec", "Session"]

T = TypeVar("T")

#: Refresh this long before the access token expires, so a request never carries a dead one.
REFRESH_MARGIN = timedelta(seconds=30)
LOGIN_HINT = "run: tradealerts login"
PREFERENCES_PATH = "/api/user/preferences"


def _not_logged_in(base_url: str) -> NotLoggedIn:
    return NotLoggedIn(
        _("You are not logged in on {server}: run: tradealerts login").format(server=base_url)
    )


@dataclass(frozen=True)
class RequestSpec:
    """What to send: the arguments of ``httpx.Client.build_request``."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: seconds to wait for the answer (None: the client's default)
    read_timeout: float | None = None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One endpoint call: the request, whether it needs a token, and how to read the answer.

    ``headers`` are the call's own request headers (``If-None-Match``, …); the session adds
    ``Authorization``. ``parse`` also reads a 304 (a conditional call decides what it means).
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    auth: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    #: seconds to wait for the answer, for a call the server may take long over (a
    #: backtest); None: the client's default
    read_timeout: float | None = None


@dataclass(frozen=True)
class RateLimit:
    """The ``X-RateLimit-*`` headers of the last counted answer."""

    limit: int
    remaining: int
    reset: int  # epoch seconds

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        try:
            return cls(
                int(headers["X-RateLimit-Limit"]),
                int(headers["X-RateLimit-Remaining"]),
                int(headers["X-RateLimit-Reset"]),
            )
        except (KeyError, ValueError):
            return None


Flow = Generator[RequestSpec, httpx.Response, T]


class Session:
    """The tokens of one server: loaded lazily from the store, refreshed when due."""

    def __init__(self, base_url: str, store: CredentialStore, clock: Callable[[], datetime]):
        self.base_url = base_url
        self.store = store
        self.clock = clock
        self._creds: Credentials | None = None
        self._loaded = False
        self.rate_limit: RateLimit | None = None
        #: the ``X-TradeAlerts-Notice`` ids seen in answers (the owner's current notices;
        #: the CLI's cue to show one, see ``client.notices``)
        self.notice_ids: frozenset[int] = frozenset()

    @property
    def credentials(self) -> Credentials | None:
        if not self._loaded:
            self._creds, self._loaded = self.store.load(), True
        return self._creds

    def accept(self, email: str, pair: TokenPair) -> Credentials:
        """Keep a fresh token pair (login or refresh) in memory and in the store."""
        self._creds = Credentials(
            email=email,
            access_token=pair.access_token,
            access_expires=pair.expires_at,
            refresh_token=pair.refresh_token,
            refresh_expires=pair.refresh_expires_at,
        )
        self._loaded = True
        self.store.save(self._creds)
        return self._creds

    def forget(self) -> None:
        """Drop every copy of the current login (local only; ``logout`` also revokes)."""
        creds = self.credentials
        if creds is not None and not creds.from_env:
            self.store.clear(creds.email)
        self._creds, self._loaded = None, True

    def _due(self, creds: Credentials) -> bool:
        if creds.from_env or creds.refresh_token is None:
            return False
        if not creds.access_token or creds.access_expires is None:
            return True
        return creds.access_expires - REFRESH_MARGIN <= self.clock().astimezone(UTC)

    # -- flows -------------------------------------------------------------------------
    def refresh(self) -> Flow[Credentials]:
        """Swap the refresh token for a new pair; a refusal means "not logged in".

        Under the store's lock. When another process (the CLI, the daemon, the TUI share one
        login) swapped it meanwhile, its fresh pair is taken from the store, or, if that is
        due too, its refresh token is the one swapped: ours is spent, and the server would
        take it coming back for theft and end the session.
        """
        creds = self.credentials
        if creds is None or not creds.refresh_token:
            raise _not_logged_in(self.base_url)
        with self.store.refresh_lock():
            stored = self.store.load()
            if (
                stored is not None
                and stored.email == creds.email
                and stored.refresh_token not in (None, creds.refresh_token)
            ):
                self._creds = creds = stored
                if not self._due(stored):
                    return stored
            response = yield RequestSpec(
                "POST", "/api/auth/refresh", json={"refresh_token": creds.refresh_token}
            )
            if response.status_code in (400, 401, 422):
                self.forget()
                raise NotLoggedIn(
                    _("Your session on {server} has ended: run: tradealerts login").format(
                        server=self.base_url
                    )
                )
            if response.status_code >= 400:
                raise api_error(response)
            from tradealerts.core.schemas import TokenPair

            pair = TokenPair.model_validate_json(response.content)
            return self.accept(creds.email or "", pair)

    def authorization(self) -> Flow[dict[str, str]]:
        """The Authorization header, refreshing first when the access token is (nearly) dead."""
        creds = self.credentials
        if creds is None:
            raise _not_logged_in(self.base_url)
        if self._due(creds):
            creds = yield from self.refresh()
        return {"Authorization": f"Bearer {creds.access_token}"}

    def run(self, call: Call[T]) -> Flow[T]:
        """Send ``call``; on a 401 refresh once and resend; decode the answer or raise."""
        # the server answers in the person's language (an error's message before login too)
        headers = {
            "Accept-Language": language(),
            **call.headers,
            **((yield from self.authorization()) if call.auth else {}),
        }
        spec = RequestSpec(
            call.method, call.path, call.params, call.json, headers, call.read_timeout
        )
        response = yield spec
        creds = self.credentials
        if (
            response.status_code == 401
            and call.auth
            and creds is not None
            and creds.refresh_token is not None
        ):
            yield from self.refresh()
            headers = {
                "Accept-Language": language(),
                **call.headers,
                **(yield from self.authorization()),
            }
            response = yield RequestSpec(
                call.method, call.path, call.params, call.json, headers, call.read_timeout
            )
        limit = RateLimit.from_headers(response.headers)
        if limit is not None:
            self.rate_limit = limit
        notice = response.headers.get("X-TradeAlerts-Notice")
        if notice:
            self.notice_ids |= {int(x) for x in notice.split(",") if x.strip().isdigit()}
        if response.status_code >= 400:
            error = api_error(response)
            if response.status_code == 401 and call.auth:
                if creds is not None and creds.from_env:
                    error.message += " " + _("(the token came from TRADEALERTS_TOKEN)")
                else:
                    error.message += " " + _("run: tradealerts login")
            raise error
        result = call.parse(response)
        if call.path == PREFERENCES_PATH:
            self._remember_language(result)
        return result

    def _remember_language(self, preferences: Any) -> None:
        """Every preferences answer refreshes the cached ``language`` (``client.lang``): the
        next command, the TUI and the daemon start in the user's language."""
        from tradealerts.client.lang import remember_language

        # a read-only home: the language is a courtesy, never a failure
        with contextlib.suppress(OSError):
            remember_language(
                self.base_url, getattr(preferences, "language", None), self.store.config
            )
