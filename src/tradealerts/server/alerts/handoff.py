"""The channels' hand-off: a fire's email, webhook and push deliveries, queued in the fire's
own transaction (the workers send them once it commits: ``mail.Mailer``,
``channels.WebhookSender``, ``push.sender.PushSender``).

An email is a delivery row and a queued mail (``mail.queue_mail``), capped at
``alert_emails_per_hour`` a user (past it the delivery is ``skipped``, with the reason); a
webhook or push is a ``pending`` delivery the sender picks up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradealerts.core.alerts import AlertChannels
from tradealerts.core.messages import When, _
from tradealerts.server.alerts.model import Fired
from tradealerts.server.db.models import Delivery, PushChannel, User
from tradealerts.server.mail import queue_mail
from tradealerts.server.push.sender import target_of

__all__ = ["at", "hand_off"]


def at(epoch: float) -> datetime:
    """An epoch time as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)


def _delivery(event_id: int, user_id: int, channel: str, now: datetime, **kw: object) -> Delivery:
    return Delivery(
        event_id=event_id,
        user_id=user_id,
        channel=channel,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        **kw,
    )


def hand_off(
    s: Session,
    event_id: int,
    fired: Fired,
    channels: AlertChannels,
    now: datetime,
    emails_per_hour: int,
) -> None:
    """Queue the deliveries ``channels`` ask for one logged fire (its event ``event_id``)."""
    if channels.email:
        _email(s, event_id, fired, now, emails_per_hour)
    if channels.webhook_url:
        s.add(
            _delivery(
                event_id,
                fired.user_id,
                "webhook",
                now,
                target=channels.webhook_url,
                status="pending",
            )
        )
    if channels.notify:
        _queue_pushes(s, event_id, fired.user_id, channels.notify, now)


def _email(s: Session, event_id: int, fired: Fired, now: datetime, limit: int) -> None:
    sent_last_hour = (
        s.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.user_id == fired.user_id,
                Delivery.channel == "email",
                Delivery.status != "skipped",  # queued, sent or failed: each was a mail
                Delivery.created_at > now - timedelta(hours=1),
            )
        )
        or 0
    )
    delivery = _delivery(event_id, fired.user_id, "email", now, status="queued")
    if sent_last_hour >= limit:
        delivery.status = "skipped"
        delivery.last_error = f"more than {limit} alert emails in an hour"
    else:
        user = s.get(User, fired.user_id)
        if user is not None:
            delivery.target = user.email
            tf = fired.timeframe.value
            subject = f"[tradealerts] {fired.symbol} {tf}: {fired.message}"[:200]
            when = at(fired.time)
            body = _(
                "{message}\n\nSymbol: {symbol} {timeframe}\nCondition: {condition}\n"
                "Price: {price}\nLevel: {level}\nTime: {time}\n",
                message=fired.message,  # already in their language (notes.in_their_languages)
                symbol=fired.symbol,
                timeframe=tf,
                condition=fired.condition.value,
                price=fired.price,
                level=fired.level if fired.level is not None else "None",
                time=When(when, when.isoformat().replace("+00:00", "Z")),
            )
            queue_mail(s, user.email, subject, body, now, delivery=delivery, language=user.language)
    s.add(delivery)


def _queue_pushes(s: Session, event_id: int, user_id: int, names: list[str], now: datetime) -> None:
    """One pending push delivery per channel the fired alert names (a name removed since is
    left out: removing a channel takes it off the alerts)."""
    rows = s.scalars(
        select(PushChannel).where(PushChannel.user_id == user_id, PushChannel.name.in_(names))
    ).all()
    for row in rows:
        s.add(_delivery(event_id, user_id, "push", now, target=target_of(row), status="pending"))
