"""Sign-ups and reset mails done after the answer, so the answer's time tells nothing.

``POST /api/auth/register`` and ``/forgot-password`` must answer alike for a new address
and a taken one, in status, body and time. Their work differs (a new account costs an argon2
hash, 0.1-0.9 s on a busy machine, and a few writes; a reset of a known address a code and a
mail), so the routes only validate and hand the address to these workers: the answer comes
before anyone looks the address up. A sign-up hashes on both paths, so the machine's load
does not tell them apart either. A login that comes while a sign-up of its address is under
way waits for it (``wait``), so "register, then log in" still says "verify your email".
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Signups"]

log = logging.getLogger("tradealerts.server.signups")


class Signups:
    """A small pool for the sign-ups' costly part (two at a time: a flood of sign-ups, which
    the per-address limit slows anyway, cannot take every core)."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="signup")
        self._pending: dict[str, list[Future[None]]] = {}
        self._lock = threading.Lock()

    def submit(self, email: str, job: Callable[[], None]) -> None:
        """Run ``job`` (the sign-up of ``email``) soon, off the request."""
        with self._lock:  # listed before it can finish, so _forget always finds it
            future = self._pool.submit(self._run, job)
            self._pending.setdefault(email, []).append(future)
        future.add_done_callback(lambda done: self._forget(email, done))

    @staticmethod
    def _run(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:  # the account can still be recovered by a password reset
            log.exception("a sign-up's background part failed")

    def _forget(self, email: str, done: Future[None]) -> None:
        with self._lock:
            futures = self._pending.get(email, [])
            if done in futures:
                futures.remove(done)
            if not futures:
                self._pending.pop(email, None)

    def wait(self, email: str, timeout: float = 30.0) -> None:
        """Return once every sign-up of ``email`` under way in this process is done."""
        with self._lock:
            futures = list(self._pending.get(email, ()))
        for future in futures:
            with contextlib.suppress(Exception):
                future.result(timeout)

    def wait_all(self, timeout: float = 60.0) -> None:
        """Return once every sign-up and reset handed over so far is done."""
        with self._lock:
            futures = [f for pending in self._pending.values() for f in pending]
        for future in futures:
            with contextlib.suppress(Exception):
                future.result(timeout)

    def close(self) -> None:
        """Finish the sign-ups under way (their accounts and mails are stored)."""
        # those not started are dropped: a stop takes at most one hash's time (the address
        # owner signs up again; nothing was stored for them)
        self._pool.shutdown(wait=True, cancel_futures=True)
