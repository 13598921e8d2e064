"""How an incident reaches the owner: ``send_to_owner`` is the one place (issue #29).

It mails ``OWNER_EMAIL`` through the server's mail queue (the mail worker sends it, retries,
and writes to the outbox folder without SMTP). When the database cannot take the mail (the
incident may be the database itself), it is sent at once through the same SMTP settings
instead. It also pushes to the owner's own push channels (issue #27): the channels of the
account whose email is ``OWNER_EMAIL`` (``tradealerts channels add`` logged in as it), those
marked ``--default``, or all of them when none is; best effort, never holding the mail.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.text import make_safe
from tradealerts.server.mail import queue_mail, send_now
from tradealerts.server.settings import Settings

__all__ = ["send_to_owner"]

log = logging.getLogger("tradealerts.incidents")


def send_to_owner(
    settings: Settings, sessions: sessionmaker[Session], subject: str, body: str, now: datetime
) -> bool:
    """Tell the owner; False when it could not go anywhere yet (the caller tries again).
    Blocking: call from a worker thread."""
    to = settings.owner_email
    if not to:
        log.warning("incident not mailed (set TRADEALERTS_OWNER_EMAIL): %s", subject)
        return True
    push_to_owner(settings, sessions, subject, body)
    try:
        with sessions() as s:
            queue_mail(s, to, subject, body, now)
            s.commit()
        return True
    except Exception as exc:  # the database is down: straight to SMTP
        log.warning("incident mail not queued (%s); sending it directly", type(exc).__name__)
    try:
        send_now(settings, to, subject, body, f"incident-{secrets.token_hex(6)}")
        return True
    except Exception as exc:
        log.error("incident mail not sent (%s: %s); trying again", type(exc).__name__, exc)
        return False


_pushers: dict[tuple[Any, ...], Any] = {}
_pushers_lock = threading.Lock()


def _owner_pusher(settings: Settings) -> Any:
    """A small pool for the owner's pushes (incidents are rare), one per guard setting."""
    key = (
        tuple(settings.webhook_allowlist or ()),
        settings.allow_private_webhooks,
        settings.push_deadline_seconds,
    )
    with _pushers_lock:
        if key not in _pushers:
            from tradealerts.server.alerts.guard import WebhookGuard
            from tradealerts.server.push.send import Pusher

            guard = WebhookGuard.from_settings(settings)
            _pushers[key] = Pusher(guard, 2, settings.push_deadline_seconds)
        return _pushers[key]


def push_to_owner(
    settings: Settings, sessions: sessionmaker[Session], subject: str, body: str
) -> int:
    """Push ``subject``/``body`` to the owner's push channels; how many took it. Blocking
    (each push bounded by ``PUSH_DEADLINE_SECONDS``); a failure is logged, masked."""
    to = settings.owner_email
    if not to:
        return 0
    from sqlalchemy import func, select

    from tradealerts.server.db.models import PushChannel, User
    from tradealerts.server.push.vault import Vault, VaultError

    try:
        with sessions() as s:
            rows = s.scalars(
                select(PushChannel)
                .join(User, User.id == PushChannel.user_id)
                .where(func.lower(User.email) == to.strip().lower())
                .order_by(PushChannel.id)
            ).all()
    except Exception as exc:  # the database is down: the mail goes straight to SMTP
        log.warning("owner's push channels not read (%s)", type(exc).__name__)
        return 0
    chosen = [r for r in rows if r.is_default] or list(rows)
    if not chosen:
        return 0
    vault, pusher, sent = Vault(settings.signing_key()), _owner_pusher(settings), 0
    for row in chosen:
        try:
            url = vault.open(row.url_secret)
        except VaultError:
            log.warning("owner's push channel %r unreadable (the secret key changed)", row.name)
            continue
        result = pusher.result(pusher.submit(url, make_safe(subject), make_safe(body)))
        if result.sent:
            sent += 1
        else:
            log.warning("incident push to %s (%s) failed: %s", row.name, row.masked, result.error)
    return sent
