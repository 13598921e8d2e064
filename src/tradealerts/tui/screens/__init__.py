"""One module per screen; ``SCREENS`` builds each mode's first screen."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["SCREENS"]

#: each mode's screen: (its module here, its class); imported when the mode is first shown
_WHERE = {
    "dashboard": ("dashboard", "DashboardScreen"),
    "chart": ("chart", "ChartScreen"),
    "alerts": ("alerts", "AlertsScreen"),
    "history": ("history", "HistoryScreen"),
    "notifications": ("notifications", "NotificationsScreen"),
    "account": ("account", "AccountScreen"),
    "admin": ("admin", "AdminScreen"),
}


def _maker(module: str, name: str) -> Callable[[], Any]:
    def make() -> Any:
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)()

    return make


SCREENS: dict[str, Callable[[], Any]] = {mode: _maker(*where) for mode, where in _WHERE.items()}
