"""The engine's wiring, shared by the embedded server (``app.create_app``) and the
scaled-out processes (``scale.engine_role``, ``scale.api``): the feed's options from the
settings, when a symbol is stale, the listener that publishes the market to the streams,
the owner's stored lines, and the collector's settings of a long-running process.
"""

from __future__ import annotations

import gc

from sqlalchemy.orm import Session, sessionmaker

from tradealerts.server.engine.owner_lines import OwnerLines
from tradealerts.server.engine.runner import Listener
from tradealerts.server.events import Bus
from tradealerts.server.feeds import BarClose, FeedOptions, Tick
from tradealerts.server.ingest.store import last_received, load_values
from tradealerts.server.settings import Settings

__all__ = ["feed_options", "load_owner_lines", "publish_market", "settle_gc", "stale_after"]

#: The cycle collector's thresholds for the server process (CPython's default: 700, 10, 10).
_GC_THRESHOLDS = (50_000, 20, 10)


def settle_gc() -> None:
    """Once a long-running process has loaded what it keeps (modules, the market's history,
    the alert book): freeze it and make full collections rare. Called by ``serve`` and by the
    scaled-out ``engine``, whose loop stalls every fire the same way."""
    # What is loaded by now lives as long as the process: frozen, the cycle collector's full
    # passes skip it. Unfrozen, a full pass over it stalled every open stream (225 ms gen-2
    # pauses measured under bench_stream; 100-160 ms in the scaled-out engine under
    # bench_scaleout, each one holding a tick's fires before their commit).
    gc.collect()
    gc.freeze()
    # Young collections after 50,000 new objects, not 700: objects that live a few
    # hundred milliseconds (a burst's fires, a request's session) die young instead of
    # being promoted, so full passes over every open stream's objects (~0.1 s at a
    # thousand streams) become rare: bench_stream saw one every 35-80 s with the default,
    # none in two 80 s runs with these.
    gc.set_threshold(*_GC_THRESHOLDS)


def feed_options(settings: Settings) -> FeedOptions:
    """The feed's knobs from the server's settings."""
    return FeedOptions(
        seed=settings.seed,
        history_bars=settings.history_for_feed(),
        tick_rate=settings.tick_rate,
        replay_speed=settings.replay_speed,
        replay_symbol=settings.replay_symbol,
        mt5_login=settings.mt5_login,
        mt5_password=settings.mt5_password.get_secret_value() if settings.mt5_password else None,
        mt5_server=settings.mt5_server,
        mt5_path=settings.mt5_path,
        mt5_poll_interval=settings.mt5_poll_interval,
        mt5_utc_offset=settings.mt5_utc_offset,
        symbol_map=settings.symbol_map,
        bar_clock=settings.clock,
        replay_tz=settings.replay_clock,
        market_hours=settings.market_hours if settings.feed_market_hours else None,
    )


def stale_after(settings: Settings) -> float:
    """A symbol is stale after 3x the interval at which its feed should speak."""
    if settings.feed.startswith("mt5"):
        return 3 * settings.mt5_poll_interval
    if settings.feed.startswith("replay:"):
        return 3 * (1.0 / (4 * settings.replay_speed) if settings.replay_speed > 0 else 1.0)
    return 3 * (1.0 / settings.tick_rate)


def publish_market(bus: Bus) -> Listener:
    """Engine listener: every tick as a ``price`` event, every closed bar as a ``bar`` event."""

    def listener(event: Tick | BarClose, _changes: object) -> None:
        if isinstance(event, Tick):
            bus.market(
                "price",
                event.symbol,
                None,
                {"symbol": event.symbol, "time": event.time, "bid": event.bid, "ask": event.ask},
            )
        else:
            bus.market("bar", event.symbol, event.timeframe.value, event.as_dict())

    return listener


def load_owner_lines(owner: OwnerLines, sessions: sessionmaker[Session]) -> None:
    """The owner's buffer values the database holds, for the series served from them."""
    with sessions() as s:
        owner.load(load_values(s, owner.wanted), last_received(s))
