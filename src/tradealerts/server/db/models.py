"""The tables: accounts, sessions, codes, watchlists, notifications, support, audit, mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tradealerts.server.db.types import UTCDateTime

__all__ = [
    "AlertChange",
    "AlertRow",
    "AuditLog",
    "Base",
    "BillingAccount",
    "Delivery",
    "EmailCode",
    "ErrorRecord",
    "Event",
    "FireBatch",
    "Incident",
    "IndicatorValues",
    "IngestToken",
    "InvoiceRow",
    "MailMessage",
    "MaintenanceNotice",
    "Notification",
    "PushChannel",
    "RefreshToken",
    "StripeEvent",
    "SupportTicket",
    "TierChange",
    "UsageMinute",
    "User",
    "WatchlistItem",
]


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


def _owned() -> Any:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class _UsersRow:
    """A row of one user's: its id, its owner (deleted with them), when it was made (id and
    owner first, the time after the class's own columns: ``sort_order``)."""

    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-2)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, sort_order=-1
    )
    created_at: Mapped[datetime] = mapped_column(sort_order=1)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    tier: Mapped[str] = mapped_column(String(8), default="FREE")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str] = mapped_column(String(80), default="")
    bio: Mapped[str] = mapped_column(String(500), default="")
    theme: Mapped[str] = mapped_column(String(40), default="textual-dark")
    chart_style: Mapped[str] = mapped_column(String(16), default="candles")
    language: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    analytics_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the terminal bell of ``tradealerts tui`` when an alert fires (a stored preference, so
    #: it follows the person from one machine to the next)
    alert_bell: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The 30 s step of the last TOTP code accepted: that code and older ones are refused.
    totp_last_step: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Signs this user's webhooks (Standard Webhooks, ``whsec_`` + base64); made on first use.
    webhook_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Set by an administrator: the account's tokens are refused until it is enabled again.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    watchlist: Mapped[list[WatchlistItem]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="WatchlistItem.id"
    )


class EmailCode(_UsersRow, Base):
    """A single-use code mailed for verification, password reset or an email change."""

    __tablename__ = "email_codes"

    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(128))
    new_email: Mapped[str | None] = mapped_column(String(320), default=None)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class RefreshToken(_UsersRow, Base):
    """An opaque refresh token, stored hashed; rotation links tokens of one login's family."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class WatchlistItem(_UsersRow, Base):
    __tablename__ = "watchlist_items"
    __table_args__ = (UniqueConstraint("user_id", "symbol", "timeframe"),)

    symbol: Mapped[str] = mapped_column(String(16))
    timeframe: Mapped[str] = mapped_column(String(4))


class Notification(_UsersRow, Base):
    __tablename__ = "notifications"

    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    read_at: Mapped[datetime | None] = mapped_column(default=None)


class SupportTicket(_UsersRow, Base):
    __tablename__ = "support_tickets"

    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")


class AuditLog(Base):
    """Every admin action: who, what, on whom."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


class MailMessage(Base):
    """Outgoing mail, kept until sent so that a mail failure never loses it."""

    __tablename__ = "mail_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    #: Set aside by the worker: no try can send it as it is (``mail.release`` requeues it).
    quarantined_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    #: The alert delivery this mail carries (its row is marked sent or failed with the mail).
    delivery_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    created_at: Mapped[datetime]

    # no foreign key: retention purges deliveries with their events, the mail row may stay
    delivery: Mapped[Delivery | None] = relationship(
        primaryjoin="foreign(MailMessage.delivery_id) == Delivery.id"
    )


class Event(Base):
    """The durable event log: a fired alert, written before anyone is told.

    ``id`` is monotonic and is the SSE ``id:`` a client resumes from with Last-Event-ID.
    """

    __tablename__ = "events"
    # ids are never reused, even after retention purges the newest rows of an idle log
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy reads it

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = _owned()
    alert_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    kind: Mapped[str] = mapped_column(String(16), default="alert")
    symbol: Mapped[str] = mapped_column(String(16))
    timeframe: Mapped[str] = mapped_column(String(4))
    condition: Mapped[str] = mapped_column(String(32))
    level: Mapped[float | None] = mapped_column(default=None)
    price: Mapped[float]
    time: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class AlertRow(_UsersRow, Base):
    """A subscriber's alert. ``spec`` is the validated ``AlertCreate`` (its JSON form); the
    columns beside it are what queries filter on and what the engine changes."""

    __tablename__ = "alerts"
    # ids are never reused: history rows keep pointing at the alert that fired them
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_alerts_user_name"),
        {"sqlite_autoincrement": True},
    )

    #: Unique per user: the key ``alerts apply`` matches on (not in ``spec``: one place).
    name: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(16), index=True)
    timeframe: Mapped[str] = mapped_column(String(4))
    condition: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    status_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    last_fired_at: Mapped[datetime | None] = mapped_column(default=None)
    fire_count: Mapped[int] = mapped_column(Integer, default=0)
    #: ``fire_count`` when the alert was last armed (created or resumed): ``max_fires``
    #: counts the fires since.
    fires_at_arm: Mapped[int] = mapped_column(Integer, default=0)
    #: Bumped on every change, so a stale copy never overwrites a newer one in the engine.
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class AlertChange(Base):
    """One row per alert change made outside the engine (API, admin, tier change): the
    engine polls it, so a change made by any process reaches the matcher."""

    __tablename__ = "alert_changes"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy reads it

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Delivery(Base):
    """One fired alert on one channel (email, webhook): its attempts and outcome."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = _owned()
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None] = mapped_column(default=None)


class PushChannel(_UsersRow, Base):
    """A user's named push channel: an Apprise URL (it holds the service's token), stored
    encrypted with the server's key (``url_secret``); ``masked`` is what may be shown."""

    __tablename__ = "push_channels"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_push_channels_user_name"),)

    name: Mapped[str] = mapped_column(String(32))
    url_secret: Mapped[str] = mapped_column(Text)
    service: Mapped[str] = mapped_column(String(64), default="")
    masked: Mapped[str] = mapped_column(String(300), default="")
    #: named by the user's new alerts that do not name their own channels
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class FireBatch(Base):
    """The key of every committed batch of fires, written in the batch's own transaction.

    A commit whose answer was lost (the connection dropped after COMMIT reached the server)
    is retried under the same key: the key's primary key refuses the second copy, so each
    fire is logged exactly once. Keys older than a day are purged."""

    __tablename__ = "fire_batches"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    fires: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(index=True)


class BillingAccount(Base):
    """A user's Stripe customer and subscription, as Stripe last said (Stripe is the truth;
    this copy lets billing pages and revenue figures answer without asking it)."""

    __tablename__ = "billing_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, index=True
    )
    customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[str | None] = mapped_column(String(255), default=None, index=True)
    #: Stripe's subscription status, or ``none`` before the first subscription
    status: Mapped[str] = mapped_column(String(32), default="none")
    price_id: Mapped[str | None] = mapped_column(String(255), default=None)
    current_period_end: Mapped[datetime | None] = mapped_column(default=None)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when we first saw the subscription ``past_due`` (the grace period runs from here)
    past_due_since: Mapped[datetime | None] = mapped_column(default=None, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    card_brand: Mapped[str | None] = mapped_column(String(32), default=None)
    card_last4: Mapped[str | None] = mapped_column(String(4), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InvoiceRow(Base):
    """A Stripe invoice as its webhooks said; money in integer minor units + currency."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's in_...
    user_id: Mapped[int] = _owned()
    subscription_id: Mapped[str | None] = mapped_column(String(255), default=None)
    number: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[str] = mapped_column(String(32))
    amount_due: Mapped[int] = mapped_column(Integer, default=0)
    amount_paid: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime | None] = mapped_column(default=None)
    period_end: Mapped[datetime | None] = mapped_column(default=None)
    paid_at: Mapped[datetime | None] = mapped_column(default=None)
    hosted_invoice_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    invoice_pdf: Mapped[str | None] = mapped_column(String(2048), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StripeEvent(Base):
    """A Stripe webhook event already handled: written in the transaction of its effect,
    so a redelivery (or ten copies at once) changes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's evt_...
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]


class UsageMinute(Base):
    """Requests of one minute, one route family and one caller (0: anonymous), by status
    class, with a latency histogram (counts per ``usage.LATENCY_BUCKETS`` bound)."""

    __tablename__ = "usage_minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    minute: Mapped[datetime] = mapped_column(index=True)
    family: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(Integer, default=0, index=True)
    tier: Mapped[str] = mapped_column(String(8), default="")
    requests: Mapped[int] = mapped_column(Integer, default=0)
    s2xx: Mapped[int] = mapped_column(Integer, default=0)
    s3xx: Mapped[int] = mapped_column(Integer, default=0)
    s4xx: Mapped[int] = mapped_column(Integer, default=0)
    s429: Mapped[int] = mapped_column(Integer, default=0)
    s5xx: Mapped[int] = mapped_column(Integer, default=0)
    latency: Mapped[list[int]] = mapped_column(JSON, default=list)


class ErrorRecord(Base):
    """A 5xx answer or an unhandled exception; ``fingerprint`` groups repeats of one fault."""

    __tablename__ = "error_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(8), default="")
    route: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[int] = mapped_column(Integer, default=500)
    user_id: Mapped[int | None] = mapped_column(Integer, default=None)
    exc_type: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(String(1000), default="")
    fingerprint: Mapped[str] = mapped_column(String(16), default="", index=True)
    traceback: Mapped[str] = mapped_column(Text, default="")


class TierChange(Base):
    """Every tier change (``accounts.set_tier``): conversions and churn are counted from it.
    No foreign key: a deleted account's conversion still counted."""

    __tablename__ = "tier_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    old: Mapped[str] = mapped_column(String(8))
    new: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(index=True)


class IngestToken(Base):
    """An owner token for the MT5 bridge (``tradealerts-server ingest-token create``): only
    its argon2id hash is kept; ``key_id`` (in the token, not secret) finds the row."""

    __tablename__ = "ingest_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class IndicatorValues(Base):
    """The owner's indicator buffers on one closed bar, as the bridge sent them last:
    ``values`` maps buffer index (as text) to the value, None for "nothing on this bar"."""

    __tablename__ = "indicator_values"
    __table_args__ = (UniqueConstraint("symbol", "timeframe", "time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(4))
    time: Mapped[int] = mapped_column(BigInteger)
    values: Mapped[dict[str, float | None]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(index=True)  # a scaled-out engine's reads


class EngineLease(Base):
    """Who leads the scaled-out engine (``server/scale/lease.py``): one row per lease name.
    ``epoch`` is the fencing token every commit of fires checks; ``expires_at`` is epoch
    seconds on the database's clock; ``feed_origin`` the wall time the first leader's replay
    began (a standby takes over at the bar that time implies)."""

    __tablename__ = "engine_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)
    feed_origin: Mapped[float | None] = mapped_column(Float, default=None)


class MaintenanceNotice(Base):
    """A notice the owner announced (``admin announce``, issue #29): every user's
    notification centre gets a copy; ``starts_at`` + ``duration_seconds`` is the maintenance
    window (both None: a plain notice); ``cancelled_at`` once withdrawn."""

    __tablename__ = "maintenance_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime | None] = mapped_column(default=None)
    duration_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    #: when it stops being current: the window's end, or made + a day for a plain notice
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(320), default="cli")
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)


class Incident(Base):
    """An owner alert (``server/incidents``): one row per incident, from the moment its
    condition held long enough to the "recovered" message. ``key`` names the condition
    (``feed:stale:BTCUSD``); at most one row per key is open (``closed_at`` None), so a
    restarted server goes on with it instead of opening it again."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(String(1000), default="")
    opened_at: Mapped[datetime] = mapped_column(index=True)
    last_notified_at: Mapped[datetime]
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    recovery: Mapped[str] = mapped_column(String(1000), default="")
