"""Hostile webhook receivers on loopback, for tests and benchmarks: each a real TCP server
speaking just enough HTTP/1.1 to hurt a careless client.

- ``BadRetryAfter``: answers 503 with ``Retry-After: \\xb2`` (a raw byte that ``str.isdigit``
  takes for a digit and ``int`` refuses);
- ``SlowDrip``: drips its answer, status line included, one byte every ``interval`` seconds,
  forever (a per-read timeout never trips);
- ``HugeBody``: answers 200 with a body of ``size`` bytes (200 MiB by default), written from
  one reused chunk, never held whole;
- ``NeverAnswers``: reads the request, then says nothing until the client hangs up.

Each counts the requests it read, the connections open now and the most open at once (what a
per-destination limit bounds). ``Hostile`` starts the four together. No pytest here: the
benchmarks use it too.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

__all__ = [
    "BadRetryAfter",
    "Hostile",
    "HugeBody",
    "NeverAnswers",
    "Receiver",
    "SlowDrip",
    "peak_rss",
    "reset_peak_rss",
    "rss",
]

MiB = 1024 * 1024


def _read_request(conn: socket.socket) -> bytes | None:
    """One request (headers and a Content-Length body), or None when the client hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return body


class Receiver:
    """A loopback TCP server handing each connection to ``answer`` in a thread of its own;
    keep-alive: a connection's requests are answered until either side closes it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._sock = socket.create_server((host, 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://{host}:{self.port}/hook"
        self.requests = 0
        self.open = 0
        self.peak = 0
        self.closed = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self, conn: socket.socket) -> None:  # pragma: no cover - each kind's own
        raise NotImplementedError

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)
            self.open += 1
            self.peak = max(self.peak, self.open)
        try:
            while not self.closed.is_set():
                if _read_request(conn) is None:
                    return
                with self._lock:
                    self.requests += 1
                self.answer(conn)
        except OSError:
            pass  # the client cut us off: what a bounded client does
        finally:
            with self._lock:
                self._conns.discard(conn)
                self.open -= 1
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class BadRetryAfter(Receiver):
    """503 with a ``Retry-After`` of one raw byte, ``\\xb2`` (superscript two in Latin-1)."""

    def answer(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: \xb2\r\nContent-Length: 0\r\n\r\n"
        )


class SlowDrip(Receiver):
    """An endless answer, one byte every ``interval`` seconds from the status line on."""

    def __init__(self, interval: float = 3.0, **kw: Any) -> None:
        self.interval = interval
        super().__init__(**kw)

    def answer(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        i = 0
        while not self.closed.wait(self.interval):
            conn.sendall(head[i : i + 1] if i < len(head) else b"x")
            i += 1


class HugeBody(Receiver):
    """200 with a ``size``-byte body, written lazily from one reused 64 KiB chunk; ``sent``
    counts the bytes the client let through."""

    def __init__(self, size: int = 200 * MiB, **kw: Any) -> None:
        self.size = size
        self.sent = 0
        super().__init__(**kw)

    def answer(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.size)
        chunk = b"\0" * (64 * 1024)
        left = self.size
        while left > 0 and not self.closed.is_set():
            n = min(left, len(chunk))
            conn.sendall(chunk[:n])
            left -= n
            self.sent += n


class NeverAnswers(Receiver):
    """Reads the request, then waits for the client to hang up, saying nothing."""

    def answer(self, conn: socket.socket) -> None:
        while conn.recv(65536):
            pass
        raise OSError("the client hung up")


class Hostile:
    """The four hostile receivers at once (``drip_interval`` seconds between dripped bytes)."""

    def __init__(self, drip_interval: float = 3.0, huge: int = 200 * MiB) -> None:
        self.bad_retry_after = BadRetryAfter()
        self.drip = SlowDrip(drip_interval)
        self.huge = HugeBody(huge)
        self.never = NeverAnswers()

    @property
    def all(self) -> list[Receiver]:
        return [self.bad_retry_after, self.drip, self.huge, self.never]

    def close(self) -> None:
        for r in self.all:
            r.close()


def peak_rss(pid: int | str = "self") -> int:
    """The most resident memory ``pid`` has held (bytes), since start or the last reset."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc: not Linux?")


def rss(pid: int | str = "self") -> int:
    """The resident memory of ``pid`` now (bytes)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc: not Linux?")


def reset_peak_rss(pid: int | str = "self") -> None:
    """Start ``peak_rss`` afresh from the memory held now (Linux's ``clear_refs``, 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
