"""Account rules shared by the API and the admin commands: users, codes, sessions, notices."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

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
)

__all__ = [
    "CODE_MINUTES",
    "MAX_CODE_TRIES",
    "CodeResult",
    "audit",
    "check_code",
    "create_code",
    "create_user",
    "find_user",
    "issue_refresh",
    "notify",
    "password_problem",
    "revoke_all_sessions",
    "rotate_refresh",
    "set_password",
    "set_tier",
]

CODE_MINUTES = 30
MAX_CODE_TRIES = 5


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < 10:
        return "must be at least 10 characters"
    if len(password) > 256:
        return "must be at most 256 characters"
    if is_common_password(password):
        return "is too common; choose a less guessable one"
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
) -> User:
    user = User(
        email=email.strip().lower(),
        password_hash=hash_password(password),
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


def issue_refresh(
    s: Session, user: User, now: datetime, remember: bool, family: str | None = None
) -> tuple[str, datetime]:
    token = new_refresh_token()
    expires = now + (timedelta(days=30) if remember else timedelta(hours=24))
    s.add(
        RefreshToken(
            user_id=user.id,
            token_hash=hash_token(token),
            family_id=family or secrets.token_hex(16),
            expires_at=expires,
            created_at=now,
        )
    )
    return token, expires


def rotate_refresh(s: Session, token: str, now: datetime) -> tuple[User, str, datetime] | None:
    """Swap a refresh token for a new one of the same family; reuse revokes the family."""
    row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.rotated_at is not None:
        # an old token came back: someone else has it; end every session of this login
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == row.family_id)
            .values(revoked_at=now)
        )
        return None
    row.rotated_at = now
    user = s.get(User, row.user_id)
    if user is None:
        return None
    remember = (row.expires_at - row.created_at) > timedelta(days=2)
    new, expires = issue_refresh(s, user, now, remember, family=row.family_id)
    return user, new, expires


def revoke_family(s: Session, token: str, now: datetime) -> None:
    row = s.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_token(token)))
    if row is not None:
        s.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == row.family_id)
            .values(revoked_at=now)
        )


def revoke_all_sessions(s: Session, user: User, now: datetime) -> None:
    s.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def set_password(s: Session, user: User, password: str, now: datetime, how: str) -> None:
    """Store a new password, end every session and tell the user (``how``: reset/changed)."""
    user.password_hash = hash_password(password)
    user.updated_at = now
    revoke_all_sessions(s, user, now)
    notify(
        s,
        user,
        "password_changed",
        "Password changed",
        f"Your password was {how}; every session was logged out.",
        now,
    )


def notify(s: Session, user: User, kind: str, title: str, body: str, now: datetime) -> None:
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


def set_tier(s: Session, user: User, tier: Tier, now: datetime) -> str:
    """Change a user's tier; returns the old one. Takes effect on the next request; alerts
    the new tier does not allow are paused (``tier_downgrade``), never deleted."""
    old = user.tier
    user.tier = tier.value
    user.updated_at = now
    if old != tier.value:  # the admin dashboard counts conversions and churn from these
        s.add(TierChange(user_id=user.id, old=old, new=tier.value, created_at=now))
    _changed_on_commit(s)
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
    s.execute(delete(RefreshToken).where(RefreshToken.user_id == user.id))
    s.delete(user)
