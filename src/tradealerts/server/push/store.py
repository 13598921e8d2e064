"""A user's push channels: add (checked, encrypted), list (masked), remove, and the checks
alerts go through when they name channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradealerts.core.messages import _
from tradealerts.core.push import describe_url
from tradealerts.core.tiers import AccessDenied, Tier
from tradealerts.server.alerts.guard import WebhookGuard, WebhookRefused
from tradealerts.server.db.models import PushChannel, User
from tradealerts.server.errors import Conflict, Invalid, NotFound, sentence_of
from tradealerts.server.push.vault import Vault

__all__ = [
    "MAX_CHANNELS",
    "add_channel",
    "check_notify",
    "check_tier",
    "default_names",
    "find_channel",
    "list_channels",
    "remove_channel",
]

#: push channels a user may keep
MAX_CHANNELS = 20
_DEFAULT_PORTS = {True: 443, False: 80}


def check_tier(user: User) -> None:
    """Push channels are a PRO feature, like webhooks (403 naming the plan that opens them)."""
    if user.tier != Tier.PRO.value:
        raise AccessDenied(
            _(
                "Push channels (phone, Telegram, ntfy …) are a PRO feature; upgrade to PRO to "
                "use them."
            ),
            Tier.PRO,
        )


def list_channels(s: Session, user_id: int) -> list[PushChannel]:
    """The user's channels, by name."""
    return list(
        s.scalars(
            select(PushChannel).where(PushChannel.user_id == user_id).order_by(PushChannel.name)
        )
    )


def find_channel(s: Session, user_id: int, name: str) -> PushChannel:
    """One of the user's channels (404 naming the ones there are)."""
    row = s.scalar(
        select(PushChannel).where(PushChannel.user_id == user_id, PushChannel.name == name)
    )
    if row is None:
        names = ", ".join(c.name for c in list_channels(s, user_id)) or _("none yet")
        raise NotFound(
            _("You have no channel named {name} (yours: {names}).", name=repr(name), names=names)
        )
    return row


def host_refusal(url: str, guard: WebhookGuard) -> str | None:
    """Why the host an Apprise URL names may not be reached (the SSRF guard), or None. The
    guard checks again on every send, each name the plugin resolves."""
    info = describe_url(url)
    if info.host is None:
        return None
    secure = url.split("://", 1)[0].lower().endswith("s")
    try:
        guard.address_for(info.host, info.port or _DEFAULT_PORTS[secure])
    except WebhookRefused as exc:
        return str(exc)
    return None


def add_channel(
    s: Session,
    user: User,
    name: str,
    url: str,
    default: bool,
    vault: Vault,
    guard: WebhookGuard,
    now: datetime,
) -> PushChannel:
    """Store a new channel, its URL sealed (caller commits). Errors never quote the URL."""
    check_tier(user)
    try:
        info = describe_url(url)
    except ValueError as exc:
        raise Invalid(
            _("url: {reason}.", reason=sentence_of(exc)), field="url", code="bad_channel_url"
        ) from None
    problem = host_refusal(url, guard)
    if problem is not None:
        raise Invalid(
            _(
                "url: {reason}; use a public address (or ask the server's owner to allow it).",
                reason=problem,
            ),
            field="url",
            code="channel_refused",
        )
    existing = list_channels(s, user.id)
    if any(c.name == name for c in existing):
        raise Conflict(
            _(
                "name: you already have a channel named {name}; remove it first or pick "
                "another name.",
                name=repr(name),
            ),
            field="name",
        )
    if len(existing) >= MAX_CHANNELS:
        raise Conflict(
            _("You have {count} channels, the most one account keeps.", count=MAX_CHANNELS)
        )
    row = PushChannel(
        user_id=user.id,
        name=name,
        url_secret=vault.seal(url),
        service=info.service[:64],
        masked=info.masked[:300],
        is_default=default,
        created_at=now,
    )
    s.add(row)
    s.flush()
    return row


def remove_channel(s: Session, user_id: int, name: str) -> None:
    """Delete a channel (the caller takes its name off the user's alerts:
    ``records.drop_channel``; queued pushes to it are skipped when their turn comes)."""
    s.delete(find_channel(s, user_id, name))


def default_names(s: Session, user_id: int) -> list[str]:
    """The channels a new alert names when it names none."""
    return list(
        s.scalars(
            select(PushChannel.name)
            .where(PushChannel.user_id == user_id, PushChannel.is_default.is_(True))
            .order_by(PushChannel.name)
        )
    )


def check_notify(s: Session, user: User, names: list[str] | None) -> None:
    """An alert's ``channels.notify``: each name one of the user's channels (422 with the
    field), and the plan one that has push channels."""
    if not names:
        return
    check_tier(user)
    known = {c.name for c in list_channels(s, user.id)}
    unknown = [n for n in names if n not in known]
    if unknown:
        have = ", ".join(sorted(known)) or _("none yet")
        raise Invalid(
            _(
                "channels.notify: you have no channel named {quoted} (yours: {names}); "
                "add it with: tradealerts channels add {name} URL",
                quoted=repr(unknown[0]),
                names=have,
                name=unknown[0],
            ),
            field="channels.notify",
            code="unknown_channel",
        )
