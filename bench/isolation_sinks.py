"""The receiving end of bench_isolation.py, in a process of its own (so its threads never
take the bench's or the server's turn): a webhook receiver that verifies each call with the
``standardwebhooks`` library (user number N posts to ``/hook/N``), and aiosmtpd.

``isolation_sinks.py KEYS_JSON DIR``: writes ``DIR/sinks.json`` (the webhook base URL and
the SMTP port) when listening; when ``DIR/sinks.stop`` appears, prints JSON: ``hooks``
(receive time, fire time, event id, webhook-id), ``bad`` (failed verifications) and
``mails`` (receive time, fire time, recipient)."""

from __future__ import annotations

import http.server
import json
import socket
import sys
import threading
import time
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook


class Good:
    """The well-behaved users' receiver: verifies each call, keeps (receive time, event
    time, event id, webhook-id)."""

    def __init__(self, secrets_by_user: dict[int, str]) -> None:
        got: list[tuple[float, float, int, str]] = []
        bad: list[str] = []
        self.got, self.bad = got, bad
        hooks = {u: Webhook(s) for u, s in secrets_by_user.items()}
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                headers = {k.lower(): v for k, v in self.headers.items()}
                user = int(self.path.rsplit("/", 1)[1])
                try:
                    data = hooks[user].verify(body, headers)
                    when = datetime.fromisoformat(data["time"].replace("Z", "+00:00"))
                    with lock:
                        got.append((now, when.timestamp(), int(data["id"]), headers["webhook-id"]))
                except Exception as exc:
                    with lock:
                        bad.append(f"{type(exc).__name__}: {exc}")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            # http.server listens with a backlog of 5: calls beyond it wait for SYN retries
            # (1 s, 3 s), which would be measured as the sender's latency
            request_queue_size = 1024

        self._server = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Mails:
    """aiosmtpd's handler: (receive time, the fire's time, recipient) of each alert mail."""

    def __init__(self) -> None:
        self.got: list[tuple[float, float, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.time()
        msg = message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True).decode(errors="replace")
        for line in body.splitlines():
            if line.startswith("Time: "):
                when = datetime.fromisoformat(line[6:].strip().replace("Z", "+00:00"))
                self.got.append((now, when.timestamp(), str(msg["To"])))
        return "250 OK"


def main() -> None:
    keys = {int(k): v for k, v in json.loads(Path(sys.argv[1]).read_text()).items()}
    out = Path(sys.argv[2])
    good = Good(keys)
    mails = Mails()
    with socket.socket() as probe:  # aiosmtpd needs a port number: a free one
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    smtp = Controller(mails, hostname="127.0.0.1", port=port)
    smtp.start()
    ready = out / "sinks.json"
    ready.with_suffix(".tmp").write_text(json.dumps({"http": good.base, "smtp": port}))
    ready.with_suffix(".tmp").replace(ready)
    while not (out / "sinks.stop").exists():
        time.sleep(0.2)
    smtp.stop()
    good.close()
    print(json.dumps({"hooks": good.got, "bad": good.bad, "mails": mails.got}))


if __name__ == "__main__":
    main()
