"""The rules of one webhook delivery, apart from the sender that applies them
(``channels.WebhookSender``; the push sender reuses them): the Standard Webhooks headers
(``sign``, ``message_id``), the back-off after a failure and a receiver's ``Retry-After``,
the destination a delivery's slots are counted under, what an answer means (``answer``),
the ``admin errors`` record of a quarantined delivery, and what a ``410 Gone`` does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlalchemy.orm import Session

from tradealerts.server.accounts import notify
from tradealerts.server.alerts.records import drop_webhook
from tradealerts.server.db.models import Delivery, ErrorRecord, User
from tradealerts.server.usage import fingerprint

__all__ = [
    "SIGNATURE_HEADER",
    "Destination",
    "Job",
    "Outcome",
    "answer",
    "backoff",
    "destination",
    "disable_gone",
    "error_record",
    "message_id",
    "quarantined",
    "retry_after",
    "sign",
]

log = logging.getLogger("tradealerts.webhooks")

#: The header that carries the signature (a receiver's library reads it with the others).
SIGNATURE_HEADER = "webhook-signature"
#: the longest wait a Retry-After answer can ask for (beyond it, the day's retries decide)
_MAX_RETRY_AFTER = 3600


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def message_id(delivery_id: int) -> str:
    """The ``webhook-id`` of a delivery: stable across its retries."""
    return f"msg_{delivery_id}"


def backoff(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 1 min, 2 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() takes "²", which int() refuses


def retry_after(value: str | None, now: datetime) -> int | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), capped
    at an hour; None (the default back-off) for anything else: junk bytes, a negative or
    fractional number, a date without a zone. Never raises: the value is the receiver's."""
    if not value:
        return None
    value = value.strip()
    if _DIGITS.fullmatch(value):
        # more digits than an hour has never means less than the cap (and int() refuses
        # strings past 4,300 digits)
        return _MAX_RETRY_AFTER if len(value) > 6 else min(int(value), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            return None
        delta = (when - now).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0, min(int(delta), _MAX_RETRY_AFTER))


def destination(url: str) -> str:
    """Where a webhook goes, for its slots and back-off: scheme, host and port."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        return f"{scheme}://{(parts.hostname or '').lower()}:{port}"
    except ValueError:
        return url[:200]  # the guard refuses it on the attempt


class Job:
    __slots__ = ("body", "delivery_id", "secret", "skip", "url", "user_id")

    def __init__(
        self, delivery_id: int, user_id: int, url: str, body: bytes, secret: str, skip: str | None
    ) -> None:
        self.delivery_id, self.user_id, self.url = delivery_id, user_id, url
        self.body, self.secret, self.skip = body, secret, skip


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None = None
    error: str | None = None
    final: bool = False  # no retry
    called: bool = True  # False: refused before any request
    wait: int | None = None  # Retry-After, seconds
    gone: bool = False  # 410: the receiver is gone for good
    poison: BaseException | None = None  # failed in a way no retry fixes: quarantined
    receiver_fault: bool = False  # the receiver was slow, down or said 5xx/429: back off


@dataclass
class Destination:
    """One owner's destination: its calls in flight and its back-off after failures."""

    busy: int = 0
    failures: int = 0  # in a row
    paused_until: datetime | None = None
    #: the URLs seen going there, left out of the due query while it has no free slot
    urls: set[str] = field(default_factory=set)

    def blocked(self, now: datetime, limit: int) -> bool:
        return self.busy >= limit or (self.paused_until is not None and self.paused_until > now)


def answer(code: int, retry: str | None, now: datetime) -> Outcome:
    """What a receiver's status (and ``Retry-After``) means for its delivery."""
    if 200 <= code < 300:
        return Outcome(True, code)
    if 300 <= code < 400:
        return Outcome(
            False,
            code,
            f"HTTP {code}: redirects are not followed; set the final URL on the alert",
            final=True,
        )
    if code == 410:
        gone = "HTTP 410 Gone: the webhook was taken off your alerts"
        return Outcome(False, code, gone, final=True, gone=True)
    fault = code == 429 or code >= 500
    return Outcome(False, code, f"HTTP {code}", wait=retry_after(retry, now), receiver_fault=fault)


def quarantined(exc: BaseException) -> str:
    """The reason a quarantined delivery shows its owner: the error's kind and first line."""
    first = (str(exc).splitlines() or [""])[0]
    return f"quarantined: {type(exc).__name__}: {first}"[:500]


def error_record(
    s: Session, job: Job, exc: BaseException, now: datetime, channel: str = "webhook"
) -> None:
    """The owner's ``admin errors`` entry for a quarantined delivery."""
    tb = traceback.extract_tb(exc.__traceback__)
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
    s.add(
        ErrorRecord(
            created_at=now,
            method="WORKER",
            route=f"{channel} delivery {job.delivery_id}",
            status=0,
            user_id=job.user_id,
            exc_type=kind[:200],
            message=quarantined(exc)[:1000],
            fingerprint=fingerprint(kind, tb),
            traceback="".join(traceback.format_list(tb))[-8000:],
        )
    )


def disable_gone(s: Session, job: Job, now: datetime) -> None:
    """The receiver answered 410 Gone: stop sending there, and say so."""
    ids = drop_webhook(s, job.user_id, job.url, now)
    s.execute(
        update(Delivery)
        .where(
            Delivery.user_id == job.user_id,
            Delivery.channel == "webhook",
            Delivery.target == job.url,
            Delivery.status == "pending",
            Delivery.id != job.delivery_id,
        )
        .values(status="skipped", done_at=now, last_error="the webhook answered 410 Gone")
    )
    user = s.get(User, job.user_id)
    if user is not None:
        which = ", ".join(str(i) for i in ids) or "none left"
        notify(
            s,
            user,
            "webhook_disabled",
            "Webhook disabled",
            "Your webhook answered 410 Gone, so it was taken off your alerts "
            f"({which}). They still fire to your other channels; set a new webhook "
            "URL to send there again.",
            now,
        )
    log.info("webhook of user %d disabled after 410 (alerts %s)", job.user_id, ids)
