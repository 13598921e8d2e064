"""Building the monitor where the engine runs: ``serve`` (embedded) or the scaled-out leader."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tradealerts.core.market_hours import is_open
from tradealerts.server.incidents.checks import Checks, Sources
from tradealerts.server.incidents.monitor import IncidentMonitor
from tradealerts.server.settings import Settings

__all__ = ["start_monitor"]


def start_monitor(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    *,
    engine: Any,
    alerts: Any,
    owner: Any = None,
    usage: Any = None,
    signals: Any = None,
    wake_mail: Callable[[], None] = lambda: None,
    standbys: Callable[[], int | None] | None = None,
    epoch: int | None = None,
) -> IncidentMonitor:
    """Checks over the engine's state (its listener records each symbol's last tick) and a
    running monitor; ``stop()`` it before the engine."""
    overrides = settings.market_hours

    def market_open(symbol: str, at: datetime) -> bool:
        return is_open(symbol, at, overrides)

    src = Sources(
        settings,
        engine=engine,
        alerts=alerts,
        owner=owner if owner is not None and owner.source.uses_mt5 else None,
        usage=usage,
        signals=signals,
        standbys=standbys,
        epoch=epoch,
    )
    checks = Checks(src, clock(), market_open)
    engine.listeners.append(checks.listener(clock))
    monitor = IncidentMonitor(settings, sessions, clock, checks, wake_mail)
    monitor.start()
    return monitor
