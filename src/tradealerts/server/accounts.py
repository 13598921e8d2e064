"""Account rules shared by the API and the admin commands: users, codes, sessions, notices."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from tradealerts.core.messages import _, localise
from tradealerts.core.tiers import Tier
from tradealerts.server.alerts.records import apply_tier
from tradealerts.server.db.models import (
    AlertChange,
    AlertRow,
    AuditLog,
    EmailCode,
    Notification,
    RefreshToken,
    TierChange,
    User,
)
from tradealerts.server.security import (
    hash_password,
    hash_token,
    is_common_password,
    new_code,
    new_refresh_token,
    successor_token,
)

__all__ = [
    "CODE_MINUTES",
    "MAX_CODE_TRIES",
    "TIER_CHANGES",
    "CodeResult",
    "Rotation",
    "add_sessions_listener",
    "audit",
    "check_code",
    "create_code",
    "create_user",
    "find_user",
    "issue_refresh",
    "notify",
    "password_problem",
    "remove_sessions_listener",
    "revoke_all_sessions",
    "revoke_family",
    "rotate_refresh",
    "set_password",
    "set_tier",
    "use_totp",
    "was_issued",
]

CODE_MINUTES = 30
MAX_CODE_TRIES = 5


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < 10:
        return _("must be at least 10 characters")
    if len(password) > 256:
        return _("must be at most 256 characters")
    if is_common_password(password):
        return _("is too common; choose a less guessable one")
    return None


def find_user(s: Session, email: str) -> User | None:
    return s.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    s: Session,
    email: str,
    password: str,
    now: datetime,
    *,
    tier: Tier = Tier.FREE,
    is_admin: bool = False,
    verified: bool = False,
    display_name: str = "",
    password_hash: str | None = None,
) -> User:
    """A new user; ``password_hash`` instead of hashing ``password`` (a sign-up stores a
    placeholder and hashes in the background: ``server.signups``)."""
    user = User(
        email=email.strip().lower(),
        password_hash=password_hash if password_hash is not None else hash_password(password),
        tier=tier.value,
        is_admin=is_admin,
        email_verified=verified,
        display_name=display_name,
        created_at=now,
        updated_at=now,
    )
    s.add(user)
    s.flush()
    return user


def create_code(
    s: Session, user: User, purpose: str, now: datetime, new_email: str | None = None
) -> str:
    """A fresh single-use code; earlier unused codes of the same purpose stop working."""
    s.execute(
        update(EmailCode)
        .where(
            EmailCode.user_id == user.id, EmailCode.purpose == purpose, EmailCode.used_at.is_(None)
        )
        .values(used_at=now)
    )
    code = new_code()
    s.add(
        EmailCode(
            user_id=user.id,
            purpose=purpose,
            code_hash=hash_token(code),
            new_email=new_email,
            expires_at=now + timedelta(minutes=CODE_MINUTES),
            created_at=now,
        )
    )
    return code


@dataclass
class CodeResult:
    ok: bool
    reason: str = ""
    new_email: str | None = None


def check_code(s: Session, user: User, purpose: str, code: str, now: datetime) -> CodeResult:
    """Use a code: single use, 30 minutes, at most 5 tries."""
    row = s.scalar(
        select(EmailCode)
        .where(
            EmailCode.user_id == user.id, EmailCode.purpose == purpose, EmailCode.used_at.is_(None)
        )
        .order_by(EmailCode.id.desc())
    )
    if row is None:
        return CodeResult(False, "no code is pending: ask for a new one")
    if row.expires_at <= now:
        row.used_at = now
        return CodeResult(False, "the code has expired: ask for a new one")
    row.tries += 1
    if not secrets.compare_digest(row.code_hash, hash_token(code.strip())):
        if row.tries >= MAX_CODE_TRIES:
            row.used_at = now
            return CodeResult(False, "too many wrong codes: ask for a new one")
        return CodeResult(False, "the code is wrong")
    row.used_at = now
    return CodeResult(True, new_email=row.new_email)


def was_issued(s: Session, user: User, purpose: str, code: str) -> bool:
    """Whether ``code`` is the latest code of ``purpose`` mailed to ``user`` (used or not):
    a verification link followed twice is answered like the first time."""
    row = s.scalar(
        select(EmailCode)
        .where(EmailCode.user_id == user.id, EmailCode.purpose == purpose)
        .order_by(EmailCode.id.desc())
        .limit(1)
    )
    return row is not None and secrets.compare_digest(row.code_hash, hash_token(code.strip()))


def issue_refresh(
    s: Session,
    user: User,
    now: datetime,
    remember: bool,
    family: str | None = None,
    token: str | None = None,
) -> tuple[str, datetime, str]:
    """A new refresh token (random, or ``token``): (token, expiry, family = session id)."""
    token = token or new_refresh_token()
    expires = now + (timedelta(days=30) if remember else timedelta(hours=24))
    family = family or secrets.token_hex(16)
    s.add(
        RefreshToken(
            user_id=user.id,
            token_hash=hash_token(token),
            family_id=family,
            expires_at=expires,
            created_at=now,
        )
    )
    return token, expires, family


@dataclass(frozen=True)
class Rotation:
    """A rotated refresh token: the new one, and when the pair was issued (a retry within
    the grace window gets the pair issued then, so the same tokens come back)."""

    user: User
    token: str
    expires: datetime
    issued_at: datetime
    session_id: str


def rotate_refresh(
    s: Session, key: str, token: str, now: datetime, grace: timedelta
) -> Rotation | None:
    """Swap a refresh token for its successor in the same family (session).

    The same old token again within ``grace`` of its rotation gets the same successor (the
    client lost the answer and retried: RFC 9700 4.14.2); later, or once the successor has
    itself been used, it is a stolen copy coming back: the whole session ends."""
    row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    new = successor_token(key, token)
    user = s.get(User, row.user_id)
    if user is None:
        return None
    if row.rotated_at is None:
        # conditional, so two concurrent rotations of one token make one successor
        claimed = s.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
            .values(rotated_at=now)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            remember = (row.expires_at - row.created_at) > timedelta(days=2)
            _, expires, _ = issue_refresh(s, user, now, remember, row.family_id, new)
            return Rotation(user, new, expires, now, row.family_id)
        s.refresh(row)  # another request rotated it meanwhile: its answer is ours too
    rotated_at = row.rotated_at
    if rotated_at is not None and now - rotated_at <= grace:
        successor = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(new)))
        if successor is not None and successor.rotated_at is None and successor.revoked_at is None:
            return Rotation(user, new, successor.expires_at, rotated_at, row.family_id)
    # an old token came back: someone else has it; end every session of this login
    _end_sessions(s, [row.family_id], now)
    return None


def _end_sessions(s: Session, families: Iterable[str], now: datetime) -> None:
    ended = set(families)
    if not ended:
        return
    s.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id.in_(ended), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    pending: set[str] | None = s.info.get("ended_sessions")
    if pending is None:
        pending = s.info["ended_sessions"] = set()
        # once each, and idempotent: listeners cannot be removed while the event runs
        event.listen(s, "after_commit", _announce_ended, once=True)
        event.listen(s, "after_rollback", _forget_ended, once=True)
    pending |= ended


def revoke_family(s: Session, token: str, now: datetime) -> None:
    """End the session (family) a refresh token belongs to."""
    row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is not None:
        _end_sessions(s, [row.family_id], now)


def revoke_all_sessions(s: Session, user: User, now: datetime, keep: str | None = None) -> None:
    """End every open session of ``user`` (but ``keep``, the caller's own, when given)."""
    query = select(RefreshToken.family_id).where(
        RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(RefreshToken.family_id != keep)
    _end_sessions(s, set(s.scalars(query)), now)


# Ended sessions are announced after their transaction commits, to whoever listens in this
# process (the API's revocation set, which refuses their access tokens and tells other
# processes through Redis).
_sessions_listeners: list[Callable[[set[str]], None]] = []
_listeners_lock = threading.Lock()


def add_sessions_listener(listener: Callable[[set[str]], None]) -> None:
    with _listeners_lock:
        _sessions_listeners.append(listener)


def remove_sessions_listener(listener: Callable[[set[str]], None]) -> None:
    with _listeners_lock:
        if listener in _sessions_listeners:
            _sessions_listeners.remove(listener)


def _announce_ended(s: Session) -> None:
    ended: set[str] = s.info.pop("ended_sessions", set())
    if not ended:
        return
    with _listeners_lock:
        listeners = list(_sessions_listeners)
    for listener in listeners:
        listener(ended)


def _forget_ended(s: Session) -> None:
    s.info.pop("ended_sessions", None)


def use_totp(s: Session, user: User, code: str, now: datetime) -> bool:
    """Check a TOTP code (this, the previous or the next 30 s step) and spend it: a code,
    or any code of an earlier step, is accepted once per user (RFC 6238 5.2)."""
    if not user.totp_secret or not code.strip().isdigit():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code.strip()):
            # conditional: two logins racing with one code cannot both win
            spent = s.execute(
                update(User)
                .where(
                    User.id == user.id,
                    (User.totp_last_step.is_(None)) | (User.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                return False
            user.totp_last_step = step
            return True
    return False


def set_password(
    s: Session, user: User, password: str, now: datetime, how: str, keep: str | None = None
) -> None:
    """Store a new password, end every session (but ``keep``, the caller's) and tell the
    user (``how``: reset/changed)."""
    user.password_hash = hash_password(password)
    user.updated_at = now
    revoke_all_sessions(s, user, now, keep)
    # whole sentences, one per case: a translation needs the sentence, not its pieces
    if how == "reset":
        said = (
            _("Your password was reset; every other session was logged out.")
            if keep
            else _("Your password was reset; every session was logged out.")
        )
    else:
        said = (
            _("Your password was changed; every other session was logged out.")
            if keep
            else _("Your password was changed; every session was logged out.")
        )
    notify(s, user, "password_changed", _("Password changed"), said, now)


def notify(s: Session, user: User, kind: str, title: str, body: str, now: datetime) -> None:
    """A notice in ``user``'s notification centre, stored in their language (title and
    body are :class:`~tradealerts.core.messages.Text` sentences, or said as they are)."""
    title, body = localise(title, user.language), localise(body, user.language)
    s.add(Notification(user_id=user.id, kind=kind, title=title, body=body, created_at=now))


def audit(s: Session, actor: str, action: str, target: str, now: datetime, **detail: Any) -> None:
    s.add(AuditLog(actor=actor, action=action, target=target, detail=detail, created_at=now))


_generation = [0]


def users_generation() -> int:
    """Moves whenever this process commits a change to who a user is or what they may do
    (tier, deletion): caches of users are stale from then on."""
    return _generation[0]


def _changed_on_commit(s: Session) -> None:
    def bump(_session: Session) -> None:
        _generation[0] += 1

    event.listen(s, "after_commit", bump, once=True)


def users_changed(s: Session) -> None:
    """Caches of users go stale when ``s`` commits (a role or a disabled flag changed)."""
    _changed_on_commit(s)


#: ``Session.info`` key: the (user id, tier) changes of the transaction, which the server
#: publishes as the stream's ``tier`` event once it commits.
TIER_CHANGES = "tier_changes"


def set_tier(
    s: Session, user: User, tier: Tier, now: datetime, *, actor: str = "system", **why: Any
) -> str:
    """The one path of a tier change, whoever makes it (owner, billing, grace expiry):
    audited (``actor``, ``why``), the user notified, the stream's ``tier`` event on commit,
    and alerts the new tier does not allow paused (``tier_downgrade``), never deleted.
    Returns the old tier."""
    old = user.tier
    user.tier = tier.value
    user.updated_at = now
    if old != tier.value:  # the admin dashboard counts conversions and churn from these
        s.add(TierChange(user_id=user.id, old=old, new=tier.value, created_at=now))
    _changed_on_commit(s)
    s.info.setdefault(TIER_CHANGES, []).append((user.id, tier.value))
    audit(s, actor, "set_tier", user.email, now, old=old, new=tier.value, **why)
    paused = apply_tier(s, user, now)
    if paused:
        ids = ", ".join(str(i) for i in paused)
        notify(
            s,
            user,
            "alerts_paused",
            f"{len(paused)} alert(s) paused",
            f"Your {tier.value} plan does not allow alerts {ids}; they are paused, not deleted. "
            "Resume them when your plan allows.",
            now,
        )
    notify(
        s,
        user,
        "tier_changed",
        f"Your plan is now {tier.value}",
        f"Your plan changed from {old} to {tier.value}.",
        now,
    )
    return old


def delete_user(s: Session, user: User) -> None:
    """Remove the user and everything of theirs (rows cascade) in the caller's transaction."""
    _changed_on_commit(s)
    # the engine must forget the alerts too: tell it through the change feed
    now = datetime.now(UTC)
    for alert_id in s.scalars(select(AlertRow.id).where(AlertRow.user_id == user.id)):
        s.add(AlertChange(alert_id=alert_id, created_at=now))
    revoke_all_sessions(s, user, now)  # its access tokens stop at once, not within a second
    s.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    s.delete(user)
