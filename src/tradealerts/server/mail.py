"""Outgoing mail: queued in the database with the request, sent by a background worker.

A send that fails for a passing reason (the network, a 4xx from the SMTP server) is retried
with back-off and logged (never with the body: it may hold a code), so a mail failure never
loses the request that caused it. A mail that can never go as it is (a header no mail can
carry, a 5xx refusal of its recipient or content, any error building it) is *quarantined*:
set aside with its reason, shown to the owner (``admin errors``, ``admin quarantine``) and,
for an alert's mail, on its delivery; the worker goes on with the next mail at once.
``release`` puts quarantined mails back in the queue. With no SMTP URL the mail is written
to ``<data dir>/outbox/`` as an .eml file instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.messages import Text, _, localise
from tradealerts.core.text import make_safe, unsafe_reason
from tradealerts.server.db.models import Delivery, ErrorRecord, MailMessage
from tradealerts.server.settings import Settings
from tradealerts.server.worker import Worker

__all__ = ["Mailer", "compose", "quarantined", "queue_mail", "release", "send_now", "templates"]

log = logging.getLogger("tradealerts.mail")
_MAX_ATTEMPTS = 30


def queue_mail(
    session: Session,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    delivery: Delivery | None = None,
    language: str | None = None,
) -> None:
    """Queue a mail in ``session``'s transaction (a running server's worker sends it).
    ``delivery``: the alert delivery it carries, marked sent or failed when the mail is.
    ``language``: the recipient's; subject and body (:class:`Text`) are said in it, and
    stored so (the queue holds the mail as it goes out)."""
    subject, body = localise(subject, language), localise(body, language)
    mail = MailMessage(to=to, subject=subject, body=body, next_attempt_at=now, created_at=now)
    if delivery is not None:
        mail.delivery = delivery
    session.add(mail)


class Mailer(Worker):
    """Queue now, send soon; SMTP when configured, else the outbox folder."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime]
    ) -> None:
        super().__init__(settings, sessions, clock)
        self._health: tuple[float, dict[str, Any]] | None = None
        self._smtp: smtplib.SMTP | None = None  # the pass's session (worker thread only)

    def queue(
        self, session: Session, to: str, subject: str, body: str, language: str | None = None
    ) -> None:
        """Add a mail to the caller's transaction, in the recipient's ``language``; it is
        sent once that commits."""
        queue_mail(session, to, subject, body, self.clock(), language=language)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tradealerts-mailer")

    async def _run(self) -> None:
        await self._every(
            lambda: self.settings.mail_poll_seconds,
            lambda: asyncio.to_thread(self._pass),
            log,
            "mail worker pass failed; retrying",
        )

    def _pass(self) -> None:
        """One pass over the due mails, through one SMTP session (closed after it)."""
        try:
            self.send_due()
        finally:
            self._close_smtp()

    def send_due(self) -> int:
        """Send every mail that is due; return how many went out."""
        sent = 0
        now = self.clock()
        with self.sessions() as s:
            due = s.scalars(
                select(MailMessage)
                .where(
                    MailMessage.sent_at.is_(None),
                    MailMessage.quarantined_at.is_(None),
                    MailMessage.next_attempt_at <= now,
                    MailMessage.attempts < _MAX_ATTEMPTS,
                )
                .order_by(MailMessage.id)
                .limit(50)
            ).all()
            for m in due:
                try:
                    self._deliver(m)
                except Exception as exc:
                    if not _passing(exc):
                        _quarantine(s, m, now, exc)
                        s.commit()
                        continue
                    m.attempts += 1
                    m.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    delay = min(3600, 15 * 2 ** min(m.attempts, 8))
                    m.next_attempt_at = now + timedelta(seconds=delay)
                    final = m.attempts >= _MAX_ATTEMPTS
                    log.warning(
                        "mail %d to %r failed (%r); %s",
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

    def health(self) -> dict[str, Any]:
        """The queue: mails waiting, and those quarantined (one user's bad mail is not an
        outage: the status stays ok and names the count). Counted at most every 5 s: health
        is polled, and the queue keeps its sent mails."""
        if self._health is not None and time.monotonic() - self._health[0] < 5.0:
            return dict(self._health[1])
        with self.sessions() as s:
            waiting = s.scalar(
                select(func.count()).where(
                    MailMessage.sent_at.is_(None), MailMessage.quarantined_at.is_(None)
                )
            )
            held = s.scalar(select(func.count()).where(MailMessage.quarantined_at.is_not(None)))
        out = {"status": "ok", "waiting": waiting or 0, "quarantined": held or 0}
        self._health = (time.monotonic(), out)
        return dict(out)

    def _deliver(self, m: MailMessage) -> None:
        msg = compose(self.settings, m.to, m.subject, m.body)
        if self.settings.smtp_url is None:
            path = _to_outbox(self.settings, msg, f"{m.id:06d}")
            log.info("mail %d to %r written to %s (%r)", m.id, m.to, path, m.subject)
            return
        self._smtp_send(self.settings.smtp_url.get_secret_value(), msg)
        log.info("mail %d to %r sent (%r)", m.id, m.to, m.subject)

    def _smtp_send(self, url: str, msg: EmailMessage) -> None:
        """Send on the pass's SMTP session, opened at its first mail: a session a mail
        (a connection, a greeting, EHLO, login) cost each mail the most of its time."""
        if self._smtp is None:
            self._smtp = _smtp_open(url)
        try:
            self._smtp.send_message(msg)
        except smtplib.SMTPServerDisconnected:
            # the server ended the session before taking this mail (an idle timeout, a
            # limit of mails per session): once more on a new one
            self._close_smtp()
            self._smtp = _smtp_open(url)
            self._smtp.send_message(msg)
        except BaseException:
            self._close_smtp()  # a session whose state is unknown is not reused
            raise

    def _close_smtp(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
            smtp.close()


def compose(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    """The one way a mail is built: the addresses checked, subject and body made safe."""
    for name, value in (("From", settings.mail_from), ("To", to)):
        reason = unsafe_reason(value)
        if reason is not None:  # an address is never repaired: it would go elsewhere
            raise ValueError(f"the {name} address holds a {reason}")
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    # a subject from text stored before the rule (core.text): a line break in a header
    # is refused by the mail library, or would start a header of its own
    msg["Subject"] = make_safe(subject)
    msg.set_content(make_safe(body, multiline=True))
    return msg


def _to_outbox(settings: Settings, msg: EmailMessage, name: str) -> Path:
    """Without SMTP: the mail as ``<outbox>/<name>.eml``, whole file or nothing."""
    out = settings.outbox_dir
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(msg))
    tmp.replace(path)
    return path


def send_now(settings: Settings, to: str, subject: str, body: str, name: str) -> None:
    """Send one mail at once, not through the queue (an incident when the database is
    down): SMTP when configured, else ``<outbox>/<name>.eml``. Blocking; raises on failure."""
    msg = compose(settings, to, subject, body)
    if settings.smtp_url is None:
        _to_outbox(settings, msg, name)
        return
    smtp = _smtp_open(settings.smtp_url.get_secret_value())
    try:
        smtp.send_message(msg)
    finally:
        smtp.close()


def _passing(exc: Exception) -> bool:
    """A failure a later try may not meet (back off and retry), or one every try will
    (quarantine): SMTP 5xx answers to the recipient or the content, and anything raised
    while building the mail, are the mail's own fault."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError | smtplib.SMTPNotSupportedError):
        return getattr(exc, "smtp_code", 0) < 500
    return isinstance(exc, OSError | smtplib.SMTPException)


def _quarantine(s: Session, m: MailMessage, now: datetime, exc: Exception) -> None:
    """Set ``m`` aside with its reason, where its owner and the server's owner see it."""
    m.attempts += 1
    m.quarantined_at = now
    m.last_error = f"quarantined: {type(exc).__name__}: {exc}"[:500]
    # %r: the address or the reason may hold the very line break that made it poison
    log.error("mail %d to %r quarantined (%r); the queue goes on", m.id, m.to, m.last_error)
    _settle(s, m, now, "quarantined")
    delivery = s.get(Delivery, m.delivery_id) if m.delivery_id is not None else None
    s.add(
        ErrorRecord(
            created_at=now,
            route="mail",
            status=0,
            user_id=delivery.user_id if delivery is not None else None,
            exc_type="MailQuarantined",
            message=(
                f"mail {m.id} to {m.to!r}: {m.last_error}; release it with "
                f"`tradealerts-server admin quarantine --release {m.id}`"
            )[:1000],
            fingerprint=f"mailq{m.id:011d}"[:16],
        )
    )


def quarantined(s: Session, limit: int = 100) -> list[dict[str, Any]]:
    """The quarantined mails, newest first (never their body: it may hold a code)."""
    rows = s.scalars(
        select(MailMessage)
        .where(MailMessage.quarantined_at.is_not(None))
        .order_by(MailMessage.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": m.id,
            "to": m.to,
            "subject": make_safe(m.subject),
            "quarantined_at": m.quarantined_at,
            "reason": m.last_error,
            "delivery_id": m.delivery_id,
        }
        for m in rows
    ]


def release(s: Session, ids: list[int] | None, now: datetime) -> list[int]:
    """Put quarantined mails back in the queue (``ids``, or all when None), for a fresh
    round of tries; their alert deliveries show ``queued`` again. Returns the ids."""
    q = select(MailMessage).where(MailMessage.quarantined_at.is_not(None))
    if ids is not None:
        q = q.where(MailMessage.id.in_(ids))
    out = []
    for m in s.scalars(q):
        # due at once: when it was set aside is never later than the worker's clock
        m.next_attempt_at = min(now, m.quarantined_at or now)
        m.quarantined_at, m.attempts = None, 0
        if m.delivery_id is not None and (d := s.get(Delivery, m.delivery_id)) is not None:
            d.status, d.done_at = "queued", None
        out.append(m.id)
    return out


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


def _smtp_open(url: str) -> smtplib.SMTP:
    """A session with the server of ``url``: TLS and login as the URL says."""
    u = urlsplit(url)
    query = parse_qs(u.query)
    host, port = u.hostname or "127.0.0.1", u.port or (465 if u.scheme == "smtps" else 25)
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if u.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, port, timeout=10, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=10)
    try:
        if query.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            smtp.starttls(context=context)
        if u.username:
            smtp.login(unquote(u.username), unquote(u.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


class templates:
    """Plain-text mails: each returns (subject, body), English :class:`Text` sentences that
    ``queue_mail`` says in the recipient's language."""

    @staticmethod
    def verification(code: str, link: str) -> tuple[Text, Text]:
        return (
            _("Your tradealerts verification code"),
            _(
                "Your verification code is {code}\n\nEnter it with `tradealerts verify {code}`, "
                "or open this page:\n{link}\n\nThe code expires in 30 minutes. If you did not "
                "sign up, ignore this mail.\n",
                code=code,
                link=link,
            ),
        )

    @staticmethod
    def welcome() -> tuple[Text, Text]:
        return (
            _("Welcome to tradealerts"),
            _(
                "Your email is verified. Log in with `tradealerts login` and try "
                "`tradealerts charts EURUSD H1`.\n"
            ),
        )

    @staticmethod
    def reset(code: str) -> tuple[Text, Text]:
        return (
            _("Reset your tradealerts password"),
            _(
                "Your password reset code is {code}\n\nIt expires in 30 minutes and can be "
                "used once. If you did not ask for it, ignore this mail: your password is "
                "unchanged.\n",
                code=code,
            ),
        )

    @staticmethod
    def email_change(code: str) -> tuple[Text, Text]:
        return (
            _("Confirm your new tradealerts email"),
            _("Your confirmation code is {code}\n\nIt expires in 30 minutes.\n", code=code),
        )

    @staticmethod
    def tier_change(old: str, new: str) -> tuple[Text, Text]:
        return (
            _("Your tradealerts plan is now {new}", new=new),
            _(
                "Your plan changed from {old} to {new}. It applies to your next request.\n",
                old=old,
                new=new,
            ),
        )

    @staticmethod
    def already_registered() -> tuple[Text, Text]:
        return (
            _("Someone tried to sign up with your email"),
            _(
                "An account with this email already exists. If it was you, log in or reset "
                "your password with `tradealerts account password`. If not, ignore this mail.\n"
            ),
        )

    @staticmethod
    def support(user_email: str, subject: str, body: str, ticket_id: int) -> tuple[str, str]:
        # to the owner (an address of the configuration, no account): in English, with the
        # subscriber's own words as they wrote them
        return (f"[support #{ticket_id}] {subject}", f"From: {user_email}\n\n{body}\n")
