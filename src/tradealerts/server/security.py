"""Passwords (argon2id), access tokens (JWT, HS256 pinned), refresh tokens and mailed codes.

An access token names its session: ``sid`` is the id of the refresh-token family the login
started, so ending that session (logout, password or 2FA change, reuse of a spent refresh
token) can refuse the access tokens it issued before they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "AUDIENCE",
    "AccessClaims",
    "decode_access_token",
    "hash_password",
    "hash_token",
    "is_common_password",
    "issue_access_token",
    "new_code",
    "new_refresh_token",
    "successor_token",
    "verify_password",
]

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_ALGORITHM = "HS256"
#: Who access tokens are for: this API (RFC 8725 3.9, a token minted for something else that
#: happens to share the key is refused).
AUDIENCE = "tradealerts-api"
# A real hash to verify against when the email is unknown, so both paths cost the same.
# Made on the first check, not at import: an argon2 hash costs ~0.17 s of CPU, paid by
# every process that imports this (each owner's command, each server start) for nothing.
_dummy_hash: str | None = None
_common: frozenset[str] | None = None


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not-a-real-password-0")
    return _dummy_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; an unknown user (None) still pays for one argon2 verification.
    The dummy hash is made before either path, so the process's first check costs the same
    for a known and an unknown user."""
    dummy = _dummy()
    try:
        return _hasher.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def is_common_password(password: str) -> bool:
    """True for passwords on the shipped list of the most common ones."""
    global _common
    if _common is None:
        text = resources.files("tradealerts.server").joinpath("common_passwords.txt").read_text()
        _common = frozenset(line.strip().lower() for line in text.splitlines() if line.strip())
    return password.lower() in _common


class AccessClaims(dict[str, Any]):
    """Decoded access-token claims."""

    @property
    def user_id(self) -> int:
        return int(self["sub"])

    @property
    def session_id(self) -> str:
        return str(self["sid"])


def issue_access_token(
    key: str, user_id: int, tier: str, role: str, now: datetime, minutes: int, session_id: str
) -> tuple[str, datetime]:
    """A signed access token of ``session_id``; the same arguments give the same token."""
    exp = now + timedelta(minutes=minutes)
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "aud": AUDIENCE,
        "tier": tier,
        "role": role,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int(exp.timestamp()),
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM), exp


class TokenError(Exception):
    """The token is missing, malformed, tampered, expired or of the wrong kind."""


def decode_access_token(key: str, token: str, now: datetime) -> AccessClaims:
    """Verify signature (HS256 only: ``alg: none`` and others are refused), audience, kind
    and expiry. Whether the token's session is still open is the caller's check."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            # expiry is checked below against the server's (injectable) clock; PyJWT would
            # check it, and the issue time, against the wall clock
            options={
                "verify_exp": False,
                "verify_iat": False,
                "require": ["sub", "sid", "aud", "exp", "typ"],
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenError("invalid token") from exc
    if claims.get("typ") != "access":
        raise TokenError("not an access token")
    if int(claims["exp"]) <= now.timestamp():
        raise TokenError("expired")
    return AccessClaims(claims)


def hash_token(token: str) -> str:
    """Refresh tokens and codes are stored as SHA-256: they are random, so no salt is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def successor_token(key: str, token: str) -> str:
    """The refresh token that replaces ``token`` on rotation. Derived (HMAC with the server's
    key), not random, so a retried rotation within the grace window can hand back the same
    new token without the server ever storing one in the clear."""
    mac = hmac.new(key.encode(), b"refresh-successor:" + token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def new_code() -> str:
    """A 6-digit code for mail."""
    return f"{secrets.randbelow(1_000_000):06d}"


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
