"""Loopback receivers that speak the push services' HTTP APIs, for Apprise to send to.

``PushReceiver`` answers as ntfy (``POST /`` or ``/<topic>`` → ``{"id": …}``) and Gotify
(``POST /message`` with the app token in ``X-Gotify-Key`` → ``{"id": …}``) and takes
``json://`` POSTs; it records every request (method, path, headers, JSON body).

Hostile ones for pushes (beside ``hostilekit``'s): ``endless_headers()`` (header lines
without end), ``endless_chunks()`` (a chunked body without end), and ``tls(receiver)``, which
makes any receiver speak TLS with a self-signed certificate (``jsons://…?verify=no``)."""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.server.hostilekit import Receiver
from tests.server.serverkit import deadline_after

__all__ = ["Arrived", "Endless", "PushReceiver", "endless_chunks", "endless_headers", "tls"]

R = TypeVar("R", bound=Receiver)


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


class Endless(Receiver):
    """``head``, then ``piece`` again and again until the client hangs up."""

    def __init__(self, head: bytes, piece: bytes, **kw: Any) -> None:
        self.head, self.piece = head, piece
        super().__init__(**kw)

    def answer(self, conn: socket.socket) -> None:
        conn.sendall(self.head)
        while not self.closed.is_set():
            conn.sendall(self.piece)


def endless_headers() -> Endless:
    """200, then 4 KiB header lines without end (never a body)."""
    return Endless(b"HTTP/1.1 200 OK\r\n", b"X-Padding: " + b"a" * 4096 + b"\r\n")


def endless_chunks() -> Endless:
    """200 with a chunked body of 16 KiB chunks that never ends."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    return Endless(head, b"4000\r\n" + b"{" * 0x4000 + b"\r\n")


def _server_context() -> ssl.SSLContext:
    """A TLS server context with a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    with tempfile.TemporaryDirectory() as folder:
        pem = Path(folder) / "server.pem"
        pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            + cert.public_bytes(serialization.Encoding.PEM)
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pem)
    return context


def tls(receiver: R) -> R:
    """``receiver``, speaking TLS from now on (each connection wrapped before it is read)."""
    context = _server_context()
    serve = receiver._serve

    def wrapped(conn: socket.socket) -> None:
        try:
            conn = context.wrap_socket(conn, server_side=True)
        except OSError:
            conn.close()
            return
        serve(conn)

    receiver._serve = wrapped  # type: ignore[method-assign]
    return receiver
