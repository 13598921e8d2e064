"""Push channel URLs encrypted at rest: Fernet (AES-128-CBC + HMAC-SHA256, from the
``cryptography`` package, already installed with ``keyring``'s SecretStorage and now a
declared server dependency) under a key derived from the server's secret key with HKDF.

A database copy (a backup, a dump) without the server's key shows no service's token. The
derivation's ``info`` keeps this key apart from every other use of the secret key (JWTs):
knowing one never gives the other.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tradealerts.core.messages import _

__all__ = ["Vault", "VaultError"]

_INFO = b"tradealerts push channel urls v1"


class VaultError(Exception):
    """A stored URL cannot be read with this server's key (the key changed)."""


class Vault:
    """Encrypts and decrypts push channel URLs with a key derived from ``secret_key``."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, url: str) -> str:
        """The stored form of ``url``."""
        return self._fernet.encrypt(url.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """The URL back; ``VaultError`` when the server's key is not the one it was sealed
        with."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise VaultError(_("the channel's URL cannot be read with this server's key")) from None
