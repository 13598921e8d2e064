"""A TCP proxy on loopback that breaks connections on purpose, and a checker for what a
client received against what the server logged.

The proxy runs its own asyncio loop in a thread, between a client and a real server. Each new
connection takes the next ``Fault`` of a plan (or a function of the connection's number):

- ``cut_at=N``: forward N bytes of the server's answer, then close both sides (FIN);
- ``reset_at=N``: the same, but close with a TCP reset (RST) instead;
- ``blackhole_at=N``: forward N bytes, then forward nothing more and never close (the client's
  read timeout is the only way out);
- ``delay``: seconds to wait before forwarding each chunk of the answer.

``FaultProxy.slow_answers`` adds a delay to every answer chunk from then on, on the
connections already open too (a client's pooled connections): a server that turns slow
mid-test, after a quick set-up.

``PgCommitCut`` is the same proxy in front of PostgreSQL, reading the client's side of the wire
protocol: in a transaction whose statements name a marker (a table), it forwards the ``COMMIT``
and, when the server's answer comes (the commit is done), drops it and cuts both sides. The
client is left not knowing whether its transaction committed: the lost COMMIT.

The checker follows Jepsen's total-queue checker: what goes in must come out, once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Fault", "FaultProxy", "PgCommitCut", "Verdict", "check_history"]


@dataclass(frozen=True)
class Fault:
    """What happens to one connection (all None: forwarded untouched)."""

    cut_at: int | None = None
    reset_at: int | None = None
    blackhole_at: int | None = None
    delay: float = 0.0


Plan = Callable[[int], Fault]


class FaultProxy:
    """``127.0.0.1:port`` → ``127.0.0.1:target``, breaking connections as ``plan`` says."""

    def __init__(
        self, target_port: int, plan: Plan | Iterable[Fault] | None = None, *, port: int = 0
    ) -> None:
        """``port``: listen there (a proxy started again where a closed one was); 0: any."""
        self.target_port = target_port
        self.port = port
        self.connections = 0
        self.faults_applied: Counter[str] = Counter()
        #: seconds before forwarding each chunk of every answer, on every connection
        self.slow_answers = 0.0
        self._plan = self._as_plan(plan)
        self._base = 0  # the plan's connection 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @staticmethod
    def _as_plan(plan: Plan | Iterable[Fault] | None) -> Plan:
        if plan is None:
            return lambda _n: Fault()
        if callable(plan):
            return plan
        faults = list(plan)
        return lambda n: faults[n] if n < len(faults) else Fault()

    def set_plan(self, plan: Plan | Iterable[Fault] | None) -> None:
        """Faults for the connections opened from now on, counted from 0 again."""
        self._plan = self._as_plan(plan)
        self._base = self.connections

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port), self._loop
        ).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def close(self) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._writers):
                w.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        n = self.connections - self._base
        self.connections += 1
        fault = self._plan(n)
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            cwriter.close()
            return
        self._writers |= {cwriter, swriter}
        up = asyncio.create_task(self._pipe(creader, swriter, Fault()))
        down = asyncio.create_task(self._pipe(sreader, cwriter, fault, answers=True))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if down.done():
                kind = down.result()
                if kind:
                    self.faults_applied[kind] += 1
                if kind == "reset":
                    _reset(cwriter)
                elif kind == "blackhole":
                    await asyncio.sleep(3600)  # hold it open, silent, until closed
            else:
                # the client went away: the server sees it at once
                await asyncio.wait({down}, timeout=0.5)
        except asyncio.CancelledError:
            pass
        finally:
            for task in (up, down):
                task.cancel()
            for w in (cwriter, swriter):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        fault: Fault,
        *,
        answers: bool = False,
    ) -> str:
        """Copy until EOF or the fault's byte offset; returns the fault that ended it, if any."""
        limit = next(
            (x for x in (fault.cut_at, fault.reset_at, fault.blackhole_at) if x is not None), None
        )
        sent = 0
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return ""
                delay = fault.delay + (self.slow_answers if answers else 0.0)
                if delay:
                    await asyncio.sleep(delay)
                if limit is not None and sent + len(chunk) >= limit:
                    writer.write(chunk[: limit - sent])
                    with contextlib.suppress(ConnectionError):
                        await writer.drain()
                    if fault.cut_at is not None:
                        return "cut"
                    if fault.reset_at is not None:
                        return "reset"
                    return "blackhole"
                writer.write(chunk)
                sent += len(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            return ""


#: the codes of the untyped requests a PostgreSQL client may send before its startup message
_PG_SSL_REQUEST, _PG_GSSENC_REQUEST = 80877103, 80877104


class PgCommitCut(FaultProxy):
    """``127.0.0.1:port`` → PostgreSQL at ``127.0.0.1:target``; cuts the answers of the next
    ``arm(n)`` COMMITs of transactions whose statements contain ``marker``.

    The client must not encrypt (``sslmode=disable``, ``gssencmode=disable``): the proxy reads
    the protocol's messages, the simple (``Q``) and extended (``P``) query forms."""

    def __init__(self, target_port: int, marker: bytes) -> None:
        super().__init__(target_port)
        self.marker = marker
        self.cuts_left = 0
        self.cut = 0  # COMMITs that reached the server and whose answer was dropped

    def arm(self, n: int) -> None:
        self.cuts_left = n

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            cwriter.close()
            return
        self._writers |= {cwriter, swriter}
        committing = asyncio.Event()  # a marked COMMIT went to the server
        up = asyncio.create_task(self._client_side(creader, swriter, committing))
        down = asyncio.create_task(self._server_side(sreader, cwriter, committing))
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if not down.done():
                # a cut COMMIT: wait for its answer (the commit done) before cutting
                await asyncio.wait({down}, timeout=30 if committing.is_set() else 0.5)
        except asyncio.CancelledError:
            pass
        finally:
            for task in (up, down):
                task.cancel()
            for w in (cwriter, swriter):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _client_side(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, committing: asyncio.Event
    ) -> None:
        """Forward the client's messages one by one, noting a marked transaction's COMMIT."""
        marked = False
        untyped = True  # the startup message (and an SSL/GSS request before it) has no type
        try:
            while True:
                if untyped:
                    head = await reader.readexactly(4)
                    body = await reader.readexactly(struct.unpack("!I", head)[0] - 4)
                    code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
                    untyped = code in (_PG_SSL_REQUEST, _PG_GSSENC_REQUEST)
                    writer.write(head + body)
                    await writer.drain()
                    continue
                head = await reader.readexactly(5)
                body = await reader.readexactly(struct.unpack("!I", head[1:])[0] - 4)
                kind = head[:1]
                query = b""
                if kind == b"Q":
                    query = body.split(b"\0", 1)[0]
                elif kind == b"P":  # Parse: statement name, then the query
                    query = body.split(b"\0", 2)[1]
                if self.marker in query:
                    marked = True
                cut = False
                if query.strip().upper().startswith((b"COMMIT", b"END")):
                    cut, marked = marked and self.cuts_left > 0, False
                    if cut:
                        self.cuts_left -= 1
                elif query.strip().upper().startswith(b"ROLLBACK"):
                    marked = False
                if cut:
                    # before the COMMIT goes: whatever the server sends next is its answer
                    committing.set()
                writer.write(head + body)
                await writer.drain()
                if cut:
                    return  # nothing more goes up this connection
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return

    async def _server_side(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, committing: asyncio.Event
    ) -> None:
        """Forward the server's answers; after a marked COMMIT, drop its answer and cut."""
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                if committing.is_set():
                    # the answer to the COMMIT (everything before it was answered already:
                    # the client waits for each answer): the commit is done, the client
                    # never learns it
                    self.cut += 1
                    self.faults_applied["commit_cut"] += 1
                    _reset(writer)
                    return
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            return


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on, zero seconds."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Verdict:
    """What a client received, judged against what the log holds."""

    expected: int
    received: int
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    out_of_order: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.out_of_order)

    def __str__(self) -> str:
        return (
            f"{self.expected} expected, {self.received} received: {len(self.lost)} lost "
            f"{self.lost[:10]}, {len(self.duplicated)} duplicated {self.duplicated[:10]}, "
            f"{len(self.unexpected)} unexpected {self.unexpected[:10]}, "
            f"{self.out_of_order} out of order"
        )


def check_history(expected: list[int], received: list[int]) -> Verdict:
    """Jepsen's total queue: every expected id exactly once, nothing else, in order."""
    want = set(expected)
    counts = Counter(received)
    return Verdict(
        expected=len(expected),
        received=len(received),
        lost=sorted(want - counts.keys()),
        duplicated=sorted(i for i, c in counts.items() if c > 1),
        unexpected=sorted(counts.keys() - want),
        out_of_order=sum(1 for a, b in itertools.pairwise(received) if b <= a),
    )
