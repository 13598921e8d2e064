"""Passwords (argon2id), access tokens (JWT, HS256 pinned), refresh tokens and mailed codes."""

from __future__ import annotations

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
    "AccessClaims",
    "decode_access_token",
    "hash_password",
    "hash_token",
    "is_common_password",
    "issue_access_token",
    "new_code",
    "new_refresh_token",
    "verify_password",
]

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_ALGORITHM = "HS256"
# A real hash to verify against when the email is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")
_common: frozenset[str] | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; an unknown user (None) still pays for one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
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


def issue_access_token(
    key: str, user_id: int, tier: str, role: str, now: datetime, minutes: int
) -> tuple[str, datetime]:
    exp = now + timedelta(minutes=minutes)
    claims = {
        "sub": str(user_id),
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
    """Verify signature (HS256 only: ``alg: none`` and others are refused) and expiry."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            # expiry is checked below against the server's (injectable) clock; PyJWT would
            # check it, and the issue time, against the wall clock
            options={"verify_exp": False, "verify_iat": False, "require": ["sub", "exp", "typ"]},
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


def new_code() -> str:
    """A 6-digit code for mail."""
    return f"{secrets.randbelow(1_000_000):06d}"


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
