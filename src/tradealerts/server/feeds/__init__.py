"""Market feeds: synthetic (seeded), replay (CSV) and MetaTrader 5 (direct or rpyc bridge)."""

from __future__ import annotations

from tradealerts.server.feeds import base
from tradealerts.server.feeds.base import *  # noqa: F403 - the package's face is base's
from tradealerts.server.feeds.base import Feed, FeedConfigError, FeedOptions

__all__ = [*base.__all__, "create_feed"]


def create_feed(spec: str, options: FeedOptions | None = None) -> Feed:
    """Build the feed a spec names: ``synthetic``, ``replay:PATH``, ``mt5`` or
    ``mt5-rpyc://host:port``. Implementations are imported only when chosen."""
    opts = options or FeedOptions()
    s = spec.strip()
    if s == "synthetic":
        from tradealerts.server.feeds.synthetic import SyntheticFeed

        return SyntheticFeed(opts)
    if s.startswith("replay:"):
        from tradealerts.server.feeds.replay import ReplayFeed

        path = s[len("replay:") :]
        if not path:
            raise FeedConfigError("replay needs a file: use replay:PATH")
        return ReplayFeed(path, opts)
    if s == "mt5":
        from tradealerts.server.feeds.mt5 import MT5Feed

        return MT5Feed(opts, bridge=None)  # type: ignore[no-any-return,unused-ignore]
    if s.startswith("mt5-rpyc://"):
        hostport = s[len("mt5-rpyc://") :].rstrip("/")
        host, sep, port = hostport.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise FeedConfigError(f"bad bridge address {spec!r}: use mt5-rpyc://HOST:PORT")
        from tradealerts.server.feeds.mt5 import MT5Feed

        return MT5Feed(opts, bridge=(host, int(port)))  # type: ignore[no-any-return,unused-ignore]
    raise FeedConfigError(
        f"unknown feed {spec!r}: use synthetic, replay:PATH, mt5 or mt5-rpyc://HOST:PORT"
    )
