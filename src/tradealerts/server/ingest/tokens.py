"""Owner ingest tokens for the MT5 bridge: made once, shown once, kept as argon2id hashes.

A token reads ``tai_<key id>_<secret>``. The key id (not secret) finds the row; the secret
is checked against its argon2id hash. A subscriber's login token never matches the shape,
so it is refused like any wrong token. A verified token is remembered for a minute (by its
SHA-256, in memory) so the bridge's burst of history posts pays for argon2 once; its row is
still read on every post (one indexed lookup), so a revoked token is refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradealerts.server.db.models import IngestToken

__all__ = [
    "PREFIX",
    "TokenCheck",
    "create_ingest_token",
    "list_ingest_tokens",
    "revoke_ingest_token",
]

PREFIX = "tai_"
_hasher = PasswordHasher()


def create_ingest_token(s: Session, name: str, now: datetime) -> str:
    """Store a new token's hash and return the token (the only time it is seen)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    s.add(IngestToken(key_id=key_id, token_hash=_hasher.hash(secret), name=name, created_at=now))
    return f"{PREFIX}{key_id}_{secret}"


def list_ingest_tokens(s: Session) -> list[IngestToken]:
    """Every stored token (its key id, name and dates; the secret is not kept)."""
    return list(s.scalars(select(IngestToken).order_by(IngestToken.id)))


def revoke_ingest_token(s: Session, key_id: str) -> IngestToken | None:
    """Delete the token whose key id (or whole token) is ``key_id``; None when unknown."""
    if key_id.startswith(PREFIX):
        key_id = _split(key_id)[0]
    row = s.scalars(select(IngestToken).where(IngestToken.key_id == key_id)).first()
    if row is not None:
        s.delete(row)
    return row


class TokenCheck:
    """Verifies ingest tokens against the database, remembering good ones briefly."""

    def __init__(self, remember_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self._good: dict[bytes, float] = {}
        self._remember = remember_seconds
        self._clock = clock

    def remembered(self, token: str) -> bool:
        """``token`` was verified less than a minute ago (its argon2 check can be skipped)."""
        until = self._good.get(hashlib.sha256(token.encode()).digest())
        return until is not None and until > self._clock()

    def verify(self, s: Session, token: str) -> bool:
        """True when ``token`` is a stored ingest token."""
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        key_id, secret = _split(token)
        row = (
            s.scalars(select(IngestToken).where(IngestToken.key_id == key_id)).first()
            if key_id
            else None
        )
        if row is None:
            # a key id is not secret: refusing an unknown one at once tells nothing, and
            # saves the argon2 work a stream of junk tokens would cost; a revoked token's
            # row is gone, so it is refused here even if it was verified a moment ago
            self._good.pop(digest, None)
            return False
        if self.remembered(token):
            return True
        try:
            ok: bool = _hasher.verify(row.token_hash, secret)
        except (VerificationError, InvalidHashError):
            ok = False
        if ok:
            if len(self._good) > 100:
                self._good.clear()
            self._good[digest] = now + self._remember
        return ok


def _split(token: str) -> tuple[str, str]:
    if not token.startswith(PREFIX):
        return "", token
    key_id, _, secret = token[len(PREFIX) :].partition("_")
    return key_id, secret
