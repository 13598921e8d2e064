"""How an incident reaches the owner: ``send_to_owner`` is the one place (issue #29).

Today it mails ``OWNER_EMAIL`` through the server's mail queue (the mail worker sends it,
retries, and writes to the outbox folder without SMTP). When the database cannot take the
mail (the incident may be the database itself), it is sent at once through the same SMTP
settings instead. The owner's push channels (issue #27) belong here too, once they exist.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.text import make_safe
from tradealerts.server.mail import _smtp_open, queue_mail
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
    try:
        with sessions() as s:
            queue_mail(s, to, subject, body, now)
            s.commit()
        return True
    except Exception as exc:  # the database is down: straight to SMTP
        log.warning("incident mail not queued (%s); sending it directly", type(exc).__name__)
    try:
        _send_now(settings, to, subject, body)
        return True
    except Exception as exc:
        log.error("incident mail not sent (%s: %s); trying again", type(exc).__name__, exc)
        return False


def _send_now(settings: Settings, to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = make_safe(subject)
    msg.set_content(make_safe(body, multiline=True))
    if settings.smtp_url is None:
        out = settings.outbox_dir
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"incident-{secrets.token_hex(6)}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(msg))
        tmp.replace(path)
        return
    smtp = _smtp_open(settings.smtp_url.get_secret_value())
    try:
        smtp.send_message(msg)
    finally:
        smtp.close()
