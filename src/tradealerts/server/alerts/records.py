"""Alerts in the database: create, change, pause, resume, delete, and the tier rules.

Every change made here (by the API, an admin or a tier change) bumps the row's ``version``
and appends an ``alert_changes`` row in the caller's transaction; the engine reads that
feed, so a change reaches the matcher whichever process made it. The ids changed are also
noted in ``session.info[ALERT_CHANGES]`` as ``(user_id, alert_id)``: the server turns them
into the stream's ``alerts_changed`` event once the transaction commits.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tradealerts.core.alerts import (
    NAME_PATTERN,
    AlertCreate,
    AlertHealth,
    AlertPublic,
    AlertStatus,
    AlertUpdate,
    merge_update,
)
from tradealerts.core.messages import N_, When, _
from tradealerts.core.tiers import TIERS, AccessDenied, Tier, check_pair
from tradealerts.server.alerts.guard import WebhookGuard
from tradealerts.server.alerts.model import Alert
from tradealerts.server.db.models import AlertChange, AlertRow, User
from tradealerts.server.errors import Conflict, Invalid, NotFound, plan_full
from tradealerts.server.push import store as push_store

__all__ = [
    "ALERT_CHANGES",
    "REASON_TIER_DOWNGRADE",
    "REASON_USER_PAUSED",
    "active_count",
    "apply_tier",
    "check_spec",
    "create_alert",
    "default_name",
    "delete_alert",
    "drop_webhook",
    "get_alert",
    "matcher_alert",
    "name_taken",
    "pause_alert",
    "public",
    "replace_alert",
    "resume_alert",
    "spec_of",
    "stored_spec",
    "update_alert",
    "webhook_secret",
]

REASON_USER_PAUSED = "paused_by_user"
REASON_TIER_DOWNGRADE = "tier_downgrade"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAMED = re.compile(NAME_PATTERN)
#: the name of a row between its insert and its naming (never a valid user name)
_UNNAMED = "~unnamed"
#: ``session.info`` key: the ``(user_id, alert_id)`` changed in the open transaction
ALERT_CHANGES = "alert_changes"


#: the refusal past the tier's active alerts (``plan_full`` fills it in)
_FULL = N_("Your {tier} plan allows {limit} active alerts{hint}. Pause or delete one first.")


def _expiry(at: datetime | None) -> When | str:
    """An expiry in prose: ``2026-12-01 00:00Z`` in English, the locale's form otherwise."""
    return When(at, f"{at:%Y-%m-%d %H:%M}Z") if at is not None else ""


def refuse_expired(spec: AlertCreate, now: datetime, alert_id: int, message: str) -> None:
    """409 ``alert_expired`` when ``spec`` has expired by ``now``; ``message`` (marked
    ``N_``) says ``{id}`` and ``{expires_at}``."""
    if spec.expires_at is not None and spec.expires_at <= now:
        raise Conflict(
            _(message, id=alert_id, expires_at=_expiry(spec.expires_at)), code="alert_expired"
        )


def spec_of(row: AlertRow) -> AlertCreate:
    """The stored spec, re-read without the creation-time checks (an old expiry is fine);
    its ``name`` is the row's (the column is the one place a name lives)."""
    data = {**row.spec, "name": row.name if _NAMED.match(row.name or "") else None}
    return AlertCreate.model_validate(
        # stored: text from before the control-character rule is read as it is (the
        # runtime makes a fire's text safe; the 0014 migration cleaned what was stored)
        data,
        context={"now": _EPOCH, "allow_insecure_loopback": True, "stored": True},
    )


def stored_spec(spec: AlertCreate) -> dict[str, Any]:
    """The JSON kept in ``AlertRow.spec``: every field but the name."""
    return spec.model_dump(mode="json", exclude={"name"})


def public(row: AlertRow, health: AlertHealth | None = None) -> AlertPublic:
    """The alert as the API returns it (with its health when given)."""
    spec = spec_of(row)
    return AlertPublic(
        id=row.id,
        **{**spec.model_dump(), "name": row.name},
        status=AlertStatus(row.status),
        status_reason=row.status_reason,
        created_at=row.created_at,
        last_fired_at=row.last_fired_at,
        fire_count=row.fire_count,
        health=health,
    )


def matcher_alert(row: AlertRow) -> Alert:
    """The alert as the matcher holds it."""
    return Alert(
        id=row.id,
        user_id=row.user_id,
        spec=spec_of(row),
        status=AlertStatus(row.status),
        last_fired_at=row.last_fired_at.timestamp() if row.last_fired_at else None,
        fire_count=row.fire_count,
        fires_at_arm=row.fires_at_arm,
    )


def default_name(row: AlertRow) -> str:
    """``<symbol>-<timeframe>-<condition>-<id>`` in lower case: a stored row's own name."""
    return f"{row.symbol}-{row.timeframe}-{row.condition}-{row.id}".lower()


def name_taken(s: Session, user_id: int, name: str, exclude: int | None = None) -> bool:
    """Whether the user has another alert called ``name``."""
    where = [AlertRow.user_id == user_id, AlertRow.name == name]
    if exclude is not None:
        where.append(AlertRow.id != exclude)
    return s.scalar(select(AlertRow.id).where(*where).limit(1)) is not None


def _check_name(s: Session, user_id: int, name: str, exclude: int | None = None) -> None:
    if name_taken(s, user_id, name, exclude):
        raise Conflict(
            _("You already have an alert named {name!r}; pick another name.", name=name),
            code="name_taken",
            field="name",
        )


def _give_name(s: Session, row: AlertRow, name: str | None) -> None:
    """The chosen name, or the default one made unique with ``-2``, ``-3``… (row flushed)."""
    if name is None:
        base = candidate = default_name(row)
        n = 1
        while name_taken(s, row.user_id, candidate, exclude=row.id):
            n += 1
            candidate = f"{base}-{n}"
        name = candidate
    row.name = name


def _changed(s: Session, row: AlertRow, now: datetime) -> None:
    row.version += 1
    row.updated_at = now
    s.flush()
    _note(s, row.user_id, row.id, now)


def _note(s: Session, user_id: int, alert_id: int, now: datetime) -> None:
    """The change feed's row (for the engines) and the note for the user's open streams."""
    s.add(AlertChange(alert_id=alert_id, created_at=now))
    s.info.setdefault(ALERT_CHANGES, []).append((user_id, alert_id))


def active_count(s: Session, user_id: int) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(AlertRow)
            .where(AlertRow.user_id == user_id, AlertRow.status == AlertStatus.active.value)
        )
        or 0
    )


def _check_room(s: Session, user: User, exclude: int | None = None) -> None:
    tier = Tier(user.tier)
    count = active_count(s, user.id)
    if exclude is not None:
        count -= 1
    if count >= TIERS[tier].active_alerts:
        raise plan_full(tier, "active_alerts", _FULL, code="alert_limit")


def webhook_refusal(url: str, guard: WebhookGuard) -> str | None:
    """Why a webhook URL may not be called (SSRF guard), or None. Checked at creation and
    again before every delivery (a name can start resolving elsewhere)."""
    return guard.refusal(url)


def check_spec(user: User, spec: AlertCreate, guard: WebhookGuard) -> None:
    """The tier allows the pair (and a webhook), and the webhook's address is public."""
    tier = Tier(user.tier)
    check_pair(tier, spec.symbol, spec.timeframe)
    url = spec.channels.webhook_url
    if url is not None:
        if tier != Tier.PRO:
            raise AccessDenied(
                _("Webhooks are a PRO feature; upgrade to PRO to use them."), Tier.PRO
            )
        problem = webhook_refusal(url, guard)
        if problem is not None:
            raise Invalid(
                _("channels.webhook_url: {problem}; use a public https address.", problem=problem),
                field="channels.webhook_url",
            )


def webhook_secret(s: Session, user: User, rotate: bool = False) -> str:
    """The user's webhook signing secret, made on first use (or replaced when ``rotate``):
    ``whsec_`` + base64 of 24 random bytes, the Standard Webhooks form."""
    if user.webhook_secret is None or rotate:
        user.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return user.webhook_secret


def drop_webhook(s: Session, user_id: int, url: str, now: datetime) -> list[int]:
    """Take ``url`` off every alert of the user that sends to it (the receiver answered 410
    Gone); returns their ids. The alerts go on firing to their other channels."""
    ids = []
    for row in s.scalars(select(AlertRow).where(AlertRow.user_id == user_id)):
        spec = spec_of(row)
        if spec.channels.webhook_url != url:
            continue
        channels = spec.channels.model_copy(update={"webhook_url": None})
        row.spec = stored_spec(spec.model_copy(update={"channels": channels}))
        _changed(s, row, now)
        ids.append(row.id)
    return ids


def _notify_checked(s: Session, user: User, spec: AlertCreate) -> AlertCreate:
    """``spec`` with the user's default push channels when it names none; each name checked."""
    if spec.channels.notify is None:
        names = push_store.default_names(s, user.id)
        if names and user.tier == Tier.PRO.value:
            channels = spec.channels.model_copy(update={"notify": names})
            spec = spec.model_copy(update={"channels": channels})
    push_store.check_notify(s, user, spec.channels.notify)
    return spec


def create_alert(
    s: Session, user: User, spec: AlertCreate, now: datetime, guard: WebhookGuard
) -> AlertRow:
    """Store a new active alert after the tier, limit and webhook checks (caller commits).
    An alert that names no push channels (``notify`` absent) names the user's defaults."""
    check_spec(user, spec, guard)
    spec = _notify_checked(s, user, spec)
    _check_room(s, user)
    if spec.name is not None:
        _check_name(s, user.id, spec.name)
    if spec.channels.webhook_url is not None:
        webhook_secret(s, user)
    row = AlertRow(
        user_id=user.id,
        name=_UNNAMED + secrets.token_hex(8),
        symbol=spec.symbol,
        timeframe=spec.timeframe.value,
        condition=spec.condition.value,
        spec=stored_spec(spec),
        status=AlertStatus.active.value,
        fire_count=0,
        fires_at_arm=0,
        version=0,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    s.flush()
    _give_name(s, row, spec.name)
    _changed(s, row, now)
    return row


def replace_alert(
    s: Session, user: User, row: AlertRow, spec: AlertCreate, now: datetime, guard: WebhookGuard
) -> AlertRow:
    """Make the alert exactly ``spec`` (an alerts file's entry); its status is kept."""
    check_spec(user, spec, guard)
    if spec.channels.notify != spec_of(row).channels.notify:
        push_store.check_notify(s, user, spec.channels.notify)
    if spec.channels.webhook_url is not None:
        webhook_secret(s, user)
    if spec.name is not None and spec.name != row.name:
        _check_name(s, user.id, spec.name, exclude=row.id)
        row.name = spec.name
    row.spec = stored_spec(spec)
    row.symbol, row.timeframe = spec.symbol, spec.timeframe.value
    row.condition = spec.condition.value
    _changed(s, row, now)
    return row


def get_alert(s: Session, user_id: int, alert_id: int) -> AlertRow:
    """One of the caller's alerts; another user's is as unknown as a missing one."""
    row = s.get(AlertRow, alert_id)
    if row is None or row.user_id != user_id:
        raise NotFound(_("You have no alert {alert_id}.", alert_id=alert_id))
    return row


def update_alert(
    s: Session,
    user: User,
    row: AlertRow,
    update: AlertUpdate,
    now: datetime,
    guard: WebhookGuard,
) -> AlertRow:
    """Apply a partial change, validated as a whole; the status is kept."""
    spec = merge_update(spec_of(row), update, now=now, allow_insecure_loopback=True)
    if spec.name is not None and spec.name != row.name:
        _check_name(s, user.id, spec.name, exclude=row.id)
        row.name = spec.name
    # a new expiry in the future revives an expired alert, like a resume would
    revives = row.status == AlertStatus.expired.value and spec.expires_at is not None
    if revives or row.status == AlertStatus.active.value:
        # whatever changed, an alert that is active after this change must be one the
        # tier allows now (pair, webhook, count): the tier may have dropped since
        check_spec(user, spec, guard)
        _check_room(s, user, exclude=None if revives else row.id)
    elif spec.channels.webhook_url != spec_of(row).channels.webhook_url or (
        spec.symbol,
        spec.timeframe,
    ) != (row.symbol, row.timeframe):
        check_spec(user, spec, guard)
    if spec.channels.notify != spec_of(row).channels.notify:
        push_store.check_notify(s, user, spec.channels.notify)
    if spec.channels.webhook_url is not None:
        webhook_secret(s, user)
    row.spec = stored_spec(spec)
    row.symbol, row.timeframe = spec.symbol, spec.timeframe.value
    row.condition = spec.condition.value
    if revives:
        row.status, row.status_reason = AlertStatus.active.value, None
    _changed(s, row, now)
    return row


def pause_alert(s: Session, row: AlertRow, now: datetime) -> AlertRow:
    """Stop matching; a paused alert keeps its place and history."""
    if row.status != AlertStatus.active.value:
        raise Conflict(
            _("Alert {id} is {status}, not active: nothing to pause.", id=row.id, status=row.status)
        )
    row.status, row.status_reason = AlertStatus.paused.value, REASON_USER_PAUSED
    _changed(s, row, now)
    return row


def resume_alert(
    s: Session, user: User, row: AlertRow, now: datetime, guard: WebhookGuard
) -> AlertRow:
    """Match again (also re-arms a triggered alert), if the tier allows it now."""
    if row.status == AlertStatus.active.value:
        raise Conflict(_("Alert {id} is already active.", id=row.id))
    spec = spec_of(row)
    refuse_expired(
        spec,
        now,
        row.id,
        N_("Alert {id} expired at {expires_at}; set a later expires_at to revive it."),
    )
    try:
        check_spec(user, spec, guard)
    except AccessDenied as exc:
        if row.status_reason == REASON_TIER_DOWNGRADE:
            raise AccessDenied(
                _(
                    "Alert {id} was paused when your plan changed: {message}",
                    id=row.id,
                    message=exc.message,
                ),
                exc.required,
            ) from None
        raise
    _check_room(s, user)
    row.status, row.status_reason = AlertStatus.active.value, None
    row.fires_at_arm = row.fire_count  # armed again: max_fires counts from here
    _changed(s, row, now)
    return row


def delete_alert(s: Session, row: AlertRow, now: datetime) -> None:
    """Remove the alert (its fired events stay in the history)."""
    alert_id, user_id = row.id, row.user_id
    s.delete(row)
    _note(s, user_id, alert_id, now)


def apply_tier(s: Session, user: User, now: datetime) -> list[int]:
    """After a tier change: pause (reason ``tier_downgrade``) the active alerts the new tier
    does not allow — a locked pair, a webhook on FREE, or beyond the active-alert limit
    (the oldest are kept). Never deletes. Returns the ids paused."""
    tier = Tier(user.tier)
    rows = s.scalars(
        select(AlertRow)
        .where(AlertRow.user_id == user.id, AlertRow.status == AlertStatus.active.value)
        .order_by(AlertRow.id)
    ).all()
    keep = 0
    paused: list[int] = []
    for row in rows:
        allowed = True
        try:
            spec = spec_of(row)
            check_pair(tier, row.symbol, row.timeframe)
            if spec.channels.webhook_url is not None and tier != Tier.PRO:
                allowed = False
        except AccessDenied:
            allowed = False
        if allowed and keep < TIERS[tier].active_alerts:
            keep += 1
            continue
        row.status, row.status_reason = AlertStatus.paused.value, REASON_TIER_DOWNGRADE
        _changed(s, row, now)
        paused.append(row.id)
    return paused


def drop_channel(s: Session, user_id: int, name: str, now: datetime) -> list[int]:
    """Take a removed push channel's name off the user's alerts; returns those alerts' ids."""
    ids = []
    for alert in s.scalars(select(AlertRow).where(AlertRow.user_id == user_id)):
        spec = spec_of(alert)
        if not spec.channels.notify or name not in spec.channels.notify:
            continue
        notify = [n for n in spec.channels.notify if n != name]
        channels = spec.channels.model_copy(update={"notify": notify})
        alert.spec = stored_spec(spec.model_copy(update={"channels": channels}))
        _changed(s, alert, now)
        ids.append(alert.id)
    return ids
