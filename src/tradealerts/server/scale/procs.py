"""Heartbeats of the scaled-out processes in Redis, and what ``status`` reads.

Each process writes a JSON field of the hash ``<prefix>:procs`` every second (role, pid,
host, and what its role knows); a heartbeat older than ``GONE_AFTER`` is shown as gone and
dropped after a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

__all__ = ["GONE_AFTER", "Heartbeat", "identity", "read_procs"]

log = logging.getLogger("tradealerts.procs")

#: seconds without a heartbeat after which a process is shown as gone
GONE_AFTER = 5.0
_FORGET_AFTER = 60.0


def identity() -> str:
    """This process: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _key(prefix: str) -> str:
    return f"{prefix}:procs"


class Heartbeat:
    """Writes ``info()`` (plus the time) for this process every ``every`` seconds."""

    def __init__(
        self, redis: Any, prefix: str, info: Callable[[], dict[str, Any]], every: float = 1.0
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.info = info
        self.every = every
        self.ident = identity()
        #: every process's heartbeat as read at the last beat (an API process shows the
        #: leader's health from it)
        self.seen: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False  # see Publisher: a cancel inside a Redis call can be lost

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tradealerts-heartbeat")

    async def stop(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1.0)
            self._task = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.redis.hdel(_key(self.prefix), self.ident)

    async def beat(self) -> None:
        body = {**self.info(), "pid": os.getpid(), "host": socket.gethostname(), "at": time.time()}
        await self.redis.hset(_key(self.prefix), self.ident, json.dumps(body))
        self.seen = await read_procs(self.redis, self.prefix)

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the next beat says we are back
                log.debug("heartbeat not written: %s", exc)
            await asyncio.sleep(self.every)

    def leader(self) -> dict[str, Any] | None:
        """The live leader's heartbeat, as seen at the last beat."""
        now = time.time()
        for body in self.seen.values():
            if body.get("role") == "leader" and now - body.get("at", 0) <= GONE_AFTER:
                return body
        return None


async def read_procs(redis: Any, prefix: str) -> dict[str, dict[str, Any]]:
    """Every process's last heartbeat (``alive`` added); long-gone ones are removed."""
    raw = await redis.hgetall(_key(prefix))
    now = time.time()
    out: dict[str, dict[str, Any]] = {}
    for k, v in raw.items():
        ident = k.decode() if isinstance(k, bytes) else str(k)
        body = json.loads(v)
        age = now - float(body.get("at", 0))
        if age > _FORGET_AFTER:
            await redis.hdel(_key(prefix), ident)
            continue
        body["age"] = round(age, 1)
        body["alive"] = age <= GONE_AFTER
        out[ident] = body
    return out
