"""Running the app under uvicorn so that a restart or a deploy ends in bounded time.

uvicorn's graceful shutdown waits for every connection to close, and an SSE stream never
closes by itself: every subscriber's daemon holds one, so ``serve`` would hang on SIGTERM.
Before uvicorn waits, the app's bus ends every stream with a ``reconnect`` frame (clients
resume with ``Last-Event-ID``, losing nothing); ``shutdown_grace_seconds`` bounds the wait
for whatever still runs after that.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOG_LEVELS

__all__ = ["GracefulServer", "make_server"]


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
    return GracefulServer(uvicorn.Config(app, host=host, port=port, **config), app)
