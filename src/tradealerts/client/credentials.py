"""Where the tokens live: the OS keyring, else a 0600 file; ``TRADEALERTS_TOKEN`` overrides.

One keyring entry per server and email (service ``tradealerts``, user ``<server> <email>``);
its secret is a small JSON document with the refresh token and the current access token, so a
command run within the access token's 15 minutes needs no refresh. Which email is logged in on
which server is kept in ``client.json`` (``ClientConfig``).

With no usable keyring backend (keyring's ``fail.Keyring``, a chainer with no backends, a
backend that refuses to store, or one that accepts and discards, like ``null.Keyring``: every
write is read back), tokens go to ``credentials.json`` in the client's home with mode 0600,
and the first write of that file warns once on stderr. keyrings.alt's backends count as no
keyring: its ``PlaintextKeyring`` writes base64 to a file outside the client's home (a demo's
login would leave the demo folder) and its encrypted file asks for a password on every start,
which the daemon cannot type; the 0600 file in the client's home is no worse and stays there.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tradealerts.client.config import ClientConfig
from tradealerts.client.paths import credentials_file

__all__ = ["SERVICE", "TOKEN_ENV", "CredentialStore", "Credentials"]

SERVICE = "tradealerts"
TOKEN_ENV = "TRADEALERTS_TOKEN"  # noqa: S105 - an environment variable's name


@dataclass
class Credentials:
    """A login on one server. ``refresh_token`` is None for a ``TRADEALERTS_TOKEN`` token."""

    email: str | None
    access_token: str | None
    access_expires: datetime | None = None
    refresh_token: str | None = None
    refresh_expires: datetime | None = None
    from_env: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("from_env")
        for key in ("access_expires", "refresh_expires"):
            data[key] = data[key].isoformat() if data[key] else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Credentials | None:
        try:
            data = json.loads(text)
            return cls(
                email=data.get("email"),
                access_token=data.get("access_token"),
                access_expires=_time(data.get("access_expires")),
                refresh_token=data.get("refresh_token"),
                refresh_expires=_time(data.get("refresh_expires")),
            )
        except (ValueError, TypeError, AttributeError):
            return None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _not_a_keyring(backend: Any) -> str | None:
    """Why ``backend`` is not a secure keyring (keyrings.alt's files, plaintext or unlocked by a
    typed password), or None. A chainer stores with its first backend: that one is judged."""
    from keyring.backends import chainer

    if isinstance(backend, chainer.ChainerBackend) and backend.backends:
        backend = backend.backends[0]
    module = type(backend).__module__
    if module == "keyrings.alt" or module.startswith("keyrings.alt."):
        name = f"{module}.{type(backend).__name__}"
        return f"the keyring backend {name} is a plain file, not a secure keyring"
    return None


def _usable_keyring() -> Any:
    """The configured keyring backend (keyring's own choice: ``PYTHON_KEYRING_BACKEND``, its
    config file, detection), or None when it plainly cannot store anything."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:  # pragma: no cover - keyring is a base dependency
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring config must not stop the client
        return None
    if isinstance(backend, fail.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def _stderr_warning(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


class CredentialStore:
    """Read, write and remove the tokens of one server."""

    def __init__(
        self,
        server: str,
        *,
        config: ClientConfig | None = None,
        file: Path | None = None,
        warn: Callable[[str], None] = _stderr_warning,
        backend: Any = "detect",
    ) -> None:
        """``backend``: a keyring backend, None for the file only, or "detect" (keyring's)."""
        self.server = server
        self.config = config or ClientConfig()
        self.file = file or credentials_file()
        self._warn = warn
        self._backend: Any = None if backend == "detect" else backend
        self._backend_checked = backend != "detect"
        #: why the tokens go to the file though a keyring backend is there (for the warning)
        self._why: str | None = None

    # -- where ---------------------------------------------------------------------------
    @property
    def keyring(self) -> Any:
        if not self._backend_checked:
            if self.config.file_only:
                self._backend_checked = True
                self._why = "this folder keeps its logins in its own file (login --no-keyring)"
                return None
            self._backend, self._backend_checked = _usable_keyring(), True
            why = _not_a_keyring(self._backend) if self._backend is not None else None
            if why is not None:
                self._backend, self._why = None, why
        return self._backend

    def location(self) -> str:
        """Where tokens of this server are kept, for people."""
        if os.environ.get(TOKEN_ENV):
            return f"the {TOKEN_ENV} environment variable"
        if self.keyring is not None:
            return f"the OS keyring ({type(self.keyring).__name__}, service {SERVICE!r})"
        return f"{self.file} (mode 0600: {self._why or 'no usable keyring'})"

    def _key(self, email: str) -> str:
        return f"{self.server} {email}"

    # -- the file fallback ---------------------------------------------------------------
    def _file_entries(self) -> dict[str, str]:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)}

    def _write_file(self, entries: dict[str, str], why: str = "no usable OS keyring") -> None:
        if not entries:
            self.file.unlink(missing_ok=True)
            return
        created = not self.file.exists()
        self.file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.chmod(self.file, 0o600)  # an older file keeps its mode through O_CREAT
            json.dump(entries, f, indent=2, sort_keys=True)
        if created:
            self._warn(
                f"{why}: your login is stored in {self.file} (readable only "
                "by you). Install a keyring backend to keep it there instead."
            )

    # -- the API -------------------------------------------------------------------------
    def load(self) -> Credentials | None:
        """The credentials in force: ``TRADEALERTS_TOKEN``, else the stored login, else None."""
        token = os.environ.get(TOKEN_ENV)
        if token:
            return Credentials(email=None, access_token=token.strip(), from_env=True)
        email = self.config.current_email(self.server)
        if email is None:
            return None
        secret = None
        if self.keyring is not None:
            try:
                secret = self.keyring.get_password(SERVICE, self._key(email))
            except Exception:
                secret = None
        if secret is None:
            secret = self._file_entries().get(self._key(email))
        return Credentials.from_json(secret) if secret else None

    def save(self, creds: Credentials) -> None:
        """Store a login (after login or a refresh) and make its email the current one."""
        if creds.from_env or creds.email is None:
            return
        key, secret = self._key(creds.email), creds.to_json()
        stored = False
        why = (self._why if self.keyring is None else None) or "no usable OS keyring"
        if self.keyring is not None:
            name = f"{type(self.keyring).__module__}.{type(self.keyring).__name__}"
            try:
                self.keyring.set_password(SERVICE, key, secret)
                # read it back: some backends accept a secret and throw it away
                stored = self.keyring.get_password(SERVICE, key) == secret
            except Exception:
                why = f"the OS keyring ({name}) refused to store your login"
            else:
                if not stored:
                    why = f"the OS keyring ({name}) did not keep your login"
            if not stored:
                self._backend = None  # use the file from now on
        entries = self._file_entries()
        if stored:
            if key in entries:
                del entries[key]
                self._write_file(entries)
        else:
            entries[key] = secret
            self._write_file(entries, why)
        self.config.set_current_email(self.server, creds.email)

    def current_email(self) -> str | None:
        return self.config.current_email(self.server)

    @contextlib.contextmanager
    def refresh_lock(self) -> Iterator[None]:
        """Held while a refresh token is swapped, so two processes never use the same one
        (the server would take the second use for theft and end the session). POSIX only;
        elsewhere a no-op."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            yield
            return
        path = self.file.with_name("refresh.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def clear(self, email: str | None = None) -> None:
        """Remove every copy of a login (keyring and file) and forget it as current."""
        email = email or self.config.current_email(self.server)
        if email is None:
            return
        key = self._key(email)
        if self.keyring is not None:
            try:
                if self.keyring.get_password(SERVICE, key) is not None:
                    self.keyring.delete_password(SERVICE, key)
            except Exception:  # noqa: S110 - nothing stored there, or the backend refuses
                pass
        entries = self._file_entries()
        if key in entries:
            del entries[key]
            self._write_file(entries)
        if self.config.current_email(self.server) == email:
            self.config.set_current_email(self.server, None)
