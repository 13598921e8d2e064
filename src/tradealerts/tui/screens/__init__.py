"""One module per screen; ``SCREENS`` builds each mode's first screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SCREENS"]


def _dashboard() -> Any:
    from tradealerts.tui.screens.dashboard import DashboardScreen

    return DashboardScreen()


def _chart() -> Any:
    from tradealerts.tui.screens.chart import ChartScreen

    return ChartScreen()


def _alerts() -> Any:
    from tradealerts.tui.screens.alerts import AlertsScreen

    return AlertsScreen()


def _history() -> Any:
    from tradealerts.tui.screens.history import HistoryScreen

    return HistoryScreen()


def _notifications() -> Any:
    from tradealerts.tui.screens.notifications import NotificationsScreen

    return NotificationsScreen()


def _account() -> Any:
    from tradealerts.tui.screens.account import AccountScreen

    return AccountScreen()


def _admin() -> Any:
    from tradealerts.tui.screens.admin import AdminScreen

    return AdminScreen()


SCREENS: dict[str, Callable[[], Any]] = {
    "dashboard": _dashboard,
    "chart": _chart,
    "alerts": _alerts,
    "history": _history,
    "notifications": _notifications,
    "account": _account,
    "admin": _admin,
}
