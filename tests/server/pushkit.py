"""Loopback receivers that speak the push services' HTTP APIs, for Apprise to send to.

``PushReceiver`` answers as ntfy (``POST /`` or ``/<topic>`` → ``{"id": …}``) and Gotify
(``POST /message`` with the app token in ``X-Gotify-Key`` → ``{"id": …}``) and takes
``json://`` POSTs; it records every request (method, path, headers, JSON body)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.server.serverkit import deadline_after

__all__ = ["Arrived", "PushReceiver"]


@dataclass(frozen=True)
class Arrived:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class PushReceiver:
    """A real HTTP server on ``127.0.0.1`` recording what Apprise sends."""

    def __init__(self, status: int = 200) -> None:
        received: list[Arrived] = []
        self.received = received
        self.status = status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                received.append(
                    Arrived("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                            body if isinstance(body, dict) else {"raw": body})
                )  # fmt: skip
                answer = json.dumps({"id": len(received)}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20.0) -> list[Arrived]:
        deadline = deadline_after(timeout)
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} pushes arrived, expected {count}")
            time.sleep(0.02)
        return self.received

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
