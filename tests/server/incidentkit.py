"""Helpers for the owner-alert tests: a server on a chosen clock with fast checks, and the
owner's inbox read by subject."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.server.serverkit import Clock, Inbox, Running, deadline_after, server_settings
from tests.server.serverkit import start_server as _start

from tradealerts.server.db.models import Incident

OWNER = "owner@example.com"
#: checks every 50 ms, nothing in grace, and the conditions a test does not look at out of
#: the way (a moved clock must not make every symbol stale; this disk's free space)
FAST: dict[str, Any] = {
    "incident_check_seconds": 0.05,
    "incident_grace_seconds": 0,
    "incident_feed_stale_seconds": 10**7,
    "incident_disk_free_mb": 0,
    "alert_retry_max_seconds": 0.2,
}


@contextmanager
def serve(
    home: Path, db_url: str, smtp_port: int, inbox: Inbox, at: datetime, **overrides: Any
) -> Iterator[Running]:
    """A server whose clock reads ``at`` (moved by the test), with ``FAST`` checks."""
    clock = Clock()
    clock.now = at
    settings = server_settings(home, db_url, smtp_port, **{**FAST, **overrides})
    srv = _start(settings, clock, inbox)
    try:
        yield srv
    finally:
        srv.stop()


def subjects(inbox: Inbox) -> list[str]:
    with inbox.cond:
        return [str(m["Subject"]) for m in inbox.messages if m["To"] == OWNER]


def mail(inbox: Inbox, subject: str, count: int = 1, timeout: float = 20) -> Message:
    """The ``count``-th mail to the owner whose subject is ``subject`` (waits for it)."""
    deadline = deadline_after(timeout)
    with inbox.cond:
        while True:
            got = [m for m in inbox.messages if m["To"] == OWNER and m["Subject"] == subject]
            if len(got) >= count:
                return got[count - 1]
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no mail {subject!r} x{count}: {subjects(inbox)}")
            inbox.cond.wait(left)


def body(msg: Message) -> str:
    """A mail's text, decoded."""
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def checks_pass(srv: Running, n: int = 3, each: Callable[[], None] | None = None) -> None:
    """Wait until the monitor has run ``n`` more checks (``each`` runs between polls)."""
    monitor = srv.app.state.incidents
    target = monitor.checks_run + n
    deadline = deadline_after(20)
    while monitor.checks_run < target:
        assert time.monotonic() < deadline, "the incident checks stopped"
        if each is not None:
            each()
        time.sleep(0.02)


def until(srv: Running, predicate: Callable[[], Any], each: Callable[[], None] | None = None,
          what: str = "condition") -> Any:  # fmt: skip
    """Poll ``predicate`` (calling ``each`` between polls) within a bounded deadline."""
    deadline = deadline_after(20)
    while True:
        got = predicate()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if each is not None:
            each()
        time.sleep(0.02)


def rows(srv: Running) -> list[Incident]:
    with srv.app.state.sessions() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))


def the_three(inbox: Inbox, title: str) -> tuple[int, int, int]:
    """How many opened / reminder / recovered mails ``title`` has."""
    got = subjects(inbox)
    return (
        got.count(f"[tradealerts] INCIDENT: {title}"),
        got.count(f"[tradealerts] STILL OPEN: {title}"),
        got.count(f"[tradealerts] RECOVERED: {title}"),
    )
