"""A TCP proxy on loopback between a client and a server that can cut an answer short.

``CutProxy(port).cut_next(after=n)`` lets the next connection's request through whole and
closes it once ``n`` bytes of the answer have reached the client (0: none of it): the
server did its work, the client never learns the result, as on a dropped connection.
Other connections pass untouched. It runs its own asyncio loop in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CutProxy:
    """Forward 127.0.0.1:<self.port> to 127.0.0.1:``upstream``."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = 0
        self.cuts = 0  # answers cut so far
        self._cut_after: list[int] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_next(self, after: int = 0) -> None:
        """Cut the answer of the next connection after ``after`` bytes."""
        with self._lock:
            self._cut_after.append(after)

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        with self._lock:
            limit = self._cut_after.pop(0) if self._cut_after else None
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            client_w.close()
            return

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, budget: int | None
        ) -> None:
            sent = 0
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if budget is not None and sent + len(data) > budget:
                        dst.write(data[: budget - sent])
                        await dst.drain()
                        self.cuts += 1
                        break
                    dst.write(data)
                    await dst.drain()
                    sent += len(data)
            with contextlib.suppress(OSError):
                dst.close()

        upstream = asyncio.create_task(pump(client_r, server_w, None))
        await pump(server_r, client_w, limit)
        if limit is not None:  # the answer was cut: drop the client's side at once
            with contextlib.suppress(OSError):
                client_w.transport.abort()
            server_w.close()
        upstream.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await upstream
