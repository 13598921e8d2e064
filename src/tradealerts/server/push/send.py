"""One push through Apprise: in a bounded thread pool, under a whole-call deadline, every
name the plugin resolves checked and pinned by the webhook SSRF guard.

Apprise sends synchronously (``requests``, or a service's own client), so each push runs in
a worker thread of a pool of ``push_threads``. Inside that thread, ``socket.getaddrinfo``
answers through the guard: the name is resolved once by the guard, every address must be
public (or on the owner's allow-list), and the plugin gets only the checked address (as a
numeric host: no second lookup), so it connects where the guard looked, whatever the
service (ntfy, Gotify, ``json://``, Telegram's fixed API host alike). Other threads resolve
as before. A refusal is remembered and reported ("…: not called"), never retried.

The caller waits at most ``push_deadline_seconds``; then the push's connections (every
socket urllib3 opened in its thread, tracked) are shut, so a receiver that drips a byte at a
time or never answers frees the thread at the deadline; Apprise's own socket timeouts are
clipped to it too. The sender keeps its owner's slot until the thread is free, so a hostile
receiver can hold only its own owner's slots (``sender.py``).

Apprise (``requests``) reads a service's whole answer into memory, so each answer is capped
where every HTTP client of the standard library reads it: ``socket.SocketIO.readinto`` (what
``sock.makefile("rb")`` reads through, plain or TLS alike) counts, in a push's thread, the
bytes of each answer (status line, headers, body, chunk framing) and never reads past
``cap_bytes`` (the webhooks' ``webhook_response_cap_bytes``): one byte more and the
connection is shut and the push has failed (``too_large``, retried like a receiver's fault).

Nothing Apprise logs reaches our log (it quotes URLs): its warnings are captured per thread
(``core.push.apprise_log``) and, with every piece of the URL that is a secret replaced by its
mask, become the delivery's ``last_error``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from tradealerts import __version__
from tradealerts.core.push import apprise_log, describe_url, mask_rest
from tradealerts.server.alerts.guard import WebhookGuard, WebhookRefused

__all__ = ["RESPONSE_CAP", "AnswerTooLarge", "PushResult", "Pusher", "scrub"]

#: the most of one answer a push reads (the webhooks' default cap)
RESPONSE_CAP = 65536

_local = threading.local()
_install_lock = threading.Lock()
_original_getaddrinfo = socket.getaddrinfo
_original_readinto = socket.SocketIO.readinto
_PIECES = re.compile(r"[^/:@?&=#]{4,}")


@dataclass
class _Pin:
    """One push's thread state: its guard, a refusal, the sockets it opened (shut at the
    deadline, so a receiver dripping a byte at a time cannot hold the thread), and the cap
    on each answer it reads (so a receiver's flood never reaches memory)."""

    guard: WebhookGuard
    cap: int = RESPONSE_CAP
    refused: str | None = None
    sockets: list[socket.socket] = field(default_factory=list)
    aborted: bool = False
    too_large: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def track(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.append(sock)
            if not self.aborted:
                return
        _shut(sock)

    def abort(self) -> None:
        with self.lock:
            self.aborted = True
            sockets = list(self.sockets)
        for sock in sockets:
            _shut(sock)

    def read(self, io: Any, buffer: Any) -> int | None:
        """``SocketIO.readinto`` for one answer of this push: never past the cap."""
        seen: int = io.__dict__.get("_tradealerts_seen", 0)
        view = memoryview(buffer).cast("B")
        room = self.cap + 1 - seen  # one byte over the cap tells "too large" from "just fits"
        n = _original_readinto(io, view[:room] if len(view) > room else view)
        if n:
            seen += n
            io._tradealerts_seen = seen
        if seen > self.cap:
            self.too_large = True
            _shut(io._sock)
            raise AnswerTooLarge(f"the answer passed {self.cap} bytes")
        return n


class AnswerTooLarge(ConnectionError):
    """A service's answer passed the cap (a ``ConnectionError``: the HTTP stack under
    Apprise takes it for a broken connection, and Apprise for a failed send)."""


def _readinto(io: Any, buffer: Any) -> int | None:
    """``socket.SocketIO.readinto``; in a push's thread, counted and capped."""
    pin: _Pin | None = getattr(_local, "pin", None)
    if pin is None:
        return _original_readinto(io, buffer)
    return pin.read(io, buffer)


def _shut(sock: socket.socket) -> None:
    """End a connection from another thread: its blocked read returns at once."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _guarded_getaddrinfo(
    host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
) -> Any:
    """``socket.getaddrinfo``; in a push's thread, through the SSRF guard (pinned)."""
    pin: _Pin | None = getattr(_local, "pin", None)
    if pin is None or host is None:
        return _original_getaddrinfo(host, port, family, type, proto, flags)
    name = host.decode() if isinstance(host, bytes) else str(host)
    number = int(port) if isinstance(port, int) or (isinstance(port, str) and port.isdigit()) else 0
    _local.pin = None  # the guard's own resolver reaches the system's
    try:
        address = pin.guard.address_for(name, number)
    except WebhookRefused as exc:
        pin.refused = pin.refused or str(exc)
        raise socket.gaierror(socket.EAI_NONAME, "refused by the SSRF guard") from None
    finally:
        _local.pin = pin
    return _original_getaddrinfo(address, port, family, type, proto, flags | socket.AI_NUMERICHOST)


def _install() -> None:
    import urllib3.util.connection as connection

    with _install_lock:
        if socket.getaddrinfo is not _guarded_getaddrinfo:
            socket.getaddrinfo = _guarded_getaddrinfo
        if socket.SocketIO.readinto is not _readinto:
            socket.SocketIO.readinto = _readinto  # type: ignore[method-assign,assignment]
        if not getattr(connection.create_connection, "_tradealerts", False):
            original = connection.create_connection

            def tracked(*args: Any, **kwargs: Any) -> socket.socket:
                sock = original(*args, **kwargs)
                pin: _Pin | None = getattr(_local, "pin", None)
                if pin is not None:  # a push's connection: shut at its deadline
                    pin.track(sock)
                return sock

            tracked._tradealerts = True  # type: ignore[attr-defined]
            connection.create_connection = tracked


def scrub(text: str, url: str) -> str:
    """``text`` with every piece of ``url`` that its mask hides replaced by its mask."""
    try:
        info = describe_url(url)
        shown = {info.host or "", info.service}
    except ValueError:
        shown = set()
    scheme = url.split("://", 1)[0]
    for piece in sorted(set(_PIECES.findall(url)), key=len, reverse=True):
        if piece in shown or piece == scheme:
            continue
        text = text.replace(piece, mask_rest(piece))
    return text


@dataclass(frozen=True)
class PushResult:
    """How one push went: sent, or why not (``refused``: the guard said no, not called)."""

    sent: bool
    error: str | None = None
    refused: bool = False
    timed_out: bool = False
    too_large: bool = False

    @property
    def outcome(self) -> str:
        """One word for metrics: sent, refused, timed_out, too_large or failed."""
        if self.sent:
            return "sent"
        if self.refused:
            return "refused"
        if self.timed_out:
            return "timed_out"
        return "too_large" if self.too_large else "failed"


class Pusher:
    """Sends pushes in a bounded thread pool; ``send`` returns within the deadline."""

    def __init__(
        self,
        guard: WebhookGuard,
        threads: int,
        deadline_seconds: float,
        cap_bytes: int = RESPONSE_CAP,
    ) -> None:
        _install()
        self.guard = guard
        self.deadline = deadline_seconds
        self.cap = max(cap_bytes, 1)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max(threads, 1), thread_name_prefix="tradealerts-push"
        )
        self._lock = threading.Lock()
        self._pins: dict[concurrent.futures.Future[PushResult], _Pin] = {}

    def submit(self, url: str, title: str, body: str) -> concurrent.futures.Future[PushResult]:
        """Start one push in the pool (its future ends when the thread is free again)."""
        pin = _Pin(self.guard, self.cap)
        future = self._pool.submit(self._send, url, title, body, pin)
        with self._lock:
            self._pins[future] = pin
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: concurrent.futures.Future[PushResult]) -> None:
        with self._lock:
            self._pins.pop(future, None)

    def abort(self, future: concurrent.futures.Future[PushResult]) -> None:
        """Cut the push's connections (its deadline passed): the thread is freed."""
        with self._lock:
            pin = self._pins.get(future)
        if pin is not None:
            pin.abort()

    async def wait(self, future: concurrent.futures.Future[PushResult]) -> PushResult:
        """The push's result, or a timed-out one at the deadline (its connections cut)."""
        try:
            waiting = asyncio.shield(asyncio.wrap_future(future))
            return await asyncio.wait_for(waiting, self.deadline)
        except TimeoutError:
            self.abort(future)
            late = f"no answer within {self.deadline:g} s (the whole call's deadline)"
            return PushResult(False, late, timed_out=True)

    def result(self, future: concurrent.futures.Future[PushResult]) -> PushResult:
        """``wait`` for a caller in a thread (a route)."""
        try:
            return future.result(timeout=self.deadline)
        except concurrent.futures.TimeoutError:
            self.abort(future)
            return PushResult(False, f"no answer within {self.deadline:g} s", timed_out=True)

    async def send(self, url: str, title: str, body: str) -> PushResult:
        """One push, now (``channels test``)."""
        return await self.wait(self.submit(url, title, body))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, url: str, title: str, body: str, pin: _Pin) -> PushResult:
        import apprise

        with apprise_log() as said:
            plugin: Any = apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)
            if not plugin:
                return PushResult(False, "Apprise cannot read the channel's URL", refused=True)
            # Apprise's per-phase timeouts, within the whole call's deadline
            for attr in ("socket_connect_timeout", "socket_read_timeout"):
                current = getattr(plugin, attr, None)
                if isinstance(current, int | float):
                    setattr(plugin, attr, min(float(current), self.deadline))
            _local.pin = pin
            try:
                ok = bool(plugin.notify(body=body, title=title))
            except Exception:
                if not (pin.too_large or pin.aborted):
                    raise  # a plug-in's own bug: the sender quarantines it
                ok = False  # we cut it: a plug-in that lets that through still failed
            finally:
                _local.pin = None
        if pin.refused is not None:
            return PushResult(False, f"{pin.refused}: not called", refused=True)
        if pin.too_large:
            return PushResult(
                False, f"the answer passed {_size(self.cap)}: cut off", too_large=True
            )
        if ok:
            return PushResult(True)
        reason = said[-1] if said else "the service did not take the push"
        return PushResult(False, scrub(reason, url)[:500])


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} bytes"


_assets: list[Any] = []


def _asset() -> Any:
    """Apprise's asset: our name as the sender (made once, read-only afterwards)."""
    if not _assets:
        import apprise

        _assets.append(
            apprise.AppriseAsset(app_id="tradealerts", app_desc=f"tradealerts {__version__}")
        )
    return _assets[0]
