"""Running the app under uvicorn so that a restart or a deploy ends in bounded time.

uvicorn's graceful shutdown waits for every connection to close, and an SSE stream never
closes by itself: every subscriber's daemon holds one, so ``serve`` would hang on SIGTERM.
Before uvicorn waits, the app's bus ends every stream with a ``reconnect`` frame (clients
resume with ``Last-Event-ID``, losing nothing); ``shutdown_grace_seconds`` bounds the wait
for whatever still runs after that.
"""

from __future__ import annotations

import logging
import re
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOG_LEVELS

__all__ = ["GracefulServer", "RedactQuery", "limit_malloc_arenas", "make_server"]

#: query parameters whose values never reach the access log: the mailed verification link
#: (``/verify?email=…&code=…``) and anything shaped like a credential
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:code|token|otp|password|secret|key)=)[^&\s]*")


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for the threads started from now on (True when set).

    glibc gives each thread that contends for malloc an arena of its own, up to 8 per core;
    the server's request threads (up to 40) each freed memory into their own, which RSS
    kept: 200,000 requests of 20,000 users grew the server by 61 MB with the default and by
    35 MB with two arenas (bench_memory). The same as ``MALLOC_ARENA_MAX=2``, which an owner
    can still set; a no-op off glibc (macOS, musl)."""
    import ctypes
    import ctypes.util
    import os

    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_arena_max = -8  # glibc's malloc.h
    return bool(mallopt(m_arena_max, arenas))


class RedactQuery(logging.Filter):
    """Blanks the values of secret query parameters in uvicorn's access lines (its
    arguments are: client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) >= 3
            and isinstance(args[2], str)
            and "=" in args[2]
        ):
            record.args = (*args[:2], _SECRET_PARAMS.sub(r"\1***", args[2]), *args[3:])
        return True


class GracefulServer(uvicorn.Server):
    """``uvicorn.Server`` that ends the app's open streams as shutdown begins."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        bus = getattr(self._app.state, "bus", None)
        if bus is not None:
            bus.close()
        await super().shutdown(sockets=sockets)


def make_server(app: FastAPI, host: str, port: int, **config: Any) -> GracefulServer:
    """A server for ``app`` on ``host:port``; ``config`` is passed to ``uvicorn.Config``."""
    settings = app.state.settings
    config.setdefault("timeout_graceful_shutdown", settings.shutdown_grace_seconds)
    # uvicorn builds every access-log line's arguments (the client, the quoted path) before
    # the logger drops them; above INFO, where no line is written, that was ~2 µs a request
    level = config.get("log_level")  # None: uvicorn's logging config, access lines at INFO
    if isinstance(level, str):
        level = LOG_LEVELS.get(level.lower(), logging.INFO)
    config.setdefault("access_log", level is None or level <= logging.INFO)
    # the app reads X-Forwarded-For itself, from TRUSTED_PROXIES only (server.proxies);
    # uvicorn's own handling would believe any loopback peer first
    config.setdefault("proxy_headers", False)
    server = GracefulServer(uvicorn.Config(app, host=host, port=port, **config), app)
    # after Config, which (re)configures uvicorn's loggers
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())
    return server
