"""``ta(node)``: the running ``TradeAlertsApp`` of a widget or screen, typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from tradealerts.tui.app import TradeAlertsApp

__all__ = ["spawn", "ta"]


def ta(node: DOMNode) -> TradeAlertsApp:
    return cast("TradeAlertsApp", node.app)


def spawn(node: DOMNode, work: Callable[[], Awaitable[Any]], **options: Any) -> None:
    """Run ``work()`` in a worker of ``node``; a failure never ends the app (each worker
    reports its own errors through ``TradeAlertsApp.api``)."""
    node.run_worker(cast(Any, work), exit_on_error=False, **options)
