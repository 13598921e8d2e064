"""/api/channels: the caller's push channels (Apprise URLs; PRO, like webhooks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from sqlalchemy.exc import IntegrityError

from tradealerts.core.messages import _, reader_language
from tradealerts.core.push import (
    CHANNEL_NAME_PATTERN,
    ChannelCreate,
    ChannelList,
    ChannelPublic,
    ChannelTested,
    test_push_text,
)
from tradealerts.core.schemas import from_row
from tradealerts.server.alerts import records
from tradealerts.server.api.deps import ClockDep, CurrentUser, SessionDep
from tradealerts.server.db.models import PushChannel
from tradealerts.server.errors import ApiError, Conflict, Invalid, sentence_of
from tradealerts.server.push import store
from tradealerts.server.push.send import Pusher
from tradealerts.server.push.vault import Vault, VaultError

router = APIRouter(prefix="/channels", tags=["channels"])

ChannelName = Annotated[str, Path(pattern=CHANNEL_NAME_PATTERN, max_length=32)]


def _public(row: PushChannel) -> ChannelPublic:
    return from_row(ChannelPublic, row, default=row.is_default)


def vault_of(request: Request) -> Vault:
    """The app's vault (made on first use, from the server's secret key)."""
    state = request.app.state
    if getattr(state, "vault", None) is None:
        state.vault = Vault(state.settings.signing_key())
    vault: Vault = state.vault
    return vault


def _pusher(request: Request) -> Pusher:
    """The pool test pushes go through (small: a test is one person's click)."""
    state = request.app.state
    if getattr(state, "pusher", None) is None:
        settings = state.settings
        state.pusher = Pusher(
            state.webhook_guard,
            4,
            settings.push_deadline_seconds,
            settings.webhook_response_cap_bytes,
        )
    pusher: Pusher = state.pusher
    return pusher


@router.get("", response_model=ChannelList)
def list_channels(user: CurrentUser, s: SessionDep) -> ChannelList:
    """Your push channels by name: service and a masked URL (never the URL itself)."""
    return ChannelList(items=[_public(r) for r in store.list_channels(s, user.id)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ChannelPublic)
def add_channel(
    body: ChannelCreate, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> ChannelPublic:
    """Add a channel: any Apprise URL (``ntfy://ntfy.sh/topic``, ``tgram://token/chat`` …);
    stored encrypted. PRO; a URL naming a private or loopback host is refused unless the
    server's owner allows it."""
    try:
        row = store.add_channel(
            s,
            user,
            body.name,
            body.url,
            body.default,
            vault_of(request),
            request.app.state.webhook_guard,
            clock(),
        )
        s.commit()
    except IntegrityError:  # the same name added by a request at the same moment
        s.rollback()
        raise Conflict(
            _("name: you already have a channel named {name}.", name=repr(body.name)),
            field="name",
        ) from None
    return _public(row)


@router.delete("/{name}", status_code=204)
def remove_channel(
    name: ChannelName, request: Request, user: CurrentUser, s: SessionDep, clock: ClockDep
) -> Response:
    """Remove a channel; alerts that named it go on firing to their other channels."""
    store.remove_channel(s, user.id, name)
    ids = records.drop_channel(s, user.id, name, clock())
    s.commit()
    runtime = getattr(request.app.state, "alerts", None)
    if runtime is not None:
        for alert_id in ids:
            row = records.get_alert(s, user.id, alert_id)
            runtime.changed(records.matcher_alert(row), row.version)
    return Response(status_code=204)


@router.post("/{name}/test", response_model=ChannelTested)
def test_channel(
    name: ChannelName, request: Request, user: CurrentUser, s: SessionDep
) -> ChannelTested:
    """Send a test push now; 502 ``push_failed`` with the service's reason (masked) when it
    did not take it, 422 ``channel_refused`` when the SSRF guard refused its address."""
    store.check_tier(user)
    row = store.find_channel(s, user.id, name)
    try:
        url = vault_of(request).open(row.url_secret)
    except VaultError as exc:
        raise ApiError(
            _(
                "{reason}: the server's secret key changed; remove the channel and add it again.",
                reason=sentence_of(exc),
            ),
            status=409,
            code="channel_unreadable",
        ) from None
    title, text = test_push_text(row.name, user.language)
    s.close()  # no connection held while the service answers
    pusher = _pusher(request)
    result = pusher.result(pusher.submit(url, title, text))
    if result.refused:
        raise Invalid(
            _("{name}: {reason}.", name=name, reason=result.error),
            field="url",
            code="channel_refused",
        )
    if not result.sent:
        raise ApiError(
            _(
                "The test push to {name} ({service}) failed: {reason}.",
                name=repr(name),
                service=row.service,
                reason=result.error,
            ),
            status=502,
            code="push_failed",
        )
    said = _("A test push went to {name}.", name=repr(name)).into(reader_language())
    return ChannelTested(name=name, sent=True, message=said)
