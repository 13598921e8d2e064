"""``--notify URL``: the daemon also pushes each alert to Apprise URLs (repeatable), for a
machine with no desktop (a daemon on a server pushing to the trader's phone, or to a local
ntfy or Gotify).

The texts are ``core.push.push_text``'s, the same the server's push channels send. Apprise
sends synchronously, so each push runs in a worker thread under a deadline; a failure is
logged (with the URL masked: it holds the service's token) and never stops the daemon or
the desktop notification. Unlike the server's channels there is no SSRF guard here: the
URL is the machine owner's own, on their own machine.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from tradealerts.client.lang import _
from tradealerts.core.push import UnreadableUrl, apprise_log, describe_url, push_text

__all__ = ["PUSH_DEADLINE", "PushTargets"]

log = logging.getLogger("tradealerts.daemon")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
#: the longest one push may take (Apprise's own socket timeouts are clipped to it)
PUSH_DEADLINE = 15.0


class PushTargets:
    """The ``--notify`` URLs; ``send`` pushes an alert to each, concurrently, never raising."""

    def __init__(self, urls: tuple[str, ...], deadline: float = PUSH_DEADLINE) -> None:
        self.urls = urls
        self.deadline = deadline
        #: what may be logged of each URL
        self.masked = tuple(_masked(u) for u in urls)

    async def send(self, data: dict[str, Any], language: str = "en") -> int:
        """Push ``data`` (the stream's alert) to every URL; returns how many took it."""
        title, body = push_text(data, language)
        results = await asyncio.gather(
            *(
                self._one(url, masked, title, body)
                for url, masked in zip(self.urls, self.masked, strict=True)
            )
        )
        return sum(results)

    async def _one(self, url: str, masked: str, title: str, body: str) -> bool:
        try:
            ok, reason = await asyncio.wait_for(
                asyncio.to_thread(_send, url, title, body, self.deadline), self.deadline
            )
        except TimeoutError:
            ok, reason = False, f"no answer within {self.deadline:g} s"
        except Exception as exc:  # a plug-in's own bug: logged, the next alert tries again
            ok, reason = False, type(exc).__name__
        if ok:
            log.info("pushed to %s", masked)
        else:
            log.warning("push to %s failed: %s", masked, reason)
        return ok


def _masked(url: str) -> str:
    try:
        return describe_url(url).masked
    except ValueError:
        scheme, sep, _rest = url.partition("://")
        # no scheme: the whole value may be the secret (a bare ntfy topic), so none of it
        return f"{scheme}://…" if sep and _SCHEME.fullmatch(scheme) else "…"


def check_urls(urls: list[str]) -> tuple[str, ...]:
    """The ``--notify`` values, each one Apprise understands (``ValueError`` otherwise, in
    the user's language, naming only its masked form)."""
    for url in urls:
        try:
            describe_url(url)
        except UnreadableUrl as exc:
            raise ValueError(_unreadable(_masked(url), exc.scheme)) from None
    return tuple(urls)


def _unreadable(masked: str, scheme: str | None) -> str:
    if scheme is None:
        return _(
            "--notify {url}: this is not an Apprise URL: it needs a scheme, like "
            "ntfy://ntfy.sh/TOPIC."
        ).format(url=masked)
    return _(
        "--notify {url}: Apprise cannot send to this URL ({scheme}://…); each service's "
        "form is at https://github.com/caronc/apprise/wiki."
    ).format(url=masked, scheme=scheme)


def _send(url: str, title: str, body: str, deadline: float) -> tuple[bool, str]:
    import apprise

    with apprise_log() as said:
        plugin: Any = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if not plugin:
            return False, "Apprise cannot read the URL"
        for attr in ("socket_connect_timeout", "socket_read_timeout"):
            current = getattr(plugin, attr, None)
            if isinstance(current, int | float):
                setattr(plugin, attr, min(float(current), deadline))
        ok = bool(plugin.notify(body=body, title=title))
    return ok, ("" if ok else (said[-1] if said else "the service did not take the push"))
