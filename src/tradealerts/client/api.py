"""The API client: ``Client`` (sync, for the CLI) and ``AsyncClient`` (TUI, daemon).

Both drive the same flows (``_flow.Session.run``): they differ only in how a request is sent.

    with Client.from_env() as c:
        me = c.run(endpoints.me())
        for event in c.events(["EURUSD:H1"]):
            ...
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from tradealerts import __version__
from tradealerts.client._flow import Call, Flow, RateLimit, RequestSpec, Session
from tradealerts.client.config import server_url
from tradealerts.client.credentials import Credentials, CredentialStore
from tradealerts.client.endpoints import login, logout, preferences
from tradealerts.client.errors import ClientError, NotLoggedIn, api_error, unreachable

__all__ = ["AsyncClient", "Client", "Event"]

T = TypeVar("T")
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class Event:
    """One Server-Sent Event: ``event`` name, ``data`` (decoded JSON), ``id`` and the
    ``retry:`` (ms) it carried, if any (a ``reconnect`` inside a maintenance window)."""

    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, event: str, data: Any, id: str | None, retry: int | None = None) -> None:
        self.event, self.data, self.id, self.retry = event, data, id, retry

    def __repr__(self) -> str:
        return f"Event({self.event!r}, {self.data!r}, id={self.id!r})"


def _decode(event: str, data: str, event_id: str | None, retry: int | None = None) -> Event:
    try:
        payload: Any = json.loads(data) if data else None
    except ValueError:
        payload = data
    return Event(event or "message", payload, event_id or None, retry)


def _stream_params(symbols: Sequence[str]) -> dict[str, str]:
    return {"symbols": ",".join(symbols)} if symbols else {}


def _timeout(spec: RequestSpec) -> dict[str, Any]:
    """``build_request``'s timeout for a call that waits longer than the default."""
    if spec.read_timeout is None:
        return {}
    return {"timeout": httpx.Timeout(TIMEOUT.connect or 5.0, read=spec.read_timeout)}


def _verify(base_url: str) -> ssl.SSLContext | bool:
    """httpx's ``verify`` for a server: its default (certifi's bundle) for ``https://``.

    Every request goes to ``base_url`` and redirects are not followed, so a plain ``http://``
    server never needs TLS: it gets a context that trusts no CA (any TLS would fail closed),
    which spares a short-lived command loading the bundle.
    """
    if base_url.lower().startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Base:
    def __init__(
        self,
        server: str | None = None,
        *,
        store: CredentialStore | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.base_url = server_url(server)
        self.session = Session(
            self.base_url,
            store or CredentialStore(self.base_url),
            clock or (lambda: datetime.now(UTC)),
        )
        # what both transports are built with (httpx.Client / httpx.AsyncClient)
        self._http_options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": TIMEOUT,
            "headers": {"User-Agent": f"tradealerts/{__version__}"},
            "verify": _verify(self.base_url),
        }

    @property
    def rate_limit(self) -> RateLimit | None:
        """The ``X-RateLimit-*`` figures of the last counted answer."""
        return self.session.rate_limit

    @property
    def credentials(self) -> Credentials | None:
        return self.session.credentials

    def _login_flow(
        self, email: str, password: str, remember: bool, otp: str | None
    ) -> Flow[Credentials]:
        pair = yield from self.session.run(login(email, password, remember, otp))
        creds = self.session.accept(email.strip().lower(), pair)
        # caches the user's language (Session.run): the next start speaks it; a courtesy,
        # never the reason a login fails
        with contextlib.suppress(ClientError):
            yield from self.session.run(preferences())
        return creds

    def _logout_flow(self) -> Flow[bool]:
        """Revoke on the server (best effort: local copies go whatever it answers)."""
        creds = self.session.credentials
        revoked = False
        try:
            if creds is not None and creds.refresh_token:
                yield from self.session.run(logout(creds.refresh_token))
                revoked = True
        finally:
            self.session.forget()
        return revoked


class Client(_Base):
    """Synchronous client over ``httpx.Client``."""

    def __init__(self, server: str | None = None, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._http = httpx.Client(**self._http_options)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, spec: RequestSpec) -> httpx.Response:
        request = self._http.build_request(
            spec.method, spec.url, params=spec.params, json=spec.json, headers=dict(spec.headers),
            **_timeout(spec),
        )  # fmt: skip
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            raise unreachable(exc, self.base_url) from exc

    def _drive(self, flow: Flow[T]) -> T:
        try:
            spec = next(flow)
            while True:
                spec = flow.send(self._send(spec))
        except StopIteration as done:
            result: T = done.value
            return result

    def run(self, call: Call[T]) -> T:
        """Send one endpoint call (refreshing the token if needed) and return its answer."""
        return self._drive(self.session.run(call))

    def login(
        self, email: str, password: str, *, remember: bool = False, otp: str | None = None
    ) -> Credentials:
        return self._drive(self._login_flow(email, password, remember, otp))

    def logout(self) -> bool:
        return self._drive(self._logout_flow())

    def events(
        self, symbols: Sequence[str] = (), last_event_id: str | None = None
    ) -> Iterator[Event]:
        """The stream's events; reconnects with a fresh token on ``reauth``."""
        from httpx_sse import connect_sse

        refreshed = False
        while True:
            headers = self._drive(self.session.authorization())
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                with connect_sse(
                    self._http,
                    "GET",
                    "/api/stream",
                    params=_stream_params(symbols),
                    headers=headers,
                    timeout=httpx.Timeout(15.0, read=60.0),
                ) as source:
                    response = source.response
                    if response.status_code == 401 and not refreshed:
                        refreshed = True
                        self._drive(self.session.refresh())
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise api_error(response)
                    refreshed = False
                    for sse in source.iter_sse():
                        if not sse.data:
                            continue  # a retry: frame alone
                        ev = _decode(sse.event, sse.data, sse.id, sse.retry)
                        if ev.id:
                            last_event_id = ev.id
                        if ev.event == "reauth":
                            self._drive(self.session.refresh())
                            break
                        yield ev
                    else:
                        return
            except httpx.TransportError as exc:
                raise unreachable(exc, self.base_url) from exc


class AsyncClient(_Base):
    """Asynchronous client over ``httpx.AsyncClient``: the same flows, awaited."""

    def __init__(self, server: str | None = None, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._http = httpx.AsyncClient(**self._http_options)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, spec: RequestSpec) -> httpx.Response:
        request = self._http.build_request(
            spec.method, spec.url, params=spec.params, json=spec.json, headers=dict(spec.headers),
            **_timeout(spec),
        )  # fmt: skip
        try:
            return await self._http.send(request)
        except httpx.TransportError as exc:
            raise unreachable(exc, self.base_url) from exc

    async def _drive(self, flow: Flow[T]) -> T:
        try:
            spec = next(flow)
            while True:
                spec = flow.send(await self._send(spec))
        except StopIteration as done:
            result: T = done.value
            return result

    async def run(self, call: Call[T]) -> T:
        return await self._drive(self.session.run(call))

    async def login(
        self, email: str, password: str, *, remember: bool = False, otp: str | None = None
    ) -> Credentials:
        return await self._drive(self._login_flow(email, password, remember, otp))

    async def logout(self) -> bool:
        return await self._drive(self._logout_flow())

    async def events(
        self,
        symbols: Sequence[str] = (),
        last_event_id: str | None = None,
        *,
        read_timeout: float = 60.0,
        on_retry: Callable[[int], None] | None = None,
    ) -> AsyncIterator[Event]:
        """The stream's events; reconnects with a fresh token on ``reauth``.

        ``read_timeout``: seconds without a byte (heartbeats included) before the connection
        counts as dead (``Unreachable``); ``on_retry`` receives the server's ``retry:`` (ms).
        """
        from httpx_sse import aconnect_sse

        refreshed = False
        while True:
            headers = await self._drive(self.session.authorization())
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            reconnect = False
            try:
                async with aconnect_sse(
                    self._http,
                    "GET",
                    "/api/stream",
                    params=_stream_params(symbols),
                    headers=headers,
                    timeout=httpx.Timeout(15.0, read=read_timeout),
                ) as source:
                    response = source.response
                    if response.status_code == 401 and not refreshed:
                        refreshed = True
                        await self._drive(self.session.refresh())
                        continue
                    if response.status_code >= 400:
                        await response.aread()
                        raise api_error(response)
                    refreshed = False
                    async for sse in source.aiter_sse():
                        if not sse.data:
                            # a retry: frame alone: the first of every connection
                            if sse.retry is not None and on_retry is not None:
                                on_retry(sse.retry)
                            continue
                        # a retry: inside a frame (reconnect, maintenance) rides the event
                        ev = _decode(sse.event, sse.data, sse.id, sse.retry)
                        if ev.id:
                            last_event_id = ev.id
                        if ev.event == "reauth":
                            await self._drive(self.session.refresh())
                            reconnect = True
                            break
                        yield ev
            except httpx.TransportError as exc:
                raise unreachable(exc, self.base_url) from exc
            if not reconnect:
                return


def require_login(client: Client | AsyncClient) -> Credentials:
    """The current credentials, or NotLoggedIn with the hint to log in."""
    creds = client.credentials
    if creds is None:
        from tradealerts.client.lang import _

        raise NotLoggedIn(
            _("You are not logged in on {server}: run: tradealerts login").format(
                server=client.base_url
            )
        )
    return creds
