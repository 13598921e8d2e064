"""Outgoing mail: queued in the database with the request, sent by a background worker.

A send that fails is retried with back-off and logged (never with the body: it may hold a
code), so a mail failure never loses the request that caused it. With no SMTP URL the
mail is written to ``<data dir>/outbox/`` as an .eml file instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server.db.models import Delivery, MailMessage
from tradealerts.server.settings import Settings

__all__ = ["Mailer", "queue_mail", "templates"]

log = logging.getLogger("tradealerts.mail")
_MAX_ATTEMPTS = 30


def queue_mail(
    session: Session,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    delivery: Delivery | None = None,
) -> None:
    """Queue a mail in ``session``'s transaction (a running server's worker sends it).
    ``delivery``: the alert delivery it carries, marked sent or failed when the mail is."""
    mail = MailMessage(to=to, subject=subject, body=body, next_attempt_at=now, created_at=now)
    if delivery is not None:
        mail.delivery = delivery
    session.add(mail)


class Mailer:
    """Queue now, send soon; SMTP when configured, else the outbox folder."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def queue(self, session: Session, to: str, subject: str, body: str) -> None:
        """Add a mail to the caller's transaction; it is sent once that commits."""
        queue_mail(session, to, subject, body, self.clock())

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tradealerts-mailer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.send_due)
            except Exception:
                log.exception("mail worker pass failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.mail_poll_seconds)

    def send_due(self) -> int:
        """Send every mail that is due; return how many went out."""
        sent = 0
        now = self.clock()
        with self.sessions() as s:
            due = s.scalars(
                select(MailMessage)
                .where(
                    MailMessage.sent_at.is_(None),
                    MailMessage.next_attempt_at <= now,
                    MailMessage.attempts < _MAX_ATTEMPTS,
                )
                .order_by(MailMessage.id)
                .limit(50)
            ).all()
            for m in due:
                try:
                    self._deliver(m)
                except (OSError, smtplib.SMTPException) as exc:
                    m.attempts += 1
                    m.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    delay = min(3600, 15 * 2 ** min(m.attempts, 8))
                    m.next_attempt_at = now + timedelta(seconds=delay)
                    final = m.attempts >= _MAX_ATTEMPTS
                    log.warning(
                        "mail %d to %s failed (%s); %s",
                        m.id,
                        m.to,
                        m.last_error,
                        "given up" if final else f"retry {m.attempts} in {delay}s",
                    )
                    _settle(s, m, now, "failed" if final else None)
                else:
                    m.sent_at = now
                    m.attempts += 1
                    sent += 1
                    _settle(s, m, now, "sent")
                s.commit()
        return sent

    def _message(self, m: MailMessage) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = m.to
        msg["Subject"] = m.subject
        msg.set_content(m.body)
        return msg

    def _deliver(self, m: MailMessage) -> None:
        msg = self._message(m)
        if self.settings.smtp_url is None:
            out = self.settings.outbox_dir
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{m.id:06d}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(bytes(msg))
            tmp.replace(path)  # whole file or nothing
            log.info("mail %d to %s written to %s (%s)", m.id, m.to, path, m.subject)
            return
        _smtp_send(self.settings.smtp_url.get_secret_value(), msg)
        log.info("mail %d to %s sent (%s)", m.id, m.to, m.subject)


def _settle(s: Session, m: MailMessage, now: datetime, status: str | None) -> None:
    """Carry a mail's try onto the alert delivery it belongs to (shown in the history)."""
    if m.delivery_id is None:
        return
    d = s.get(Delivery, m.delivery_id)
    if d is None:  # purged with its event
        return
    d.attempts, d.last_error = m.attempts, m.last_error if status != "sent" else None
    if status is not None:
        d.status, d.done_at = status, now


def _smtp_send(url: str, msg: EmailMessage) -> None:
    u = urlsplit(url)
    query = parse_qs(u.query)
    host, port = u.hostname or "127.0.0.1", u.port or (465 if u.scheme == "smtps" else 25)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if u.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, port, timeout=10, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=10)
    with smtp:
        if query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            smtp.starttls(context=context)
        if u.username:
            smtp.login(unquote(u.username), unquote(u.password or ""))
        smtp.send_message(msg)


class templates:
    """Plain-text mails: each returns (subject, body)."""

    @staticmethod
    def verification(code: str, link: str) -> tuple[str, str]:
        return (
            "Your tradealerts verification code",
            f"Your verification code is {code}\n\nEnter it with `tradealerts verify {code}`, or "
            f"open this page:\n{link}\n\nThe code expires in 30 minutes. If you did not sign "
            "up, ignore this mail.\n",
        )

    @staticmethod
    def welcome() -> tuple[str, str]:
        return (
            "Welcome to tradealerts",
            "Your email is verified. Log in with `tradealerts login` and try "
            "`tradealerts charts EURUSD H1`.\n",
        )

    @staticmethod
    def reset(code: str) -> tuple[str, str]:
        return (
            "Reset your tradealerts password",
            f"Your password reset code is {code}\n\nIt expires in 30 minutes and can be used "
            "once. If you did not ask for it, ignore this mail: your password is unchanged.\n",
        )

    @staticmethod
    def email_change(code: str) -> tuple[str, str]:
        return (
            "Confirm your new tradealerts email",
            f"Your confirmation code is {code}\n\nIt expires in 30 minutes.\n",
        )

    @staticmethod
    def tier_change(old: str, new: str) -> tuple[str, str]:
        return (
            f"Your tradealerts plan is now {new}",
            f"Your plan changed from {old} to {new}. It applies to your next request.\n",
        )

    @staticmethod
    def already_registered() -> tuple[str, str]:
        return (
            "Someone tried to sign up with your email",
            "An account with this email already exists. If it was you, log in or reset your "
            "password with `tradealerts account password`. If not, ignore this mail.\n",
        )

    @staticmethod
    def support(user_email: str, subject: str, body: str, ticket_id: int) -> tuple[str, str]:
        return (f"[support #{ticket_id}] {subject}", f"From: {user_email}\n\n{body}\n")
